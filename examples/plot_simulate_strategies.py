"""
==========================================================
Comparing query strategies with a simulation, and stopping
==========================================================

Before asking a person for labels, you can measure on data that is already
labeled how much each query strategy would save: an oracle answers every query
from the known labels. :func:`~skaloe.experiment.simulate` runs ALOE's
protocol (Lee et al., 2023): every run starts all strategies from the same
seed labels (a few per class), then asks for one label per predicted class per
round; the validation score is recorded after every round, the test score at
the end, beside the classifier trained on the whole pool ("all labels": a
reference to come close to, not a ceiling).

This example compares smallest-margin, entropy and random sampling on an
offline, speech-like dataset, prints ALOE-style tables, draws the learning
curves and the final scores, and asks two stopping rules where they would have
stopped.
"""

# %%
# Data: synthetic vowels, embedded once, split three ways
# -------------------------------------------------------
#
# :func:`~skaloe.datasets.make_vowels` makes clips of twelve sustained vowels;
# the built-in ``"mfcc"`` encoder embeds them without any download (with
# internet, ``"trillsson5"`` is ALOE's encoder). The pool is what the learners
# query; the validation set is scored after every round; the test set once,
# at the end.

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skaloe.datasets import make_vowels
from skaloe.encoders import EncoderTransformer

data = make_vowels(600, random_state=0)
X = EncoderTransformer("mfcc").fit_transform(data.data)  # (600, 80) float32
y = np.asarray(data.target_names)[data.target]  # class names as labels

X_rest, X_test, y_rest, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=0
)
X_pool, X_val, y_pool, y_val = train_test_split(
    X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0
)
scaler = StandardScaler().fit(X_pool)  # no label used
X_pool, X_val, X_test = (scaler.transform(a) for a in (X_pool, X_val, X_test))
print(f"pool {len(y_pool)}, validation {len(y_val)}, test {len(y_test)}")

# %%
# The simulation
# --------------
#
# Three runs of 15 class-aware rounds from 2 labels per class. Two stopping
# rules watch every run without cutting it short; each final record gets the
# number of labels at which the rule would first have said stop:
#
# - :class:`~skaloe.active.PlateauStopping`: the validation accuracy has not
#   improved by more than ``min_delta`` for ``patience`` rounds (ALOE's advice:
#   monitor validation accuracy and stop once it plateaus);
# - :class:`~skaloe.active.StabilizingPredictions`: successive models agree on
#   an unlabeled stop set, Cohen's kappa between their predictions at least
#   ``threshold`` for ``window`` rounds in a row (Bloodgood and Vijay-Shanker,
#   2009). It needs no validation labels. Its authors used a threshold of
#   0.99; on this tiny pool, where 12 new labels still move many predictions,
#   0.95 is used so that it has a chance to stop within 15 rounds.

from skaloe.active import PlateauStopping, StabilizingPredictions
from skaloe.experiment import simulate

results = simulate(
    X_pool, y_pool, X_val, y_val, X_test, y_test,
    strategies=["margin", "entropy", "random"],
    selections=["class-aware"],
    n_rounds=15,
    n_per_class=2,
    n_runs=3,
    stopping=[
        PlateauStopping(patience=3, min_delta=0.01, name="validation accuracy"),
        StabilizingPredictions(window=3, threshold=0.95, random_state=0),
    ],
    random_state=0,
)
print(results)

# %%
# Tables
# ------
#
# :meth:`~skaloe.experiment.SimulationResults.summary` is the table of ALOE's
# paper: final validation and test accuracy, mean and standard deviation over
# runs, one row per strategy, then "all labels". ``to_text()`` prints it
# with percentages.

print(results.summary().to_text())

# %%
# The number that matters when labels are costly: how many labels each
# strategy needed to come within 95% of the all-labels validation accuracy,
# and how many fewer that is than random sampling needed
# (:meth:`~skaloe.experiment.SimulationResults.labels_to_reach`,
# :meth:`~skaloe.experiment.SimulationResults.labels_saved`).

reach = results.labels_to_reach(0.95)
saved = results.labels_saved(0.95)
for (strategy, selection), r in reach.items():
    line = f"{strategy:>7s}: reached {r['target']:.3f} in {r['n_reached']} of {r['n_runs']} runs"
    if r["n_reached"]:
        line += f", after {r['n_labels']:.0f} labels on average"
    if (strategy, selection) in saved:
        saving, at_least = saved[strategy, selection]
        line += f"; {'at least ' if at_least else ''}{saving:.0%} fewer labels than random"
    print(line)

# %%
# Every round of every run is a record; ``to_frame()`` gives them to pandas
# (``to_csv`` and ``to_json`` write them to files, ``from_json`` reads them
# back). Here, the mean validation accuracy after 48 labels:

frame = results.to_frame()
print(frame[frame["n_labels"] == 48].groupby("strategy")["val_score"].mean().round(3))

# %%
# Where the stopping rules would have stopped, per run ("never": not within
# the 15 rounds), and over runs with
# :meth:`~skaloe.experiment.SimulationResults.stop_points`:


def where(n_labels):
    return "never" if n_labels is None else f"{n_labels} labels"


for end in results.final:
    print(
        f"run {end['run']}  {end['strategy']:>7s}:  plateau at "
        f"{where(end['stop_PlateauStopping'])},  stable predictions at "
        f"{where(end['stop_StabilizingPredictions'])}"
    )
plateau = results.stop_points()["margin", "class-aware"]["PlateauStopping"]
print(
    f"margin sampling: the plateau rule stopped in {plateau['n_stopped']} of "
    f"{plateau['n_runs']} runs, at {plateau['n_labels']:.0f} labels on average, "
    f"with a validation accuracy of {plateau['val_score']:.3f} there"
)

# %%
# Plots
# -----
#
# :class:`~skaloe.experiment.ActiveLearningCurveDisplay` draws the learning
# curves (mean validation accuracy against labels, a band of one standard
# deviation over runs, the all-labels score dashed), as in ALOE's Fig. 2;
# :class:`~skaloe.experiment.StrategyComparisonDisplay` draws the final test
# accuracy of each strategy, as in ALOE's Fig. 3 and Table 2. Both draw on
# the axes you give them. The markers on the curves show where each stopping
# rule would have stopped, averaged over the runs where it did.

import matplotlib.pyplot as plt

from skaloe.experiment import ActiveLearningCurveDisplay, StrategyComparisonDisplay

fig, (ax_curves, ax_bars) = plt.subplots(1, 2, figsize=(11, 4))
ActiveLearningCurveDisplay.from_results(results, ax=ax_curves)
ax_curves.set_xlabel("labeled clips")
ax_curves.set_title("Learning curves (validation)")
StrategyComparisonDisplay.from_results(results, ax=ax_bars)
ax_bars.set_ylim(0.5, 1.0)
ax_bars.set_title("After 15 rounds (test)")
fig.tight_layout()
plt.show()

# %%
# With so few rounds the strategies are close; on real embeddings ALOE found
# uncertainty sampling ahead of random sampling at every round (Fig. 2) and the
# uncertainty strategies close to one another (Fig. 3). The same comparison
# runs from the command line on an ``.npz`` written by ``skaloe embed``::
#
#     skaloe simulate embeddings.npz --strategies margin,entropy,random \
#         --rounds 15 --runs 3 --n-per-class 2 --stopping plateau,stabilizing
