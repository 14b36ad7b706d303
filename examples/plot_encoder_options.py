"""
====================================================
Encoder options: pooling, callables, pandas, padding
====================================================

:class:`~skaloe.encoders.EncoderTransformer` has a handful of options that
decide what an embedding is. This example runs through them on clips held in
memory, offline:

- what the named TF-Hub models resolve to (without downloading them);
- how ``pooling`` turns per-frame features into one vector, and the dimension
  each choice gives;
- a plain Python function used as the encoder;
- pandas output with ``set_output(transform="pandas")``;
- how clips shorter than a model's minimum length are padded.

The user guide page :ref:`encoders` explains each of these in more detail.
"""

# %%
# Clips of different lengths
# --------------------------
#
# :func:`~skaloe.datasets.make_vowels` with a ``(low, high)`` duration returns
# a list of 1-D float32 waveforms at 16 kHz, each of its own length. A list
# like that, a 2-D array of equal-length clips or a list of file paths are all
# valid input.

import numpy as np

from skaloe.datasets import make_vowels

clips, labels = make_vowels(
    240, n_classes=6, duration=(0.3, 1.2), return_X_y=True, random_state=0
)
lengths = [len(clip) for clip in clips]
print(f"{len(clips)} clips from {min(lengths)} to {max(lengths)} samples")

# %%
# What the TF-Hub aliases stand for
# ---------------------------------
#
# :func:`~skaloe.encoders.available_models` lists the names ``model`` accepts.
# ``fit`` only resolves the name, it neither downloads the model nor imports
# TensorFlow, so we can look at what each alias means: how the model is
# called, which output holds the embedding, its dimension, the pooling used by
# default and the minimum clip length.

import pandas as pd

from skaloe.encoders import EncoderTransformer, available_models



def describe_output(info):
    """Where the embedding is in what the model returns."""
    if info.kind == "spectral":
        return "-"
    if isinstance(info.output_key, str):
        return f"[{info.output_key!r}]"
    if isinstance(info.output_key, int):
        return f"tuple[{info.output_key}]"
    return "tensor"


rows = []
for name in available_models():
    info = EncoderTransformer(name).fit(clips[:1]).encoder_
    rows.append({
        "model": name,
        "call convention": info.call if info.kind != "spectral" else "(built in)",
        "output": describe_output(info),
        "dim": info.dim,
        "pooling": info.pooling or "inside the model",
        "min length": info.min_length,
    })
print(pd.DataFrame(rows).to_string(index=False))

# %%
# Using one of them only changes ``model``. The first call downloads the model
# into ``TFHUB_CACHE_DIR`` (or reads it from there), which is why this example
# does not run it:
#
# .. code-block:: python
#
#     import os
#     os.environ["TFHUB_CACHE_DIR"] = os.path.expanduser("~/tfhub-models")
#
#     encoder = EncoderTransformer("trillsson5", memory="embedding-cache")
#     X = encoder.fit_transform(clips)          # (240, 1024), one vector per clip
#
#     # TRILL: per-frame 512-d "embedding" output, mean-pooled per clip
#     X = EncoderTransformer("trill", output_key="embedding").fit_transform(clips)
#
#     # the same model from a local copy, with no network at all
#     X = EncoderTransformer("/models/trillsson5").fit_transform(clips)
#
# An unreachable handle fails within ``timeout`` seconds with
# :class:`~skaloe.encoders.ModelUnavailableError`, whose message says how to
# use a local copy (see :ref:`encoders-offline`).

# %%
# Pooling frames into one vector
# ------------------------------
#
# The built-in spectral encoders compute one row of features every 10 ms:
# ``logmel`` 64 bands, ``mfcc`` 20 coefficients with their deltas and
# delta-deltas (60 values). ``pooling`` summarises those rows per clip.
# ``"mean+std"``, their default, concatenates the mean and the standard
# deviation (for ``mfcc``, the mean of the 20 coefficients only: a time
# derivative averages to about zero), ``"max"`` takes every value's maximum.

rows = []
for name in ("mfcc", "logmel"):
    for pooling in ("mean", "max", "mean+std"):
        X = EncoderTransformer(name, pooling=pooling).fit_transform(clips)
        rows.append({"model": name, "pooling": pooling, "dim": X.shape[1]})
print(pd.DataFrame(rows).to_string(index=False))

# %%
# The first half of a ``"mean+std"`` embedding is the ``"mean"`` embedding:

X_mean = EncoderTransformer("mfcc", pooling="mean").fit_transform(clips)
X_mean_std = EncoderTransformer("mfcc", pooling="mean+std").fit_transform(clips)
print(np.allclose(X_mean_std[:, :20], X_mean))

