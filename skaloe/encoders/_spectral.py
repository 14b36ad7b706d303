"""The built-in offline encoder: log-mel and MFCC frame features.

The classical baseline of Shor et al. (2020), "Towards Learning a Universal
Non-Semantic Representation of Speech", Table 2 ("Mel / MFCC"): log-magnitude
mel spectrograms and MFCCs computed with 25 ms windows and a 10 ms hop (their
section 4), pooled over time into per-clip statistics. 64 mel bands between
125 Hz and 7.5 kHz follow the TRILL/TRILLsson front ends.
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


def spectral_frames(batch, n_mels=64, n_mfcc=0):
    """Per-frame features of equal-length clips.

    Parameters
    ----------
    batch : ndarray of shape (n_clips, n_samples), float32
        Clips at 16 kHz, each at least ``WIN_LENGTH`` samples long.
    n_mels : int
        Mel bands.
    n_mfcc : int
        0 for log-mel features, else the number of MFCCs (DCT-II of the log-mel).

    Returns
    -------
    frames : ndarray of shape (n_clips, n_frames, n_features), float32
        Every clip's frames are computed from that clip alone.
    """
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(batch, WIN_LENGTH, axis=-1)[:, ::HOP_LENGTH]
    out = np.empty((batch.shape[0], frames.shape[1], n_mfcc or n_mels), dtype=np.float32)
    # A few thousand frames at a time: the windowed frames and their spectra take
    # about 45 bytes per input sample, too much for long recordings at once.
    for start in range(0, frames.shape[1], FRAME_CHUNK):
        windows = frames[:, start : start + FRAME_CHUNK] * _window()
        spectrum = np.fft.rfft(windows, n=N_FFT, axis=-1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32, copy=False)
        feats = np.log(power @ _mel_basis(n_mels) + np.float32(LOG_OFFSET))
        if n_mfcc:
            feats = feats @ _dct_matrix(n_mels, n_mfcc)
        out[:, start : start + FRAME_CHUNK] = feats
    return out
