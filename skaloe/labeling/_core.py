"""What every labeling session shares: clip positions, labels, audio for a player, status.

:class:`~skaloe.labeling.DurableSession` (labels committed to SQLite, the web
page) and :class:`~skaloe.labeling.LabelingSession` (labels in memory, the
notebook widget) both ask an :class:`~skaloe.active.ActiveLearner` for clips
and give it labels; the checks on what a person sends, the audio a player
gets and the summary a person reads are written once, here.
"""

from __future__ import annotations

import numbers
import os
from collections import Counter

import numpy as np

from ..active import UNLABELED


def plain(value):
    """numpy scalars as Python scalars, for display and for label types."""
    return value.item() if isinstance(value, np.generic) else value


def check_position(position, n_pool):
    """A clip's pool position as an int; a TypeError or IndexError that says what is wrong."""
    position = plain(position)
    if not isinstance(position, numbers.Integral) or isinstance(position, bool):
        raise TypeError(f"A clip must be given by its int pool position, got {position!r}.")
    if not 0 <= position < n_pool:
        raise IndexError(
            f"Clip {position} is not in the pool (positions 0 to {n_pool - 1})."
        )
    return int(position)


def check_label(label, classes=None):
    """A label a person chose: hashable, not empty, not the ``-1`` marker, one of ``classes``."""
    label = plain(label)
    if label is None:
        raise ValueError("A label cannot be None; leave the clip unlabeled instead.")
    if isinstance(label, numbers.Number) and not isinstance(label, bool) and label == UNLABELED:
        raise ValueError("-1 marks unlabeled samples; it cannot be used as a label.")
    if isinstance(label, str) and not label.strip():
        raise ValueError("A label cannot be an empty string.")
    try:
        hash(label)
    except TypeError:
        raise TypeError(f"Label {label!r} is not hashable; use a str or an int.") from None
    if classes is not None and label not in classes:
        raise ValueError(f"Unknown label {label!r}; choose one of the session's classes {classes}.")
    return label


def format_clock(seconds):
    """A time in a recording as ``h:mm:ss.s`` (tenths of a second, rounded half up)."""
    tenths = int(np.floor(float(seconds) * 10 + 0.5))
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    return f"{hours}:{minutes:02d}:{rest // 10:02d}.{rest % 10}"


def segment_wav_bytes(path, start, end, context=0.0):
    """The samples of a segment, with ``context`` seconds each side, as 16-bit PCM WAV.

    The samples are those :func:`~skaloe.encoders.read_segment` reads (the
    file's own rate, channels averaged), so the player holds exactly the
    segment, and its context clipped to the recording; being freshly
    encoded, they carry no metadata chunk of the recording's.
    """
    from ..encoders import read_segment
    from ..encoders._audio import pcm16_wav_bytes

    samples, rate = read_segment(path, start, end, context=context)
    return pcm16_wav_bytes(samples, rate)


def played_span(start, end, context, recording_seconds):
    """``(from, to)``: the part of the recording a segment's player holds, in seconds.

    The segment with ``context`` seconds each side, clipped to the recording
    as :func:`~skaloe.encoders.read_segment` clips it; ``recording_seconds``
    None (a length the header does not give) clips the start only.
    """
    low = max(0.0, start - context)
    high = end + context
    if recording_seconds is not None:
        high = max(min(high, recording_seconds), end)
    return low, high


def clip_wav_bytes(clip, position, sample_rate, *, audio_only=False, context=0.0):
    """A clip as WAV bytes a browser plays.

    A WAV file is sent as it is; another file is decoded (16 kHz mono) and a
    waveform is kept at ``sample_rate``, both as 16-bit PCM WAV. A segment of
    a recording (:class:`~skaloe.encoders.Segment`) is read alone, with
    ``context`` seconds each side (:func:`segment_wav_bytes`). An unreadable
    file raises an OSError that names it. With ``audio_only``, a WAV file
    loses its metadata chunks (titles, the recorder's file name), which may
    name the clip's class; its audio is sent unchanged.
    """
    from ..encoders import Segment
    from ..encoders._audio import load_clip, pcm16_wav_bytes, wav_audio_only, wav_file_bytes
    from ..encoders._registry import MODEL_SAMPLE_RATE

    if isinstance(clip, Segment):
        return segment_wav_bytes(clip.path, clip.start, clip.end, context)
    if isinstance(clip, str):
        if os.path.splitext(clip)[1].lower() in (".wav", ".wave"):
            try:
                data = wav_file_bytes(clip)
            except OSError:
                data = None  # load_clip raises an error that names the file
            if data is not None and audio_only:
                data = wav_audio_only(data)  # None: decoded below
            if data is not None:
                return data
        return pcm16_wav_bytes(load_clip(clip, position, MODEL_SAMPLE_RATE), MODEL_SAMPLE_RATE)
    # Validated and converted to float32, not resampled: at the model's rate
    # load_clip resamples nothing, and the WAV keeps the clip's own rate.
    return pcm16_wav_bytes(load_clip(clip, position, MODEL_SAMPLE_RATE), sample_rate)


def clip_duration(clip, sample_rate):
    """A clip's length in seconds, from a file's header; None when it cannot be read.

    Only the header is read (``soundfile.info``), never the audio, and only
    of a regular file (a named pipe is never opened). A waveform's length is
    its number of samples over ``sample_rate``; a segment's, its end minus
    its start.
    """
    from ..encoders import Segment

    if isinstance(clip, Segment):
        return clip.end - clip.start
    if not isinstance(clip, str):
        n = int(np.shape(clip)[0]) if np.ndim(clip) else 0
        return n / sample_rate if n else None
    from ..encoders._audio import regular_file_stat

    if regular_file_stat(clip)[1] is not None:
        return None
    try:
        import soundfile

        info = soundfile.info(clip)
    except Exception:  # not a format libsndfile reads: the player finds out itself
        return None
    if info.samplerate <= 0 or info.frames <= 0:
        return None
    return info.frames / info.samplerate


def label_counts(labels, classes=None):
    """``{label: count}``: every one of ``classes`` (zero if unused), else those seen, sorted."""
    counts = Counter(plain(v) for v in labels)
    if classes is not None:
        return {c: counts.get(c, 0) for c in classes}
    try:
        return dict(sorted(counts.items()))
    except TypeError:  # labels of types that do not compare
        return dict(counts)


def learner_report(learner):
    """The learner's own advice (validation score, stopping rules), or None without either."""
    if learner.stopping_ or learner.validation_score_ is not None:
        return learner.stopping_hint().split("; ", 1)[-1]
    return None
