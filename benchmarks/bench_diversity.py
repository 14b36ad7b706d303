"""Diverse batch selection on a large pool: top-k vs k-means++ vs cluster-margin, side by side.

A synthetic 100k x 1024 float32 pool with 12 classes (Gaussian blobs: class
means in a 64-dimensional subspace plus isotropic noise, generated directly in
float32). A ``LogisticRegression`` fitted on 5 labels per class gives every
pool sample a smallest-margin score ``1 - (p1 - p2)`` and a predicted class,
computed once (in float32 chunks); its time is printed as the reference cost
of scoring a round. Then, for a batch of 100 from the unlabeled rows, in both
selection modes (class-agnostic and class-aware), each round is timed for:

(a) plain top-k: ``select_class_agnostic`` / ``select_class_aware`` of
    ``skaloe.active._selection``;
(b) k-means++ diverse top-k: ``select_diverse(method="kmeans++")`` (k-means++
    seeding among the ``10 x 100`` top-scored candidates);
(c) cluster-margin: ``select_diverse(method="cluster-margin")`` with cluster
    labels from ``fit_pool_clusters``, whose one-off time is printed apart.

Every round draws a fresh tie-break permutation (as ``ActiveLearner`` does),
outside the timed block. Printed per method: the median time per round, its
ratio to top-k and to one scoring pass, and what the batch looks like: mean
score (how much uncertainty the diversity costs), the smallest and median
nearest-neighbour distance within the batch, and how many pool clusters and
predicted classes it touches. ``--duplicates F`` adds near copies of the most
uncertain samples (a fraction F of the pool), the case diversity is for.

Usage::

    python benchmarks/bench_diversity.py                    # 100k x 1024, batch 100
    python benchmarks/bench_diversity.py --n-pool 20000     # quick
    python benchmarks/bench_diversity.py --duplicates 0.05  # 5% near duplicates

With ``--peers`` and scikit-activeml installed (``pip install
scikit-activeml``), its diverse batch strategies run on the same pool in the
same run, class-agnostic, one timed query each: ``CoreSet`` (greedy k-center)
and ``Badge`` (k-means++ on gradient embeddings of the same
``LogisticRegression``, fitted once outside the timed block). Badge holds an
``n_pool x (n_classes x n_features)`` float64 embedding in memory; it runs only
when that fits in ``--peer-memory-gb`` (default 4), and the script says so when
it does not. Nothing is printed for a peer that did not run in this process.

Timings on shared machines are noisy: compare the ratios within one run, not
absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

# The same synthetic pool as bench_active.py (this folder is on sys.path when
# a script in it runs).
from bench_active import make_pool


def margin_scores(clf, X, chunk=16384):
    """Smallest-margin scores ``1 - (p1 - p2)`` and predicted classes, in float32 chunks."""
    W = clf.coef_.astype(np.float32)
    b = clf.intercept_.astype(np.float32)
    scores = np.empty(len(X), dtype=np.float32)
    predicted = np.empty(len(X), dtype=np.intp)
    for start in range(0, len(X), chunk):
        logits = X[start:start + chunk] @ W.T + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
        scores[start:start + len(p)] = 1 - (top2[:, 1] - top2[:, 0])
        predicted[start:start + len(p)] = p.argmax(axis=1)
    return scores, predicted


def add_near_duplicates(X, y, scores_of, fraction, random_state=0):
    """Overwrite a ``fraction`` of the pool with near copies of its most uncertain samples."""
    rng = np.random.default_rng(random_state)
    n_dup = int(fraction * len(X))
    if n_dup == 0:
        return
    scores = scores_of(X)
    sources = np.argsort(-scores, kind="stable")[: max(1, n_dup // 5)]  # 5 copies each
    targets = rng.choice(np.setdiff1d(np.arange(len(X)), sources), n_dup, replace=False)
    src = sources[np.arange(n_dup) % len(sources)]
    X[targets] = X[src] + 1e-3 * rng.standard_normal((n_dup, X.shape[1]), dtype=np.float32)
    y[targets] = y[src]


def batch_stats(X, batch, scores, predicted, cluster_labels):
    """Mean score, smallest / median nearest-neighbour distance, clusters and classes touched."""
    rows = X[batch].astype(np.float64)
    sq = (rows**2).sum(axis=1)
    d2 = np.maximum(sq[:, None] - 2 * rows @ rows.T + sq[None, :], 0)
    np.fill_diagonal(d2, np.inf)
    nn = np.sqrt(d2.min(axis=1))
    return dict(
        mean_score=float(np.mean(scores[batch])),
        min_nn=float(nn.min()), median_nn=float(np.median(nn)),
        clusters=len(np.unique(cluster_labels[batch])),
        classes=len(np.unique(predicted[batch])),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=1024)
    parser.add_argument("--n-classes", type=int, default=12)
    parser.add_argument("--n-informative", type=int, default=64)
    parser.add_argument("--class-sep", type=float, default=0.6)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--factor", type=float, default=10,
                        help="candidates per batch slot (m = k_m = factor x batch)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per method")
    parser.add_argument("--seed-per-class", type=int, default=5)
    parser.add_argument("--n-clusters", type=int, default=None,
                        help="clusters for cluster-margin (default: sqrt(n_pool))")
    parser.add_argument("--duplicates", type=float, default=0.0,
                        help="fraction of the pool made near copies of the most uncertain samples")
    parser.add_argument("--peers", action="store_true",
                        help="also time scikit-activeml's CoreSet and Badge (when installed)")
    parser.add_argument("--peer-memory-gb", type=float, default=4.0,
                        help="largest gradient embedding Badge may build (default: 4 GB)")
    args = parser.parse_args(argv)

    import sklearn
    from sklearn.linear_model import LogisticRegression

    import skaloe
    from skaloe.active import seed_per_class
    from skaloe.active._diversity import fit_pool_clusters, select_diverse
    from skaloe.active._selection import select_class_agnostic, select_class_aware

    print(f"Generating a {args.n_pool} x {args.n_features} float32 pool ({args.n_classes} "
          "classes) ...", flush=True)
    X, y = make_pool(args.n_pool, args.n_features, args.n_classes, args.n_informative,
                     args.class_sep)
    seed = seed_per_class(y, args.seed_per_class, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(max_iter=1000).fit(X[seed], y[seed])
    if args.duplicates:
        add_near_duplicates(X, y, lambda Z: margin_scores(clf, Z)[0], args.duplicates)
    t0 = time.perf_counter()
    scores, predicted = margin_scores(clf, X)
    score_time = time.perf_counter() - t0
    labeled = np.zeros(len(X), dtype=bool)
    labeled[seed] = True
    candidates = np.flatnonzero(~labeled)

    print("Clustering the pool once (fit_pool_clusters) ...", flush=True)
    t0 = time.perf_counter()
    cluster_labels = fit_pool_clusters(X, n_clusters=args.n_clusters, random_state=0)
    cluster_time = time.perf_counter() - t0
    n_found = int(cluster_labels.max()) + 1

    rng = np.random.RandomState(0)
    n = args.batch

    def topk(class_aware):
        def run(tiebreak):
            if class_aware:
                return select_class_aware(scores, predicted, candidates, n, tiebreak)
            return select_class_agnostic(scores, candidates, n, tiebreak)
        return run

    def diverse(method, class_aware):
        def run(tiebreak):
            return select_diverse(X, scores, predicted, candidates, n, method=method,
                                  class_aware=class_aware, rng=rng, tiebreak=tiebreak,
                                  cluster_labels=cluster_labels, factor=args.factor)
        return run

    results = {}
    for mode, class_aware in (("class-agnostic", False), ("class-aware", True)):
        methods = {"top-k": topk(class_aware),
                   "kmeans++": diverse("kmeans++", class_aware),
                   "cluster-margin": diverse("cluster-margin", class_aware)}
        for name, run in methods.items():
            times = []
            for _ in range(args.rounds):
                tiebreak = rng.permutation(len(X))
                t0 = time.perf_counter()
                batch = run(tiebreak)
                times.append(time.perf_counter() - t0)
            results[mode, name] = dict(
                time=float(np.median(times)),
                **batch_stats(X, batch, scores, predicted, cluster_labels),
            )

    peer_versions = {}
    if args.peers:
        peer_versions = run_peers(X, y, seed, clf, n, args, results, scores, predicted,
                                  cluster_labels)

    print()
    print(f"Diverse batches: pool {args.n_pool} x {args.n_features} float32 "
          f"({X.nbytes / 1e6:.0f} MB), {args.n_classes} classes, batch {n} from "
          f"{len(candidates)} unlabeled, factor {args.factor:g}, near duplicates "
          f"{args.duplicates:.0%}, {args.rounds} rounds per method")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}, skaloe {skaloe.__version__}"
          + "".join(f", {name} {version}" for name, version in peer_versions.items()))
    print(f"one scoring pass (float32 logits + margin over the pool): {1e3 * score_time:.0f} ms")
    print(f"fit_pool_clusters (one-off, per pool): {cluster_time:.1f} s -> {n_found} clusters")
    print(f"{'mode':15s} {'method':18s} {'per round':>10s} {'/top-k':>7s} {'/score':>7s} "
          f"{'mean score':>10s} {'min NN':>7s} {'med NN':>7s} {'clusters':>8s} {'classes':>7s}")
    for (mode, name), r in results.items():
        base = results[mode, "top-k"]["time"]
        print(f"{mode:15s} {name:18s} {1e3 * r['time']:7.1f} ms {r['time'] / base:6.1f}x "
              f"{r['time'] / score_time:6.2f}x {r['mean_score']:10.4f} {r['min_nn']:7.2f} "
              f"{r['median_nn']:7.2f} {r['clusters']:8d} {r['classes']:7d}")
    print("  (NN: distance of a batch member to its nearest other member"
          + ("; scikit-activeml: one query each, class-agnostic" if peer_versions else "") + ")")


def run_peers(X, y, seed, clf, n, args, results, scores, predicted, cluster_labels):
    """Time scikit-activeml's CoreSet and Badge on the same pool; add rows to ``results``."""
    try:
        import skactiveml
        from skactiveml.classifier import SklearnClassifier
        from skactiveml.pool import Badge, CoreSet
        from sklearn.base import clone
    except ImportError:
        print("scikit-activeml is not installed (pip install scikit-activeml): no peer rows.")
        return {}
    y_partial = np.full(len(X), np.nan)
    y_partial[seed] = y[seed]
    peers = {"skactiveml CoreSet": lambda: CoreSet(random_state=0).query(
        X, y_partial, batch_size=n)}
    badge_gb = len(X) * args.n_classes * X.shape[1] * 8 / 1e9
    if badge_gb <= args.peer_memory_gb:
        wrapped = SklearnClassifier(clone(clf), classes=np.arange(args.n_classes),
                                    random_state=0).fit(X, y_partial)
        peers["skactiveml Badge"] = lambda: Badge(random_state=0).query(
            X, y_partial, wrapped, fit_clf=False, batch_size=n)
    else:
        print(f"scikit-activeml Badge not run: its gradient embedding would take "
              f"{badge_gb:.0f} GB (> --peer-memory-gb {args.peer_memory_gb:g}).")
    for name, query in peers.items():
        print(f"Timing {name} (one query of {n}) ...", flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            batch = np.asarray(query())
            elapsed = time.perf_counter() - t0
        results["class-agnostic", name] = dict(
            time=elapsed, **batch_stats(X, batch, scores, predicted, cluster_labels))
    return {"scikit-activeml": skactiveml.__version__}


if __name__ == "__main__":
    main()
