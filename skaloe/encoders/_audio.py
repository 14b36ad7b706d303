"""Turning what users pass as ``X`` into validated mono 16 kHz clips.

``X`` may hold file paths, segments of files (see :mod:`._segments`) or
waveforms; files are decoded lazily, chunk by chunk, so a large pool never
sits in memory as audio all at once.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import stat
import warnings

import numpy as np

from ._registry import MODEL_SAMPLE_RATE

_INT_SCALES = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def as_clip_list(X):
    """Split ``X`` into a list of clips: ``str`` paths or 1-D numpy arrays.

    Only the container is checked here; samples are checked by
    :func:`prepare_waveform` and files by :func:`read_audio_file`.
    """
    if isinstance(X, (str, os.PathLike)):
        raise ValueError(
            f"X must be a list of clips, got a single path {os.fspath(X)!r}; "
            "wrap it in a list: [path]."
        )
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "Sparse input is not supported: X must hold audio (file paths or dense waveforms); "
            "convert with X.toarray() if it really holds samples."
        )
    from ._segments import check_segment, is_segment_item, segment_table

    segments = segment_table(X)  # a DataFrame or Bunch with path, start and end columns
    if segments is not None:
        return segments
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # pandas DataFrame
        if X.shape[1] != 1 and any(dt == object or str(dt) in ("string", "str") for dt in X.dtypes):
            raise ValueError(
                f"X is a DataFrame with {X.shape[1]} columns; pass the single column that "
                "holds the paths or clips, e.g. X['path']."
            )
        if X.shape[1] == 1:
            X = X.iloc[:, 0]
        else:
            X = X.to_numpy()
    if hasattr(X, "iloc"):  # pandas Series
        X = X.tolist()
    if not isinstance(X, (np.ndarray, list, tuple)) and hasattr(X, "__array__"):
        X = np.asarray(X)
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1 and X.dtype.kind in "OU" and all(
            isinstance(v, (str, os.PathLike)) for v in X[:, 0]
        ):  # one column of paths, as a ColumnTransformer passes it from an array
            X = X[:, 0]
        if X.dtype == object and X.ndim == 2 and X.shape[1] == 3 and len(X) and all(
            isinstance(v, (str, os.PathLike)) for v in X[:, 0]
        ):  # path, start, end columns, as a ColumnTransformer passes them from a DataFrame
            return [check_segment(*row, i) for i, row in enumerate(X.tolist())]
        if X.dtype == object and X.ndim == 2:
            X = X.astype(np.float64)  # raises on a non-numeric entry
        if X.dtype.kind in "biufc" and X.ndim == 2:
            if not X.shape[0]:
                raise ValueError(
                    f"X contains no clips (shape {X.shape}); pass at least one path or waveform."
                )
            _check_array_clip(X[0], 0)
            return list(X)
        if X.dtype.kind in "biufc" and X.ndim == 1:
            raise ValueError(
                f"Reshape your data: X is a 1-D numeric array of shape {X.shape}, which is "
                "ambiguous. Pass one "
                "clip as X[np.newaxis, :] or [x], several equal-length clips as a 2-D array "
                "(n_clips, n_samples), or clips of different lengths as a list of 1-D arrays."
            )
        if X.ndim != 1:
            raise ValueError(
                f"X has shape {X.shape}; expected a 2-D array (n_clips, n_samples), a list of "
                "1-D waveforms or a list of file paths."
            )
        X = list(X)
    if not isinstance(X, (list, tuple)):
        try:
            X = list(X)
        except TypeError:
            raise TypeError(
                f"X must be a list of file paths or waveforms, got {type(X).__name__}."
            ) from None
    clips = []
    for i, item in enumerate(X):
        if isinstance(item, (str, os.PathLike)):
            clips.append(os.fspath(item))
        elif is_segment_item(item):
            clips.append(check_segment(*item, i))
        elif isinstance(item, (np.ndarray, list, tuple)):
            clips.append(_check_array_clip(np.asarray(item), i))
        else:
            raise TypeError(
                f"X[{i}] is of type {type(item).__name__}; each clip must be a file path, "
                "a 1-D array of samples or a segment (path, start, end)."
            )
    if not clips:
        raise ValueError("X contains no clips (0 samples); pass at least one path or waveform.")
    return clips


def _check_array_clip(x, index):
    """Shape and dtype checks that cost nothing; samples are checked later."""
    if x.ndim != 1:
        raise ValueError(
            f"X[{index}] has shape {x.shape}; each clip must be a 1-D mono waveform "
            "(average the channels first, e.g. x.mean(axis=0))."
        )
    if x.size == 0:
        raise ValueError(f"X[{index}] is empty (0 samples); remove it or pass real audio.")
    if x.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: X[{index}] has dtype {x.dtype}; pass real samples."
        )
    if x.dtype not in _INT_SCALES and x.dtype != np.uint8 and x.dtype.kind != "f":
        raise ValueError(
            f"X[{index}] has dtype {x.dtype}, which is not a PCM sample format; pass float "
            "samples in [-1, 1] or int16, int32 or uint8 PCM (for 16-bit samples stored as "
            "int64: x.astype(np.int16))."
        )
    return x


#: Lowest sample rate accepted, in Hz, for files and for ``sample_rate``: below
#: it a header is almost surely wrong, and resampling to 16 kHz would multiply
#: the clip's length (a 1 Hz file by 16 000).
MIN_SAMPLE_RATE = 1000

#: Longest file decoded as one clip, in seconds (10 minutes). Longer files are
#: refused from their header, before any decoding, since decoding holds the
#: whole clip in memory; embed their windows instead (segments, which are read
#: without decoding the rest of the file: the limit applies to a segment's
#: length, not to its recording), or cut them into clips. Raise this constant
#: (``skaloe.encoders._audio.MAX_DURATION = 3600``) to embed longer files whole.
#: Waveforms passed as arrays are already in memory and are not limited.
MAX_DURATION = 600.0

#: Float samples beyond this magnitude get a warning: float audio lives in
#: [-1, 1], and samples this far out mean a wrong scale or a broken export.
LOUD_SAMPLE = 10.0

_READ_BLOCK = 1 << 18  # frames decoded at a time from a multi-channel file (~6 s at 44.1 kHz)

_CUT_FILE = (
    "embed its windows instead, which are read without decoding the whole file: "
    "X = skaloe.datasets.segment_recordings([path], window=10) gives a table of "
    "(path, start, end) rows that EncoderTransformer takes; or cut it into shorter clips, "
    "e.g. with `ffmpeg -i long.wav -f segment -segment_time 10 -c copy clip%04d.wav`"
)


def _where(path, index):
    """How messages name a clip: its path and position in X, or its position."""
    if path is None:
        return f"X[{index}]"
    return f"Audio file {path!r}" + ("" if index is None else f" (X[{index}])")


def _check_rate(sample_rate, where):
    """Refuse absurd sample rates (below :data:`MIN_SAMPLE_RATE`)."""
    if sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(
            f"{where} is at {sample_rate} Hz, below the {MIN_SAMPLE_RATE} Hz skaloe accepts "
            "(clips are resampled to 16000 Hz); a rate this low is almost surely a wrong "
            "header or a wrong sample_rate: fix it, or remove the clip from X."
        )


def _check_file_length(n_samples, sample_rate, where, complete=True):
    """Refuse a file longer than :data:`MAX_DURATION`, from its header or its start.

    ``complete=False`` when ``n_samples`` are only the first samples of the file.
    """
    seconds = n_samples / sample_rate
    if seconds > MAX_DURATION:
        length = f"{seconds:.1f} s" if complete else f"more than {MAX_DURATION:g} s"
        raise ValueError(
            f"{where} lasts {length}, longer than the {MAX_DURATION:g} s skaloe decodes as "
            f"one clip; {_CUT_FILE}."
        )


def _check_samples(x, where, advice):
    """Refuse NaN and infinite samples; warn when floats go far outside [-1, 1].

    Costs a min and a max, no temporary array. Returns the largest magnitude.
    """
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(
            f"{where} contains NaN or infinite samples (first at sample {bad}); {advice}."
        )
    peak = max(-lo, hi)
    if peak > LOUD_SAMPLE:
        warnings.warn(
            f"{where} has samples up to {peak:.3g}, far outside [-1, 1] where float audio "
            "belongs (a wrong scale or a broken export?). It is embedded as it is: the "
            "spectral encoders stay finite, other encoders may fail on it. Rescale it "
            "(x / np.abs(x).max()) or check how it was written.",
            UserWarning,
            stacklevel=2,
        )
    return peak


def prepare_waveform(x, index, sample_rate):
    """Validate one in-memory clip and return it as float32 mono at 16 kHz."""
    x = _check_array_clip(np.asarray(x), index)
    where = _where(None, index)
    _check_rate(sample_rate, where)
    if x.dtype == np.uint8:  # 8-bit PCM is unsigned, centred on 128
        x = (x.astype(np.float32) - 128.0) / np.float32(128.0)
    elif x.dtype in _INT_SCALES:
        x = x.astype(np.float32) / np.float32(_INT_SCALES[x.dtype])
    elif x.dtype.kind == "f":
        peak = _check_samples(x, where, "clean or drop this clip")
        if peak > np.finfo(np.float32).max:
            raise ValueError(
                f"{where} has samples up to {peak:.3g}, beyond what float32 holds; rescale "
                "it to [-1, 1] (x / np.abs(x).max())."
            )
        x = x.astype(np.float32, copy=False)
    return resample(x, sample_rate)


def resample(x, sample_rate):
    """A float32 clip at ``sample_rate`` Hz, at the models' 16 kHz."""
    return resample_to(x, sample_rate, MODEL_SAMPLE_RATE)


