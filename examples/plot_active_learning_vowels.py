"""
=======================================================
Active learning on audio: ALOE's loop, margin vs random
=======================================================

This example runs the loop of ALOE (Lee et al., 2023) on an offline,
speech-like dataset: a frozen encoder embeds the audio once, a logistic
regression learns from a few labels, and :class:`~skaloe.active.ActiveLearner`
asks for the labels that should teach it most. Smallest-margin uncertainty
sampling is compared with random sampling, both starting from the same labels,
against the accuracy of the same classifier trained on every label (the
full-data linear probe).

Here a "person" is played by the true labels. In a real labeling session the
loop is the same: ``learner.query(n)``, listen to those clips, then
``learner.teach(indices, labels)``.
"""

# %%
# Data: synthetic vowels, embedded once
# -------------------------------------
#
# :func:`~skaloe.datasets.make_vowels` makes clips of twelve sustained vowels by
# varied synthetic speakers. The default encoder, ``"ge2e"``, a pretrained
# speech network whose weights ship with skaloe, embeds them offline; with
# internet, ``EncoderTransformer("trillsson5")`` is ALOE's encoder.

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaloe import ActiveLearner, EncoderTransformer, seed_per_class
from skaloe.datasets import make_vowels

data = make_vowels(960, random_state=0)
X = EncoderTransformer().fit_transform(data.data)  # (960, 1536) float32
X_pool, X_test, y_pool, y_test = train_test_split(
    X, data.target, test_size=0.25, stratify=data.target, random_state=0
)
n_classes = len(data.target_names)
print(f"pool: {X_pool.shape}, test: {X_test.shape}, {n_classes} classes")

# %%
# The loop
# --------
#
# ALOE seeds every run with a few labels per class
# (:func:`~skaloe.active.seed_per_class`), then asks, each round, one label per
# predicted class (``selection="class-aware"``, ``query(n_classes)``).


def run(strategy, seed, n_rounds=20):
    learner = ActiveLearner(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        query_strategy=strategy,
        random_state=seed,
    ).fit(X_pool)
    start = seed_per_class(y_pool, 2, random_state=seed)
    learner.teach(start, y_pool[start])
    labels, accuracy = [len(start)], [learner.score(X_test, y_test)]
    for _ in range(n_rounds):
        idx = learner.query(n_classes)
        learner.teach(idx, y_pool[idx])
        labels.append(int(learner.labeled_mask_.sum()))
        accuracy.append(learner.score(X_test, y_test))
    return np.array(labels), np.array(accuracy)


seeds = range(3)
curves = {s: np.array([run(s, seed)[1] for seed in seeds]) for s in ("margin", "random")}
labels = run("random", 0, n_rounds=20)[0]
full = (
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    .fit(X_pool, y_pool)
    .score(X_test, y_test)
)
for strategy, acc in curves.items():
    print(f"{strategy:>6s}: {acc.mean(axis=0)[-1]:.3f} with {labels[-1]} labels")
print(f"  full: {full:.3f} with {len(y_pool)} labels")

# %%
# Learning curves
# ---------------
#
# Mean and spread over three seed sets. Margin sampling tends to climb faster:
# it spends labels where the classifier hesitates between two vowels.

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4))
for strategy, acc in curves.items():
    mean, std = acc.mean(axis=0), acc.std(axis=0)
    ax.plot(labels, mean, marker="o", ms=3, label=f"{strategy} sampling")
    ax.fill_between(labels, mean - std, mean + std, alpha=0.2)
ax.axhline(full, color="k", ls="--", label=f"trained on all {len(y_pool)} labels")
ax.set_xlabel("labeled clips")
ax.set_ylabel("held-out accuracy")
ax.set_title("Margin vs random sampling on synthetic vowels")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
