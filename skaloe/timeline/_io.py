"""Events on disk: a CSV table, and Audacity label tracks (one text file per recording).

Both are plain text, written whole to a temporary file and renamed into place,
and read back with the csv module or line by line: nothing is unpickled, and
what cannot be read is named by file and line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import numbers
import os
from pathlib import Path

import numpy as np

from ..distributed._store import _atomic_write_text
from ._tables import EVENT_COLUMNS, LABEL_COLUMNS, check_events, check_paths, make_table

_FORMAT_FIELDS = ("label", "probability", "n_segments", "start", "end", "path")
_BREAKS = ("\t", "\n", "\r")


def _check_decimals(decimals):
    if isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral) or not (
        0 <= decimals <= 15
    ):
        raise ValueError(f"decimals must be an integer from 0 to 15, got {decimals!r}.")
    return int(decimals)


def _check_file_target(path):
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{os.fspath(path)!r} is a folder; give the name of the file to write, such "
            "as events.csv."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"The folder {os.fspath(path.parent)!r} does not exist; create it first, or "
            "write the file elsewhere."
        )
    return path


def _seconds(value, decimals):
    return f"{value:.{decimals}f}"


def write_events_csv(events, path, *, decimals=6):
    """Write events to a CSV file: one row per event, a header row first.

    The columns are ``path, start, end, label, probability, n_segments``;
    times and probabilities are written with ``decimals`` decimals (an
    unknown probability as an empty cell). Labels and paths holding commas,
    quotes, tabs or line breaks are quoted, so they come back unchanged.

    Parameters
    ----------
    events : DataFrame, dict of arrays, Bunch or sequence of rows
        Events as :func:`segments_to_events` returns them; ``probability``
        and ``n_segments`` may be missing.
    path : str or path-like
        The file to write (replaced if it exists); its folder must exist.
    decimals : int, default=6
        Decimals of times (seconds) and probabilities: 6 is a microsecond.

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    read_events_csv : Read the file back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skaloe.timeline import read_events_csv, write_events_csv
    >>> events = [("a.wav", 0.0, 1.25, "speech", 0.9, 2)]
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "events.csv"
    >>> print(write_events_csv(events, file, decimals=2).read_text(), end="")
    path,start,end,label,probability,n_segments
    a.wav,0.00,1.25,speech,0.90,2
    >>> read_events_csv(file)["end"].tolist()
    [1.25]
    """
    columns = check_events(events, allow_empty_span=True)
    decimals = _check_decimals(decimals)
    path = _check_file_target(path)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for rec, start, end, label, probability, n_segments in zip(
        *(columns[name].tolist() for name in EVENT_COLUMNS)
    ):
        writer.writerow([
            rec, _seconds(start, decimals), _seconds(end, decimals), str(label),
            "" if math.isnan(probability) else f"{probability:.{decimals}f}",
            str(n_segments),
        ])
    _atomic_write_text(path, buffer.getvalue())
    return path


def _number(text, where, name, *, empty=None):
    text = text.strip()
    if text == "" and empty is not None:
        return empty
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {name} is {text!r}, not a number.") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} is {text!r}; it must be a finite number.")
    return value


def _check_span(start, end, where):
    if start < 0:
        raise ValueError(f"{where}: start is {start!r} s; times are never negative.")
    if end < start:
        raise ValueError(f"{where}: end ({end!r} s) is before start ({start!r} s).")


def _text_column(values):
    """Text read from a file as an object array: a numpy str array would drop trailing NULs."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def read_events_csv(path):
    """Read events written by :func:`write_events_csv`.

    Parameters
    ----------
    path : str or path-like
        The CSV file. Its header must name ``path``, ``start``, ``end`` and
        ``label``; ``probability`` and ``n_segments`` may be missing (NaN and
        0 then), other columns are ignored.

    Returns
    -------
    events : pandas DataFrame or Bunch
        Columns ``path``, ``start``, ``end``, ``label``, ``probability``,
        ``n_segments``, the values as written. Labels come back as strings
        (a CSV file does not know that ``1`` was an int).

    Raises
    ------
    ValueError
        When the file is not such a table; the message names the line.
    """
    file = os.fspath(path)
    with open(file, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(
                f"{file!r} is empty; an events CSV starts with the header "
                f"{','.join(EVENT_COLUMNS)}."
            )
        missing = [name for name in LABEL_COLUMNS if name not in header]
        if missing:
            raise ValueError(
                f"{file!r}, line 1: the header {','.join(header)!r} has no column "
                f"{missing[0]!r}; an events CSV starts with {','.join(EVENT_COLUMNS)} "
                "(as write_events_csv writes it)."
            )
        where = {name: header.index(name) for name in EVENT_COLUMNS if name in header}
        columns = {name: [] for name in EVENT_COLUMNS}
        for row in reader:
            if not row:
                continue
            line = f"{file!r}, line {reader.line_num}"
            if len(row) != len(header):
                raise ValueError(
                    f"{line}: {len(row)} values for the {len(header)} columns of the "
                    "header."
                )
            rec = row[where["path"]]
            if not rec:
                raise ValueError(f"{line}: the path is empty.")
            start = _number(row[where["start"]], line, "start")
            end = _number(row[where["end"]], line, "end")
            _check_span(start, end, line)
            probability = (
                _number(row[where["probability"]], line, "probability", empty=math.nan)
                if "probability" in where else math.nan
            )
            n_segments = 0
            if "n_segments" in where:
                text = row[where["n_segments"]].strip()
                if not (text.isascii() and text.isdigit()):
                    raise ValueError(
                        f"{line}: n_segments is {text!r}, not a whole number >= 0."
                    )
                n_segments = int(text)
            columns["path"].append(rec)
            columns["start"].append(start)
            columns["end"].append(end)
            columns["label"].append(row[where["label"]])
            columns["probability"].append(probability)
            columns["n_segments"].append(n_segments)
    return make_table({
        "path": _text_column(columns["path"]),
        "start": np.array(columns["start"], dtype=np.float64),
        "end": np.array(columns["end"], dtype=np.float64),
        "label": _text_column(columns["label"]),
        "probability": np.array(columns["probability"], dtype=np.float64),
        "n_segments": np.array(columns["n_segments"], dtype=np.int64),
    })


def _label_text(label_format, values, row):
    try:
        text = label_format.format(**values)
    except KeyError as exc:
        raise ValueError(
            f"label_format {label_format!r} names {{{exc.args[0]}}}, which an event does "
            f"not have; use any of {', '.join('{' + f + '}' for f in _FORMAT_FIELDS)}."
        ) from None
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError(
            f"label_format {label_format!r} cannot format event row {row} "
            f"({values['label']!r}): {exc}."
        ) from None
    for char in _BREAKS:
        if char in text:
            raise ValueError(
                f"The label {text!r} of event row {row} ({values['path']!r}, "
                f"{values['start']:g}-{values['end']:g} s) holds a "
                f"{'tab' if char == chr(9) else 'line break'}, which Audacity's label "
                "format cannot hold (it separates fields with tabs and labels with "
                "lines); rename the class, e.g. with spaces instead."
            )
    return text


def _digest(recording):
    return hashlib.sha1(recording.encode("utf-8", "surrogateescape")).hexdigest()


def label_file_names(recordings):
    """``{recording: file name}``: ``<stem>.txt``, with a digest of the path added to
    stems that two recordings share (compared without case, as on macOS and Windows)."""
    stems = {rec: Path(rec).stem or "recording" for rec in recordings}
    shared = {}
    for stem in stems.values():
        shared[stem.casefold()] = shared.get(stem.casefold(), 0) + 1
    names, used = {}, set()
    for rec in sorted(stems, key=lambda r: (shared[stems[r].casefold()] > 1, r)):
        stem = stems[rec]
        if shared[stem.casefold()] == 1 and f"{stem}.txt".casefold() not in used:
            name = f"{stem}.txt"
        else:
            digest = _digest(rec)
            size = 8
            name = f"{stem}-{digest[:size]}.txt"
            while name.casefold() in used:
                size += 4
                name = f"{stem}-{digest[:size]}.txt" if size <= len(digest) else (
                    f"{stem}-{digest}-{len(used)}.txt"
                )
        used.add(name.casefold())
        names[rec] = name
    return names


def write_audacity_labels(events, folder, *, decimals=6, label_format="{label}",
                          recordings=None):
    """Write events as Audacity label tracks: one ``<recording stem>.txt`` per recording.

    Each line is ``start<TAB>end<TAB>label``, times in seconds with
    ``decimals`` decimals, in the order of the events in time. To see them,
    open the recording in Audacity, then *File > Import > Labels...* and pick
    the ``.txt`` file: a label track appears under the audio. Other editors
    (Sonic Visualiser, ocenaudio, Praat's converters) read the same format.

    Two recordings with the same stem (``a/rec.wav`` and ``b/rec.wav``) get
    the stem followed by a digest of their path (``rec-1f2e3d4c.txt``), so
    neither overwrites the other; the returned dict says which file holds
    which recording.

    Parameters
    ----------
    events : DataFrame, dict of arrays, Bunch or sequence of rows
        Events as :func:`segments_to_events` returns them.
    folder : str or path-like
        Where the files go; created if missing. Files of the same name are
        replaced.
    decimals : int, default=6
        Decimals of the times (Audacity writes 6).
    label_format : str, default="{label}"
        The text of each label, a :meth:`str.format` template over the
        event's ``label``, ``probability``, ``n_segments``, ``start``,
        ``end`` and ``path``; e.g. ``"{label} ({probability:.2f})"``.
    recordings : iterable of str, default=None
        Recordings to write a file for even when they have no event (an
        empty label track), e.g. every recording of the segment table.

    Returns
    -------
    files : dict
        ``{recording path: pathlib.Path of its label file}``, sorted by
        recording.

    Raises
    ------
    ValueError
        When a label holds a tab or a line break (the format has no way to
        escape them), naming the event; nothing is written then.

    See Also
    --------
    read_audacity_labels : Read a label file back.

    Examples
    --------
    >>> import tempfile
    >>> from skaloe.timeline import write_audacity_labels
    >>> events = [("calls/night.wav", 0.0, 1.5, "owl"), ("calls/night.wav", 2.0, 2.5, "fox")]
    >>> files = write_audacity_labels(events, tempfile.mkdtemp(), decimals=1)
    >>> file = files["calls/night.wav"]
    >>> file.name
    'night.txt'
    >>> file.read_text().splitlines()
    ['0.0\\t1.5\\towl', '2.0\\t2.5\\tfox']
    """
    columns = check_events(events, allow_empty_span=True)
    decimals = _check_decimals(decimals)
    if not isinstance(label_format, str):
        raise TypeError(f"label_format must be a str template, got {label_format!r}.")
    extra = [] if recordings is None else check_paths(
        np.array(list(recordings), dtype=object), "recordings"
    ).tolist()
    order = np.lexsort((columns["end"], columns["start"], columns["path"]))
    lines = {rec: [] for rec in extra}
    rows = zip(order.tolist(), *(columns[name][order].tolist() for name in EVENT_COLUMNS))
    for row, rec, start, end, label, probability, n_segments in rows:
        values = {"label": label, "probability": probability, "n_segments": n_segments,
                  "start": start, "end": end, "path": rec}
        text = _label_text(label_format, values, row)
        lines.setdefault(rec, []).append(
            f"{_seconds(start, decimals)}\t{_seconds(end, decimals)}\t{text}\n"
        )
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"{os.fspath(folder)!r} is a file; give the folder to write label files into."
        )
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for rec, name in sorted(label_file_names(lines).items()):
        _atomic_write_text(folder / name, "".join(lines[rec]))
        files[rec] = folder / name
    return files


