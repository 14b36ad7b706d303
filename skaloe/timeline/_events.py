"""From per-segment predictions to events: runs of one class over time, per recording."""

from __future__ import annotations

import numbers

import numpy as np

from ._tables import check_label_values, check_segments, make_table

# Windows closer than this (seconds) touch: the float error of ``k * hop`` is far
# below it, one sample at 16 kHz (62.5 µs) far above it.
TOUCH = 1e-6


def _check_seconds_param(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        np.isfinite(value) and value >= 0
    ):
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}.")
    return float(value)


def _check_proba(proba, n_rows, classes):
    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.dtype.kind not in "iuf":
        raise ValueError(
            f"proba must be a 2-D array of class probabilities (n_segments, n_classes), "
            f"got shape {proba.shape} and dtype {proba.dtype}."
        )
    proba = proba.astype(np.float64, copy=False)
    if proba.shape[0] != n_rows:
        raise ValueError(
            f"proba has {proba.shape[0]} rows but there are {n_rows} segments; give one "
            "row of probabilities per segment, in the order of the segment table."
        )
    bad = np.flatnonzero(~np.isfinite(proba).all(axis=1))
    if bad.size:
        raise ValueError(
            f"proba row {int(bad[0])} is {proba[bad[0]].tolist()}; probabilities must be "
            "finite."
        )
    bad = np.flatnonzero(((proba < -1e-6) | (proba > 1 + 1e-6)).any(axis=1))
    if bad.size:
        raise ValueError(
            f"proba row {int(bad[0])} is {proba[bad[0]].tolist()}, outside [0, 1]: "
            "these are scores, not probabilities; pass predict_proba's output."
        )
    if classes is None:
        classes = np.arange(proba.shape[1])
    else:
        classes = check_label_values(_as_labels(classes), "classes", "value")
        if len(classes) != proba.shape[1]:
            raise ValueError(
                f"classes has {len(classes)} values but proba has {proba.shape[1]} "
                "columns; give the class of each column (an estimator's classes_)."
            )
    return proba, classes


def _as_labels(values):
    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values
    if isinstance(values, (str, bytes)):
        raise TypeError(f"Expected a sequence of labels, got the single string {values!r}.")
    values = list(values)
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    try:  # numbers or strings keep their dtype, so a DataFrame shows them as such
        natural = np.asarray(values)
    except (TypeError, ValueError):
        return array
    if natural.ndim == 1 and len(natural) and (
        (natural.dtype.kind in "iuf" and not any(isinstance(v, str) for v in values))
        or (natural.dtype.kind == "U" and all(isinstance(v, str) for v in values))
    ):
        return natural
    return array


def _class_index(classes):
    index = {}
    for i, label in enumerate(classes.tolist()):
        if label in index:
            raise ValueError(
                f"classes holds {label!r} twice (positions {index[label]} and {i}); each "
                "class names one column of proba."
            )
        index[label] = i
    return index


def segment_predictions(n_rows, y_pred, proba, classes):
    """``(codes, classes, probability)``: each segment's class code, the classes, and
    the probability of its predicted class (NaN without ``proba``)."""
    if y_pred is None and proba is None:
        raise ValueError(
            "Give y_pred (one predicted label per segment) or proba (one row of class "
            "probabilities per segment, e.g. from predict_proba), or both."
        )
    if proba is not None:
        proba, classes = _check_proba(proba, n_rows, classes)
    elif classes is not None:
        classes = check_label_values(_as_labels(classes), "classes", "value")
    if y_pred is None:
        codes = np.argmax(proba, axis=1)  # ties: the first class, as np.argmax
    else:
        y_pred = _as_labels(y_pred)
        if y_pred.ndim != 1 or len(y_pred) != n_rows:
            raise ValueError(
                f"y_pred has {len(y_pred)} labels but there are {n_rows} segments; give "
                "one predicted label per segment, in the order of the segment table."
            )
        check_label_values(y_pred, "y_pred", "label")
        if classes is None:
            index = {}
            codes = np.fromiter(
                (index.setdefault(label, len(index)) for label in y_pred.tolist()),
                dtype=np.intp, count=n_rows,
            )
            firsts = np.unique(codes, return_index=True)[1]
            classes = y_pred[firsts]
        else:
            index = _class_index(classes)
            codes = np.empty(n_rows, dtype=np.intp)
            for i, label in enumerate(y_pred.tolist()):
                if label not in index:
                    raise ValueError(
                        f"y_pred row {i} is {label!r}, which is not among classes "
                        f"{classes.tolist()}; give classes in the order of proba's columns."
                    )
                codes[i] = index[label]
    if classes is not None:
        _class_index(classes)
    probability = (
        np.full(n_rows, np.nan) if proba is None
        else proba[np.arange(n_rows), codes]
    )
    return codes, classes, probability


