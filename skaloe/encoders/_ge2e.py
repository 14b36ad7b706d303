"""The embedded GE2E speech encoder: Resemblyzer 0.1.4's network, run with numpy.

GE2E (Wan, Wang, Papir and Lopez Moreno, "Generalized End-to-End Loss for
Speaker Verification", ICASSP 2018) is a three-layer LSTM trained to tell
speakers apart. Resemblyzer 0.1.4 (resemble-ai/Resemblyzer, Apache-2.0)
publishes a trained copy; ``data/ge2e.npz`` holds its parameters, converted
without torch by ``tools/convert_ge2e.py`` (``data/LICENSE-resemblyzer`` and
``data/NOTICE-ge2e`` beside it). The preprocessing follows Resemblyzer's
``audio.py`` and ``voice_encoder.py``:

- 16 kHz mono; the volume is raised (never lowered) to -30 dBFS;
- power (not log) mel spectrogram: 25 ms periodic Hann windows (n_fft 400),
  10 ms hop, centred frames with zero padding, 40 Slaney mel bands up to
  8 kHz (librosa's defaults);
- partial utterances of 160 frames (1.6 s) every 77 frames (1.3 per second),
  the last one dropped when less than 3/4 of it holds audio (but one is
  always kept); the waveform is zero-padded to the end of the last partial;
- LSTM(40 -> 256) x 3 over each partial. The speaker vector (d-vector) is
  the top layer's final hidden state through Linear(256, 256), ReLU and L2
  normalisation, averaged over partials and normalised again.

Resemblyzer also trims long silences with webrtcvad before embedding; skaloe
does not (see the encoders page of the user guide): clips are embedded as
given.

The readouts skaloe offers (``output_key``):

- ``"hidden"`` (default): for each LSTM layer, the mean and standard
  deviation over frames of its hidden states (3 x 512 = 1536 values),
  averaged over the partials. Frames that only hold the zero padding of a
  short clip are left out (see :data:`POOL_REAL_FRAMES`).
- ``"layer1"``, ``"layer2"``, ``"layer3"``: the same statistics of one layer
  (512 values); a lower layer costs less, since the layers above it are not run.
- ``"speaker"``: the d-vector (256 values), equal to Resemblyzer's
  ``VoiceEncoder.embed_utterance`` of the volume-normalised clip.
"""

# Authors: The skaloe developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import functools
import hashlib
import io
import math
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIAL_RATE = 1.3  # partials per second
MIN_COVERAGE = 0.75
FRAME_STEP = int(round(SAMPLE_RATE / PARTIAL_RATE / HOP))  # 77 frames
TARGET_DBFS = -30.0
HIDDEN = 256
N_LAYERS = 3

#: Readout name -> (layers to run, embedding dimension)
OUTPUTS = {
    "hidden": (3, 2 * HIDDEN * N_LAYERS),
    "layer1": (1, 2 * HIDDEN),
    "layer2": (2, 2 * HIDDEN),
    "layer3": (3, 2 * HIDDEN),
    "speaker": (3, HIDDEN),
}

#: Pool hidden-state statistics over the frames that hold audio only, not over
#: the zero padding that fills the partial of a short clip (a 1 s clip is 100
#: frames of audio in a 160-frame partial). Measured with
#: benchmarks/bench_encoder_quality.py (docs: benchmarks page): see there.
POOL_REAL_FRAMES = True

#: Bump when anything that changes an embedding changes (cache identity).
VERSION = 1

WEIGHTS_FILE = Path(__file__).resolve().parent / "data" / "ge2e.npz"
WEIGHTS_SHA256 = "db983d4f425debf5ef4f5b57c261fd191577be6dad78c0245fc58169dda74f1a"

#: Partials run through the LSTM at once, per worker.
BLOCK_PARTIALS = 96

#: Time steps whose input projection is computed at once (one matrix product
#: for all partials): 32 steps of 96 partials hold 12 MB, where all 160 steps
#: held 63 MB per worker. Each row of the product is the same whatever the
#: number of rows, so this changes no embedding.
XW_STEPS = 32


