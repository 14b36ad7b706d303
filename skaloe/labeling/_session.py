"""DurableSession: a labeling session whose every label is committed to SQLite."""

from __future__ import annotations

import csv
import getpass
import numbers
import os
import tempfile
import threading
import warnings
from collections import Counter

import numpy as np

from ..encoders._registry import MODEL_SAMPLE_RATE
from ._core import (
    check_label,
    check_position,
    clip_duration,
    clip_wav_bytes,
    label_counts,
    played_span,
    segment_wav_bytes,
)
from ._database import (
    DamagedSessionError,
    LabelDatabase,
    array_sha256,
    paths_fingerprint,
    utc_now,
)

__all__ = ["DurableSession"]

_STRATEGY_DEFAULT = "margin"
_SELECTION_DEFAULT = "class-aware"


def _default_annotator():
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no user name in this environment
        return "unknown"


def _check_annotator(annotator):
    if annotator is None:
        return _default_annotator()
    if not isinstance(annotator, str) or not annotator.strip() or len(annotator) > 200:
        raise ValueError(
            f"annotator must be a non-empty name of at most 200 characters, got {annotator!r}."
        )
    return annotator.strip()


def _check_classes(classes):
    if isinstance(classes, str):
        raise TypeError(
            f"classes must be a list of class names, got the string {classes!r}; "
            f"e.g. {classes.split(',')!r}."
        )
    if classes is None:
        raise ValueError("classes is required for a new session: the names of the labels, "
                         "e.g. ['dog', 'cat'].")
    names = []
    for name in classes:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValueError(
                f"Each class name must be a non-empty string of at most 200 characters; "
                f"got {name!r}."
            )
        names.append(name.strip())
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"The class {twice!r} is listed twice in classes; list each once.")
    if len(names) < 2:
        raise ValueError(f"A labeling session needs at least two classes, got {names!r}.")
    return names


def _check_positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def plain_stopping_advice(learner, noun="clips"):
    """The advice of a session's stopping rule in plain words, for the person labeling.

    A session teaches one label per round, so the rules count labels. The
    words say what each rule measures: whether the model's guesses for the
    pool clips still change from one label to the next
    (:class:`~skaloe.active.StabilizingPredictions`), or whether the accuracy
    on the validation clips still rises (:class:`~skaloe.active.PlateauStopping`).
    Another rule speaks for itself (its ``describe()``).

    Parameters
    ----------
    learner : ActiveLearner
        A fitted learner with stopping rules.
    noun : str, default="clips"
        What the pool holds, as the page calls it ("clips", or "windows" of
        long recordings).

    Returns
    -------
    text : str
    """
    from ..active import PlateauStopping, StabilizingPredictions

    lines = []
    for rule in learner.stopping_:
        if isinstance(rule, StabilizingPredictions):
            lines.append(_stabilizing_advice(rule, noun))
        elif isinstance(rule, PlateauStopping):
            lines.append(_plateau_advice(rule, noun))
        else:
            lines.append(rule.describe())
    return " ".join(lines)


def _stabilizing_advice(rule, noun):
    window = rule.window
    if not rule.agreements_:
        return ("Keep labeling. Once two classes have labels, this line says when new labels "
                f"stop changing the model's guesses for the {noun}.")
    if rule.stop_:
        return (f"You can stop: the model's guesses for the {noun} have stopped changing over "
                f"the last {_plural(window, 'label')}; more labels are unlikely to help much.")
    if rule.n_stable_ == 0:
        return ("Keep labeling: your last label still changed the model's guesses for some "
                f"{noun}.")
    recent = "your last label" if rule.n_stable_ == 1 else f"your last {rule.n_stable_} labels"
    return (f"Keep labeling: {recent} left the model's guesses for the {noun} (nearly) "
            f"unchanged; once {window} labels in a row do, more labels are unlikely to help "
            "much.")


def _plateau_advice(rule, noun):
    if not rule.n_updates_:
        return ("Keep labeling. Once two classes have labels, the accuracy on your validation "
                f"{noun} is measured after every label.")
    best = f"best {rule.best_score_:.1%}, reached at {_plural(rule.best_n_labels_, 'label')}"
    flat = ("did not rise with your last label" if rule.wait_ == 1 else
            f"has not risen over your last {rule.wait_} labels")
    if rule.stop_:
        return (f"You can stop: the accuracy on your validation {noun} {flat} ({best}); more "
                "labels are unlikely to help much.")
    if rule.wait_ == 0:
        return (f"Keep labeling: the accuracy on your validation {noun} is still rising "
                f"({best}).")
    return (f"Keep labeling: the accuracy on your validation {noun} {flat} ({best}); once "
            f"{rule.patience} labels in a row bring no rise, more labels are unlikely to help "
            "much.")


