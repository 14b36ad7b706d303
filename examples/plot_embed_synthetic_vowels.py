"""
========================================================
Classify synthetic vowels from audio files, with a cache
========================================================

This example goes from audio files on disk to a cross-validated classifier,
the way a real project would, without downloading anything:

1. synthesise a small speech-like dataset with
   :func:`~skaloe.datasets.make_vowels` and write it as WAV files, one folder
   per class, with :func:`~skaloe.datasets.save_audio_folder`;
2. list the files again with :func:`~skaloe.datasets.load_audio_folder`, as
   you would for your own recordings;
3. embed them with :class:`~skaloe.encoders.EncoderTransformer` (the built-in
   ``"mfcc"`` encoder) through the on-disk embedding cache, and compare a cold
   pass with a warm one;
4. cross-validate a :class:`~sklearn.pipeline.Pipeline` that takes file paths,
   on random folds and on speakers it has not heard;
5. look at the embeddings in two dimensions.

With a pretrained speech encoder, only the ``model`` argument changes, for
example ``EncoderTransformer("trillsson5", memory=...)`` (see
:ref:`encoders`).
"""

# %%
# Synthesise the audio and write it to disk
# -----------------------------------------
#
# :func:`~skaloe.datasets.make_vowels` makes one-second clips of twelve
# sustained vowels spoken by synthetic speakers who differ in pitch, vocal-tract
# length and voice quality (see :ref:`datasets-vowels`). Everything goes to a
# temporary folder that is removed at the end.

import tempfile
import time
from pathlib import Path

import numpy as np

from skaloe.datasets import load_audio_folder, make_vowels, save_audio_folder

workdir = tempfile.TemporaryDirectory(prefix="skaloe-example-")
root = Path(workdir.name)

vowels = make_vowels(480, n_speakers=40, random_state=0)
print(f"{len(vowels.data)} clips of {vowels.data.shape[1] / vowels.sample_rate:g} s, "
      f"vowels: {', '.join(vowels.target_names)}")

save_audio_folder(
    root / "vowels", vowels.data, vowels.target, target_names=vowels.target_names
)

# %%
# List the files, as for a real dataset
# -------------------------------------
#
# :func:`~skaloe.datasets.load_audio_folder` only lists paths and labels; no
# audio is decoded yet.

data = load_audio_folder(root / "vowels")
print(data.DESCR)
print(data.filenames[0].replace(workdir.name, "<tmp>"), "->", data.target_names[data.target[0]])

# %%
# Embed the files, cold and then warm
# -----------------------------------
#
# With ``memory`` set, every embedding is stored on disk, keyed by the encoder
# and by each file's path, size and modification time. The first pass decodes
# and embeds every file and writes the cache; a second pass, here by a brand
# new transformer as in a new Python session, only reads it back.
#
# The built-in encoder is warmed up on one clip first, so that the cold pass
# does not also pay for importing librosa.

from skaloe.encoders import EncoderTransformer

EncoderTransformer("mfcc").fit_transform(vowels.data[:1])

cache = root / "embedding-cache"

start = time.perf_counter()
X_cold = EncoderTransformer("mfcc", memory=cache).fit_transform(data.filenames)
t_cold = time.perf_counter() - start

start = time.perf_counter()
X_warm = EncoderTransformer("mfcc", memory=cache).fit_transform(data.filenames)
t_warm = time.perf_counter() - start

n = len(data.filenames)
print(f"embeddings: {X_cold.shape}, {X_cold.dtype}")
print(f"cold pass: {t_cold:6.3f} s ({n / t_cold:8.0f} clips/s)")
print(f"warm pass: {t_warm:6.3f} s ({n / t_warm:8.0f} clips/s), "
      f"{t_cold / t_warm:.0f}x faster")
print("identical:", np.array_equal(X_cold, X_warm))

# %%
# The cache is an ordinary folder: one subfolder per encoder configuration,
# with a ``model.json`` that says which, and the embeddings as NumPy files.
# Deleting it clears the cache.

for path in sorted((cache / "skaloe-embeddings").iterdir()):
    print(path.name, sorted(p.name.split(".", 1)[-1] for p in path.iterdir()))

# %%
# Cross-validate a pipeline that takes file paths
# -----------------------------------------------
#
# The encoder learns nothing in ``fit``, so it can sit in front of a
# classifier in a pipeline, and the pipeline takes the file paths directly.
# The classifier is a multinomial logistic regression, the same kind of linear
# softmax model that ALOE trains on top of its frozen encoder (a single dense
# layer with a softmax cross-entropy loss, ``utils.py`` in
# `HarlinLee/ALOE <https://github.com/HarlinLee/ALOE>`_). Every fold embeds
# its training and test files again, and all of them come from the cache.

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

model = make_pipeline(
    EncoderTransformer("mfcc", memory=cache),
    StandardScaler(),
    LogisticRegression(max_iter=1000),
)

start = time.perf_counter()
scores_random = cross_val_score(
    model, data.filenames, data.target, cv=StratifiedKFold(5, shuffle=True, random_state=0)
)
chance = 1 / len(data.target_names)
print(f"5-fold accuracy: {scores_random.mean():.3f} +/- {scores_random.std():.3f} "
      f"(chance: {chance:.3f}), in {time.perf_counter() - start:.2f} s")