class _Weights:
    """The network's parameters, laid out for the forward pass.

    Gate rows are reordered from PyTorch's (input, forget, cell, output) to
    (input, forget, output, cell), and the rows of the three sigmoid gates are
    halved: ``sigmoid(x) = (1 + tanh(x / 2)) / 2``, so one ``tanh`` over a
    whole row of pre-activations serves all four gates (numpy's tanh is
    several times faster than a sigmoid).
    """

    def __init__(self, arrays):
        order = np.concatenate([np.arange(0, 512), np.arange(768, 1024), np.arange(512, 768)])
        scale = np.ones(4 * HIDDEN, dtype=np.float32)
        scale[:3 * HIDDEN] = 0.5
        self.layers = []
        for k in range(N_LAYERS):
            w_ih = arrays[f"lstm_weight_ih_l{k}"][order] * scale[:, None]
            w_hh = arrays[f"lstm_weight_hh_l{k}"][order] * scale[:, None]
            bias = (arrays[f"lstm_bias_ih_l{k}"] + arrays[f"lstm_bias_hh_l{k}"])[order] * scale
            self.layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T),
                                bias.astype(np.float32)))
        self.linear_w = np.ascontiguousarray(arrays["linear_weight"].T)
        self.linear_b = arrays["linear_bias"].astype(np.float32)


@functools.lru_cache(maxsize=1)
def load_weights():
    """The GE2E parameters shipped with skaloe, checked against their SHA-256."""
    try:
        data = WEIGHTS_FILE.read_bytes()
    except OSError as exc:
        raise RuntimeError(
            f"The GE2E weights file {WEIGHTS_FILE} cannot be read ({exc}); reinstall skaloe "
            "(pip install --force-reinstall skaloe)."
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise RuntimeError(
            f"The GE2E weights file {WEIGHTS_FILE} is damaged (SHA-256 {digest[:16]}..., "
            f"expected {WEIGHTS_SHA256[:16]}...); reinstall skaloe "
            "(pip install --force-reinstall skaloe), or rebuild it with tools/convert_ge2e.py."
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return _Weights({name: arrays[name].astype(np.float32) for name in arrays.files})


def cache_identity():
    """What the embedding cache keys GE2E embeddings on, beside the readout."""
    return {"ge2e": f"v{VERSION}-{WEIGHTS_SHA256[:16]}-real{int(POOL_REAL_FRAMES)}"}


@functools.lru_cache(maxsize=1)
def _mel_basis():
    import librosa

    # librosa's defaults, as Resemblyzer calls it: Slaney scale and norm, fmax 8 kHz.
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)
    return np.ascontiguousarray(basis.T, dtype=np.float32)  # (201, 40)


@functools.lru_cache(maxsize=1)
def _window():
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)  # periodic Hann


def normalize_volume(wav):
    """Raise the volume to -30 dBFS (PCM16 scale); louder clips and silence are unchanged."""
    rms = math.sqrt(float(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms == 0.0:
        return wav
    change = TARGET_DBFS - 20.0 * math.log10(rms)  # dBFS of samples in [-1, 1]
    if change < 0:
        return wav
    return (wav * np.float32(10.0 ** (change / 20.0))).astype(np.float32, copy=False)


def partial_starts(n_samples):
    """First mel frame of each partial utterance of a clip of ``n_samples`` samples."""
    n_frames = int(math.ceil((n_samples + 1) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + FRAME_STEP + 1), FRAME_STEP))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def mel_partials(wav, starts):
    """Power mel frames of the partials that start at ``starts``: (n, 160, 40), float32.

    Frame ``j`` is centred on sample ``j * 160`` of the clip, zero-padded at
    both ends, as librosa's centred STFT of the zero-padded waveform gives it.
    Only the frames the partials cover are computed.
    """
    first, n_frames = starts[0], starts[-1] + PARTIAL_FRAMES - starts[0]
    half = N_FFT // 2
    padded = np.zeros((n_frames - 1) * HOP + N_FFT, dtype=np.float32)
    begin = first * HOP - half  # the sample under the first window's first point
    lo, hi = max(begin, 0), min(len(wav), begin + len(padded))
    if hi > lo:
        padded[lo - begin:hi - begin] = wav[lo:hi]
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n_frames]
    spectrum = np.fft.rfft(frames * _window(), axis=-1)
    # Samples around 1e17 and beyond overflow: the embedding is then refused by the
    # runner's output check, which names the clip, so numpy need not warn here.
    with np.errstate(over="ignore", invalid="ignore"):
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        mel = power @ _mel_basis()
    return np.stack([mel[s - first:s - first + PARTIAL_FRAMES] for s in starts])