def _load_embeddings_pool(path):
    """``(embeddings, paths or None, (starts, ends) or None)`` of an .npz written by
    ``skaloe embed``, or of an embedding store."""
    from ..datasets import load_embeddings

    data = load_embeddings(path)
    bounds = None if data.starts is None else (data.starts.tolist(), data.ends.tolist())
    return np.ascontiguousarray(data.embeddings, dtype=np.float32), data.paths, bounds


#: The columns of the labels CSV; a session of segments adds their bounds.
CSV_COLUMNS = ["position", "path", "label", "annotator", "time"]
SEGMENT_CSV_COLUMNS = ["position", "path", "start", "end", "label", "annotator", "time"]


def _write_labels_csv(rows, path, columns=CSV_COLUMNS):
    """Write label rows to a CSV file (written whole, then renamed); return how many."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".labels-", suffix=".csv", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(rows)


def _label_rows(active, paths, bounds=None):
    """The labels in force as CSV rows: position, path, label, annotator, time, and the
    segment's start and end for a session of segments (empty for a whole clip)."""
    rows = []
    for e in active:
        position = e["position"]
        row = {"position": position, "path": paths[position]}
        if bounds is not None:
            row["start"], row["end"] = bounds[0][position], bounds[1][position]
        row.update(label=e["label"], annotator=e["annotator"], time=e["time"])
        rows.append(row)
    return rows


def export_labels(database, path):
    """Write the labels in force of a session file to CSV, without opening the session.

    Reads only the label log and the clip paths: it works while another
    process labels in the session, and when the stored embeddings are damaged
    (the session then cannot be reopened, but no label is lost).

    Parameters
    ----------
    database : str or path-like
        The session's SQLite file.
    path : str or path-like
        The CSV file to write: ``position, path, label, annotator, time``; for
        a session of segments of long recordings, ``position, path, start,
        end, label, annotator, time``.

    Returns
    -------
    n_rows : int
    """
    db = LabelDatabase(database, write=False)
    try:
        bounds = db.pool_bounds()
        rows = _label_rows(db.active_labels(), db.pool_paths(), bounds)
    finally:
        db.close()
    return _write_labels_csv(rows, path, CSV_COLUMNS if bounds is None else SEGMENT_CSV_COLUMNS)


def read_session(database):
    """The pool and the labels in force of a session file, read without opening the session.

    Like :func:`export_labels`, this takes no writer lock: it works while
    another process labels in the session. The embeddings are checked
    against their checksum.

    Returns a :class:`~sklearn.utils.Bunch` with ``embeddings`` (float32,
    ``n_pool x dim``), ``paths``, ``starts`` and ``ends`` (lists, None
    entries for whole clips; None when no item is a segment), ``classes``,
    ``random_state`` and ``labels`` (the label events in force, oldest first:
    dicts with ``position``, ``label``, ``annotator`` and ``time``).
    """
    from sklearn.utils import Bunch

    database = os.fspath(database)
    db = LabelDatabase(database, write=False)
    try:
        dim = int(db.meta("dim"))
        embeddings = db.read_array("pool", dim)
        if array_sha256(embeddings) != db.meta("embeddings_sha256"):
            raise DamagedSessionError(
                f"The pool embeddings stored in {database!r} do not match their checksum: "
                "the file is damaged, but its labels are intact. Export them with 'skaloe "
                f"label --db {database} --export-csv labels.csv'."
            )
        bounds = db.pool_bounds()
        return Bunch(
            embeddings=embeddings, paths=db.pool_paths(),
            starts=None if bounds is None else bounds[0],
            ends=None if bounds is None else bounds[1],
            classes=list(db.meta("classes")), random_state=int(db.meta("random_state")),
            labels=[{key: event[key] for key in ("position", "label", "annotator", "time")}
                    for event in db.active_labels()],
        )
    finally:
        db.close()


def _is_store(path):
    from ..distributed import _store

    return os.path.isdir(path) and os.path.isfile(os.path.join(path, _store._MANIFEST))


def _segments_of(pool):
    """The pool as a list of Segments when it is a table or a list of segments, else None."""
    from ..encoders._segments import check_segment, is_segment_item, segment_table

    segments = segment_table(pool)
    if segments is not None:
        return segments
    if isinstance(pool, (list, tuple)) and pool and all(is_segment_item(p) for p in pool):
        return [check_segment(*item, i) for i, item in enumerate(pool)]
    return None


