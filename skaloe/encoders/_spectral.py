"""The built-in spectral encoders: log-mel and MFCC frame features.

The classical baseline of Shor et al. (2020), "Towards Learning a Universal
Non-Semantic Representation of Speech", Table 2 ("Mel / MFCC"): log-magnitude
mel spectrograms and MFCCs computed with 25 ms windows and a 10 ms hop (their
section 4), pooled over time into per-clip statistics. 64 mel bands between
125 Hz and 7.5 kHz follow the TRILL/TRILLsson front ends. The MFCCs carry
their first and second time derivatives (deltas), the usual companions of
MFCCs in speech recognition (Furui 1986), which describe how the spectrum
moves, not only where it sits.
"""

from __future__ import annotations

import functools

import numpy as np

from ._registry import MODEL_SAMPLE_RATE

WIN_LENGTH = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms
N_FFT = 512
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 1e-6
FRAME_CHUNK = 4096  # frames (41 s) transformed at once: bounds the memory for long clips


@functools.lru_cache(maxsize=None)
def _mel_basis(n_mels):
    import librosa

    basis = librosa.filters.mel(
        sr=MODEL_SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels, fmin=FMIN, fmax=FMAX
    )
    return np.ascontiguousarray(basis.T, dtype=np.float32)  # (n_fft // 2 + 1, n_mels)


@functools.lru_cache(maxsize=None)
def _window():
    n = np.arange(WIN_LENGTH)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / WIN_LENGTH)).astype(np.float32)  # periodic Hann


@functools.lru_cache(maxsize=None)
def _dct_matrix(n_mels, n_mfcc):
    from scipy.fft import dct

    return np.ascontiguousarray(
        dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc].T, dtype=np.float32
    )


DELTA_WIDTH = 4  # frames on each side of the regression: a 9-frame window, librosa's default


def add_deltas(frames, order):
    """Append ``order`` orders of time derivatives to per-frame features.

    The regression delta of HTK and librosa (``librosa.feature.delta`` with
    ``width=9, mode="nearest"``): ``d_t = sum_n n (c_{t+n} - c_{t-n}) /
    (2 sum_n n^2)`` for ``n = 1..4``, with the edge frames repeated beyond the
    clip's ends. Delta-deltas are, as in HTK, the deltas of the deltas.

    Parameters
    ----------
    frames : ndarray of shape (n_clips, n_frames, n_features), float32
    order : int
        0, 1 (deltas) or 2 (deltas and delta-deltas).

    Returns
    -------
    frames : ndarray of shape (n_clips, n_frames, n_features * (1 + order))
    """
    parts = [frames]
    current = frames
    weights = np.arange(1, DELTA_WIDTH + 1, dtype=np.float32)
    denominator = np.float32(2 * np.sum(weights**2))
    n_frames = frames.shape[1]
    for _ in range(order):
        padded = np.pad(current, ((0, 0), (DELTA_WIDTH, DELTA_WIDTH), (0, 0)), mode="edge")
        delta = np.zeros_like(current)
        for n, w in enumerate(weights, start=1):
            delta += w * (padded[:, DELTA_WIDTH + n:DELTA_WIDTH + n + n_frames]
                          - padded[:, DELTA_WIDTH - n:DELTA_WIDTH - n + n_frames])
        delta /= denominator
        parts.append(delta)
        current = delta
    return np.concatenate(parts, axis=2) if order else frames


def spectral_frames(batch, n_mels=64, n_mfcc=0, dtype=np.float32):
    """Per-frame features of equal-length clips.

    Parameters
    ----------
    batch : ndarray of shape (n_clips, n_samples), float32
        Clips at 16 kHz, each at least ``WIN_LENGTH`` samples long.
    n_mels : int
        Mel bands.
    n_mfcc : int
        0 for log-mel features, else the number of MFCCs (DCT-II of the log-mel).
    dtype : {np.float32, np.float64}, default=np.float32
        Precision of the spectra. Power spectra overflow float32 for samples
        reaching about 1e17 (a spike, 1e19); in float64 any float32 clip gives
        finite features.

    Returns
    -------
    frames : ndarray of shape (n_clips, n_frames, n_features), float32
        Every clip's frames are computed from that clip alone.
    """
    batch = np.ascontiguousarray(batch, dtype=dtype)
    window = _window().astype(dtype, copy=False)
    mel_basis = _mel_basis(n_mels).astype(dtype, copy=False)
    frames = np.lib.stride_tricks.sliding_window_view(batch, WIN_LENGTH, axis=-1)[:, ::HOP_LENGTH]
    out = np.empty((batch.shape[0], frames.shape[1], n_mfcc or n_mels), dtype=np.float32)
    # A few thousand frames at a time: the windowed frames and their spectra take
    # about 45 bytes per input sample, too much for long recordings at once.
    for start in range(0, frames.shape[1], FRAME_CHUNK):
        windows = frames[:, start : start + FRAME_CHUNK] * window
        spectrum = np.fft.rfft(windows, n=N_FFT, axis=-1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(dtype, copy=False)
        feats = np.log(power @ mel_basis + dtype(LOG_OFFSET))
        if n_mfcc:
            feats = feats @ _dct_matrix(n_mels, n_mfcc).astype(dtype, copy=False)
        out[:, start : start + FRAME_CHUNK] = feats
    return out
