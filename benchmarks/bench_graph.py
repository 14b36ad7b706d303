"""Graph-based active learning against ALOE's linear probe, at 1-10 labels per class.

ALOE (Lee et al., 2023) trains a linear softmax classifier on frozen
embeddings and asks for the smallest-margin clips; its authors name
graph-based active learning as the next step (seed 000, section 5). This
script puts the two side by side on the same embeddings, the same seed
labels and the same budget:

- ``linear + margin``: ALOE, ``LogisticRegression`` + smallest margin,
  class-aware batches (one label per predicted class per round);
- ``linear + random``: the same classifier, clips picked at random;
- ``laplace + margin``, ``poisson + margin``: :class:`skaloe.graph.GraphClassifier`
  (Laplace or Poisson learning on a k-NN graph of the pool) with the same
  smallest-margin class-aware queries, on its graph scores;
- ``poisson + model change``: Poisson learning with the model-change
  acquisition (:func:`skaloe.graph.model_change_scores`);
- ``poisson + random``: Poisson learning, clips picked at random.

Every method starts from one label per class (the same seed set for every
method within a run, a new one per run) and asks ``n_classes`` labels per
round for 9 rounds, so the curves run from 1 to 10 labels per class. The
score is accuracy on a held-out test set (graph methods predict a test clip
from its nearest pool clips). Printed: mean +- std over runs at each budget,
the difference between each graph method and the linear probe with margin
sampling (marked where it exceeds the spread over runs), the budgets where
each graph method is ahead and where it is not, and the time per run of each
method.

Data: by default the offline synthetic vowels (:func:`skaloe.datasets.make_vowels`)
embedded with the built-in ``mfcc`` encoder; ``--embeddings FILE.npz`` takes
any file written by ``skaloe embed`` (arrays ``embeddings`` and ``labels``),
e.g. TRILLsson embeddings of a real dataset.

Usage::

    python benchmarks/bench_graph.py                        # synthetic, 10 runs
    python benchmarks/bench_graph.py --runs 3               # quick
    python benchmarks/bench_graph.py --embeddings sc.npz    # your embeddings
    python benchmarks/bench_graph.py --large-only --large-pool 100000   # graph cost at scale

``--large-pool N`` times what the learning curves do not show: building the
k-NN graph of an N x 1024 float32 pool once (exact neighbours), then each
round's refit and query, with the default ``warm_start=False`` (a fresh clone
solved from zero each round) and with ``warm_start=True`` (a second learner,
whose classifier finds the first one's graph by content; each solve starts
from the previous round's), and the model-change scores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic_embeddings(n_samples, random_state):
    from skaloe.datasets import make_vowels
    from skaloe.encoders import EncoderTransformer

    data = make_vowels(n_samples, random_state=random_state)
    X = EncoderTransformer("mfcc").fit_transform(data.data)
    return X, np.asarray(data.target), f"synthetic vowels ({n_samples} clips, mfcc)"


def file_embeddings(path):
    with np.load(path, allow_pickle=False) as f:
        if "labels" not in f.files:
            raise SystemExit(f"{path} has no 'labels' array; embed a labeled folder.")
        X = np.asarray(f["embeddings"], dtype=np.float32)
        y = np.asarray(f["labels"])
    return X, y, f"{path} ({len(y)} clips, {X.shape[1]} dimensions)"


def methods(n_neighbors, random_state):
    from skaloe.graph import GraphClassifier, model_change_scores

    def graph(method):
        return GraphClassifier(method=method, n_neighbors=n_neighbors,
                               random_state=random_state)

    return {
        "linear + margin": (None, "margin"),
        "linear + random": (None, "random"),
        "laplace + margin": (graph("laplace"), "margin"),
        "poisson + margin": (graph("poisson"), "margin"),
        "poisson + model change": (graph("poisson"), model_change_scores),
        "poisson + random": (graph("poisson"), "random"),
    }


def time_large_pool(n_pool, n_features=1024, rounds=5, n_neighbors=10):
    """Graph build once, then refits and queries, on a synthetic float32 pool."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_active import make_pool

    from skaloe.active import ActiveLearner, seed_per_class
    from skaloe.graph import GraphClassifier, model_change_scores

    X, y = make_pool(n_pool, n_features, 12, 64, 1.0, random_state=0)
    seed = seed_per_class(y, 5, random_state=0)
    print(f"\nlarge pool: {n_pool} x {n_features} float32, 12 classes, seed 5/class, "
          f"{rounds} rounds of 12 (class-aware margin), k={n_neighbors}")
    method = "poisson"  # one graph build: exact k-NN at 100k takes minutes
    learners = []  # kept alive: the second learner's classifier finds the first one's graph
    for warm_start in (False, True):
        learner = ActiveLearner(
            GraphClassifier(method, n_neighbors=n_neighbors, warm_start=warm_start),
            random_state=0,
        ).fit(X)
        learners.append(learner)
        t0 = time.perf_counter()
        learner.teach(seed, y[seed])  # the first fit builds the graph (or finds it)
        first = time.perf_counter() - t0
        fits, queries = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            batch = learner.query(12)
            queries.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            learner.teach(batch, y[batch])
            fits.append(time.perf_counter() - t0)
        accuracy = float(np.mean(learner.estimator_.transduction_ == y))
        what = "warm_start=True, graph found" if warm_start else "graph + first solve"
        print(f"  {method:<8} {what:<28} {first:7.1f} s; refit median "
              f"{np.median(fits):6.2f} s, query median {1000 * np.median(queries):6.1f} ms; "
              f"pool accuracy {accuracy:.3f} at {int(learner.labeled_mask_.sum())} labels",
              flush=True)
    t0 = time.perf_counter()
    model_change_scores(learner.estimator_, X)
    first_mc = time.perf_counter() - t0
    t0 = time.perf_counter()
    model_change_scores(learner.estimator_, X)
    print(f"  model change scores: first {first_mc:.1f} s (50 eigenvectors, once per graph), "
          f"then {time.perf_counter() - t0:.2f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embeddings", help="an .npz from 'skaloe embed' with labels")
    parser.add_argument("--n-samples", type=int, default=2400,
                        help="synthetic clips when no --embeddings (default: 2400)")
    parser.add_argument("--runs", type=int, default=10, help="seed sets (default: 10)")
    parser.add_argument("--max-per-class", type=int, default=10,
                        help="labels per class at the end (default: 10)")
    parser.add_argument("--n-neighbors", type=int, default=10)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--large-pool", type=int, default=0, metavar="N",
                        help="also time graph build, refits and queries on a synthetic "
                             "N x 1024 pool, e.g. 100000 (default: 0, skip)")
    parser.add_argument("--large-only", action="store_true",
                        help="only the --large-pool timing")
    args = parser.parse_args(argv)
    if args.large_only:
        time_large_pool(args.large_pool or 100_000, n_neighbors=args.n_neighbors)
        return

    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from skaloe.experiment import simulate

    if args.embeddings:
        X, y, what = file_embeddings(args.embeddings)
    else:
        X, y, what = synthetic_embeddings(args.n_samples, args.random_state)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=args.test_size, stratify=y, random_state=args.random_state
    )
    scaler = StandardScaler().fit(X_pool)
    X_pool = scaler.transform(X_pool).astype(np.float32)
    X_test = scaler.transform(X_test).astype(np.float32)
    n_classes = len(np.unique(y_pool))
    print(f"data: {what}; pool {len(y_pool)}, test {len(y_test)}, {n_classes} classes; "
          f"{args.runs} runs, k={args.n_neighbors} neighbours")

    curves, times, upper = {}, {}, {}
    for name, (estimator, strategy) in methods(args.n_neighbors, args.random_state).items():
        t0 = time.perf_counter()
        results = simulate(
            X_pool, y_pool, X_test, y_test, estimator=estimator, strategies=[strategy],
            n_rounds=args.max_per_class - 1, n_per_class=1, n_runs=args.runs,
            random_state=args.random_state,
        )
        times[name] = (time.perf_counter() - t0) / args.runs
        ((n_labels, mean, std),) = results.curves().values()
        curves[name] = (n_labels / n_classes, mean, std)
        upper[name] = results.upper_bound["val_score"]
        print(f"  {name:<24} {times[name]:6.2f} s per run", flush=True)

    names = list(curves)
    print(f"\ntest accuracy (%), mean +- std over {args.runs} runs; "
          "rows: labels per class")
    print("per class  " + "  ".join(f"{n:>22}" for n in names))
    for i, k in enumerate(curves[names[0]][0]):
        cells = [f"{100 * curves[n][1][i]:6.1f} +- {100 * curves[n][2][i]:4.1f}" for n in names]
        print(f"{k:9.0f}  " + "  ".join(f"{c:>22}" for c in cells))
    print("all labels " + "  ".join(f"{100 * upper[n]:>22.1f}" for n in names))

    graph_names = [n for n in names if not n.startswith("linear")]
    linear, linear_std = curves["linear + margin"][1], curves["linear + margin"][2]
    budgets = [int(k) for k in curves[names[0]][0]]
    print("\neach graph method minus linear + margin, points of accuracy per labels per "
          "class ('*': the gap exceeds the larger of the two stds)")
    print("per class  " + "  ".join(f"{n:>22}" for n in graph_names))
    for i, k in enumerate(budgets):
        cells = []
        for n in graph_names:
            diff = 100 * (curves[n][1][i] - linear[i])
            clear = abs(diff) > 100 * max(curves[n][2][i], linear_std[i])
            cells.append(f"{diff:+6.1f}{'*' if clear else ' '}")
        print(f"{k:9d}  " + "  ".join(f"{c:>22}" for c in cells))
    for n in graph_names:
        ahead = [k for i, k in enumerate(budgets) if curves[n][1][i] > linear[i]]
        behind = [k for k in budgets if k not in ahead]
        print(f"{n}: ahead of linear + margin at {_budgets(ahead)}; "
              f"behind or level at {_budgets(behind)}")
    if args.large_pool:
        time_large_pool(args.large_pool, n_neighbors=args.n_neighbors)


def _budgets(values):
    return ", ".join(map(str, values)) + " labels per class" if values else "no budget"


if __name__ == "__main__":
    main()
