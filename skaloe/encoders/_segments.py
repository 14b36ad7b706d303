"""Segments of long recordings: ``(path, start, end)`` rows, read without decoding the file whole.

A segment is the frames ``[frame(start), frame(end))`` of a file at its own
sample rate, where ``frame(t) = floor(t * rate + 0.5)`` (the nearest frame,
halves up), with the channels averaged as :func:`~._audio.read_audio_file`
averages them. Its samples are exactly those of the whole file decoded and
then sliced, so a segment embeds as the same samples given as an array at the
file's rate would.

Reading is sequential and bounded in memory: the segments of one file are
read in order of their start, from a rolling buffer that holds at most one
segment and a read-ahead block, so overlapping windows share one decode. A
gap between segments is jumped over with a seek where the format's seeks are
exact (uncompressed PCM and FLAC); other formats (Ogg Vorbis, Opus, MP3,
whose decoders may return other samples after a seek, and anything decoded
through audioread) are decoded through the gap instead. A
:class:`SegmentReader` keeps files open between the chunks of one pass, so
that such a file is decoded once per pass, not once per chunk.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ._audio import (
    MIN_SAMPLE_RATE,
    _check_rate,
    _check_samples,
    resample_to,
    stat_audio_file,
)

#: Seconds a segment may end past the end of its recording and still be read
#: (clipped to the end): times written with a few decimals (1 ms) round up.
END_TOLERANCE = 0.001

_READ_BLOCK = 1 << 16  # frames decoded per call, and read ahead past a segment's end

# Sound file subtypes whose seeks land exactly where a sequential decode would be.
_EXACT_SEEK_SUBTYPES = frozenset(
    {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"}
)


class Segment(NamedTuple):
    """A stretch of a recording: ``path``, and ``start`` and ``end`` in seconds.

    :class:`~skaloe.encoders.EncoderTransformer` embeds a segment as the
    frames ``[floor(start * sr + 0.5), floor(end * sr + 0.5))`` of the file at
    its own rate ``sr``, channels averaged; a plain ``(path, start, end)``
    tuple means the same. :func:`skaloe.datasets.segment_recordings` cuts
    recordings into a table of them.

    Examples
    --------
    >>> from skaloe.encoders import Segment
    >>> Segment("field/2024-05-01.flac", 12.0, 13.0)
    Segment(path='field/2024-05-01.flac', start=12.0, end=13.0)
    """

    path: str
    start: float
    end: float


def frame_at(seconds, sample_rate):
    """The frame of a time in seconds: the nearest one, halves up."""
    return int(math.floor(seconds * sample_rate + 0.5))


def _sentence(text):
    return text[0].upper() + text[1:]


def describe_segment(segment, index=None):
    """How messages name a segment: file, bounds and position in X."""
    where = f"segment {segment.start:.3f} s to {segment.end:.3f} s of audio file {segment.path!r}"
    return where if index is None else f"{where} (X[{index}])"


def _bound(value, name, index, path):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"X[{index}] (a segment of {path!r}) has {name}={value!r}, of type "
            f"{type(value).__name__}; {name} must be a number of seconds."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(
            f"X[{index}] (a segment of {path!r}) has {name}={value}; {name} must be a finite "
            "number of seconds. Fix or drop this row."
        )
    return value


def check_segment(path, start, end, index):
    """One row of a segment table as a :class:`Segment`, or an error naming the row."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"X[{index}] is a segment whose path is {path!r} ({type(path).__name__}); a "
            "segment is (path, start, end) with the path of an audio file."
        )
    path = os.fspath(path)
    start = _bound(start, "start", index, path)
    end = _bound(end, "end", index, path)
    if start < 0:
        raise ValueError(
            f"X[{index}] (a segment of {path!r}) starts at {start} s, before the recording "
            "does; start must be 0 or more seconds."
        )
    if end <= start:
        raise ValueError(
            f"X[{index}] (a segment of {path!r}) ends at {end} s, not after its start "
            f"{start} s; a segment needs end > start (both in seconds from the start of the "
            "recording)."
        )
    return Segment(path, start + 0.0, end)  # + 0.0: -0.0 keys as 0.0


def is_segment_item(item):
    """Whether an item of a list X is a segment: a Segment or a (path, start, end) tuple."""
    return isinstance(item, Segment) or (
        isinstance(item, (tuple, list)) and len(item) == 3
        and isinstance(item[0], (str, os.PathLike))
    )