def sort_segments(paths, start, end, what="segments"):
    """Positions that sort segments by (path, start); refuse windows going back in time.

    Within a recording, starts must increase strictly and ends must not
    decrease: a window that starts with or lies inside another has no span of
    its own.
    """
    order = np.lexsort((np.arange(len(paths)), end, start, paths))
    p, s, e = paths[order], start[order], end[order]
    same = p[1:] == p[:-1]
    for bad, why in (
        (same & (s[1:] == s[:-1]), "start at the same time"),
        (same & (s[1:] > s[:-1]) & (e[1:] < e[:-1]), "lie one inside the other"),
    ):
        hits = np.flatnonzero(bad)
        if hits.size:
            k = int(hits[0])
            i, j = int(order[k]), int(order[k + 1])
            raise ValueError(
                f"{what} rows {i} ({s[k]:g}-{e[k]:g} s) and {j} ({s[k + 1]:g}-{e[k + 1]:g} "
                f"s) of {str(p[k])!r} {why}; the windows of a recording must move forward in "
                "time (starts increasing, ends not decreasing). Drop one of them."
            )
    return order


def owned_spans(paths, start, end, max_gap):
    """What each (sorted) window owns, and whether it is connected to the next one.

    Two windows of a recording are connected when the next one starts before
    the end of this one, at it, or at most ``max_gap`` seconds after it; the
    boundary between connected windows lies halfway between the end of the
    first and the start of the second (the middle of their overlap, or of the
    gap they bridge). A window that is not connected keeps its own start or end.
    """
    connected = (paths[1:] == paths[:-1]) & (start[1:] - end[:-1] <= max_gap + TOUCH)
    middle = (end[:-1] + start[1:]) / 2
    own_start = start.copy()
    own_end = end.copy()
    own_end[:-1][connected] = middle[connected]
    own_start[1:][connected] = middle[connected]
    return own_start, own_end, connected


def merge_runs(paths, own_start, own_end, connected, codes, probability):
    """Runs of connected windows of one class: first and last position, mean probability."""
    n = len(codes)
    new = np.ones(n, dtype=bool)
    new[1:] = ~connected | (codes[1:] != codes[:-1])
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, n - 1)
    counts = last - first + 1
    probability = np.add.reduceat(probability, first) / counts
    return {
        "path": paths[first],
        "start": own_start[first],
        "end": own_end[last],
        "code": codes[first],
        "probability": probability,
        "n_segments": counts.astype(np.int64),
    }


def _check_ignore(ignore, classes, known_classes):
    if ignore is None:
        return []
    if isinstance(ignore, (str, bytes)) or np.ndim(ignore) == 0:
        ignore = [ignore]
    ignore = list(ignore)
    if known_classes:
        present = set(classes.tolist())
        unknown = [label for label in ignore if label not in present]
        if unknown:
            raise ValueError(
                f"ignore={unknown!r} names no class; the classes are {classes.tolist()}."
            )
    return ignore


