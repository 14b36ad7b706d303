"""
=====================================================================
Graph-based active learning at one to eight labels per class
=====================================================================

ALOE (Lee et al., 2023) fits a linear softmax classifier on frozen embeddings
and only ever looks at the labeled clips. With a handful of labels per class,
the unlabeled pool carries information too: clips of one class tend to lie
close to one another in a good embedding space.
:class:`~skaloe.graph.GraphClassifier` uses it. It builds a k-nearest-neighbour
graph over the whole pool and propagates the few labels along it, with Laplace
learning (Zhu et al., ICML 2003) or Poisson learning (Calder et al., ICML
2020).

This example compares, on an offline speech-like dataset, the linear probe of
ALOE with Laplace and Poisson learning, all three with smallest-margin,
class-aware queries, from one to eight labels per class. It then shows how
``batch_diversity="kmeans++"`` keeps near copies of a clip out of one batch.
See :ref:`graph` in the user guide for the formulas and when to use which.
"""

# %%
# Data: synthetic vowels, embedded once
# -------------------------------------
#
# :func:`~skaloe.datasets.make_vowels` makes clips of twelve sustained vowels;
# the built-in ``"mfcc"`` encoder embeds them without any download. A quarter
# of the clips is held out to score the models after every round; the rest is
# the pool the learners query. Standardizing the features (on the pool, no
# label used) puts every dimension on the same scale, which both the linear
# probe and the Euclidean neighbour search of the graph want.

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaloe.datasets import make_vowels
from skaloe.encoders import EncoderTransformer

data = make_vowels(600, random_state=0)
X = EncoderTransformer("mfcc").fit_transform(data.data)  # (600, 80) float32
y = np.asarray(data.target_names)[data.target]
n_classes = len(data.target_names)

X_pool, X_val, y_pool, y_val = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_pool)
X_pool, X_val = scaler.transform(X_pool), scaler.transform(X_val)
print(f"pool {len(y_pool)}, held out {len(y_val)}, {n_classes} classes")

# %%
# Three learners, one protocol
# ----------------------------
#
# :func:`~skaloe.experiment.simulate` answers every query from the known labels.
# Each run starts from one label per class (``n_per_class=1``, the same seed
# labels for every learner of a run) and asks one label per predicted class per
# round (class-aware batches), for seven rounds: one to eight labels per class.
#
# The estimator is the only difference. ``None`` is ALOE's linear probe
# (``LogisticRegression``); a :class:`~skaloe.graph.GraphClassifier` is fitted
# on the whole pool, the unlabeled clips marked ``-1``. Its graph is built on
# the first fit of a run and reused by every later round (it depends only on
# the pool, which the classifier recognises by content), so a round costs one
# sparse linear solve. The held-out clips are new points for a graph
# classifier: each one takes the weighted average of the class distributions
# of its nearest pool clips.

from skaloe.experiment import simulate
from skaloe.graph import GraphClassifier

learners = {
    "linear probe (ALOE)": None,
    "Laplace learning": GraphClassifier("laplace", n_neighbors=10),
    "Poisson learning": GraphClassifier("poisson", n_neighbors=10),
}
results = {
    name: simulate(
        X_pool, y_pool, X_val, y_val,
        estimator=estimator,
        strategies=["margin"],
        selections=["class-aware"],
        n_rounds=7,
        n_per_class=1,
        n_runs=3,
        random_state=0,
    )
    for name, estimator in learners.items()
}

# %%
# Held-out accuracy, mean over the three runs, at each number of labels per
# class:

print("labels/class  " + "  ".join(f"{name:>20}" for name in results))
curves = {name: next(iter(r.curves().values())) for name, r in results.items()}
n_labels = np.asarray(next(iter(curves.values()))[0], dtype=int)
for i, n in enumerate(n_labels):
    row = "  ".join(f"{curves[name][1][i]:>20.3f}" for name in results)
    print(f"{n // n_classes:>12d}  {row}")

# %%
# Learning curves
# ---------------
#
# :class:`~skaloe.experiment.ActiveLearningCurveDisplay` draws the curves of
# one simulation; drawing each on the same axes, with its own label, puts the
# three learners side by side. The dashed line is the linear probe trained on
# every label of the pool.

import matplotlib.pyplot as plt

from skaloe.experiment import ActiveLearningCurveDisplay

fig, ax = plt.subplots(figsize=(7, 4.5))
for i, (name, result) in enumerate(results.items()):
    ActiveLearningCurveDisplay.from_results(
        result,
        ax=ax,
        upper_bound=(i == 0),
        line_kw={"label": name, "marker": "o"},
    )
ax.set_xticks(n_labels)
ax.set_xticklabels([str(n // n_classes) for n in n_labels])
ax.set_xlabel("labels per class")
ax.set_ylabel("held-out accuracy")
ax.set_title("Smallest-margin queries, class-aware batches")
fig.tight_layout()
plt.show()

# %%
# With one or two labels per class, propagating them over the graph of the
# pool beats the linear probe, which has only twelve or twenty-four points to
# place its decision boundaries with. As labels accumulate the linear probe
# catches up. The size and sign of the gap depend on how well the embedding
# separates the classes (these MFCC statistics of synthetic vowels are a weak
# embedding), so measure it on your own embeddings: ``benchmarks/bench_graph.py
# --embeddings FILE.npz`` runs this comparison on any file written by
# ``skaloe embed``.
#
# The graph classifier also has an acquisition of its own, model change
# (Miller & Bertozzi, 2021), which ranks clips by how much labelling them
# would move the graph model::
#
#     from skaloe.active import ActiveLearner
#     from skaloe.graph import GraphClassifier, model_change_scores
#
#     learner = ActiveLearner(GraphClassifier("poisson"),
#                             query_strategy=model_change_scores)

# %%
# Diverse batches: keeping near copies apart
# ------------------------------------------
#
# Real pools hold near duplicates: a recording cut into overlapping windows,
# one speaker saying the same word many times. They get nearly the same score,
# so the ``n`` highest scores can be a few clips asked several times over. To
# make this visible, every pool clip is copied four times here, with a tiny
# perturbation, and a learner that starts from one label per class asks for
# a class-agnostic batch of 12.

from skaloe.active import ActiveLearner, seed_per_class

rng = np.random.RandomState(0)
source = np.repeat(np.arange(len(X_pool)), 4)  # the clip each row copies
X_copies = X_pool[source] + rng.normal(scale=1e-3, size=(len(source), X_pool.shape[1]))
y_copies = y_pool[source]
start = seed_per_class(y_copies, 1, random_state=0)

for diversity in [None, "kmeans++"]:
    learner = ActiveLearner(
        selection="class-agnostic", batch_diversity=diversity, random_state=0
    ).fit(X_copies)
    learner.teach(start, y_copies[start])
    batch = learner.query(12)
    print(
        f"batch_diversity={diversity!s:>9}: 12 queries cover "
        f"{len(np.unique(source[batch])):2d} distinct clips"
    )

# %%
# Plain top-12 spends most of the batch on copies of the same few clips.
# ``"kmeans++"`` takes the best candidate, then draws the others among the
# 120 best candidates, each with a probability proportional to its squared
# distance to the nearest clip already chosen: a copy of a chosen clip is at
# distance almost zero and is practically never drawn. ``"cluster-margin"``
# (Citovsky et al., 2021) spreads a batch over clusters of the pool instead.
# Class-aware batches are spread over predicted classes already, and copies
# of a clip are predicted alike, so with them the effect shows when a batch
# asks several labels per class.