def _check_partial_table(names, what, whole_files, whole=False):
    """Refuse a table that looks like segments but lacks a column.

    A ``path`` column with ``start`` or ``end`` (or, for a mapping, any
    ``path`` key) but not both is a table of segments with a column missing
    or misnamed; embedding it as whole files would silently be wrong.
    """
    if "path" not in names:
        return
    missing = [c for c in ("start", "end") if c not in names]
    if whole or len(missing) < 2:
        raise ValueError(
            f"{what} with a 'path' column but no {' or '.join(repr(c) for c in missing)} "
            f"column; a table of segments needs the columns path, start and end (seconds), "
            f"e.g. from skaloe.datasets.segment_recordings; to embed whole files, pass "
            f"{whole_files}."
        )


def segment_table(X):
    """The segments of a table (a DataFrame or a mapping with path, start, end), else None."""
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        names = set(map(str, X.columns))
        if not {"path", "start", "end"} <= names:
            _check_partial_table(names, "X is a DataFrame", "X['path']")
            return None
        columns = [X["path"].tolist(), X["start"].tolist(), X["end"].tolist()]
    elif hasattr(X, "keys") and hasattr(X, "__getitem__") and not hasattr(X, "shape"):
        try:
            names = set(X.keys())
        except TypeError:
            return None
        if not {"path", "start", "end"} <= names:
            _check_partial_table(names, "X is a mapping", "list(X['path'])", whole=True)
            return None
        columns = []
        for name in ("path", "start", "end"):
            column = X[name]
            if isinstance(column, (str, os.PathLike)) or np.ndim(column) != 1:
                raise ValueError(
                    f"X is a table of segments whose {name!r} is not one column (got "
                    f"{type(column).__name__}); give path, start and end as equal-length "
                    "sequences, one item per segment."
                )
            columns.append(list(column.tolist() if hasattr(column, "tolist") else column))
    else:
        return None
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise ValueError(
            "X is a table of segments whose path, start and end columns have different "
            f"lengths ({', '.join(str(len(c)) for c in columns)}); give one start and one end "
            "per path."
        )
    if not columns[0]:
        raise ValueError("X is a table of segments with no rows; pass at least one segment.")
    return [check_segment(p, s, e, i) for i, (p, s, e) in enumerate(zip(*columns))]


# -- reading ---------------------------------------------------------------------------


class _SoundFileStream:
    """Mono float32 frames of a file libsndfile opens, read sequentially."""

    def __init__(self, sound_file):
        self.file = sound_file
        self.sample_rate = sound_file.samplerate
        self.channels = sound_file.channels
        self.frames = sound_file.frames  # from the header
        self.exact_seek = (sound_file.seekable() and (
            sound_file.format == "FLAC" or sound_file.subtype in _EXACT_SEEK_SUBTYPES))
        self.position = 0
        self._buffer = None

    def read(self, n):
        """Up to ``n`` frames (fewer at the end of the file), channels averaged."""
        f = self.file
        if self.channels == 1:
            data = f.read(n, dtype="float32")
            self.position += len(data)
            return data
        # Channels are averaged a block at a time, as _audio._read_mono does.
        if self._buffer is None:
            self._buffer = np.empty((_READ_BLOCK, self.channels), dtype=np.float32)
        out = np.empty(n, dtype=np.float32)
        filled = 0
        while filled < n:
            size = min(_READ_BLOCK, n - filled)
            block = f.read(size, dtype="float32", out=self._buffer[:size])
            if not len(block):
                break
            out[filled : filled + len(block)] = block.mean(axis=1, dtype=np.float32)
            filled += len(block)
        self.position += filled
        return out[:filled]

    def seek(self, frame):
        self.file.seek(frame)
        self.position = frame

    def close(self):
        self.file.close()


