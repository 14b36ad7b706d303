"""Tables in and out of the timeline: segments ``(path, start, end)`` and events.

Both come as a pandas DataFrame, a mapping of columns (a dict, a
:class:`~sklearn.utils.Bunch`) or a sequence of rows (tuples), the shapes that
``skaloe.datasets.segment_recordings`` returns and that a user types by hand.
They are read here, once, into plain numpy columns; every error names the row.
Tables leave as a DataFrame when pandas is installed, else as a Bunch of arrays.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping

import numpy as np
from sklearn.utils import Bunch

SEGMENT_COLUMNS = ("path", "start", "end")
EVENT_COLUMNS = ("path", "start", "end", "label", "probability", "n_segments")
LABEL_COLUMNS = ("path", "start", "end", "label")

_SEGMENTS_HINT = (
    "one row per window of a recording, with columns path (the audio file), start "
    "and end (seconds), as skaloe.datasets.segment_recordings returns"
)
_EVENTS_HINT = (
    "one row per event, with columns path, start, end, label (and optionally "
    "probability, n_segments), as skaloe.timeline.segments_to_events returns"
)


def make_table(columns):
    """A DataFrame of ``columns`` (a dict of equal-length arrays) or, without pandas, a Bunch."""
    try:
        import pandas as pd
    except ImportError:
        return Bunch(**columns)
    return pd.DataFrame(columns)


def _is_frame(table):
    return hasattr(table, "columns") and hasattr(table, "iloc")


def _column(values, what, name):
    """A column as a 1-D numpy array; a list of only str or only numbers gets their dtype."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(
                f"Column {name!r} of {what} has shape {values.shape}; give one value per row."
            )
        return values
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        raise ValueError(
            f"Column {name!r} of {what} is the single value {values!r}; give one value "
            "per row (a list or an array)."
        )
    values = list(values)
    if values and all(isinstance(v, str) for v in values):
        return np.array(values, dtype=str)
    if values and all(
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values
    ):
        return np.array(values)
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array


def read_columns(table, what, required, optional=(), hint=""):
    """The columns of a table-like ``table`` as ``{name: 1-D array}`` plus its row count.

    ``required`` columns must be there; ``optional`` ones are returned when
    present. A sequence of rows gives its columns in the order
    ``required + optional``, with at least the required ones in each row.
    """
    names = tuple(required) + tuple(optional)
    if isinstance(table, (str, bytes, os.PathLike)):
        raise TypeError(
            f"{what} must be a table ({hint}), got the single value {table!r}."
        )
    if _is_frame(table) or isinstance(table, Mapping):
        keys = list(table.columns) if _is_frame(table) else list(table.keys())
        missing = [name for name in required if name not in keys]
        if missing:
            raise ValueError(
                f"{what} has no column {missing[0]!r} (its columns: "
                f"{', '.join(map(str, keys)) or 'none'}); it needs {hint}."
            )
        columns = {name: _column(table[name], what, name) for name in names if name in keys}
        lengths = {name: len(col) for name, col in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"The columns of {what} differ in length ({lengths}); give one value "
                "per row in every column."
            )
        n_rows = next(iter(lengths.values()))
        return columns, n_rows
    try:
        rows = list(table)
    except TypeError:
        raise TypeError(
            f"{what} must be a table ({hint}), got {type(table).__name__}."
        ) from None
    width = None
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
            raise ValueError(
                f"{what} row {i} is {row!r}, not a row; give rows as tuples "
                f"({', '.join(required)}), or a table: {hint}."
            )
        if not len(required) <= len(row) <= len(names) or (
            width is not None and len(row) != width
        ):
            expected = (
                f"{len(required)}" if not optional
                else f"{len(required)} to {len(names)}" if width is None
                else f"{width}, as the rows before it"
            )
            raise ValueError(
                f"{what} row {i} has {len(row)} values, {tuple(row)!r}; expected "
                f"{expected}: ({', '.join(names)})."
            )
        width = len(row)
    columns = {}
    for j in range(width or len(required)):
        columns[names[j]] = _column([row[j] for row in rows], what, names[j])
    return columns, len(rows)


def check_paths(values, what):
    """Recording paths as a numpy str array; refuse anything but str or path-like."""
    out = []
    for i, value in enumerate(values.tolist()):
        if isinstance(value, (str, os.PathLike)):
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            raise ValueError(
                f"{what} row {i}: path is {value!r}; give the file path of the "
                "recording as a non-empty string."
            )
        out.append(value)
    return np.array(out, dtype=str) if out else np.array([], dtype=str)


def check_seconds(values, what, name, *, paths=None):
    """A column of finite seconds as float64, naming the first row that is not."""
    if values.dtype.kind in "iuf":
        seconds = values.astype(np.float64)
    else:
        seconds = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values.tolist()):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(
                    f"{what} row {i}{_of(paths, i)}: {name} is {value!r}, not a number "
                    "of seconds."
                )
            seconds[i] = float(value)
    bad = np.flatnonzero(~np.isfinite(seconds))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what} row {i}{_of(paths, i)}: {name} is {float(seconds[i])!r}; times must be "
            "finite numbers of seconds."
        )
    return seconds


