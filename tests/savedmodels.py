"""Tiny stand-ins for the TF-Hub audio encoders skaloe supports.

Each ``build_*_like(path)`` function saves a small ``tf.Module`` as a
SavedModel whose ``__call__`` has the same input signature and output
structure as the real TF-Hub model, so code that loads and calls encoders
can be tested offline, through ``tensorflow_hub.load`` included (see
:func:`place_in_tfhub_cache`).

The models are deterministic (weights come from a fixed-seed NumPy
generator) and depend on the audio content: the waveform is turned into a
64-band log-mel spectrogram (25 ms windows, 10 ms hop, as in the real
models), the spectrogram is summarised (mean and standard deviation per
band) over each output frame, and the summary goes through fixed random
dense layers to the output size. Frame counts follow the real models:

* TRILLsson: ``[B, T] -> {"embedding": [B, dim]}``; each row is mirror-padded
  to at least 2 s, pooled over all its frames, and computed independently
  of the other rows. Zero-padding a clip changes its embedding.
* TRILL / TRILL-distilled: ``(samples=[T], sample_rate=16000)`` ->
  ``{"embedding": [N, 512], "layer19": [N, 12288]}`` /
  ``{"embedding": [N, 2048]}``; clips are zero-padded to one 0.96 s frame,
  frames are 0.96 s with a 0.48 s hop.
* FRILL: ``[1, T] -> {"embedding": [N, 2048]}``; inputs shorter than
  0.96 s (15360 samples) raise ``InvalidArgumentError``.
* YAMNet: ``[T] -> (scores [N, 521], embeddings [N, 1024], log_mel [M, 64])``
  with the real model's padding rule, so any clip gives at least one frame.
* VGGish: ``[T] -> [N, 128]`` with ``N = 1 + (T - 15600) // 15360`` and
  ``N = 0`` for clips shorter than 15600 samples.
"""

import hashlib
import os
import shutil

import numpy as np
import tensorflow as tf

SAMPLE_RATE = 16000
N_MELS = 64
STFT_WINDOW = 400  # 25 ms
STFT_HOP = 160  # 10 ms
FFT_LENGTH = 512
PATCH_FRAMES = 96  # 0.96 s of log-mel frames
PATCH_HOP = 48  # 0.48 s

# Handles of the real models each builder imitates.
HANDLES = {
    "trillsson": "https://tfhub.dev/google/nonsemantic-speech-benchmark/trillsson5/1",
    "trill": "https://tfhub.dev/google/nonsemantic-speech-benchmark/trill/3",
    "trill-distilled": (
        "https://tfhub.dev/google/nonsemantic-speech-benchmark/trill-distilled/3"
    ),
    "frill": "https://tfhub.dev/google/nonsemantic-speech-benchmark/frill/1",
    "yamnet": "https://tfhub.dev/google/yamnet/1",
    "vggish": "https://tfhub.dev/google/vggish/1",
}


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------


def _const(array, name):
    """Store a NumPy array as a frozen float32 variable."""
    return tf.Variable(np.asarray(array, np.float32), trainable=False, name=name)


def _dense_weights(rng, n_in, n_out):
    """Random weights scaled so that pre-activations stay around unit size."""
    return rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)


def _mel_matrix():
    """[257, 64] mel filterbank (125-7500 Hz), as in YAMNet and VGGish."""
    return tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=N_MELS,
        num_spectrogram_bins=FFT_LENGTH // 2 + 1,
        sample_rate=SAMPLE_RATE,
        lower_edge_hertz=125.0,
        upper_edge_hertz=7500.0,
    ).numpy()


def _log_mel(x, mel, offset):
    """Log-mel spectrogram over the last axis: [..., T] -> [..., M, 64].

    ``M = 1 + (T - 400) // 160``; the caller makes sure ``T >= 400``.
    """
    stft = tf.signal.stft(x, STFT_WINDOW, STFT_HOP, fft_length=FFT_LENGTH)
    return tf.math.log(tf.tensordot(tf.abs(stft), mel, axes=1) + offset)


def _summarise(log_mel, axis):
    """Mean and standard deviation of each band over ``axis``, roughly scaled
    to [-2, 2]: [..., frames, 64] -> [..., 128]."""
    mean = tf.reduce_mean(log_mel, axis=axis)
    std = tf.math.reduce_std(log_mel, axis=axis)
    return tf.concat([(mean + 1.0) / 4.0, std / 2.0], axis=-1)


def _patches(log_mel, hop):
    """0.96 s patches of a [M, 64] log-mel: -> [N, 96, 64], N may be 0."""
    return tf.signal.frame(log_mel, PATCH_FRAMES, hop, axis=0)


