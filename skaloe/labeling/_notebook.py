"""Label the clips an :class:`~skaloe.active.ActiveLearner` asks for, in a notebook.

:class:`LabelingSession` shows an audio player and a row of label buttons per
queried clip, and a Submit button that passes the chosen labels to
:meth:`ActiveLearner.teach <skaloe.active.ActiveLearner.teach>`, then shows the
next batch. The widgets need the optional ``notebook`` extra
(``pip install 'skaloe[notebook]'``, i.e. ipywidgets and IPython); the same
flow can be driven without them with :meth:`LabelingSession.label`,
:meth:`LabelingSession.skip` and :meth:`LabelingSession.submit`.

Importing this module does not import ipywidgets or IPython.
"""

from __future__ import annotations

import html
import numbers
import os
import warnings

import numpy as np

from ..encoders._audio import as_clip_list
from ..encoders._segments import Segment
from ._core import (
    check_label,
    check_position,
    clip_duration,
    clip_wav_bytes,
    format_clock,
    label_counts,
    learner_report,
    plain,
)

__all__ = ["LabelingSession"]

_INSTALL_HINT = "pip install 'skaloe[notebook]'"
_SKIP_TEXT = "(skip)"


class _Skip:
    """The value of the "skip" button: no label, never a class."""

    def __repr__(self):
        return "SKIP"


SKIP = _Skip()


def _import_widgets():
    try:
        import ipywidgets
    except ImportError as exc:
        raise ImportError(
            "The labeling widget needs ipywidgets (and IPython); install them with "
            f"{_INSTALL_HINT} (or pip install ipywidgets ipython). Without them, label "
            "clips with LabelingSession.label() and submit()."
        ) from exc
    return ipywidgets


def _import_display():
    try:
        from IPython.display import display
    except ImportError as exc:
        raise ImportError(
            "Showing the labeling widget needs IPython (and ipywidgets); install them "
            f"with {_INSTALL_HINT} (or pip install ipywidgets ipython)."
        ) from exc
    return display


def _check_label(label):
    if label is SKIP:
        raise ValueError("A label cannot be SKIP; use skip(position) to leave a clip unlabeled.")
    return check_label(label)