def read_audacity_labels(path, *, recording=None):
    """Read an Audacity label track: lines ``start<TAB>end<TAB>label``.

    Lines starting with a backslash (the frequency range of a spectral
    label, as Audacity writes it below the label) and blank lines are
    skipped; a line without a label gives the empty string; a point label
    (start equal to end) is kept.

    Parameters
    ----------
    path : str or path-like
        The label file (``.txt``), UTF-8.
    recording : str or path-like, default=None
        What to put in the ``path`` column: the recording the labels belong
        to. None means the label file's own path.

    Returns
    -------
    labels : pandas DataFrame or Bunch
        Columns ``path``, ``start``, ``end`` (float seconds) and ``label``
        (str), in the order of the file. It can be given as ``labeled`` to
        :class:`TimelineDisplay`, or to :func:`write_audacity_labels`.

    Raises
    ------
    ValueError
        When a line is not a label, naming the file and line.
    """
    file = os.fspath(path)
    if recording is None:
        recording = file
    recording = check_paths(np.array([recording], dtype=object), "recording")[0]
    starts, ends, labels = [], [], []
    with open(file, encoding="utf-8-sig") as f:  # universal newlines: \n, \r\n, \r
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("\\"):
                continue
            where = f"{file!r}, line {number}"
            fields = line.split("\t", 2)
            if len(fields) < 2:
                raise ValueError(
                    f"{where} is {line!r}, not a label: Audacity labels are "
                    "start<TAB>end<TAB>label, times in seconds."
                )
            start = _number(fields[0], where, "start")
            end = _number(fields[1], where, "end")
            _check_span(start, end, where)
            starts.append(start)
            ends.append(end)
            labels.append(fields[2] if len(fields) == 3 else "")
    return make_table({
        "path": _text_column([recording] * len(starts)),
        "start": np.array(starts, dtype=np.float64),
        "end": np.array(ends, dtype=np.float64),
        "label": _text_column(labels),
    })