def resample_to(x, sample_rate, target_rate):
    """A float32 clip at ``sample_rate`` Hz, at ``target_rate`` (soxr's high quality filter)."""
    if sample_rate == target_rate:
        return x
    import librosa

    return librosa.resample(
        x, orig_sr=sample_rate, target_sr=target_rate, res_type="soxr_hq"
    ).astype(np.float32, copy=False)


def regular_file_stat(path):
    """``(os.stat(path), None)`` for a regular file, else ``(None, what it is)``.

    The second item completes a sentence about ``path``: "is a directory, not
    an audio file", "is a named pipe ...", "is a symbolic link that loops". The
    file is never opened, so a named pipe cannot block.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "is a symbolic link that loops (it leads back to itself)"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return None, f"is a symbolic link to {os.readlink(path)!r}, which does not exist"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None, "does not exist"
        return None, f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(st.st_mode):
        return st, None
    if stat.S_ISDIR(st.st_mode):
        return None, "is a directory, not an audio file"
    if stat.S_ISFIFO(st.st_mode):
        return None, ("is a named pipe (FIFO), not an audio file; skaloe does not read pipes "
                      "(they block until written to): save the audio to a file first")
    if stat.S_ISSOCK(st.st_mode):
        return None, "is a socket, not an audio file"
    return None, "is a device, not an audio file"


def stat_audio_file(path, index):
    """``os.stat`` of an audio file, or FileNotFoundError saying what the path is."""
    st, problem = regular_file_stat(path)
    if problem is not None:
        raise FileNotFoundError(
            f"{_where(path, index)} {problem}; check the path or remove it from X."
        )
    return st


def _read_mono(sound_file):
    """Decode an open ``soundfile.SoundFile`` to float32 mono.

    Channels are averaged a block at a time, so a multi-channel file never
    sits in memory with all its channels as float32.
    """
    if sound_file.channels == 1:
        return sound_file.read(dtype="float32")
    mono = np.empty(max(sound_file.frames, 0), dtype=np.float32)
    buffer = np.empty((_READ_BLOCK, sound_file.channels), dtype=np.float32)
    filled = 0
    while True:
        block = sound_file.read(out=buffer)
        if not len(block):
            return mono[:filled]
        block = block.mean(axis=1, dtype=np.float32)
        if filled + len(block) > len(mono):  # a header that undercounts its frames
            mono = np.concatenate([mono[:filled], np.empty(len(block), np.float32)])
        mono[filled : filled + len(block)] = block
        filled += len(block)


def read_audio_file(path, index):
    """Decode a file to float32 mono at 16 kHz, with errors naming the file.

    The header is read first: a file at an absurd rate or longer than
    :data:`MAX_DURATION` is refused before it is decoded.
    """
    stat_audio_file(path, index)
    where = _where(path, index)
    import soundfile

    data = sf_error = None
    try:
        sound_file = soundfile.SoundFile(path)
    except Exception as exc:  # formats libsndfile cannot read: try audioread below
        sf_error = exc
    else:
        with sound_file:
            sr = sound_file.samplerate
            _check_rate(sr, where)
            _check_file_length(sound_file.frames, sr, where)
            try:
                data = _read_mono(sound_file)
            except Exception as exc:
                sf_error = exc
    if data is None:
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Decode at most MAX_DURATION and a second: enough to refuse a longer file.
                data, sr = librosa.load(path, sr=None, mono=True, dtype=np.float32,
                                        duration=MAX_DURATION + 1.0)
        except Exception:
            reason = str(sf_error).strip().rstrip(".")
            raise ValueError(
                f"Could not read audio file {path!r} (X[{index}]): {reason}. The file is "
                "unreadable or corrupt; convert it to WAV or FLAC, or remove it from X."
            ) from None
        _check_rate(sr, where)
        _check_file_length(len(data), sr, where, complete=False)
    if data.size == 0:
        raise ValueError(f"{where} contains no samples; remove it from X.")
    _check_samples(data, where, "re-export it or remove it from X")
    return resample(np.ascontiguousarray(data), sr)


def load_clip(clip, index, sample_rate):
    """A clip (path, segment or array) as a float32 mono 16 kHz waveform."""
    if isinstance(clip, str):
        return read_audio_file(clip, index)
    from ._segments import Segment, load_segment_group

    if isinstance(clip, Segment):
        return load_segment_group(clip.path, [(index, clip)], MODEL_SAMPLE_RATE)[0]
    return prepare_waveform(clip, index, sample_rate)


def load_clips(clips, indices, sample_rate, n_jobs, reader=None):
    """``[load_clip(clips[i], i, sample_rate) for i in indices]``, segments read per file.

    The segments of one file are read in one pass, in order of their starts
    (see :mod:`._segments`), through ``reader`` (a ``SegmentReader`` that
    keeps files open from one call to the next) when given; files, and the
    other clips, are read on ``n_jobs`` threads.
    """
    from ._runners import _parallel_map
    from ._segments import Segment, load_segment_group

    indices = list(indices)
    groups, single = {}, []
    for k, i in enumerate(indices):
        clip = clips[i]
        if isinstance(clip, Segment):
            groups.setdefault(clip.path, []).append(k)
        else:
            single.append(k)
    tasks = [("clip", [k]) for k in single] + [("file", ks) for ks in groups.values()]

    def run(task):
        kind, ks = task
        if kind == "clip":
            return [load_clip(clips[indices[ks[0]]], indices[ks[0]], sample_rate)]
        items = [(indices[k], clips[indices[k]]) for k in ks]
        return load_segment_group(items[0][1].path, items, MODEL_SAMPLE_RATE, reader)

    out = [None] * len(indices)
    for (_, ks), waves in zip(tasks, _parallel_map(run, tasks, n_jobs)):
        for k, wave in zip(ks, waves):
            out[k] = wave
    return out


def clip_key(clip, index, sample_rate):
    """A 16-byte content key for the embedding cache (truncated SHA-256).

    Arrays are keyed by their samples (and dtype, shape and sample rate).
    Files are keyed by one ``stat``: absolute path, size, modification time,
    inode number and status-change time (ctime), so that a warm pass over a
    large pool costs one ``stat`` per file. A file is embedded again when any
    of these differ from when it was cached: whenever its content is
    rewritten or replaced, even with its old size and modification time put
    back (``cp -p``, ``rsync -t``, ``tar x``, ``os.utime``), since a rewrite
    sets the ctime and no call can set it back; and also, needlessly but
    harmlessly, after ``chmod``, ``chown``, ``touch``, a new hard link, or a
    copy of the whole folder elsewhere. Reading a file changes none of them.
    (On Windows the ctime is the creation time, so there an in-place rewrite
    that restores size and modification time is not seen.) A segment is keyed
    as its file is, with its start and end added.
    """
    h = hashlib.sha256()  # hardware-accelerated on current CPUs: ~1.5 GB/s a core
    from ._segments import Segment

    if isinstance(clip, (str, Segment)):
        path = clip if isinstance(clip, str) else clip.path
        st = stat_audio_file(path, index)
        h.update(b"file\0" if isinstance(clip, str) else
                 f"segment\0{clip.start!r}\0{clip.end!r}\0".encode())
        h.update(os.path.abspath(path).encode("utf8", "surrogateescape"))
        h.update(f"\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_ctime_ns}".encode())
    else:
        x = np.ascontiguousarray(clip)
        h.update(f"array\0{x.dtype.str}\0{x.shape}\0{sample_rate}\0".encode())
        h.update(memoryview(x).cast("B") if x.size else b"")
    return h.digest()[:16]


# -- clips as WAV bytes, for players in a browser -------------------------------


def wav_file_bytes(path):
    """The bytes of ``path`` if it is a WAV file (RIFF/RF64 WAVE), else None.

    Raises OSError when the file cannot be read, or is no regular file (a named
    pipe is never opened).
    """
    stat_audio_file(path, None)
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
            return head + f.read()
    return None


def pcm16_wav_bytes(samples, sample_rate):
    """A 16-bit PCM WAV file of float ``samples`` (clipped to [-1, 1]), as bytes."""
    import io

    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(samples, -1.0, 1.0), sample_rate, format="WAV",
                    subtype="PCM_16")
    return buffer.getvalue()


# The chunks a player needs; every other chunk (LIST/INFO titles, bext and iXML
# with the recorder's file name, cue points, ...) is metadata.
_WAV_AUDIO_CHUNKS = (b"fmt ", b"fact", b"data")


def wav_audio_only(data):
    """A RIFF WAVE file's bytes with only its ``fmt``, ``fact`` and ``data`` chunks.

    Metadata chunks may name the recording (a ``LIST``/``INFO`` title, the
    original file name in ``bext`` or ``iXML``); a player needs none of them.
    The audio is kept byte for byte. Returns None when ``data`` is not a RIFF
    WAVE file this can rewrite (RF64, or a malformed chunk list): decode the
    file instead.
    """
    import struct

    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    kept, offset, n = [], 12, len(data)
    seen = set()
    while offset + 8 <= n:
        chunk_id = data[offset:offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        start = offset + 8
        end = min(start + size, n)  # a streamed file may leave the data size too large
        if chunk_id in _WAV_AUDIO_CHUNKS and chunk_id not in seen:
            seen.add(chunk_id)
            body = data[start:end]
            kept.append(chunk_id + struct.pack("<I", len(body)) + body
                        + (b"\0" if len(body) % 2 else b""))
        offset = start + size + (size % 2)
    if b"fmt " not in seen or b"data" not in seen:
        return None
    body = b"WAVE" + b"".join(kept)
    return b"RIFF" + struct.pack("<I", len(body)) + body