def _events_from(paths, start, end, codes, classes, probability, *, ignore, min_duration,
                 max_gap, what="segments"):
    order = sort_segments(paths, start, end, what)
    paths, start, end = paths[order], start[order], end[order]
    own_start, own_end, connected = owned_spans(paths, start, end, max_gap)
    runs = merge_runs(paths, own_start, own_end, connected, codes[order], probability[order])
    labels = classes[runs.pop("code")]
    keep = (runs["end"] - runs["start"]) >= min_duration - TOUCH
    if ignore:
        ignored = set(ignore)
        keep &= np.fromiter((label not in ignored for label in labels.tolist()),
                            dtype=bool, count=len(labels))
    return {
        "path": runs["path"][keep],
        "start": runs["start"][keep],
        "end": runs["end"][keep],
        "label": labels[keep],
        "probability": runs["probability"][keep],
        "n_segments": runs["n_segments"][keep],
    }


def segments_to_events(segments, y_pred=None, *, proba=None, classes=None, ignore=None,
                       min_duration=0.0, max_gap=0.0):
    """Merge predicted segments of recordings into events: runs of one class over time.

    Segments are sorted by recording and start (the input may be in any
    order and mix recordings); within a recording, consecutive windows that
    are *connected* and predicted as the same class become one event.

    Each window owns a span of time, and an event is the union of the spans
    of its windows:

    - Two windows are connected when the second starts before the first one
      ends (overlap, ``hop < window``), where it ends (``hop == window``), or
      at most ``max_gap`` seconds later. The boundary between them lies
      halfway between the first one's end and the second one's start: the
      middle of their overlap (for windows of equal length, halfway between
      their centres), or of the gap they bridge.
    - A gap longer than ``max_gap`` (silence left out by
      ``segment_recordings(skip_silence=...)``, ``hop > window``) ends an
      event: the window before it owns up to its own end, the one after it
      from its own start. So the first and last event of a stretch of
      windows are clipped to the span the windows cover.

    The boundary between two classes therefore lies within half the overlap
    of the true change when the windows around it are predicted right: within
    half a hop of it for windows of equal length.

    Parameters
    ----------
    segments : DataFrame, dict of arrays, Bunch or sequence of (path, start, end)
        One row per window: the recording's file path and the window's start
        and end in seconds, as ``skaloe.datasets.segment_recordings`` returns.
        Within a recording, no two windows may start at the same time and no
        window may lie inside another.
    y_pred : array-like of shape (n_segments,), default=None
        Predicted label of each segment. None means the class of highest
        probability in ``proba`` (the first one on ties).
    proba : array-like of shape (n_segments, n_classes), default=None
        Class probabilities of each segment (``predict_proba``); the
        probability of the predicted class of each window is averaged over
        the windows of an event.
    classes : array-like of shape (n_classes,), default=None
        The class of each column of ``proba`` (an estimator's ``classes_``).
        None means ``0 .. n_classes - 1`` with ``proba``, the labels of
        ``y_pred`` without it.
    ignore : label or list of labels, default=None
        Background classes (such as ``"silence"``) whose events are left out.
        Their windows still own their span, so they end the events around
        them. With ``proba`` or ``classes``, each must be a class.
    min_duration : float, default=0.0
        Events shorter than this many seconds are left out, after merging.
        Their span is not given to their neighbours.
    max_gap : float, default=0.0
        Gaps between windows of at most this many seconds do not end an event.

    Returns
    -------
    events : pandas DataFrame or Bunch
        One row per event, sorted by recording and start, with columns
        ``path`` (str), ``start`` and ``end`` (float seconds), ``label``,
        ``probability`` (the mean over the event's windows of the probability
        of its class; NaN without ``proba``) and ``n_segments`` (int). A
        DataFrame when pandas is installed, else a
        :class:`~sklearn.utils.Bunch` of arrays.

    See Also
    --------
    predict_events : Predict the segments with a fitted classifier, then merge.
    write_events_csv : Save events as CSV.
    write_audacity_labels : Save events as Audacity label tracks.

    Examples
    --------
    Windows of 1 s every 0.5 s; the class changes between the windows
    starting at 1.0 s and 1.5 s, in the middle of their overlap (1.5-2.0 s):

    >>> from skaloe.timeline import segments_to_events
    >>> segments = [("a.wav", 0.5 * k, 0.5 * k + 1.0) for k in range(6)]
    >>> events = segments_to_events(segments, ["speech"] * 3 + ["music"] * 3)
    >>> events[["start", "end", "label", "n_segments"]]
       start   end   label  n_segments
    0   0.00  1.75  speech           3
    1   1.75  3.50   music           3
    """
    paths, start, end = check_segments(segments)
    min_duration = _check_seconds_param(min_duration, "min_duration")
    max_gap = _check_seconds_param(max_gap, "max_gap")
    codes, classes, probability = segment_predictions(len(paths), y_pred, proba, classes)
    ignore = _check_ignore(ignore, classes, proba is not None or classes is not None)
    events = _events_from(paths, start, end, codes, classes, probability, ignore=ignore,
                          min_duration=min_duration, max_gap=max_gap)
    return make_table(events)