class LabelingSession:
    """Label queried clips in a notebook: a player and label buttons per clip.

    Each batch comes from ``learner.query``; the labels chosen for it are
    passed to ``learner.teach`` on :meth:`submit`. :meth:`widget` (or
    :meth:`show`) builds an ipywidgets interface for the same flow: an audio
    player per clip, a row of label buttons with a "(skip)" choice, a box to
    add a new label, a Submit button that teaches the labeled clips and shows
    the next batch, and a status line.

    The widgets need the optional ``notebook`` extra
    (``pip install 'skaloe[notebook]'``); everything else works without it.

    Parameters
    ----------
    learner : ActiveLearner
        A fitted :class:`~skaloe.active.ActiveLearner` (fitted on the pool,
        with or without labels).
    clips : list of str, array-like or table of segments
        The pool as audio, at the same positions as the ``X`` given to
        ``learner.fit``: file paths or 1-D waveforms (or a 2-D array of
        equal-length waveforms), or segments of long recordings (a table
        with ``path``, ``start`` and ``end`` such as
        :func:`~skaloe.datasets.segment_recordings` returns, or a list of
        :class:`~skaloe.encoders.Segment`), each played alone. Only used to
        play the clips.
    labels : list, default=None
        The label choices shown as buttons, e.g. class names. None means the
        learner's ``classes_`` so far. More can be added with
        :meth:`add_label` (or the widget's text box).
    batch_size : int, default=None
        Clips per batch. None means the number of label choices (ALOE's
        one-per-predicted-class batches).
    sample_rate : int, default=16000
        Sample rate of the waveforms in ``clips`` (files carry their own).
    blind : bool, default=False
        Blind labeling: the widget shows the clips as "Clip 1", "Clip 2"...
        (in the order they come up), never their file names or pool
        positions, and plays WAV files without their metadata chunks. File
        names such as ``cough_012.wav`` give the class away, and labelers
        anchor on them. (The Python API still takes positions.) A
        segment's times in its recording are still shown, not the
        recording's name.
    context : float, default=0.0
        For segments of long recordings: seconds of the recording also
        played before and after each segment (clipped to the recording).

    Attributes
    ----------
    labels : list
        The current label choices.
    batch_ : ndarray of int or None
        Pool positions of the batch being labeled; None before
        :meth:`next_batch`.
    pending_ : dict
        Position -> label chosen but not yet submitted. Kept when
        ``learner.teach`` fails, so nothing chosen is lost.
    skipped_ : set of int
        Positions skipped in this session; later batches leave them out while
        other unlabeled clips remain.
    last_error_ : Exception or None
        The error of the last failed submit from the widget, else None.

    See Also
    --------
    skaloe.active.ActiveLearner : The learner whose queries are labeled.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import ActiveLearner
    >>> from skaloe.labeling import LabelingSession
    >>> X, y = make_classification(40, random_state=0)
    >>> rng = np.random.default_rng(0)
    >>> clips = [rng.uniform(-0.5, 0.5, 1600).astype(np.float32) for _ in X]
    >>> seed = np.full(40, -1, dtype=object)
    >>> seed[[np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0]]] = ["no", "yes"]
    >>> learner = ActiveLearner(random_state=0).fit(X, seed)
    >>> session = LabelingSession(learner, clips, ["no", "yes"])
    >>> batch = session.next_batch()
    >>> len(batch)
    2
    >>> session.label(batch[0], "yes")
    >>> session.skip(batch[1])
    >>> taught = session.submit()            # learner.teach([batch[0]], ["yes"])
    >>> int(learner.labeled_mask_.sum()), learner.n_rounds_
    (3, 1)

    In a notebook, show the players and buttons instead:

    >>> session.show()  # doctest: +SKIP
    """

    def __init__(self, learner, clips, labels=None, *, batch_size=None, sample_rate=16000,
                 blind=False, context=0.0):
        if not hasattr(learner, "labeled_mask_"):
            raise ValueError(
                "The learner is not fitted; fit it on the pool first, e.g. "
                "learner.fit(X, y_seed), then start a LabelingSession."
            )
        clips = as_clip_list(clips)
        n_pool = len(learner.labeled_mask_)
        if len(clips) != n_pool:
            raise ValueError(
                f"clips holds {len(clips)} clips but the learner's pool has {n_pool} "
                "samples; pass the clips at the same positions as the X given to fit."
            )
        if batch_size is not None and (
            not isinstance(batch_size, numbers.Integral)
            or isinstance(batch_size, bool)
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
        if (
            not isinstance(sample_rate, numbers.Integral)
            or isinstance(sample_rate, bool)
            or sample_rate < 1
        ):
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}.")
        if not isinstance(blind, (bool, np.bool_)):
            raise ValueError(f"blind must be True or False, got {blind!r}.")
        if (not isinstance(context, numbers.Real) or isinstance(context, bool)
                or not 0 <= context < float("inf")):
            raise ValueError(f"context must be a number of seconds >= 0, got {context!r}.")
        if labels is None:
            labels = list(getattr(learner, "classes_", []))
        elif isinstance(labels, (str, bytes)):
            raise TypeError(
                f"labels must be a list of label choices, got the single string {labels!r}; "
                f"wrap it in a list: [{labels!r}]."
            )
        self.learner = learner
        self.clips = clips
        self.labels = []
        for label in labels:
            self._add_choice(_check_label(label))
        self.batch_size = batch_size
        self.sample_rate = int(sample_rate)
        self.blind = bool(blind)
        self.context = float(context)
        self.batch_ = None
        self.pending_ = {}
        self.skipped_ = set()
        self.last_error_ = None
        self._controls = None
        self._syncing = False
        self._clip_numbers = {}  # blind: position -> n, shown as "Clip n"

    # -- the flow, without widgets ------------------------------------------

    @property
    def n_pool_(self):
        """Number of clips in the pool."""
        return len(self.clips)

    def next_batch(self):
        """Query the learner for the next clips to label.

        Returns
        -------
        positions : ndarray of int
            Pool positions, most informative first; empty when nothing is
            left to label. Clips skipped in this session are left out while
            other unlabeled clips remain.
        """
        n = self.batch_size or max(len(self.labels), 1)
        unlabeled = ~np.asarray(self.learner.labeled_mask_, dtype=bool)
        if not unlabeled.any():  # the pool is exhausted
            self.batch_ = np.empty(0, dtype=np.intp)
            if self._controls is not None:
                self._render_batch()
            return self.batch_.copy()
        skipped = [p for p in self.skipped_ if unlabeled[p]]
        n_ask = min(n + len(skipped), int(unlabeled.sum()))
        positions = np.asarray(self.learner.query(n_ask), dtype=np.intp)
        kept = positions[~np.isin(positions, skipped)][:n]
        if len(kept) < min(n, len(positions)):  # only skipped clips are left: ask again
            kept = positions[:n]
        self.batch_ = kept
        if self._controls is not None:
            self._render_batch()
        return kept.copy()

    def label(self, position, label):
        """Choose a label for a clip; it is taught on :meth:`submit`.

        Parameters
        ----------
        position : int
            Pool position of the clip.
        label : hashable
            Its label; a label not among :attr:`labels` is added to them.
        """
        position = self._check_position(position)
        label = _check_label(label)
        self._add_choice(label)
        self.pending_[position] = label
        self.skipped_.discard(position)
        self._sync_controls()

    def skip(self, position):
        """Leave a clip unlabeled: drop its pending label and do not ask again.

        Parameters
        ----------
        position : int
            Pool position of the clip.
        """
        position = self._check_position(position)
        self.pending_.pop(position, None)
        self.skipped_.add(position)
        self._sync_controls()

    def add_label(self, label):
        """Add a label choice (a class not seen so far).

        Parameters
        ----------
        label : hashable
            The new label; a string of digits becomes an int when every
            choice so far is an int. Adding an existing label does nothing.

        Returns
        -------
        label : hashable
            The label as added.
        """
        if isinstance(label, str):
            label = label.strip()
            ints = self.labels and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in self.labels
            )
            if ints and label.lstrip("-").isdigit():
                label = int(label)
        label = _check_label(label)
        self._add_choice(label)
        self._sync_controls()
        return label

    def submit(self):
        """Teach the learner every pending label (one ``teach`` call).

        Pending labels are cleared only when ``teach`` succeeds; if it
        raises, they stay in :attr:`pending_` and the error propagates (the
        learner keeps the labels it recorded before refitting).

        Returns
        -------
        positions : ndarray of int
            The positions taught, empty when nothing was pending.
        """
        if not self.pending_:
            self._sync_controls()
            return np.empty(0, dtype=np.intp)
        positions = np.fromiter(self.pending_, dtype=np.intp, count=len(self.pending_))
        chosen = list(self.pending_.values())
        labels = np.empty(len(chosen), dtype=object)
        labels[:] = chosen
        learner = self.learner
        # A retry after a failed refit: the learner already recorded these labels,
        # and warns that it relabels them; only warn about real relabels.
        same = {
            int(p)
            for p, lab in zip(positions, chosen)
            if learner.labeled_mask_[p] and _same_label(learner.y_pool_[p], lab)
        }
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                learner.teach(positions, labels)
        finally:
            for w in caught:  # re-emitted outside the recording context
                if not any(str(w.message).startswith(f"Pool position {p} ") for p in same):
                    warnings.warn_explicit(
                        w.message, w.category, w.filename, w.lineno, source=w.source
                    )
        self.pending_.clear()
        self._sync_controls()
        return positions

    def status(self):
        """A one-line summary: labels so far, per class, rounds, pending.

        When the learner has stopping rules or a validation set, their advice
        (:meth:`~skaloe.active.ActiveLearner.stopping_hint`) follows.

        Returns
        -------
        text : str
        """
        learner = self.learner
        mask = np.asarray(learner.labeled_mask_, dtype=bool)
        counts = label_counts(learner.y_pool_[mask])
        per_class = ", ".join(f"{k}: {v}" for k, v in counts.items())
        text = (
            f"{int(mask.sum())} of {len(mask)} clips labeled"
            f" ({per_class or 'none yet'}) · round {learner.n_rounds_}"
            f" · {len(self.pending_)} pending"
        )
        if self.skipped_:
            text += f" · {len(self.skipped_)} skipped"
        report = learner_report(learner)  # validation score and stopping advice
        return text if report is None else f"{text} · {report}"

    def audio_bytes(self, position):
        """The clip at a pool position as bytes a browser plays.

        Parameters
        ----------
        position : int
            Pool position of the clip.

        Returns
        -------
        data : bytes
            A WAV file's bytes as is, or a 16-bit PCM WAV of the clip (files
            in other formats are decoded and resampled to 16 kHz; waveforms
            keep their ``sample_rate``; a segment is its samples alone, with
            ``context`` seconds each side, at its recording's rate, as
            :func:`~skaloe.encoders.read_segment` reads them).
        format : str
            ``"wav"``.
        """
        position = self._check_position(position)
        data = clip_wav_bytes(self.clips[position], position, self.sample_rate,
                              audio_only=self.blind, context=self.context)
        return data, "wav"

    def clip_title(self, position):
        """How the widget names a clip: its position and file name, or "Clip <n>" when blind.

        With its length in seconds when known (a file's header, a waveform's
        samples); a segment of a recording also with its times in the
        recording (``h:mm:ss.s``), shown in blind mode too.

        Parameters
        ----------
        position : int
            Pool position of the clip.

        Returns
        -------
        title : str
        """
        position = self._check_position(position)
        clip = self.clips[position]
        segment = isinstance(clip, Segment)
        if self.blind:
            number = self._clip_numbers.setdefault(position, len(self._clip_numbers) + 1)
            parts = [f"Clip {number}"]
        else:
            parts = [f"clip {position}"]
            if isinstance(clip, str) or segment:
                parts.append(os.path.basename(clip.path if segment else clip))
        if segment:
            parts.append(f"{format_clock(clip.start)}\u2013{format_clock(clip.end)}")
        seconds = clip_duration(clip, self.sample_rate)
        if seconds is not None:
            parts.append(f"{seconds:.1f} s")
        if segment and self.context:
            parts.append(f"played with {self.context:g} s before and after")
        return " · ".join(parts)

    # -- widgets -------------------------------------------------------------

    def widget(self):
        """Build the labeling interface (ipywidgets).

        The first call queries the first batch if :meth:`next_batch` was not
        called; later calls return the same widget.

        Returns
        -------
        box : ipywidgets.VBox
            Per clip, its position, an ``ipywidgets.Audio`` player and a
            ``ToggleButtons`` row of the labels and "(skip)"; then a text box
            and button to add a label, the Submit button and a status line.

        Raises
        ------
        ImportError
            When ipywidgets is not installed (``pip install 'skaloe[notebook]'``).
        """
        widgets = _import_widgets()
        if self._controls is not None:
            return self._controls["box"]
        rows = widgets.VBox()
        new_label = widgets.Text(placeholder="new label", description="New label:")
        add = widgets.Button(description="Add label", icon="plus")
        submit = widgets.Button(
            description="Submit", button_style="primary", icon="check",
            tooltip="Teach the chosen labels and show the next batch",
        )
        status = widgets.HTML()
        box = widgets.VBox([rows, widgets.HBox([new_label, add]), submit, status])
        self._controls = {
            "widgets": widgets, "box": box, "rows": rows, "new_label": new_label,
            "add": add, "submit": submit, "status": status, "audio": {}, "choices": {},
        }
        add.on_click(self._on_add)
        submit.on_click(self._on_submit)
        if self.batch_ is None:
            self.next_batch()  # renders the rows
        else:
            self._render_batch()
        return box

    def show(self):
        """Display :meth:`widget` in the notebook (needs IPython and ipywidgets)."""
        box = self.widget()
        _import_display()(box)

    @property
    def controls_(self):
        """The widget's parts, for scripting; None before :meth:`widget`.

        A dict with ``"audio"`` and ``"choices"`` (position -> ``Audio`` /
        ``ToggleButtons``), ``"submit"``, ``"add"``, ``"new_label"``,
        ``"status"`` and ``"box"``.
        """
        if self._controls is None:
            return None
        return {k: v for k, v in self._controls.items() if k not in ("widgets", "rows")}

    def _render_batch(self):
        c = self._controls
        widgets = c["widgets"]
        c["audio"].clear()  # in place: dicts handed out by controls_ stay current
        c["choices"].clear()
        children = []
        if not len(self.batch_):
            children.append(widgets.HTML("<b>Nothing left to label: every clip is labeled.</b>"))
        for position in self.batch_.tolist():
            data, fmt = self.audio_bytes(position)
            player = widgets.Audio(value=data, format=fmt, autoplay=False, loop=False)
            choices = widgets.ToggleButtons(
                options=self._options(), value=None, style={"button_width": "auto"}
            )
            choices.observe(self._on_choice(position), names="value")
            c["audio"][position] = player
            c["choices"][position] = choices
            head, _, rest = self.clip_title(position).partition(" · ")
            title = widgets.HTML(f"<b>{html.escape(head)}</b>"
                                 + (f" · {html.escape(rest)}" if rest else ""))
            children.append(widgets.VBox([title, player, choices]))
        c["rows"].children = children
        self._sync_controls()

    def _options(self):
        return [(str(label), label) for label in self.labels] + [(_SKIP_TEXT, SKIP)]

    def _sync_controls(self):
        """Make the buttons and the status line show the session's state."""
        c = self._controls
        if c is None:
            return
        self._syncing = True
        try:
            options = self._options()
            for position, choices in c["choices"].items():
                if len(choices.options) != len(options):
                    choices.options = options
                if position in self.pending_:
                    value = self.pending_[position]
                elif position in self.skipped_:
                    value = SKIP
                else:
                    value = None
                if not _same_choice(choices.value, value):
                    choices.value = value
        finally:
            self._syncing = False
        text = html.escape(self.status())
        if self.last_error_ is not None:
            error = html.escape(f"{type(self.last_error_).__name__}: {self.last_error_}")
            text += (
                f"<br><span style='color:#b00'>Submit failed, labels kept: {error}</span>"
            )
        c["status"].value = text

    def _on_choice(self, position):
        def handler(change):
            if self._syncing:
                return
            value = change["new"]
            if value is SKIP:
                self.skip(position)
            elif value is None:
                self.pending_.pop(position, None)
                self._sync_controls()
            else:
                self.label(position, value)

        return handler

    def _on_add(self, _):
        text = self._controls["new_label"]
        if not text.value.strip():
            return
        try:
            self.add_label(text.value)
        except (TypeError, ValueError) as exc:
            self.last_error_ = exc
            self._sync_controls()
            return
        text.value = ""

    def _on_submit(self, _):
        try:
            self.submit()
        except Exception as exc:  # shown in the status line; the labels stay pending
            self.last_error_ = exc
            self._sync_controls()
            return
        self.last_error_ = None
        self.next_batch()

    # -- helpers -------------------------------------------------------------

    def _add_choice(self, label):
        if not any(_same_label(label, v) for v in self.labels):
            self.labels.append(label)

    def _check_position(self, position):
        return check_position(position, self.n_pool_)


def _same_label(a, b):
    a, b = plain(a), plain(b)
    return type(a) is type(b) and a == b or (
        isinstance(a, numbers.Integral) and isinstance(b, numbers.Integral)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )


def _same_choice(a, b):
    if a is None or b is None or a is SKIP or b is SKIP:
        return a is b
    return _same_label(a, b)

