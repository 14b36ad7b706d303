"""Cut long recordings into fixed windows: one ``(path, start, end)`` row per window."""

import math
import numbers
import os
import warnings

import numpy as np
from sklearn.utils import Bunch

from ._folder import (
    AUDIO_EXTENSIONS,
    _normalize_extensions,
    walk_audio_files,
    warn_skipped,
)

__all__ = ["segment_recordings"]

#: Default of ``silence_threshold``, in dBFS (RMS relative to a full-scale square
#: wave): digital silence, muted stretches and a quiet noise floor fall below it.
SILENCE_THRESHOLD = -60.0

_SHOWN_FILES = 5  # files a report names


def _seconds(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}.")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}.")
    return value


def window_bounds(duration, window, hop, sample_rate):
    """Starts and ends, in seconds, of the windows of a recording of ``duration`` seconds.

    Windows start at 0, ``hop``, ``2 * hop``, ... as long as they end within
    the recording. If they leave more than half a sample of its end
    uncovered, one last window is added that ends where the recording ends
    (and starts ``window`` before), so every sample is in a window and all
    windows are ``window`` long. A recording no longer than one window gives
    one segment, the whole recording. Times are rounded to the nanosecond
    (the end of the last window is the recording's duration, unrounded).
    """
    if duration <= window + 1e-9:
        return np.zeros(1), np.array([float(duration)])
    n = int(math.floor((duration - window) / hop + 1e-9)) + 1
    starts = np.round(np.arange(n) * hop, 9)
    ends = np.minimum(np.round(starts + window, 9), duration)
    if duration - ends[-1] > 0.5 / sample_rate:
        starts = np.append(starts, round(duration - window, 9))
        ends = np.append(ends, duration)
    return starts, ends


def _recordings(paths, extensions):
    """The audio files named by ``paths`` (files and folders), with what walks skipped."""
    from ..encoders._audio import regular_file_stat

    single = isinstance(paths, (str, os.PathLike))
    if single:
        items = [paths]
    else:
        if hasattr(paths, "tolist"):
            paths = paths.tolist()
        try:
            items = list(paths)
        except TypeError:
            raise TypeError(
                f"paths must be a folder, an audio file or a list of them, got "
                f"{type(paths).__name__}."
            ) from None
    exts = _normalize_extensions(extensions)
    files = []
    for i, item in enumerate(items):
        name = "paths" if single else f"paths[{i}]"
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(
                f"{name} is a {type(item).__name__}, not a path; pass audio files or folders."
            )
        item = os.fspath(item)
        if os.path.isdir(item):
            found, skipped = walk_audio_files(item, exts)
            warn_skipped(item, skipped, stacklevel=4)
            if not found:
                raise ValueError(
                    f"No audio files with extensions {list(exts)} found in the folder {item!r} "
                    f"({name}); check the folder or pass the right `extensions`."
                )
            files.extend(found)
            continue
        _, problem = regular_file_stat(item)
        if problem is not None:
            raise FileNotFoundError(f"{name} = {item!r} {problem}; pass audio files or folders.")
        files.append(item)
    if not files:
        raise ValueError("paths is empty; pass at least one audio file or folder.")
    return files