class _AudioreadStream:
    """Mono float32 frames of a file decoded by audioread (no header count, no seeks)."""

    exact_seek = False
    frames = None

    def __init__(self, reader):
        self.reader = reader
        self.sample_rate = reader.samplerate
        self.channels = reader.channels
        self.position = 0
        self._blocks = iter(reader)
        self._pending = np.empty(0, dtype=np.float32)

    def read(self, n):
        parts, have = [self._pending], len(self._pending)
        while have < n:
            raw = next(self._blocks, None)
            if raw is None:
                break
            # As librosa.load decodes through audioread: int16 scaled by 1/32768.
            block = np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(32768.0)
            if self.channels > 1:
                block = block[: len(block) - len(block) % self.channels]
                block = block.reshape(-1, self.channels).mean(axis=1, dtype=np.float32)
            parts.append(block)
            have += len(block)
        data = np.concatenate(parts) if len(parts) > 1 else parts[0]
        out, self._pending = data[:n], data[n:]
        self.position += len(out)
        return out

    def close(self):
        self.reader.close()


def open_stream(path, where):
    """Open ``path`` for sequential mono reading: libsndfile, else audioread.

    Raises errors that name the file (``where`` completes the sentence).
    """
    import soundfile

    try:
        stream = _SoundFileStream(soundfile.SoundFile(path))
    except Exception as sf_error:  # formats libsndfile cannot read: audioread
        try:
            import audioread

            stream = _AudioreadStream(audioread.audio_open(path))
        except Exception:
            reason = str(sf_error).strip().rstrip(".")
            raise ValueError(
                f"Could not read {where}: {reason}. The file is unreadable or corrupt; "
                "convert it to WAV or FLAC, or remove it."
            ) from None
    try:
        _check_rate(stream.sample_rate, _sentence(where))
    except BaseException:
        stream.close()
        raise
    return stream


def _skip(stream, n):
    """Move ``n`` frames forward: a seek where exact, else decode and drop them."""
    if stream.exact_seek:
        target = stream.position + n
        stream.seek(target)
        return
    while n > 0:
        got = len(stream.read(min(n, 1 << 20)))
        if not got:
            return
        n -= got


class _Cursor:
    """A file open for reading segments: its stream and a rolling buffer.

    The buffer holds the frames ``[first, stream.position)``: at most one
    segment and a read-ahead block.
    """

    def __init__(self, path, where):
        self.path = path
        self.stream = open_stream(path, where)
        self.buffer = np.empty(0, dtype=np.float32)
        self.first = 0

    def can_read_from(self, a):
        """Whether frame ``a`` can still be reached without reopening the file."""
        return a >= self.first or self.stream.exact_seek

    def read(self, a, b):
        """The mono samples of frames ``[a, b)``, as a new array (shorter at the end of the file).

        Reading moves forward: frames before the buffer are reached with a
        seek, which only files whose seeks are exact allow (see
        :meth:`can_read_from`).
        """
        stream = self.stream
        if a >= stream.position:  # nothing kept is needed: jump (or decode) to a
            _skip(stream, a - stream.position)
            self.buffer, self.first = self.buffer[:0], stream.position
        elif a >= self.first:
            self.buffer, self.first = self.buffer[a - self.first :], a
        else:
            stream.seek(a)
            self.buffer, self.first = self.buffer[:0], a
        if b > stream.position:
            more = stream.read(max(b - stream.position, _READ_BLOCK))
            self.buffer = np.concatenate([self.buffer, more])
        return self.buffer[max(a - self.first, 0) : max(b - self.first, 0)].copy()

    def close(self):
        self.stream.close()


