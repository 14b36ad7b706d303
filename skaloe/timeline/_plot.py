"""The predicted timeline of one recording, scikit-learn Display style.

matplotlib is imported inside the methods that draw, never at module import.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np

from ..active._labels import is_marker
from ..experiment._plot import _merge, _require_matplotlib
from ._events import (
    _as_labels,
    _check_ignore,
    _check_seconds_param,
    _events_from,
    owned_spans,
    predict_segments,
    segment_predictions,
    sort_segments,
)
from ._tables import (
    _is_frame,
    check_events,
    check_label_values,
    check_paths,
    check_seconds,
    check_segments,
    check_spans,
    pick_recording,
    read_columns,
)

_TIME_FORMATS = ("auto", "seconds", "hms")
_PROBA_LINES = ("predicted", "all", None)
# Where things go on the y axis: probabilities in [0, 1], two lanes above.
_PREDICTED_LANE = (1.08, 0.2)
_LABELED_LANE = (1.34, 0.2)
# Tick steps of an h:mm:ss axis, in seconds.
_HMS_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
              21600, 43200, 86400)


def format_hms(seconds, pos=None):
    """``h:mm:ss`` of a time in seconds, rounded to the second."""
    total = int(round(abs(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    sign = "-" if seconds < 0 and total else ""
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"


def _hms_step(span, max_ticks=8):
    for step in _HMS_STEPS:
        if span / step <= max_ticks:
            return step
    return float(math.ceil(span / max_ticks / 86400) * 86400)


def _shorten(text, width=60):
    return text if len(text) <= width else "\u2026" + text[-(width - 1):]


def _check_labeled_table(labeled, recording):
    """``(start, end, label)`` arrays of the labeled segments of ``recording``.

    A table with columns ``start``, ``end``, ``label`` and optionally ``path``
    (rows of other recordings are left out), or rows ``(start, end, label)`` or
    ``(path, start, end, label)``.
    """
    what = "labeled"
    if _is_frame(labeled) or isinstance(labeled, Mapping):
        columns, _ = read_columns(
            labeled, what, ("start", "end", "label"), ("path",),
            hint="columns start, end, label (and optionally path)",
        )
    else:
        rows = list(labeled)
        widths = {len(row) if hasattr(row, "__len__") and not isinstance(row, str) else 0
                  for row in rows}
        if widths == {4}:
            names = ("path", "start", "end", "label")
        elif widths <= {3}:
            names = ("start", "end", "label")
        else:
            raise ValueError(
                "labeled must be a table with columns start, end, label (and optionally "
                "path), or rows (start, end, label) or (path, start, end, label); got "
                f"rows of {sorted(widths)} values."
            )
        columns, _ = read_columns(rows, what, names, hint="rows " + ", ".join(names))
    start = check_seconds(columns["start"], what, "start")
    end = check_seconds(columns["end"], what, "end")
    check_spans(start, end, what, None, allow_empty_span=True)
    labels = check_label_values(columns["label"], what)
    if "path" in columns:
        keep = check_paths(columns["path"], what) == recording
        start, end, labels = start[keep], end[keep], labels[keep]
    order = np.lexsort((end, start))
    return {"start": start[order], "end": end[order], "label": labels[order]}


def _aligned_labels(labeled, n_segments):
    """The labels of ``labeled`` when it gives one label per segment, else None."""
    if _is_frame(labeled) or isinstance(labeled, Mapping):
        return None
    if isinstance(labeled, np.ndarray):
        return labeled if labeled.ndim == 1 and len(labeled) == n_segments else None
    items = list(labeled)
    if len(items) != n_segments or any(np.ndim(v) != 0 for v in items):
        return None
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _unlabeled(value):
    return value is None or is_marker(value) or (
        isinstance(value, (float, np.floating)) and math.isnan(value)
    )


def _labeled_from_aligned(labels, paths, start, end):
    """A labeled table from one label per segment, ``-1`` (or None) where unlabeled."""
    keep = np.fromiter((not _unlabeled(v) for v in labels.tolist()), dtype=bool,
                       count=len(labels))
    return {"path": paths[keep], "start": start[keep], "end": end[keep],
            "label": labels[keep]}


def _is(labels, label):
    """Which of ``labels`` equal ``label``, compared one by one as Python values."""
    return np.fromiter((value == label for value in labels.tolist()), dtype=bool,
                       count=len(labels))


def _palette(n):
    import matplotlib

    name = "tab10" if n <= 10 else "tab20" if n <= 20 else None
    if name is not None:
        return list(matplotlib.colormaps[name].colors[:n])
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(x) for x in np.linspace(0.05, 0.95, n)]


class TimelineDisplay:
    """The predicted timeline of a recording: events, probabilities, labeled segments.

    One axes, time on x. A lane *predicted* shows the events as bands, one
    colour per class; below it, a line gives the probability of the
    predicted class of each window (at its centre, broken at gaps between
    windows), or of every class; a lane *labeled* above shows the segments
    that were labeled, in their class colour with a black edge. The legend
    sits outside the axes, on the right. Times read in seconds, or as
    ``h:mm:ss`` when the timeline ends after two minutes.

    Build it with :meth:`from_estimator`, :meth:`from_predictions` or
    :meth:`from_events`; the constructor only checks and stores the data.

    Parameters
    ----------
    events : DataFrame, dict of arrays, Bunch or sequence of rows
        Events as :func:`segments_to_events` returns them; those of other
        recordings are left out.
    recording : str, default=None
        The recording to show; None means the only one in ``events``.
    segment_times : array-like of shape (n_windows, 2), default=None
        ``(start, end)`` of each window of the recording, for the
        probability line.
    segment_proba : array-like of shape (n_windows,) or (n_windows, n_classes), \
            default=None
        Probability of the predicted class of each window, or of each class
        in ``classes``. None draws the mean probability of each event.
    classes : array-like, default=None
        Order of the class colours (and the columns of a 2-D
        ``segment_proba``); None means the labels in sorted order.
    labeled : DataFrame, dict of arrays, Bunch or sequence of rows, default=None
        Labeled segments: columns ``start``, ``end``, ``label`` and
        optionally ``path`` (rows of other recordings are left out), or rows
        ``(start, end, label)``, ``(path, start, end, label)``.
    max_gap : float, default=0.0
        Gaps between windows up to this many seconds do not break the line.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the timeline.
    figure_ : matplotlib Figure
        Figure containing the timeline.
    bands_ : dict of matplotlib PolyCollection
        ``label -> bands`` of the events of each class.
    lines_ : dict of matplotlib Line2D
        The probability lines: ``"predicted"`` (probability of the predicted
        class), one per class label (``segment_proba`` of every class), or
        ``"events"`` (mean probability of each event).
    labeled_ : dict of matplotlib PolyCollection
        ``label -> bands`` of the labeled segments of each class (empty
        without ``labeled``).
    colors_ : dict
        ``label -> RGB colour`` of every class shown.

    See Also
    --------
    segments_to_events : The events this plot shows.

    Examples
    --------
    >>> from skaloe.timeline import TimelineDisplay
    >>> TimelineDisplay([("a.wav", 0.0, 1.5, "speech")]).events["end"]
    array([1.5])
    >>> segments = [("a.wav", 0.5 * k, 0.5 * k + 1.0) for k in range(6)]
    >>> proba = [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.1, 0.9]]
    >>> display = TimelineDisplay.from_predictions(
    ...     segments, proba=proba, classes=["speech", "music"],
    ...     labeled=[("a.wav", 0.0, 1.0, "speech")])      # doctest: +SKIP
    >>> sorted(display.bands_)                            # doctest: +SKIP
    ['music', 'speech']
    >>> display.figure_.savefig("timeline.png")           # doctest: +SKIP
    """

    def __init__(self, events, *, recording=None, segment_times=None, segment_proba=None,
                 classes=None, labeled=None, max_gap=0.0):
        columns = check_events(events, allow_empty_span=True)
        if recording is None and len(columns["path"]) == 0:
            raise ValueError("events is empty; pass recording=<path> to show an empty "
                             "timeline.")
        if recording is not None and len(columns["path"]) == 0:
            self.recording = check_paths(np.array([recording], dtype=object), "recording")[0]
        else:
            self.recording = pick_recording(columns["path"], recording, "events")
        keep = columns["path"] == self.recording
        order = np.lexsort((columns["start"][keep],))
        self.events = {name: columns[name][keep][order]
                       for name in ("start", "end", "label", "probability")}
        self.max_gap = _check_seconds_param(max_gap, "max_gap")
        self.segment_times, self.segment_proba = self._check_segment_data(
            segment_times, segment_proba)
        self.classes = None if classes is None else check_label_values(
            _as_labels(classes), "classes", "value")
        if (self.segment_proba is not None and self.segment_proba.ndim == 2 and (
                self.classes is None or len(self.classes) != self.segment_proba.shape[1])):
            raise ValueError(
                f"segment_proba has {self.segment_proba.shape[1]} columns; give classes, "
                "the class of each column."
            )
        self.labeled = None if labeled is None else _check_labeled_table(
            labeled, self.recording)

    @staticmethod
    def _check_segment_data(times, proba):
        if times is None:
            if proba is not None:
                raise ValueError("segment_proba needs segment_times, the (start, end) of "
                                 "each window.")
            return None, None
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 2 or times.shape[1] != 2:
            raise ValueError(f"segment_times must have shape (n_windows, 2), got "
                             f"{times.shape}.")
        check_spans(times[:, 0], times[:, 1], "segment_times", None)
        order = np.lexsort((times[:, 1], times[:, 0]))
        times = times[order]
        if proba is not None:
            proba = np.asarray(proba, dtype=np.float64)
            if proba.ndim not in (1, 2) or len(proba) != len(times):
                raise ValueError(
                    f"segment_proba must have one row per window ({len(times)}), got shape "
                    f"{proba.shape}."
                )
            proba = proba[order]
        return times, proba

    def _class_order(self):
        classes = [] if self.classes is None else self.classes.tolist()
        seen = set(classes)
        extra = []
        for label in self.events["label"].tolist() + (
                [] if self.labeled is None else self.labeled["label"].tolist()):
            if label not in seen:
                seen.add(label)
                extra.append(label)
        return classes + sorted(extra, key=lambda v: (type(v).__name__, str(v)))

    def _proba_lines(self, ax, colors, line_kw):
        lines = {}
        if self.segment_times is not None and self.segment_proba is not None:
            start, end = self.segment_times[:, 0], self.segment_times[:, 1]
            paths = np.zeros(len(start), dtype=np.int8)  # one recording
            _, _, connected = owned_spans(paths, start, end, self.max_gap)
            centres = (start + end) / 2
            cut = np.flatnonzero(~connected) + 1  # NaN after each window not connected
            x = np.insert(centres, cut, np.nan)
            if self.segment_proba.ndim == 1:
                y = np.insert(self.segment_proba, cut, np.nan)
                kw = _merge({"color": "0.15", "linewidth": 1.2,
                             "label": "probability of the predicted class"}, line_kw)
                (lines["predicted"],) = ax.plot(x, y, **kw)
            else:
                for j, label in enumerate(self.classes.tolist()):
                    y = np.insert(self.segment_proba[:, j], cut, np.nan)
                    kw = _merge({"color": colors[label], "linewidth": 1.2,
                                 "label": f"P({label})"}, line_kw)
                    (lines[label],) = ax.plot(x, y, **kw)
        else:
            p = self.events["probability"]
            known = np.isfinite(p)
            if known.any():
                s, e, p = (self.events["start"][known], self.events["end"][known],
                           p[known])
                x = np.column_stack([s, e, np.full(len(s), np.nan)]).ravel()
                y = np.column_stack([p, p, np.full(len(p), np.nan)]).ravel()
                kw = _merge({"color": "0.15", "linewidth": 1.5,
                             "label": "mean probability of the event"}, line_kw)
                (lines["events"],) = ax.plot(x, y, **kw)
        return lines

    def plot(self, ax=None, *, time_format="auto", band_kw=None, line_kw=None,
             labeled_kw=None, legend=True):
        """Draw the timeline.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new, wide figure whose layout
            leaves room for the legend on the right.
        time_format : {"auto", "seconds", "hms"}, default="auto"
            Tick labels in seconds or as ``h:mm:ss``; ``"auto"`` means
            ``h:mm:ss`` when the timeline ends after two minutes.
        band_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.broken_barh`
            for the event bands.
        line_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for the
            probability lines.
        labeled_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.broken_barh`
            for the labeled segments.
        legend : bool, default=True
            Draw the legend, outside the axes on the right.

        Returns
        -------
        display : TimelineDisplay
            The object, with ``ax_``, ``figure_``, ``bands_``, ``lines_``,
            ``labeled_`` and ``colors_`` set.
        """
        plt = _require_matplotlib(f"{type(self).__name__}.plot")
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter, MultipleLocator

        if time_format not in _TIME_FORMATS:
            raise ValueError(f"time_format must be one of {_TIME_FORMATS}, got "
                             f"{time_format!r}.")
        if ax is None:
            _, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")

        order = self._class_order()
        self.colors_ = dict(zip(order, _palette(len(order))))

        self.bands_ = {}
        y0, height = _PREDICTED_LANE
        for label in order:
            mine = _is(self.events["label"], label)
            if not mine.any():
                continue
            spans = list(zip(self.events["start"][mine].tolist(),
                             (self.events["end"][mine] - self.events["start"][mine]).tolist()))
            kw = _merge({"facecolors": self.colors_[label], "linewidth": 0,
                         "label": str(label)}, band_kw)
            self.bands_[label] = ax.broken_barh(spans, (y0, height), **kw)

        self.labeled_ = {}
        if self.labeled is not None:
            y0, height = _LABELED_LANE
            for label in order:
                mine = _is(self.labeled["label"], label)
                if not mine.any():
                    continue
                start, end = self.labeled["start"][mine], self.labeled["end"][mine]
                kw = _merge({"facecolors": self.colors_[label], "edgecolors": "black",
                             "linewidth": 0.8, "label": f"labeled {label}"}, labeled_kw)
                self.labeled_[label] = ax.broken_barh(
                    list(zip(start.tolist(), (end - start).tolist())), (y0, height), **kw)

        self.lines_ = self._proba_lines(ax, self.colors_, line_kw)

        lanes = [(_PREDICTED_LANE, "predicted")]
        if self.labeled is not None:
            lanes.append((_LABELED_LANE, "labeled"))
        top = lanes[-1][0][0] + lanes[-1][0][1]
        ax.set_ylim(-0.03, top + 0.04)
        ax.set_yticks([0.0, 0.5, 1.0] + [y + h / 2 for (y, h), _ in lanes])
        ax.set_yticklabels(["0", "0.5", "1"] + [name for _, name in lanes])
        ax.set_ylabel("probability")

        low, high = self._time_span()
        ax.set_xlim(low, high)
        if time_format == "auto":
            time_format = "hms" if high > 120 else "seconds"
        if time_format == "hms":
            ax.xaxis.set_major_locator(MultipleLocator(_hms_step(high - low)))
            ax.xaxis.set_major_formatter(FuncFormatter(format_hms))
            ax.set_xlabel("time (h:mm:ss)")
        else:
            ax.set_xlabel("time (s)")
        # The file name: a full path (often a temporary or mounted folder) reads badly.
        ax.set_title(_shorten(os.path.basename(str(self.recording)) or str(self.recording)))

        if legend:
            shown = [label for label in order
                     if label in self.bands_ or label in self.labeled_]
            handles = [Patch(facecolor=self.colors_[label], label=str(label))
                       for label in shown]
            handles += list(self.lines_.values())
            if handles:
                ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                          borderaxespad=0.0, frameon=False)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _time_span(self):
        starts = [self.events["start"]]
        ends = [self.events["end"]]
        if self.segment_times is not None:
            starts.append(self.segment_times[:, 0])
            ends.append(self.segment_times[:, 1])
        if self.labeled is not None:
            starts.append(self.labeled["start"])
            ends.append(self.labeled["end"])
        starts = np.concatenate(starts)
        ends = np.concatenate(ends)
        if not len(starts):
            return 0.0, 1.0
        low, high = float(starts.min()), float(ends.max())
        return (low, high) if high > low else (low - 0.5, high + 0.5)

    @classmethod
    def from_events(cls, events, *, recording=None, labeled=None, classes=None, ax=None,
                    time_format="auto", band_kw=None, line_kw=None, labeled_kw=None,
                    legend=True):
        """Plot the events of a recording, with the mean probability of each.

        Parameters
        ----------
        events : DataFrame, dict of arrays, Bunch or sequence of rows
            Events as :func:`segments_to_events` or :func:`read_events_csv`
            return them.
        recording : str, default=None
            The recording to show; None means the only one in ``events``.
        labeled : DataFrame, dict of arrays, Bunch or sequence of rows, \
                default=None
            Labeled segments: columns ``start``, ``end``, ``label`` and
            optionally ``path`` (as :func:`read_audacity_labels` returns).
        classes : array-like, default=None
            Order of the class colours; None means the labels sorted.
        ax, time_format, band_kw, line_kw, labeled_kw, legend
            See :meth:`plot`.

        Returns
        -------
        display : TimelineDisplay
        """
        _require_matplotlib(f"{cls.__name__}.from_events")
        display = cls(events, recording=recording, classes=classes, labeled=labeled)
        return display.plot(ax=ax, time_format=time_format, band_kw=band_kw,
                            line_kw=line_kw, labeled_kw=labeled_kw, legend=legend)

    @classmethod
    def from_predictions(cls, segments, y_pred=None, *, proba=None, classes=None,
                         recording=None, labeled=None, ignore=None, min_duration=0.0,
                         max_gap=0.0, proba_lines="predicted", ax=None,
                         time_format="auto", band_kw=None, line_kw=None, labeled_kw=None,
                         legend=True):
        """Plot the timeline of a recording from per-segment predictions.

        The events are merged as :func:`segments_to_events` does.

        Parameters
        ----------
        segments : DataFrame, dict of arrays, Bunch or sequence of (path, start, end)
            One row per window, of one or several recordings.
        y_pred : array-like of shape (n_segments,), default=None
            Predicted label of each segment; None means the most probable
            class in ``proba``.
        proba : array-like of shape (n_segments, n_classes), default=None
            Class probabilities of each segment.
        classes : array-like of shape (n_classes,), default=None
            The class of each column of ``proba``.
        recording : str, default=None
            The recording to show; None means the only one in ``segments``.
        labeled : array-like of shape (n_segments,) or table, default=None
            What was labeled: one label per segment with ``-1`` (or None)
            where unlabeled, such as an
            :class:`~skaloe.active.ActiveLearner`'s ``y_pool_`` when the
            pool is these segments; or a table of labeled segments as for
            :meth:`from_events`.
        ignore : label or list of labels, default=None
            Background classes without events (no band).
        min_duration, max_gap : float, default=0.0
            As in :func:`segments_to_events`; gaps up to ``max_gap`` also do
            not break the probability line.
        proba_lines : {"predicted", "all"} or None, default="predicted"
            Draw the probability of the predicted class of each window, that
            of every class (one line per class, in its colour), or no line.
        ax, time_format, band_kw, line_kw, labeled_kw, legend
            See :meth:`plot`.

        Returns
        -------
        display : TimelineDisplay
        """
        _require_matplotlib(f"{cls.__name__}.from_predictions")
        if proba_lines not in _PROBA_LINES:
            raise ValueError(f"proba_lines must be one of {_PROBA_LINES}, got "
                             f"{proba_lines!r}.")
        if proba_lines == "all" and proba is None:
            raise ValueError("proba_lines='all' draws the probability of every class; "
                             "give proba, or use proba_lines='predicted'.")
        paths, start, end = check_segments(segments)
        min_duration = _check_seconds_param(min_duration, "min_duration")
        max_gap = _check_seconds_param(max_gap, "max_gap")
        codes, classes, probability = segment_predictions(len(paths), y_pred, proba, classes)
        ignore = _check_ignore(ignore, classes, proba is not None or classes is not None)
        sort_segments(paths, start, end)  # the whole table's windows must move forward
        recording = pick_recording(paths, recording, "segments")
        if labeled is not None:
            aligned = _aligned_labels(labeled, len(paths))
            if aligned is not None:
                labeled = _labeled_from_aligned(aligned, paths, start, end)
        mine = np.flatnonzero(paths == recording)
        events = _events_from(paths[mine], start[mine], end[mine], codes[mine], classes,
                              probability[mine], ignore=ignore, min_duration=min_duration,
                              max_gap=max_gap)
        segment_proba = None
        if proba_lines == "all":
            segment_proba = np.asarray(proba, dtype=np.float64)[mine]
        elif proba_lines == "predicted" and proba is not None:
            segment_proba = probability[mine]
        display = cls(events, recording=recording,
                      segment_times=np.column_stack([start[mine], end[mine]]),
                      segment_proba=segment_proba, classes=classes, labeled=labeled,
                      max_gap=max_gap)
        return display.plot(ax=ax, time_format=time_format, band_kw=band_kw,
                            line_kw=line_kw, labeled_kw=labeled_kw, legend=legend)

    @classmethod
    def from_estimator(cls, estimator, X, segments, *, recording=None, labeled=None,
                       ignore=None, min_duration=0.0, max_gap=0.0,
                       proba_lines="predicted", ax=None, time_format="auto", band_kw=None,
                       line_kw=None, labeled_kw=None, legend=True):
        """Plot the timeline of a recording as a fitted classifier predicts it.

        Parameters
        ----------
        estimator : fitted classifier
            Its ``predict_proba`` and ``classes_`` are used when it has them,
            else its ``predict``.
        X : array-like of shape (n_segments, ...)
            What the estimator predicts from, one row per segment.
        segments : DataFrame, dict of arrays, Bunch or sequence of (path, start, end)
            The window of each row of ``X``.
        recording, labeled, ignore, min_duration, max_gap, proba_lines
            See :meth:`from_predictions`.
        ax, time_format, band_kw, line_kw, labeled_kw, legend
            See :meth:`plot`.

        Returns
        -------
        display : TimelineDisplay
        """
        _require_matplotlib(f"{cls.__name__}.from_estimator")
        n_segments = len(check_segments(segments)[0])
        y_pred, proba, classes = predict_segments(estimator, X, n_segments)
        if proba is None and proba_lines == "all":
            raise ValueError(
                f"proba_lines='all' draws the probability of every class, but "
                f"{type(estimator).__name__} has no predict_proba; use "
                "proba_lines='predicted' or None."
            )
        return cls.from_predictions(
            segments, y_pred, proba=proba, classes=classes, recording=recording,
            labeled=labeled, ignore=ignore, min_duration=min_duration, max_gap=max_gap,
            proba_lines=proba_lines, ax=ax, time_format=time_format, band_kw=band_kw, line_kw=line_kw,
            labeled_kw=labeled_kw, legend=legend,
        )