def _pad_end(x, n_samples):
    """Zero-pad a 1-D waveform at the end to at least ``n_samples``."""
    missing = tf.maximum(0, n_samples - tf.shape(x)[0])
    return tf.pad(x, [[0, missing]])


def _mirror_pad(x, n_samples):
    """Symmetric padding of [B, T] rows at the end to at least ``n_samples``.

    Works for any T >= 1 by repeating the row and its reverse
    (x, reversed x, x, ...) and cutting to length.
    """
    length = tf.shape(x)[1]
    target = tf.maximum(length, n_samples)
    period = tf.concat([x, tf.reverse(x, axis=[1])], axis=1)
    reps = (target + 2 * length - 1) // (2 * length)
    return tf.tile(period, [1, reps])[:, :target]


def _frame_features(x, mel):
    """Per-frame summary for TRILL-like models: [T] -> [N, 128].

    Pads 240 zeros at the end so there is one log-mel frame per 10 ms
    (``M = T // 160``); then 0.96 s frames with a 0.48 s hop.
    """
    x = tf.pad(x, [[0, STFT_WINDOW - STFT_HOP]])
    log_mel = _log_mel(x, mel, 1e-3)
    return _summarise(_patches(log_mel, PATCH_HOP), axis=1)


def _save(module, path):
    path = os.fspath(path)
    tf.saved_model.save(module, path)
    return path


# --------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------


class _TrillssonLike(tf.Module):
    """``m(x)`` with x [B, T] -> {"embedding": [B, dim]}."""

    min_samples = 2 * SAMPLE_RATE

    def __init__(self, dim, seed=0):
        super().__init__(name="trillsson_like")
        rng = np.random.default_rng(seed)
        self.mel = _const(_mel_matrix(), "mel")
        self.w = _const(_dense_weights(rng, 2 * N_MELS, dim), "w")
        self.b = _const(0.1 * rng.standard_normal(dim), "b")

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def __call__(self, x):
        x = _mirror_pad(x, self.min_samples)
        log_mel = _log_mel(x, self.mel, 1e-3)  # [B, M, 64]
        features = _summarise(log_mel, axis=1)  # [B, 128]
        return {"embedding": tf.tanh(features @ self.w + self.b)}


class _TrillLike(tf.Module):
    """``m(samples=x, sample_rate=16000)`` with x [T] -> per-frame dict."""

    def __init__(self, embedding_dim, with_layer19, seed):
        super().__init__(name="trill_like")
        rng = np.random.default_rng(seed)
        self.with_layer19 = with_layer19
        self.mel = _const(_mel_matrix(), "mel")
        self.w1 = _const(_dense_weights(rng, 2 * N_MELS, 96), "w1")
        self.b1 = _const(0.1 * rng.standard_normal(96), "b1")
        self.w2 = _const(_dense_weights(rng, 96, embedding_dim), "w2")
        if with_layer19:
            # layer19 [N, 96 * 128]: hidden units times fixed per-unit patterns.
            self.v = _const(rng.standard_normal((96, 128)), "v")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def __call__(self, samples, sample_rate):
        tf.debugging.assert_equal(
            sample_rate, SAMPLE_RATE, message="TRILL-like: sample_rate must be 16000"
        )
        x = _pad_end(samples, PATCH_FRAMES * STFT_HOP)  # one frame at least
        hidden = tf.tanh(_frame_features(x, self.mel) @ self.w1 + self.b1)
        out = {"embedding": tf.tanh(hidden @ self.w2)}
        if self.with_layer19:
            layer19 = hidden[:, :, None] * self.v[None]
            out["layer19"] = tf.reshape(layer19, [-1, 96 * 128])
        return out


class _FrillLike(tf.Module):
    """``m(x[None])`` with x [1, T], T >= 15360 -> {"embedding": [N, 2048]}."""

    min_samples = PATCH_FRAMES * STFT_HOP  # 0.96 s

    def __init__(self, seed=3):
        super().__init__(name="frill_like")
        rng = np.random.default_rng(seed)
        self.mel = _const(_mel_matrix(), "mel")
        self.w = _const(_dense_weights(rng, 2 * N_MELS, 2048), "w")
        self.b = _const(0.1 * rng.standard_normal(2048), "b")

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.float32)])
    def __call__(self, x):
        tf.debugging.assert_greater_equal(
            tf.shape(x)[1],
            self.min_samples,
            message="FRILL-like: audio must be at least 0.96 s (15360 samples)",
        )
        features = _frame_features(x[0], self.mel)
        return {"embedding": tf.tanh(features @ self.w + self.b)}