# %%
# Random folds put clips of the same speaker on both sides of the split. To
# measure how well the model does on *new* speakers, keep each speaker on one
# side. :func:`~skaloe.datasets.save_audio_folder` named each file after the
# position of its clip, which gives back the speaker of every file.

clip_index = [int(Path(f).stem.rsplit("_", 1)[1]) for f in data.filenames]
speaker = vowels.speaker[clip_index]
scores_speakers = cross_val_score(
    model, data.filenames, data.target, groups=speaker, cv=GroupKFold(5)
)
print(f"5-fold accuracy on unseen speakers: {scores_speakers.mean():.3f} "
      f"+/- {scores_speakers.std():.3f}")

# %%
# The two results at a glance
# ---------------------------
#
# Left, the time to embed the files, without and with the cache; right, the
# accuracy of the pipeline, mean and standard deviation over the five folds,
# against chance.

import matplotlib.pyplot as plt

fig, (ax_time, ax_score) = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
bars = ax_time.bar(["first pass\n(embeds, fills cache)", "second pass\n(reads cache)"],
                   [t_cold, t_warm], color=["tab:gray", "tab:blue"], width=0.6)
ax_time.bar_label(bars, [f"{t_cold:.2f} s", f"{t_warm:.3f} s, {t_cold / t_warm:.0f}x faster"],
                  padding=3)
ax_time.margins(y=0.2)
ax_time.set_ylabel("seconds")
ax_time.set_title(f"Embedding {n} WAV files")

bars = ax_score.bar(["random folds", "new speakers"],
                    [scores_random.mean(), scores_speakers.mean()],
                    yerr=[scores_random.std(), scores_speakers.std()], capsize=4,
                    color="tab:blue", width=0.6)
ax_score.bar_label(bars, fmt="%.2f", padding=3, label_type="center", color="white")
ax_score.axhline(chance, color="black", ls="--")
ax_score.text(-0.45, chance + 0.02, "chance", va="bottom")
ax_score.set_ylim(0, 1)
ax_score.set_ylabel("accuracy (5 folds)")
ax_score.set_title("Classifying the files")
plt.show()

# %%
# Look at the embeddings
# ----------------------
#
# A two-dimensional PCA of the standardised embeddings, one colour per vowel;
# an X marks the mean of each vowel, with its name beside it. Vowels with close
# formant frequencies overlap, and the spread within a vowel comes from the
# speakers.

from matplotlib.transforms import Bbox
from sklearn.decomposition import PCA

X_2d = PCA(n_components=2).fit_transform(StandardScaler().fit_transform(X_warm))
colors = plt.get_cmap("tab20").colors[: len(data.target_names)]
centroids = np.array([X_2d[data.target == k].mean(axis=0)
                      for k in range(len(data.target_names))])


def label_points(ax, points, names, colors):
    """Mark each point with an X and write its name beside it, clear of other names and Xs.

    Each name takes the first free spot on rings of growing radius around its
    point, with a line back to the point when it had to move away from it.
    """
    ax.scatter(*points.T, s=80, marker="X", color=colors, edgecolors="black", zorder=3)
    ax.figure.draw_without_rendering()  # lay the figure out: the search is in pixels
    half = 6 * ax.figure.dpi / 72  # half the size of an X, in pixels
    taken = [Bbox.from_extents(x - half, y - half, x + half, y + half)
             for x, y in ax.transData.transform(points)]
    spots = [(radius * np.cos(angle), radius * np.sin(angle))  # in points
             for radius in range(12, 200, 6) for angle in np.deg2rad(range(90, 450, 30))]
    style = {"textcoords": "offset points", "ha": "center", "va": "center",
             "fontsize": 10, "fontweight": "bold", "zorder": 4}
    for point, name, color in zip(points, names, colors):
        for spot in spots:
            trial = ax.annotate(name, point, xytext=spot, **style)
            box = trial.get_window_extent().padded(4)  # with the rounded box around it
            trial.remove()
            if box.count_overlaps(taken) == 0 and ax.bbox.contains(*box.min) \
                    and ax.bbox.contains(*box.max):
                break
        taken.append(box)
        ax.annotate(name, point, xytext=spot, **style,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color, "lw": 1.5},
                    arrowprops=None if spot == spots[0] else {"arrowstyle": "-", "lw": 0.8})


fig, ax = plt.subplots(figsize=(7.5, 5.5), layout="constrained")
for k, name in enumerate(data.target_names):
    points = X_2d[data.target == k]
    ax.scatter(*points.T, s=12, alpha=0.6, color=colors[k], label=name)
ax.set_xlabel("first principal component")
ax.set_ylabel("second principal component")
ax.set_title("MFCC embeddings of the vowels in two dimensions (PCA)")
ax.legend(title="vowel", loc="upper left", bbox_to_anchor=(1.01, 1), markerscale=1.5)
label_points(ax, centroids, data.target_names, colors)
plt.show()

# %%
# Clean up the temporary folder (audio and cache).

workdir.cleanup()