class SegmentReader:
    """Reads segments file by file, keeping recent files open between calls.

    An ``EncoderTransformer`` pass reads a long recording's windows chunk by
    chunk; keeping its file open (with the buffer) lets the next chunk go on
    where the last one stopped, instead of decoding a file that cannot seek
    exactly from its start again. Use it as a context manager.
    """

    def __init__(self, max_open=4):
        self.max_open = max_open
        self._cursors = OrderedDict()
        self._lock = threading.Lock()

    def cursor(self, path, where):
        """The open cursor on ``path`` (taken out of the pool until given back), or a new one."""
        with self._lock:
            cursor = self._cursors.pop(path, None)
        return _Cursor(path, where) if cursor is None else cursor

    def give_back(self, cursor):
        with self._lock:
            self._cursors[cursor.path] = cursor
            while len(self._cursors) > self.max_open:
                self._cursors.popitem(last=False)[1].close()

    def close(self):
        with self._lock:
            while self._cursors:
                self._cursors.popitem()[1].close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def resolve_spans(stream, segments, where_of):
    """Frame spans ``(a, b)`` of ``segments`` in ``stream``'s file, checked against its length.

    ``where_of(k)`` names segment ``k`` in messages. A segment may end up to
    :data:`END_TOLERANCE` past the end of the file (it is clipped there).
    """
    from . import _audio

    sr, n = stream.sample_rate, stream.frames
    spans = []
    for k, seg in enumerate(segments):
        a, b = frame_at(seg.start, sr), frame_at(seg.end, sr)
        if n is not None:
            duration = n / sr
            if seg.end > duration + END_TOLERANCE or a >= n:
                raise ValueError(
                    f"{_sentence(where_of(k))} ends past the end of the "
                    f"recording, which lasts {duration:.3f} s ({n} frames at {sr} Hz); fix "
                    "the row or drop it."
                )
            b = min(b, n)
        if b <= a:
            raise ValueError(
                f"{_sentence(where_of(k))} holds no sample at {sr} Hz "
                f"(frames {a} to {b}); make it at least one sample long."
            )
        if (b - a) / sr > _audio.MAX_DURATION:
            raise ValueError(
                f"{_sentence(where_of(k))} lasts {(b - a) / sr:.1f} s, "
                f"longer than the {_audio.MAX_DURATION:g} s skaloe embeds as one clip; use "
                "shorter segments (skaloe.datasets.segment_recordings cuts windows)."
            )
        spans.append((a, b))
    return spans


def load_segment_group(path, items, sample_rate_out, reader=None):
    """``items`` = [(index in X, Segment)] of one file -> checked waveforms, in order.

    The waveforms are at ``sample_rate_out`` (resampled as arrays are). With
    a :class:`SegmentReader`, the file stays open for the next call.
    """
    segments = [seg for _, seg in items]

    def where_of(k):
        return describe_segment(segments[k], items[k][0])

    stat_audio_file(path, items[0][0])
    where = f"audio file {path!r} (X[{items[0][0]}])"
    first = min(seg.start for seg in segments)
    if reader is None:
        cursor = _Cursor(path, where)
    else:
        cursor = reader.cursor(path, where)
        if not cursor.can_read_from(frame_at(first, cursor.stream.sample_rate)):
            cursor.close()
            cursor = _Cursor(path, where)
    keep = False
    try:
        stream = cursor.stream
        spans = resolve_spans(stream, segments, where_of)
        out = [None] * len(spans)
        sr = stream.sample_rate
        for k in sorted(range(len(spans)), key=lambda k: spans[k]):
            a, b = spans[k]
            samples = cursor.read(a, b)
            where = where_of(k)
            if len(samples) < b - a:
                raise ValueError(
                    f"{_sentence(where)} ends past the end of the recording, which holds "
                    f"{a + len(samples)} frames at {sr} Hz ({(a + len(samples)) / sr:.3f} s, "
                    "fewer than its header says); fix the row or drop it."
                )
            _check_samples(samples, _sentence(where), "re-export the file or drop the row")
            out[k] = resample_to(samples, sr, sample_rate_out)
        keep = reader is not None
        return out
    finally:
        if keep:
            reader.give_back(cursor)
        else:
            cursor.close()