# %%
# A Python function as the encoder
# --------------------------------
#
# Any callable that maps a float32 waveform at 16 kHz to a vector, or to
# per-frame rows ``(n_frames, dim)``, can be the encoder. Here a few classic
# spectral-shape descriptors per 25 ms frame: energy, spectral centroid,
# spread and roll-off point, and zero-crossing rate. The frames are pooled
# with ``pooling`` like those of any model. ``min_length=400`` makes sure
# every clip holds at least one frame.

FREQS = np.fft.rfftfreq(512, d=1 / 16000)
WINDOW = np.hanning(400)


def spectral_shape(waveform):
    """Five descriptors for each 25 ms frame (10 ms hop) of a 16 kHz clip."""
    frames = np.lib.stride_tricks.sliding_window_view(waveform, 400)[::160]
    power = np.abs(np.fft.rfft(frames * WINDOW, n=512, axis=1)) ** 2 + 1e-12
    weights = power / power.sum(axis=1, keepdims=True)
    centroid = weights @ FREQS
    spread = np.sqrt(weights @ FREQS**2 - centroid**2)
    rolloff = FREQS[np.argmax(np.cumsum(weights, axis=1) >= 0.85, axis=1)]
    zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
    energy = np.log(power.sum(axis=1))
    return np.column_stack([energy, centroid / 1000, spread / 1000, rolloff / 1000, zcr])


shape_encoder = EncoderTransformer(spectral_shape, pooling="mean+std", min_length=400)
X_shape = shape_encoder.fit_transform(clips)
print("callable encoder:", X_shape.shape)

# %%
# Both encoders feed the same linear probe. A handful of hand-made
# descriptors captures much less of the vowel than the 20 MFCCs do, which is
# the point of using learned or richer representations.

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

for name, encoder in [("spectral_shape", shape_encoder), ("mfcc", EncoderTransformer("mfcc"))]:
    probe = make_pipeline(encoder, StandardScaler(), LogisticRegression(max_iter=1000))
    scores = cross_val_score(probe, clips, labels, cv=4)
    print(f"{name:>15s}: accuracy {scores.mean():.3f}")

# %%
# A module-level function like this one is fingerprinted by its code, so its
# embeddings can be cached with ``memory`` like a model's. A function that
# takes a whole batch of equal-length clips ``(n_clips, n_samples)`` and
# returns one row per clip is declared with ``call_convention="batch"``:


def peak_and_rms(batch):
    """Peak amplitude and RMS level of each clip of a batch."""
    return np.column_stack([np.abs(batch).max(axis=1), np.sqrt((batch**2).mean(axis=1))])


X_level = EncoderTransformer(peak_and_rms, call_convention="batch").fit_transform(clips)
print("batch callable:", X_level.shape)

# %%
# pandas output
# -------------
#
# Like any scikit-learn transformer, the encoder can return a
# :class:`pandas.DataFrame`, with one column per embedding dimension.

encoder = EncoderTransformer("mfcc").set_output(transform="pandas")
df = encoder.fit_transform(clips)
print(df.iloc[:3, :4].to_string(float_format="%.2f"))
print("columns:", list(encoder.get_feature_names_out()[:3]), "...")

# %%
# Padding clips that are too short
# --------------------------------
#
# Each model has a minimum input length (``min_length``, in samples at
# 16 kHz): one 25 ms window (400 samples) for the built-in encoders, about
# one second for VGGish and FRILL (see :ref:`encoders-aliases` for where those
# numbers come from). Shorter clips are padded at their end by
# mirroring the signal, NumPy's ``"symmetric"`` mode. A 15 ms clip therefore
# still gets an embedding:

short = clips[0][4000:4240]  # 240 samples, 15 ms
print(EncoderTransformer("mfcc").fit_transform([short]).shape)

# %%
# A larger ``min_length`` pads every clip to at least that length. The
# embedding is then exactly that of the mirror-padded clip:

padded = np.pad(short, (0, 16000 - len(short)), mode="symmetric")
X_auto = EncoderTransformer("mfcc", min_length=16000).fit_transform([short])
X_manual = EncoderTransformer("mfcc").fit_transform([padded])
print(np.array_equal(X_auto, X_manual))

# %%
# What the padded clip looks like: the 15 ms clip, then its mirror image, then
# the clip again, and so on up to ``min_length``. The first 60 ms of the padded
# second:

import matplotlib.pyplot as plt

t = np.arange(960) / 16  # ms
fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
ax.plot(t[: len(short)], short, color="tab:blue", lw=1.5, label="the 15 ms clip", zorder=3)
ax.plot(t, padded[:960], color="tab:orange", lw=1, label="mirror padding")
ax.axvline(len(short) / 16, color="gray", ls=":", lw=1)
ax.set_xlabel("time (ms)")
ax.set_ylabel("amplitude")
ax.set_title("A 15 ms clip padded to min_length=16000 by mirroring (first 60 ms)")
fig.legend(loc="outside lower center", ncols=2, frameon=False)
plt.show()