def _matmul(a, b, out=None):
    """``a @ b`` whose rows do not depend on how many rows ``a`` has.

    OpenBLAS computes a one-row product on another path (matrix-vector) whose
    sums round differently; a lone row is multiplied as two, so a clip's
    embedding never depends on which other clips share its block.
    """
    if a.shape[0] != 1:
        return np.matmul(a, b, out=out)
    result = np.matmul(np.concatenate([a, a]), b)[:1]
    if out is None:
        return result
    out[...] = result
    return out


def lstm_forward(x, lengths, n_layers, weights):
    """Run the LSTM over time-major partials.

    Parameters
    ----------
    x : ndarray of shape (160, n, 40), float32
        Mel frames, time first; partials sorted by decreasing ``lengths``.
    lengths : ndarray of shape (n,), int
        Steps to run per partial (at most 160); a partial's later frames are
        neither run nor pooled, and its hidden states there stay 0.
    n_layers : int
        Layers to run (1 to 3).

    Returns
    -------
    hidden : list of ndarray of shape (max(lengths), n, 256), float32
        Each layer's hidden states.
    """
    steps = int(lengths.max())  # no partial runs further
    x = x[:steps]
    n = x.shape[1]
    active = np.searchsorted(-lengths, -np.arange(steps), side="left")  # partials alive at t
    outputs = []
    for w_ih, w_hh, bias in weights.layers[:n_layers]:
        h = np.zeros((n, HIDDEN), dtype=np.float32)
        c = np.zeros((n, HIDDEN), dtype=np.float32)
        z = np.empty((n, 4 * HIDDEN), dtype=np.float32)
        out = np.zeros((steps, n, HIDDEN), dtype=np.float32)
        for t in range(steps):
            m = int(active[t])
            if m == 0:
                break
            if t % XW_STEPS == 0:  # the input projection of the next steps, all partials
                stop = min(t + XW_STEPS, steps)
                xw = _matmul(x[t:stop].reshape((stop - t) * n, -1), w_ih)
                xw = xw.reshape(stop - t, n, 4 * HIDDEN)
                xw += bias
            zt = z[:m]
            _matmul(h[:m], w_hh, out=zt)
            zt += xw[t % XW_STEPS, :m]
            np.tanh(zt, out=zt)
            gates = zt[:, :3 * HIDDEN]  # tanh(x / 2) -> sigmoid(x)
            gates *= 0.5
            gates += 0.5
            cell = zt[:, 3 * HIDDEN:]
            cell *= gates[:, :HIDDEN]  # input gate x candidate
            c_m = c[:m]
            c_m *= gates[:, HIDDEN:2 * HIDDEN]  # forget gate
            c_m += cell
            h_m = np.tanh(c_m, out=h[:m])
            h_m *= gates[:, 2 * HIDDEN:]  # output gate
            out[t, :m] = h_m
        outputs.append(out)
        x = out
    return outputs


def _l2_normalize(v):
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _plan(n_samples, output_key, pool_real_frames):
    """Partial starts of a clip and the frames each one runs (and pools)."""
    starts = partial_starts(n_samples)
    if output_key == "speaker" or not pool_real_frames:
        return starts, [PARTIAL_FRAMES] * len(starts)
    audio_frames = max(1, int(math.ceil(n_samples / HOP)))  # frames centred inside the clip
    return starts, [min(PARTIAL_FRAMES, max(1, audio_frames - s)) for s in starts]