class _YamnetLike(tf.Module):
    """``m(x)`` with x [T] -> (scores [N, 521], embeddings [N, 1024],
    log_mel [M, 64])."""

    def __init__(self, seed=4):
        super().__init__(name="yamnet_like")
        rng = np.random.default_rng(seed)
        self.mel = _const(_mel_matrix(), "mel")
        self.w = _const(_dense_weights(rng, 2 * N_MELS, 1024), "w")
        self.b = _const(0.1 * rng.standard_normal(1024), "b")
        # Low-rank classifier keeps the file small.
        self.c1 = _const(_dense_weights(rng, 1024, 16), "c1")
        self.c2 = _const(_dense_weights(rng, 16, 521), "c2")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, waveform):
        # YAMNet's rule: pad to one 0.975 s patch, then to whole 0.48 s hops.
        min_samples = STFT_WINDOW + (PATCH_FRAMES - 1) * STFT_HOP  # 15600
        hop = PATCH_HOP * STFT_HOP  # 7680
        n = tf.maximum(tf.shape(waveform)[0], min_samples)
        n_hops = (n - min_samples + hop - 1) // hop
        x = _pad_end(waveform, min_samples + n_hops * hop)
        log_mel = _log_mel(x, self.mel, 1e-3)
        features = _summarise(_patches(log_mel, PATCH_HOP), axis=1)
        embeddings = tf.tanh(features @ self.w + self.b)
        scores = tf.sigmoid(embeddings @ self.c1 @ self.c2)
        return scores, embeddings, log_mel


class _VggishLike(tf.Module):
    """``m(x)`` with x [T] -> [N, 128], 0.96 s frames without overlap."""

    def __init__(self, seed=5):
        super().__init__(name="vggish_like")
        rng = np.random.default_rng(seed)
        self.mel = _const(_mel_matrix(), "mel")
        self.w = _const(_dense_weights(rng, 2 * N_MELS, 128), "w")
        self.b = _const(0.1 * rng.standard_normal(128), "b")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, waveform):
        # Padding below one STFT window only avoids an empty STFT; such clips
        # still give zero frames.
        x = _pad_end(waveform, STFT_WINDOW)
        log_mel = _log_mel(x, self.mel, 1e-2)
        features = _summarise(_patches(log_mel, PATCH_FRAMES), axis=1)
        return tf.tanh(features @ self.w + self.b)


# --------------------------------------------------------------------------
# Public builders
# --------------------------------------------------------------------------


def build_trillsson_like(path, dim=1024):
    """Save a TRILLsson-like SavedModel at ``path`` and return ``path``."""
    return _save(_TrillssonLike(dim), path)


def build_trill_like(path):
    """Save a TRILL-v3-like SavedModel at ``path`` and return ``path``."""
    return _save(_TrillLike(512, with_layer19=True, seed=1), path)


def build_trill_distilled_like(path):
    """Save a TRILL-distilled-like SavedModel at ``path`` and return ``path``."""
    return _save(_TrillLike(2048, with_layer19=False, seed=2), path)


def build_frill_like(path):
    """Save a FRILL-like SavedModel at ``path`` and return ``path``."""
    return _save(_FrillLike(), path)


def build_yamnet_like(path):
    """Save a YAMNet-like SavedModel at ``path`` and return ``path``."""
    return _save(_YamnetLike(), path)


def build_vggish_like(path):
    """Save a VGGish-like SavedModel at ``path`` and return ``path``."""
    return _save(_VggishLike(), path)


BUILDERS = {
    "trillsson": build_trillsson_like,
    "trill": build_trill_like,
    "trill-distilled": build_trill_distilled_like,
    "frill": build_frill_like,
    "yamnet": build_yamnet_like,
    "vggish": build_vggish_like,
}


def place_in_tfhub_cache(saved_model_dir, cache_dir, handle):
    """Copy a SavedModel to where ``tensorflow_hub`` caches ``handle``.

    The compressed-format resolver stores a handle under
    ``cache_dir/sha1(handle).hexdigest()`` and uses a non-empty folder found
    there without downloading. With ``TFHUB_CACHE_DIR=cache_dir``,
    ``tensorflow_hub.load(handle)`` then loads the copy. Returns the folder.
    """
    target = os.path.join(
        os.fspath(cache_dir), hashlib.sha1(handle.encode("utf8")).hexdigest()
    )
    shutil.copytree(os.fspath(saved_model_dir), target, dirs_exist_ok=True)
    return target