def read_segment(path, start, end, *, context=0.0, sample_rate=None):
    """Read the samples of one segment of a recording, without decoding the rest.

    The samples are those :class:`~skaloe.encoders.EncoderTransformer` embeds
    for the segment ``(path, start, end)``: the frames
    ``[floor(start * sr + 0.5), floor(end * sr + 0.5))`` of the file at its
    own rate ``sr``, channels averaged. Files whose seeks are exact
    (uncompressed WAV, AIFF, ... and FLAC) are read from a seek; other
    formats are decoded from their start up to ``end``.

    Parameters
    ----------
    path : str or path-like
        An audio file.
    start, end : float
        Bounds in seconds from the start of the recording, ``0 <= start <
        end``; ``end`` may pass the end of the recording by up to 1 ms.
    context : float, default=0.0
        Seconds of audio to add on each side (to play a segment with what
        surrounds it), clipped to the recording: the samples then run from
        ``max(0, start - context)`` to ``min(duration, end + context)``.
    sample_rate : int or None, default=None
        Resample to this rate (as the encoders resample, with soxr's high
        quality filter); None keeps the file's rate. ``16000`` gives exactly
        what an encoder receives (without ``context``).

    Returns
    -------
    samples : ndarray of shape (n_samples,), float32
        Mono samples.
    sample_rate : int
        Their rate: ``sample_rate``, or the file's rate.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from skaloe.encoders import read_segment
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "rec.wav")
    >>> sf.write(path, np.zeros((8000 * 30, 2)), 8000)   # 30 s, stereo
    >>> samples, sr = read_segment(path, 10.0, 11.5)
    >>> samples.shape, samples.dtype, sr
    ((12000,), dtype('float32'), 8000)
    >>> samples, sr = read_segment(path, 0.5, 1.5, context=1.0, sample_rate=16000)
    >>> len(samples) / sr                                # 0 to 2.5 s
    2.5
    >>> tmp.cleanup()
    """
    segment = check_segment(path, start, end, 0)
    context = float(context)
    if not (math.isfinite(context) and context >= 0):
        raise ValueError(f"context must be a finite number of seconds >= 0, got {context!r}.")
    if sample_rate is not None and (
        isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral)
        or sample_rate < MIN_SAMPLE_RATE
    ):
        raise ValueError(
            f"sample_rate must be None or a whole number of Hz, at least {MIN_SAMPLE_RATE}, "
            f"got {sample_rate!r}."
        )
    path = segment.path
    stat_audio_file(path, None)
    cursor = _Cursor(path, f"audio file {path!r}")
    stream = cursor.stream
    try:
        if context:
            lo = max(0.0, segment.start - context)
            hi = segment.end + context
            if stream.frames is not None:
                hi = min(hi, stream.frames / stream.sample_rate)
            segment = Segment(path, lo, max(hi, segment.end))
        (a, b), = resolve_spans(stream, [segment],
                                lambda k: describe_segment(segment))
        samples = cursor.read(a, b)
        if not context and len(samples) < b - a:
            raise ValueError(
                f"The {describe_segment(segment)} ends past the end of the recording, which "
                f"lasts {(a + len(samples)) / stream.sample_rate:.3f} s; fix the bounds."
            )
        if not len(samples):
            raise ValueError(f"The {describe_segment(segment)} holds no samples.")
        rate = stream.sample_rate
    finally:
        cursor.close()
    if sample_rate is None or sample_rate == rate:
        return samples, rate
    return resample_to(samples, rate, sample_rate), int(sample_rate)


def recording_length(path, where):
    """``(frames, sample_rate)`` of a recording: from its header, or by decoding it.

    Files libsndfile cannot open have no frame count that can be trusted, so
    they are decoded once through (bounded memory) to count their frames.
    """
    stream = open_stream(path, where)
    try:
        if stream.frames is not None:
            return stream.frames, stream.sample_rate
        n = 0
        while True:
            got = len(stream.read(1 << 20))
            if not got:
                return n, stream.sample_rate
            n += got
    finally:
        stream.close()


def span_energies(path, spans, where):
    """Mean square of the mono samples of each frame span ``(a, b)``.

    The file is decoded once, a block at a time, whatever the spans (they may
    overlap): running sums of squares in float64, read at the spans' bounds,
    give every span's energy without holding more than a block. A span that
    passes the end of the file is measured over what the file holds of it.
    """
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    bounds, where_in = np.unique(spans.ravel(), return_inverse=True)
    where_in = where_in.reshape(spans.shape)
    prefix = np.zeros(len(bounds), dtype=np.float64)  # sum of squares before each bound
    stream = open_stream(path, where)
    try:
        total, done = 0.0, 0
        pending = int(np.searchsorted(bounds, 0, side="right"))  # bounds at 0 have sum 0
        while pending < len(bounds):
            block = stream.read(1 << 18)
            if not len(block):
                break
            sums = np.cumsum(np.square(block, dtype=np.float64))
            sums += total
            stop = done + len(block)
            reached = int(np.searchsorted(bounds, stop, side="right"))
            prefix[pending:reached] = sums[bounds[pending:reached] - done - 1]
            total, done, pending = float(sums[-1]), stop, reached
    finally:
        stream.close()
    prefix[pending:] = total  # past the end of the file: nothing more to add
    ends = np.minimum(bounds, done if pending < len(bounds) else bounds[-1])
    lengths = ends[where_in[:, 1]] - ends[where_in[:, 0]]
    energy = prefix[where_in[:, 1]] - prefix[where_in[:, 0]]
    return np.maximum(energy, 0.0) / np.maximum(lengths, 1)