def partial_sums(pieces, output_key, weights):
    """Sum over each piece's partials of their readout.

    ``pieces`` is a list of ``(wav, starts, lengths)``: partials of one clip
    (its volume already normalised). Returns float64 sums, (n_pieces, dim):
    of the L2-normalised d-vectors for ``"speaker"``, else of the per-partial
    mean and standard deviation of each layer's hidden states.
    """
    n_layers, dim = OUTPUTS[output_key]
    mel = np.concatenate([mel_partials(wav, starts) for wav, starts, _ in pieces])
    lengths = np.concatenate([np.asarray(lens, dtype=np.intp) for _, _, lens in pieces])
    owner = np.repeat(np.arange(len(pieces)), [len(starts) for _, starts, _ in pieces])
    order = np.argsort(-lengths, kind="stable")
    x = np.ascontiguousarray(mel[order].transpose(1, 0, 2))
    hidden = lstm_forward(x, lengths[order], n_layers, weights)
    if output_key == "speaker":
        final = hidden[-1][-1]  # (n, 256): every partial ran all 160 steps
        per_partial = _l2_normalize(
            np.maximum(_matmul(final, weights.linear_w) + weights.linear_b, 0))
    else:
        layers = hidden if output_key == "hidden" else hidden[n_layers - 1:]
        n_frames = lengths[order].astype(np.float64)[:, None]
        stats = []
        for h in layers:
            mean = h.sum(axis=0, dtype=np.float64) / n_frames
            squares = np.einsum("tnd,tnd->nd", h, h, dtype=np.float64)
            stats += [mean, np.sqrt(np.maximum(squares / n_frames - mean**2, 0.0))]
        per_partial = np.concatenate(stats, axis=1)
    sums = np.zeros((len(pieces), dim), dtype=np.float64)
    np.add.at(sums, owner[order], per_partial)
    return sums


def embed(waveforms, output_key, *, n_jobs=None, pool_real_frames=None,
          block_partials=BLOCK_PARTIALS):
    """Embed 16 kHz float32 clips: one float32 row per clip.

    The partials of all clips run through the LSTM together, in blocks of
    about ``block_partials``; blocks run on ``n_jobs`` threads, each with one
    BLAS thread (the LSTM's small matrix products only slow down with more).
    A clip's embedding is the mean over its partials, whatever block they
    ran in.
    """
    from threadpoolctl import threadpool_limits

    from ._runners import _parallel_map

    weights = load_weights()
    real = POOL_REAL_FRAMES if pool_real_frames is None else pool_real_frames
    pieces, piece_owner, counts = [], [], np.zeros(len(waveforms), dtype=np.float64)
    for i, wav in enumerate(waveforms):
        wav = normalize_volume(np.asarray(wav, dtype=np.float32))
        starts, lengths = _plan(len(wav), output_key, real)
        counts[i] = len(starts)
        for a in range(0, len(starts), block_partials):  # a long clip in several pieces
            pieces.append((wav, starts[a:a + block_partials], lengths[a:a + block_partials]))
            piece_owner.append(i)
    blocks, current, size = [], [], 0
    for k, (_, starts, _) in enumerate(pieces):
        if current and size + len(starts) > block_partials:
            blocks.append(current)
            current, size = [], 0
        current.append(k)
        size += len(starts)
    if current:
        blocks.append(current)
    with threadpool_limits(limits=1, user_api="blas"):
        results = _parallel_map(
            lambda block: partial_sums([pieces[k] for k in block], output_key, weights),
            blocks, n_jobs)
    dim = OUTPUTS[output_key][1]
    sums = np.zeros((len(waveforms), dim), dtype=np.float64)
    piece_owner = np.asarray(piece_owner, dtype=np.intp)
    for block, block_sums in zip(blocks, results):
        np.add.at(sums, piece_owner[block], block_sums)
    mean = sums / counts[:, None]
    if output_key == "speaker":
        mean = _l2_normalize(mean)
    return mean.astype(np.float32)