def predict_events(estimator, X, segments, *, ignore=None, min_duration=0.0, max_gap=0.0):
    """Predict every segment with a fitted classifier and merge the predictions into events.

    The classifier's ``predict_proba`` (and ``classes_``) is used when it has
    one, so each event gets its mean probability; otherwise its ``predict``.
    See :func:`segments_to_events` for how windows become events.

    Parameters
    ----------
    estimator : fitted classifier
        For example an :class:`~skaloe.active.ActiveLearner` after labeling,
        or any scikit-learn classifier.
    X : array-like of shape (n_segments, ...)
        What the estimator predicts from, one row per segment in the order of
        ``segments``: the segments' embeddings, or whatever input its
        pipeline takes.
    segments : DataFrame, dict of arrays, Bunch or sequence of (path, start, end)
        The window of each row of ``X``.
    ignore : label or list of labels, default=None
        Background classes whose events are left out.
    min_duration : float, default=0.0
        Events shorter than this many seconds are left out.
    max_gap : float, default=0.0
        Gaps between windows of at most this many seconds do not end an event.

    Returns
    -------
    events : pandas DataFrame or Bunch
        As :func:`segments_to_events` returns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skaloe.timeline import predict_events
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0]])
    >>> clf = LogisticRegression().fit(X, ["low", "low", "high", "high"])
    >>> segments = {"path": ["a.wav"] * 4, "start": [0.0, 1.0, 2.0, 3.0],
    ...             "end": [1.0, 2.0, 3.0, 4.0]}
    >>> predict_events(clf, X, segments)[["start", "end", "label", "n_segments"]]
       start  end label  n_segments
    0    0.0  2.0   low           2
    1    2.0  4.0  high           2
    """
    n_segments = len(check_segments(segments)[0])
    y_pred, proba, classes = predict_segments(estimator, X, n_segments)
    return segments_to_events(segments, y_pred, proba=proba, classes=classes, ignore=ignore,
                              min_duration=min_duration, max_gap=max_gap)


def predict_segments(estimator, X, n_segments):
    """``(y_pred, proba, classes)`` of an estimator on X: proba when it has predict_proba."""
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_rows != n_segments:
        raise ValueError(
            f"X has {n_rows} rows but segments has {n_segments}; give one row of X per "
            "segment, in the same order."
        )
    if hasattr(estimator, "predict_proba"):
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            raise ValueError(
                f"{type(estimator).__name__} has predict_proba but no classes_; fit it "
                "first."
            )
        return None, estimator.predict_proba(X), np.asarray(classes)
    if not hasattr(estimator, "predict"):
        raise TypeError(
            f"estimator must be a fitted classifier with predict_proba or predict, got "
            f"{type(estimator).__name__}."
        )
    return estimator.predict(X), None, None