def segment_recordings(
    paths,
    *,
    window=1.0,
    hop=None,
    skip_silence=False,
    silence_threshold=SILENCE_THRESHOLD,
    extensions=AUDIO_EXTENSIONS,
    as_frame="auto",
):
    """Cut long recordings into windows: one row ``(path, start, end)`` per window.

    The rows are a pool to label and embed: pass the table to
    :class:`~skaloe.encoders.EncoderTransformer` (or
    :func:`~skaloe.distributed.embed_distributed`), which reads only each
    window's samples. Nothing is decoded here, except with
    ``skip_silence=True``: durations come from the file headers.

    Read more in the :ref:`User Guide <datasets-segments>`.

    Parameters
    ----------
    paths : str, path-like, or list of them
        Audio files, folders, or a list of both. Folders are searched
        recursively for files with one of the ``extensions``, as
        :func:`load_audio_folder` searches a class folder: hidden entries are
        skipped, links are followed but each real folder is walked once and
        each real file listed once, and a warning names what was skipped.
        Recordings of any length are accepted (the 600 s limit on a clip
        applies to one window, not to the recording).
    window : float, default=1.0
        Length of a window, in seconds.
    hop : float or None, default=None
        Seconds from one window's start to the next; None means ``window``
        (windows side by side). Must not exceed ``window``: windows never
        leave audio out (to sample sparsely, take every k-th row).
    skip_silence : bool, default=False
        Drop windows whose RMS level is below ``silence_threshold``. Each file
        is then decoded once, a block at a time (memory stays bounded), and a
        :class:`UserWarning` says how many windows of each file were dropped.
    silence_threshold : float, default=-60.0
        Level in dBFS under which a window is silent: ``20 * log10(rms)`` of
        its samples with channels averaged, where a full-scale square wave is
        0 dBFS (a full-scale sine about -3). -60 drops digital silence, muted
        stretches and very quiet noise floors; set it from your recorder's
        noise floor to drop more.
    extensions : sequence of str, default=(".wav", ".flac", ".ogg", ".mp3", \
".m4a", ".aiff", ".aif", ".au")
        Suffixes of the files searched in folders (case-insensitive). Files
        named directly are used whatever their suffix.
    as_frame : {"auto", True, False}, default="auto"
        Return a pandas DataFrame (True), a :class:`~sklearn.utils.Bunch`
        (False), or a DataFrame when pandas is installed and a Bunch otherwise
        ("auto"). Both index their columns by name (``table["start"]``); pass
        True or False where code must get the same type everywhere.

    Returns
    -------
    table : pandas.DataFrame or :class:`~sklearn.utils.Bunch`
        One row per window, by file (in the order given; a folder's files
        sorted by path) then by start, with columns

        path : str
            The recording.
        start, end : float
            Bounds of the window in seconds from the start of the recording.

        A Bunch holds them as arrays (``path`` of object dtype, ``start`` and
        ``end`` float64). ``table.attrs`` (a dict, for both types) holds
        ``window``, ``hop``, ``silence_threshold`` (None without
        ``skip_silence``), ``n_silent``: for each file that lost windows
        as silent, how many, and ``silent``: the windows dropped, as
        ``(path, start, end)`` tuples (to listen to them, or to check the
        threshold).

    Warns
    -----
    UserWarning
        With ``skip_silence``, when windows were dropped: how many, per file.

    Notes
    -----
    The windows of a recording of ``d`` seconds start at 0, ``hop``,
    ``2 * hop``, ... as long as they end by ``d``. When they leave the end
    of the recording uncovered (by more than half a sample), one last window
    is added that ends at ``d`` and starts at ``d - window``: every sample is
    in a window, and every window is ``window`` seconds long. A recording no
    longer than ``window`` gives one row, ``(path, 0, d)``. Times are in
    seconds, rounded to the nanosecond; the samples of a row are the frames
    ``[floor(start * sr + 0.5), floor(end * sr + 0.5))`` at the file's rate
    ``sr``.

    See Also
    --------
    skaloe.encoders.EncoderTransformer : Embeds the rows.
    skaloe.encoders.read_segment : The samples of one row, e.g. to play it.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from skaloe.datasets import segment_recordings
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "rec.wav")
    >>> sf.write(path, np.zeros(8000 * 5 + 4000), 8000)         # 5.5 s
    >>> table = segment_recordings(path, window=2.0, hop=1.0, as_frame=False)
    >>> np.column_stack([table.start, table.end]).tolist()
    [[0.0, 2.0], [1.0, 3.0], [2.0, 4.0], [3.0, 5.0], [3.5, 5.5]]
    >>> tmp.cleanup()
    """
    window = _seconds(window, "window")
    hop = window if hop is None else _seconds(hop, "hop")
    if hop > window:
        raise ValueError(
            f"hop={hop!r} is longer than window={window!r}: the audio between windows would "
            "be left out. Use hop <= window; to sample sparsely, keep every k-th row of "
            "the table (table[::k])."
        )
    if not isinstance(skip_silence, (bool, np.bool_)):
        raise TypeError(f"skip_silence must be True or False, got {skip_silence!r}.")
    if isinstance(silence_threshold, bool) or not isinstance(silence_threshold, numbers.Real) \
            or not math.isfinite(silence_threshold):
        raise ValueError(
            f"silence_threshold must be a finite level in dBFS (e.g. -60.0), got "
            f"{silence_threshold!r}."
        )
    if as_frame not in ("auto", True, False):
        raise ValueError(f"as_frame must be 'auto', True or False, got {as_frame!r}.")
    pandas = None
    if as_frame is not False:
        try:
            import pandas
        except ImportError:
            if as_frame is True:
                raise ImportError(
                    "as_frame=True needs pandas (pip install pandas); or pass as_frame=False "
                    "for a Bunch of arrays."
                ) from None

    from ..encoders._segments import frame_at, recording_length, span_energies

    files = _recordings(paths, extensions)
    path_column, starts, ends, n_silent, n_windows, silent = [], [], [], {}, {}, []
    for path in files:
        where = f"audio file {path!r}"
        n_frames, rate = recording_length(path, where)
        if n_frames <= 0:
            raise ValueError(
                f"Audio file {path!r} holds no samples; remove it from paths."
            )
        if window * rate < 1:
            raise ValueError(
                f"window={window!r} s is shorter than one sample of {path!r} ({rate} Hz); "
                "use a longer window."
            )
        start, end = window_bounds(n_frames / rate, window, hop, rate)
        if skip_silence:
            spans = [(frame_at(s, rate), frame_at(e, rate)) for s, e in zip(start, end)]
            energy = span_energies(path, spans, where)
            with np.errstate(divide="ignore"):
                level = 10.0 * np.log10(energy)
            keep = level >= silence_threshold
            if not keep.all():
                n_silent[path], n_windows[path] = int((~keep).sum()), len(keep)
                silent.extend((path, float(s), float(e))
                              for s, e in zip(start[~keep], end[~keep]))
                start, end = start[keep], end[keep]
        path_column.extend([path] * len(start))
        starts.append(start)
        ends.append(end)

    if n_silent:
        total = sum(len(s) for s in starts)
        dropped = sum(n_silent.values())
        per_file = [f"{p!r} {n} of {n_windows[p]}"
                    for p, n in list(n_silent.items())[:_SHOWN_FILES]]
        more = len(n_silent) - _SHOWN_FILES
        emptied = [p for p, s in zip(files, starts) if not len(s)]
        warnings.warn(
            f"skip_silence dropped {dropped} of {total + dropped} windows quieter than "
            f"{silence_threshold:g} dBFS, in {len(n_silent)} of {len(files)} files: "
            + ", ".join(per_file) + (f" and {more} more files" if more > 0 else "")
            + (f"; {len(emptied)} of them kept no window (e.g. {emptied[0]!r})"
               if emptied else "")
            + ". The counts per file are in table.attrs['n_silent'], the windows dropped "
            "in table.attrs['silent'].",
            UserWarning,
            stacklevel=2,
        )
    attrs = {
        "window": window,
        "hop": hop,
        "silence_threshold": float(silence_threshold) if skip_silence else None,
        "n_silent": n_silent,
        "silent": silent,
    }
    start = np.concatenate(starts)
    end = np.concatenate(ends)
    paths_array = np.empty(len(path_column), dtype=object)
    paths_array[:] = path_column
    if pandas is not None:
        table = pandas.DataFrame({"path": paths_array, "start": start, "end": end})
        table.attrs.update(attrs)
        return table
    return Bunch(path=paths_array, start=start, end=end, attrs=attrs)