def _pool_identity(pool):
    """``(kind, fingerprint, description, paths, bounds, embeddings or None)`` of a pool.

    ``bounds`` is ``(starts, ends)`` when pool items are segments of
    recordings, else None; ``embeddings`` None means the pool is audio to embed
    (``paths``, or with ``bounds`` the segments).
    """
    import hashlib

    if isinstance(pool, (str, os.PathLike)):
        path = os.fspath(pool)
        store = _is_store(path)
        if not (store or path.lower().endswith(".npz")):
            raise ValueError(
                f"pool {path!r} is a single path; pass a list of audio file paths, an "
                ".npz file of embeddings written by 'skaloe embed', or an embedding store "
                "written by 'skaloe embed --dask'."
            )
        embeddings, paths, bounds = _load_embeddings_pool(path)
        return ("store" if store else "npz", array_sha256(embeddings), os.path.abspath(path),
                paths, bounds, embeddings)
    segments = _segments_of(pool)
    if segments is not None:
        paths = [os.path.abspath(seg.path) for seg in segments]
        starts = [seg.start for seg in segments]
        ends = [seg.end for seg in segments]
        h = hashlib.sha256(paths_fingerprint(sorted(set(paths))).encode())
        h.update(np.asarray([starts, ends], dtype=np.float64).tobytes())
        n_files = len(set(paths))
        description = (f"{len(segments)} segments of {n_files} recording"
                       f"{'s' if n_files > 1 else ''} ({paths[0]}{', ...' if n_files > 1 else ''})")
        return "segments", h.hexdigest(), description, paths, (starts, ends), None
    try:
        paths = [os.fspath(p) for p in pool]
    except TypeError:
        raise TypeError(
            f"pool must be a list of audio file paths, a table of segments (path, start, "
            f"end) or the path of an .npz file, got {type(pool).__name__}."
        ) from None
    if not paths:
        raise ValueError("The pool is empty; give at least one audio file.")
    paths = [os.path.abspath(p) for p in paths]
    n = len(paths)
    description = (f"{n} audio file{'s' if n > 1 else ''} "
                   f"({paths[0]}{', ...' if n > 1 else ''})")
    return "files", paths_fingerprint(paths), description, paths, None, None


def _embed(paths, model, cache, n_jobs):
    from ..encoders import EncoderTransformer

    encoder = EncoderTransformer(model, memory=cache, n_jobs=n_jobs)
    return np.ascontiguousarray(encoder.fit_transform(paths), dtype=np.float32)