def _of(paths, i):
    return "" if paths is None else f" ({str(paths[i])!r})"


def check_spans(start, end, what, paths, *, allow_empty_span=False):
    """Refuse negative starts and ends before (or, unless allowed, at) their start."""
    bad = np.flatnonzero(start < 0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what} row {i}{_of(paths, i)}: start is {float(start[i])!r} s; times are seconds "
            "from the beginning of the recording, never negative."
        )
    wrong = end < start if allow_empty_span else end <= start
    bad = np.flatnonzero(wrong)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what} row {i}{_of(paths, i)}: end ({float(end[i])!r} s) is "
            f"{'before' if allow_empty_span else 'not after'} start ({float(start[i])!r} s); "
            "give each row its start and end in that order."
        )


def check_segments(segments, what="segments"):
    """``(paths, start, end)`` arrays of a segment table, checked row by row."""
    columns, n_rows = read_columns(segments, what, SEGMENT_COLUMNS, hint=_SEGMENTS_HINT)
    if n_rows == 0:
        raise ValueError(f"{what} is empty; it needs {_SEGMENTS_HINT}.")
    paths = check_paths(columns["path"], what)
    start = check_seconds(columns["start"], what, "start", paths=paths)
    end = check_seconds(columns["end"], what, "end", paths=paths)
    check_spans(start, end, what, paths)
    return paths, start, end


def check_label_values(labels, what, name="label"):
    """Refuse labels that cannot name a class: None, NaN, unhashable values."""
    values = labels.tolist()
    for i, label in enumerate(values):
        missing = label is None or (isinstance(label, float) and math.isnan(label))
        if missing:
            raise ValueError(
                f"{what} row {i} has no {name} ({label!r}); give every row a class label."
            )
        try:
            hash(label)
        except TypeError:
            raise TypeError(
                f"{what} row {i}: {name} {label!r} is not hashable; labels must be str, "
                "int or other hashable values."
            ) from None
    return labels


def check_events(events, what="events", *, allow_empty_span=False):
    """The columns of an event table: path, start, end, label, probability, n_segments.

    ``probability`` is NaN and ``n_segments`` 0 where the table has no such
    column (a table of hand-made or imported labels).
    """
    columns, n_rows = read_columns(
        events, what, LABEL_COLUMNS, ("probability", "n_segments"), hint=_EVENTS_HINT
    )
    paths = check_paths(columns["path"], what)
    start = check_seconds(columns["start"], what, "start", paths=paths)
    end = check_seconds(columns["end"], what, "end", paths=paths)
    check_spans(start, end, what, paths, allow_empty_span=allow_empty_span)
    labels = check_label_values(columns["label"], what)
    if "probability" in columns:
        probability = _optional_floats(columns["probability"], what, "probability", paths)
    else:
        probability = np.full(n_rows, np.nan)
    if "n_segments" in columns:
        n_segments = _counts(columns["n_segments"], what, paths)
    else:
        n_segments = np.zeros(n_rows, dtype=np.int64)
    return {
        "path": paths, "start": start, "end": end, "label": labels,
        "probability": probability, "n_segments": n_segments,
    }


def _optional_floats(values, what, name, paths):
    """Floats where NaN (and None) mean "not known"; infinities are refused."""
    if values.dtype.kind in "iuf":
        out = values.astype(np.float64)
    else:
        out = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values.tolist()):
            if value is None:
                out[i] = np.nan
            elif isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(
                    f"{what} row {i}{_of(paths, i)}: {name} is {value!r}, not a number."
                )
            else:
                out[i] = float(value)
    bad = np.flatnonzero(np.isinf(out))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{what} row {i}{_of(paths, i)}: {name} is {float(out[i])!r}.")
    return out


def _counts(values, what, paths):
    counts = _optional_floats(values, what, "n_segments", paths)
    bad = np.flatnonzero(~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what} row {i}{_of(paths, i)}: n_segments is {values.tolist()[i]!r}; it "
            "counts segments, a whole number >= 0."
        )
    return counts.astype(np.int64)


def pick_recording(paths, recording, what):
    """The recording a display shows: the one asked for, or the only one there is."""
    present = list(dict.fromkeys(paths.tolist()))
    if recording is None:
        if len(present) == 1:
            return present[0]
        shown = ", ".join(repr(p) for p in present[:5])
        more = f" and {len(present) - 5} more" if len(present) > 5 else ""
        raise ValueError(
            f"{what} holds {len(present)} recordings ({shown}{more}); pass "
            "recording=<path> to choose the one to show."
        )
    recording = os.fspath(recording) if isinstance(recording, os.PathLike) else recording
    if recording not in present:
        shown = ", ".join(repr(p) for p in present[:5])
        raise ValueError(
            f"recording={recording!r} is not in {what}; its recordings are {shown}"
            f"{' ...' if len(present) > 5 else ''}."
        )
    return recording