class DurableSession:
    """A labeling session bound to a pool, every label committed to SQLite.

    The session file (an SQLite database in WAL mode) holds the pool (paths
    and embeddings), the learner settings, an optional validation set and an
    append-only log of label and undo events, each with its annotator and
    UTC time. Each :meth:`label` and :meth:`undo` is one transaction,
    committed before the method returns, so a process killed at any moment
    loses at most the label being written.

    The :class:`~skaloe.active.ActiveLearner` is defined by a fixed protocol
    (fit on the pool, ``query(batch_size)``, then for every label not undone
    ``teach`` that one label and ``query(batch_size)`` again), and after each
    label its state is stored in the file as a checkpoint of arrays and plain
    data (:func:`skaloe.active.save_state`; nothing is pickled). Reopening
    loads the newest checkpoint instead of replaying the log, so it takes the
    same time with 20 labels or 2,000, and a resumed session asks for
    exactly the clips the interrupted one would have asked for next. A label
    committed without its checkpoint (the process died in between) is
    replayed from the checkpoint before it.

    Open an existing session with ``DurableSession(database)``; start a new
    one with :meth:`create`. Read more in the :ref:`User Guide <labeling>`.

    Parameters
    ----------
    database : str or path-like
        The session file, written by :meth:`create`.
    pool : list of str, table of segments or str, default=None
        If given, the pool the session must belong to (as for
        :meth:`create`): a different pool raises a ValueError naming both.
        The stored pool is used either way.
    annotator : str, default=None
        Who labels in this process (recorded with every label); None means
        the operating-system user name.

    Attributes
    ----------
    learner_ : ActiveLearner
        The learner, rebuilt from the log; do not teach it directly.
    classes : list of str
        The label choices.
    batch_size : int
        Clips per query.
    paths : list of str or None
        Each pool clip's audio file (None entries when not known); for a
        segment, its recording.
    starts, ends : list of float or None
        For a pool of segments of long recordings, each item's bounds in
        seconds from the start of its recording (None entries for whole
        clips); None when no item is a segment.
    n_pool : int
        Number of pool clips.
    blind : bool
        Whether the session was created for blind labeling: the page hides
        file names and paths (see :class:`LabelServer`).

    See Also
    --------
    LabelingSession : Labeling in a notebook, in memory.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from skaloe.labeling import DurableSession
    >>> rng = np.random.default_rng(0)
    >>> folder = tempfile.mkdtemp()
    >>> np.savez(os.path.join(folder, "pool.npz"), embeddings=rng.normal(size=(30, 4)))
    >>> db = os.path.join(folder, "labels.sqlite")
    >>> session = DurableSession.create(db, os.path.join(folder, "pool.npz"), ["no", "yes"],
    ...                                 random_state=0, annotator="ana")
    >>> first = session.next_batch()
    >>> event = session.label(first[0], "yes")
    >>> event = session.label(first[1], "no")
    >>> following = session.next_batch()
    >>> session.close()
    >>> resumed = DurableSession(db)                    # e.g. after a crash
    >>> resumed.next_batch() == following
    True
    >>> [(row["label"], row["annotator"]) for row in resumed.labels()]
    [('yes', 'ana'), ('no', 'ana')]
    >>> resumed.close()
    """

    # Learner checkpoints kept in the file: undoing up to this many labels
    # loads one; older undos replay from the newest one still valid.
    _N_CHECKPOINTS = 10

    def __init__(self, database, *, pool=None, annotator=None):
        self.annotator = _check_annotator(annotator)
        self.database = os.fspath(database)
        self._lock = threading.RLock()
        self._db = LabelDatabase(self.database)
        try:
            self._load(pool)
        except BaseException:
            self._db.close()
            raise

    # -- creating and opening -------------------------------------------------

    @classmethod
    def create(
        cls,
        database,
        pool,
        classes,
        *,
        embeddings=None,
        validation=None,
        model="ge2e",
        cache=None,
        n_jobs=None,
        batch_size=None,
        query_strategy=_STRATEGY_DEFAULT,
        selection=_SELECTION_DEFAULT,
        random_state=0,
        annotator=None,
        blind=False,
    ):
        """Start a new session: embed the pool once and write the session file.

        Parameters
        ----------
        database : str or path-like
            A new file (or an empty SQLite file).
        pool : list of str, table of segments, or str
            The clips to label: audio file paths (embedded here with
            ``model``); segments of long recordings (a table with ``path``,
            ``start`` and ``end`` such as
            :func:`~skaloe.datasets.segment_recordings` returns, or a list of
            ``(path, start, end)``), embedded here too and played segment by
            segment; or the path of an .npz written by ``skaloe embed`` or of
            an embedding store written by ``skaloe embed --dask`` (its
            ``embeddings`` are used; its ``paths``, when present, are played,
            and with segment bounds, only each row's segment).
        classes : list of str
            The label choices (at least two).
        embeddings : array-like of shape (n_pool, dim), default=None
            Precomputed embeddings of a list of paths; None embeds them.
        validation : tuple (clips, labels), default=None
            A labeled validation set: audio paths (embedded with ``model``)
            or an array of embeddings, and one class name each. Gives the
            validation accuracy and the plateau stopping rule.
        model : str, default="ge2e"
            The encoder for audio paths (see
            :class:`~skaloe.EncoderTransformer`); the default, a pretrained
            speech network that ships with skaloe, needs no download.
        cache : str or None, default=None
            Embedding cache folder.
        n_jobs : int or None, default=None
            Threads for decoding and encoding.
        batch_size : int, default=None
            Clips per query; None means the number of classes (ALOE's one
            label per predicted class).
        query_strategy : str, default="margin"
            A query scorer name (:func:`~skaloe.active.get_query_scorer_names`).
        selection : {"class-aware", "class-agnostic"}, default="class-aware"
        random_state : int, default=0
            Seeds the learner; the same seed and labels give the same queries.
        annotator : str, default=None
            Who labels in this process; None means the user name.
        blind : bool, default=False
            Blind labeling, stored with the session: its page
            (:class:`LabelServer`) never shows a clip's file name or path,
            only "Clip 1", "Clip 2"..., since names often give the class away.

        Returns
        -------
        session : DurableSession
        """
        from ..active import get_query_scorer_names

        database = os.fspath(database)
        classes = _check_classes(classes)
        batch_size = len(classes) if batch_size is None else _check_positive_int(
            batch_size, "batch_size")
        if not isinstance(random_state, numbers.Integral) or isinstance(random_state, bool):
            raise ValueError(
                f"random_state must be an integer (it makes resumed sessions exact), got "
                f"{random_state!r}."
            )
        if query_strategy not in get_query_scorer_names():
            raise ValueError(
                f"Unknown query_strategy {query_strategy!r}; use one of "
                f"{', '.join(get_query_scorer_names())}."
            )
        if selection not in ("class-aware", "class-agnostic"):
            raise ValueError(
                f"selection must be 'class-aware' or 'class-agnostic', got {selection!r}."
            )
        _check_annotator(annotator)
        if not isinstance(blind, (bool, np.bool_)):
            raise ValueError(f"blind must be True or False, got {blind!r}.")
        if os.path.exists(database) and os.path.getsize(database) > 0:
            LabelDatabase(database, create=True).close()  # raises if it holds anything
        kind, fingerprint, description, paths, bounds, pool_embeddings = _pool_identity(pool)
        if pool_embeddings is None:
            if embeddings is not None:
                pool_embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
                if pool_embeddings.shape[:1] != (len(paths),) or pool_embeddings.ndim != 2:
                    raise ValueError(
                        f"embeddings has shape {pool_embeddings.shape}; expected "
                        f"({len(paths)}, dim), one row per pool "
                        f"{'path' if bounds is None else 'segment'}."
                    )
                model = None
            elif bounds is None:
                pool_embeddings = _embed(paths, model, cache, n_jobs)
            else:
                from ..encoders import Segment

                pool_embeddings = _embed([Segment(*row) for row in zip(paths, *bounds)],
                                         model, cache, n_jobs)
        else:
            model = None  # the .npz says which encoder wrote it
        if not np.isfinite(pool_embeddings).all():
            raise ValueError("The pool embeddings contain NaN or infinite values.")
        val = None
        if validation is not None:
            val = cls._prepare_validation(validation, classes, pool_embeddings.shape[1],
                                          model, cache, n_jobs)
        meta = {
            "created": utc_now(),
            "pool_kind": kind,
            "pool_fingerprint": fingerprint,
            "pool_description": description,
            "n_pool": int(len(pool_embeddings)),
            "dim": int(pool_embeddings.shape[1]),
            "embeddings_sha256": array_sha256(pool_embeddings),
            "model": None if model is None or callable(model) else str(model),
            "classes": classes,
            "batch_size": batch_size,
            "query_strategy": query_strategy,
            "selection": selection,
            "random_state": int(random_state),
            "n_validation": 0 if val is None else len(val[1]),
            "blind": bool(blind),
        }
        if val is not None:
            meta["validation_sha256"] = array_sha256(val[2])
        db = LabelDatabase(database, create=True)
        try:
            db.write_session(meta, paths, pool_embeddings, val, pool_bounds=bounds)
        finally:
            db.close()
        return cls(database, annotator=annotator)

    @staticmethod
    def _prepare_validation(validation, classes, dim, model, cache, n_jobs):
        try:
            clips, labels = validation
        except (TypeError, ValueError):
            raise ValueError(
                "validation must be a pair (clips, labels): audio paths or embeddings, and "
                "one class name each."
            ) from None
        labels = [str(y) for y in labels]
        unknown = sorted(set(labels) - set(classes))
        if unknown:
            raise ValueError(
                f"The validation set has the class {unknown[0]!r}, which is not among the "
                f"session's classes {classes}; add it to classes or drop those clips."
            )
        if isinstance(clips, np.ndarray) and clips.dtype.kind in "iuf":
            paths, X_val = None, np.ascontiguousarray(clips, dtype=np.float32)
        else:
            paths = [os.path.abspath(os.fspath(p)) for p in clips]
            if model is None:
                raise ValueError(
                    "The validation clips are audio paths but the pool came as embeddings; "
                    "pass the validation set as embeddings of the same encoder too."
                )
            X_val = _embed(paths, model, cache, n_jobs)
        if X_val.ndim != 2 or X_val.shape != (len(labels), dim):
            raise ValueError(
                f"The validation embeddings have shape {X_val.shape}; expected "
                f"({len(labels)}, {dim}): one row per label, as wide as the pool's."
            )
        return paths, labels, X_val

    def _load(self, pool):
        db = self._db
        self.classes = list(db.meta("classes"))
        self.batch_size = int(db.meta("batch_size"))
        self.query_strategy = db.meta("query_strategy")
        self.selection = db.meta("selection")
        self.random_state = int(db.meta("random_state"))
        self.model = db.meta("model")
        self.n_pool = int(db.meta("n_pool"))
        self.blind = bool(db.meta("blind", False))  # absent from older files
        self._durations = {}
        dim = int(db.meta("dim"))
        if pool is not None:
            self._check_pool(pool)
        self.paths = db.pool_paths()
        bounds = db.pool_bounds()
        self.starts, self.ends = (None, None) if bounds is None else bounds
        self._recording_seconds = {}
        self._X = db.read_array("pool", dim)
        if array_sha256(self._X) != db.meta("embeddings_sha256"):
            raise DamagedSessionError(
                f"The pool embeddings stored in {self.database!r} do not match their "
                "checksum: the file is damaged, but its labels are intact. Export them "
                f"with 'skaloe label --db {self.database} --export-csv labels.csv' (or "
                "skaloe.labeling.export_labels) and start a new session."
            )
        self._val = None
        if db.meta("n_validation", 0):
            val_paths, val_labels = db.validation_rows()
            self._val = (db.read_array("validation", dim), np.asarray(val_labels, dtype=str))
        self._estimate_cache = None
        self._rebuild()

    def _check_pool(self, pool):
        kind, fingerprint, description, _, _, embeddings = _pool_identity(pool)
        stored_kind = self._db.meta("pool_kind")
        if kind in ("npz", "store"):
            same = fingerprint == self._db.meta("embeddings_sha256")
        else:
            same = stored_kind == kind and fingerprint == self._db.meta("pool_fingerprint")
        if not same:
            raise ValueError(
                f"The database {self.database!r} belongs to another pool: it was created "
                f"for {self._db.meta('pool_description')} ({self.n_pool} clips, fingerprint "
                f"{self._db.meta('pool_fingerprint')[:12]}), but the pool given is "
                f"{description} (fingerprint {fingerprint[:12]}). Give the same pool, or "
                "a new database file for a new session."
            )

    def close(self):
        """Close the session file (every label is already committed)."""
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- the learner, rebuilt by replay ---------------------------------------

    def _new_learner(self):
        from ..active import ActiveLearner, PlateauStopping, StabilizingPredictions

        # One round = one label here, so the rules count in batches of labels.
        if self._val is not None:
            stopping = PlateauStopping(patience=5 * self.batch_size, name="validation accuracy")
        else:
            stopping = StabilizingPredictions(
                window=3 * self.batch_size, random_state=self.random_state
            )
        learner = ActiveLearner(
            query_strategy=self.query_strategy,
            selection=self.selection,
            random_state=self.random_state,
            stopping=stopping,
        )
        if self._val is None:
            return learner.fit(self._X)
        return learner.fit(self._X, X_val=self._val[0], y_val=self._val[1])

    def _query(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # an exhausted pool: no positions
            return self.learner_.query(self.batch_size)

    def _rebuild(self):
        """The learner for the labels in force, loaded from a checkpoint where possible.

        The replay protocol defines the learner: fit on the pool, query, then
        for each label in force teach it and query. A checkpoint is the
        learner's state after such a query, stored for the label events it
        covers; the newest one that covers a prefix of the labels in force is
        loaded, and only the labels after it are replayed.
        """
        from ..active import load_state

        self._active = self._db.active_labels()
        ids = [event["id"] for event in self._active]
        self.learner_, done = self._new_learner(), None
        try:
            checkpoints = self._db.checkpoints()
        except DamagedSessionError as exc:  # the log may be intact: replay it
            warnings.warn(f"{exc} The labels are replayed instead.", UserWarning, stacklevel=3)
            checkpoints = []
        for checkpoint_id, covers in checkpoints:
            if covers != ids[:len(covers)]:
                continue
            try:
                load_state(self.learner_, self._db.checkpoint_state(checkpoint_id))
                self._check_restored(self._active[:len(covers)])
            except ValueError as exc:
                warnings.warn(
                    f"A learner checkpoint in {self.database!r} is not usable ({exc}); "
                    "the labels it covers are replayed from the log instead.", UserWarning,
                    stacklevel=3,
                )
                self.learner_ = self._new_learner()
                continue
            done = len(covers)
            break
        if done is None:
            self._query()
        for event in self._active[done or 0:]:
            self.learner_.teach([event["position"]], [event["label"]])
            self._query()
        if done != len(ids):
            self._save_checkpoint()

    def _check_restored(self, events):
        """A loaded checkpoint must hold exactly the labels of the events it covers."""
        learner = self.learner_
        labeled = np.flatnonzero(learner.labeled_mask_)
        expected = sorted(event["position"] for event in events)
        if labeled.tolist() != expected or any(
            learner.y_pool_[event["position"]] != event["label"] for event in events
        ):
            raise ValueError("its labels differ from the log")

    def _save_checkpoint(self):
        from ..active import save_state

        state = save_state(self.learner_)
        self._db.write_checkpoint(
            [event["id"] for event in self._active], state, keep=self._N_CHECKPOINTS
        )

    # -- labeling -------------------------------------------------------------

    def next_batch(self):
        """The pool positions to label next, most informative first.

        Returns
        -------
        positions : list of int
            Up to ``batch_size`` unlabeled positions (empty when every clip
            is labeled). The same list until the next label or undo.
        """
        with self._lock:
            return [int(i) for i in self._query()]

    def check_position(self, position):
        """A valid pool position as an int, else a TypeError/IndexError.

        Parameters
        ----------
        position : int

        Returns
        -------
        position : int
        """
        return check_position(position, self.n_pool)

    def label(self, position, label, *, annotator=None):
        """Label one clip: commit it to the database, then teach the learner.

        Parameters
        ----------
        position : int
            An unlabeled pool position, usually from :meth:`next_batch`.
        label : str
            One of ``classes``.
        annotator : str, default=None
            Who gave the label; None means the session's ``annotator``.

        Returns
        -------
        event : dict
            The committed event: ``id``, ``position``, ``label``,
            ``annotator``, ``time``.
        """
        annotator = self.annotator if annotator is None else _check_annotator(annotator)
        with self._lock:
            position = self.check_position(position)
            check_label(label, self.classes)
            if self.learner_.labeled_mask_[position]:
                raise ValueError(
                    f"Clip {position} is already labeled "
                    f"{self.learner_.y_pool_[position]!r}; undo that label first to change it."
                )
            time = utc_now()
            event_id = self._db.append(
                "label", position=position, label=label, annotator=annotator, time=time
            )
            event = {"id": event_id, "kind": "label", "position": position, "label": label,
                     "undoes": None, "annotator": annotator, "time": time}
            self._active.append(event)
            self._estimate_cache = None
            try:
                self.learner_.teach([position], [label])
                self._query()
            except BaseException:
                self._rebuild()  # the label is committed; the replay includes it
                raise
            self._save_checkpoint()
            return dict(event)

    def undo(self, *, annotator=None):
        """Undo the latest label still in force (whoever gave it).

        The undo is an event of its own, committed before returning; the
        learner becomes the one a replay of the remaining labels builds, so
        it is as if the undone label had never been given. The session file
        keeps a checkpoint of the learner for each of the last ten labels, so
        undoing those loads one; an older label is undone by replaying the
        labels after the newest checkpoint still valid.

        Parameters
        ----------
        annotator : str, default=None
            Who undid it; None means the session's ``annotator``.

        Returns
        -------
        event : dict
            The label event that was undone.
        """
        annotator = self.annotator if annotator is None else _check_annotator(annotator)
        with self._lock:
            if not self._active:
                raise LookupError("There is no label to undo.")
            last = self._active[-1]
            self._db.append("undo", position=last["position"], label=last["label"],
                            undoes=last["id"], annotator=annotator)
            self._estimate_cache = None
            self._rebuild()  # from the checkpoint taken before that label
            return dict(last)

    # -- reading --------------------------------------------------------------

    def labels(self):
        """The labels in force (not undone), oldest first.

        Returns
        -------
        rows : list of dict
            ``{"position", "path", "label", "annotator", "time"}`` each.
        """
        with self._lock:
            return _label_rows(self._active, self.paths, self._bounds())

    def events(self):
        """The whole log, undo events included, oldest first.

        Returns
        -------
        events : list of dict
        """
        with self._lock:
            return self._db.events()

    def export_csv(self, path):
        """Write the labels in force to a CSV file (written whole, then renamed).

        Columns: ``position, path, label, annotator, time`` (UTC, ISO 8601);
        for a pool of segments (:attr:`is_segments`), ``position, path, start,
        end, label, annotator, time``, with ``start`` and ``end`` in seconds
        from the start of the recording ``path``.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        n_rows : int
        """
        return _write_labels_csv(self.labels(), path, self.csv_columns)

    @property
    def is_segments(self):
        """Whether pool items are segments of long recordings (they have bounds)."""
        return self.starts is not None

    @property
    def csv_columns(self):
        """The columns of :meth:`export_csv` (and of the rows of :meth:`labels`)."""
        return SEGMENT_CSV_COLUMNS if self.is_segments else CSV_COLUMNS

    def _bounds(self):
        return None if self.starts is None else (self.starts, self.ends)

    def segment(self, position):
        """A pool item's bounds in its recording, ``(start, end)`` in seconds; None for a
        whole clip.

        Parameters
        ----------
        position : int

        Returns
        -------
        bounds : tuple of float or None
        """
        position = self.check_position(position)
        if self.starts is None or self.starts[position] is None:
            return None
        return self.starts[position], self.ends[position]

    def played_span(self, position, context=0.0):
        """What :meth:`audio_bytes` plays of a segment's recording: ``(from, to)`` seconds.

        The segment with ``context`` seconds on each side, clipped to the
        recording (its length read from the file's header once); None for a
        whole clip.

        Parameters
        ----------
        position : int
        context : float, default=0.0

        Returns
        -------
        span : tuple of float or None
        """
        bounds = self.segment(position)
        if bounds is None:
            return None
        path = self.paths[position]
        with self._lock:
            if path not in self._recording_seconds:
                self._recording_seconds[path] = clip_duration(path, MODEL_SAMPLE_RATE)
            seconds = self._recording_seconds[path]
        return played_span(*bounds, context, seconds)

    #: Labels each labeled class needs before the page shows an estimate.
    ESTIMATE_MIN_PER_CLASS = 5

    def _estimate(self):
        """5-fold cross-validated accuracy on the labels so far: (mean, standard error, how).

        Shown only once every labeled class has ``ESTIMATE_MIN_PER_CLASS``
        labels: with fewer, a fold holds one or two clips of a class and the
        number jumps from label to label. It runs under the learner's limit of
        one BLAS thread, so a label never waits for a multi-threaded fit.
        """
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from threadpoolctl import threadpool_limits

        labels = [e["label"] for e in self._active]
        counts = Counter(labels)
        need = self.ESTIMATE_MIN_PER_CLASS
        if len(counts) < 2 or min(counts.values()) < need:
            return None, None, (f"shown once two or more classes have {need} labels each "
                                f"(fewest so far: {min(counts.values(), default=0)})")
        k = 5
        X = self._X[[e["position"] for e in self._active]]
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore")
            scores = cross_val_score(
                clone(self.learner_.estimator_).set_params(warm_start=False),
                X, np.asarray(labels), cv=StratifiedKFold(k),
            )
        se = float(np.std(scores, ddof=1) / np.sqrt(k))
        return (float(np.mean(scores)), se,
                f"a rough guide, from your {len(labels)} labels ({k}-fold cross-validation): "
                "active learning asks about the hardest clips, so the accuracy on clips "
                "picked at random differs; give a labeled held-out set (--val-input, or "
                "validation= in Python) to measure it")

    def progress(self):
        """Where the session stands, for a person.

        Returns
        -------
        progress : dict
            ``n_labels``, ``n_pool``, ``per_class`` (counts), ``accuracy``
            (float or None), ``accuracy_error`` (the standard error of an
            estimate, else None), ``accuracy_kind`` (``"validation"`` with a
            validation set, else ``"estimate"``: a 5-fold cross-validated
            accuracy on the labels so far, which active learning's choice of
            hard clips biases, shown once two or more classes have 5 labels
            each), ``accuracy_text``, ``hint`` (whether to go on labeling,
            in plain words: :func:`plain_stopping_advice`), ``hint_detail``
            (the same in the stopping rule's terms: the learner's
            :meth:`~skaloe.active.ActiveLearner.stopping_hint`),
            ``should_stop``, ``can_undo`` and ``last`` (the latest label in
            force, or None).
        """
        with self._lock:
            learner = self.learner_
            error = None
            if self._val is not None:
                value = learner.validation_score_
                kind = "validation"
                text = (f"validation accuracy {value:.3f} on {len(self._val[1])} clips"
                        if value is not None else
                        "validation accuracy: needs labels of two classes")
            else:
                if self._estimate_cache is None:
                    self._estimate_cache = self._estimate()
                value, error, how = self._estimate_cache
                kind = "estimate"
                text = (f"estimated accuracy {value:.3f} ± {error:.3f} ({how})"
                        if value is not None else f"estimated accuracy: {how}")
            last = self._active[-1] if self._active else None
            return {
                "n_labels": len(self._active),
                "n_pool": self.n_pool,
                "per_class": label_counts((e["label"] for e in self._active), self.classes),
                "accuracy": value,
                "accuracy_error": error,
                "accuracy_kind": kind,
                "accuracy_text": text,
                "hint": plain_stopping_advice(learner,
                                              "windows" if self.is_segments else "clips"),
                "hint_detail": learner.stopping_hint(),
                "should_stop": bool(learner.should_stop_),
                "can_undo": bool(self._active),
                "last": None if last is None else {
                    "position": last["position"], "label": last["label"],
                    "annotator": last["annotator"], "time": last["time"]},
            }

    def clip_name(self, position):
        """The file name of a clip, for display (``"clip <position>"`` if unknown)."""
        position = self.check_position(position)
        path = self.paths[position]
        return os.path.basename(path) if path else f"clip {position}"

    def clip_duration(self, position):
        """A clip's length in seconds, read from its file's header once; None if unknown.

        Parameters
        ----------
        position : int

        Returns
        -------
        seconds : float or None
            None when the clip has no audio file, or its header cannot be
            read (a missing file, a format only the decoder reads).
        """
        position = self.check_position(position)
        bounds = self.segment(position)
        if bounds is not None:
            return bounds[1] - bounds[0]
        with self._lock:
            if position not in self._durations:
                path = self.paths[position]
                self._durations[position] = (
                    clip_duration(path, MODEL_SAMPLE_RATE) if path else None)
            return self._durations[position]

    def audio_bytes(self, position, *, audio_only=False, context=0.0):
        """A pool clip as WAV bytes a browser plays.

        Parameters
        ----------
        position : int
        audio_only : bool, default=False
            Drop a WAV file's metadata chunks (a title, the recorder's file
            name), which may give the class away; for blind labeling.
        context : float, default=0.0
            For a segment of a recording: seconds of the recording to add on
            each side, clipped to the recording (see :meth:`played_span`).

        Returns
        -------
        data : bytes
            The WAV file as is, or the clip decoded (16 kHz mono) as 16-bit
            PCM WAV. A segment is its samples alone (with the context), at
            the recording's rate, as 16-bit PCM WAV: exactly what
            :func:`~skaloe.encoders.read_segment` reads.
        """
        position = self.check_position(position)
        path = self.paths[position]
        if not path:
            raise LookupError(f"Clip {position} has no audio file in this session.")
        bounds = self.segment(position)
        try:
            if bounds is not None:
                return segment_wav_bytes(path, *bounds, context)
            return clip_wav_bytes(path, position, MODEL_SAMPLE_RATE, audio_only=audio_only)
        except (OSError, ValueError) as exc:  # gone, not audio, too long, absurd rate
            raise LookupError(
                f"The audio file of clip {position} ({path!r}) cannot be played: {exc}"
            ) from None
