"""The k-NN graph's neighbour search: exact (what skaloe uses) vs pynndescent, side by side.

``skaloe.graph.knn_graph`` finds every clip's neighbours exactly, with
scikit-learn's ``NearestNeighbors`` (brute force on dense float32 data). This
script times that search on the synthetic pool of ``bench_active.py`` and, when
pynndescent is installed (``pip install pynndescent``), its approximate
``NNDescent`` index on the same pool in the same run (index construction and
the neighbour graph it yields; numba's compilation on first use is included,
as a user pays it once per process). It prints the time of each, their ratio,
and pynndescent's recall@k: the fraction of the true k nearest neighbours it
found.

Usage::

    python benchmarks/bench_knn.py                     # 20 000 x 1024, k = 10
    python benchmarks/bench_knn.py --n-pool 5000       # quick

Timings on shared machines are noisy: compare the ratio within one run.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

# The same synthetic pool as the other benchmarks (this folder is on sys.path
# when a script in it runs).
from bench_active import make_pool


def exact_neighbors(X, k, n_jobs):
    from skaloe.graph._graph import _nearest_neighbors

    nn = _nearest_neighbors(k, "euclidean", n_jobs).fit(X)
    return nn.kneighbors(None, n_neighbors=k)[1]


def pynndescent_neighbors(X, k, n_jobs, random_state):
    from pynndescent import NNDescent

    index = NNDescent(X, n_neighbors=k + 1, metric="euclidean", random_state=random_state,
                      n_jobs=n_jobs)
    indices, _ = index.neighbor_graph
    # Each row starts with the point itself; drop it (keep the first k others).
    out = np.empty((len(X), k), dtype=np.intp)
    for i, row in enumerate(indices):
        others = row[row != i]
        out[i] = others[:k]
    return out


def recall(found, truth):
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth))
    return hits / truth.size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=1024)
    parser.add_argument("--n-neighbors", type=int, default=10)
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args(argv)

    import sklearn

    import skaloe

    X, _ = make_pool(args.n_pool, args.n_features, 12, 64, 0.6, random_state=0)
    k = args.n_neighbors
    versions = [f"python {sys.version.split()[0]}", f"numpy {np.__version__}",
                f"scikit-learn {sklearn.__version__}", f"skaloe {skaloe.__version__}"]

    t0 = time.perf_counter()
    truth = exact_neighbors(X, k, args.n_jobs)
    exact_time = time.perf_counter() - t0
    rows = [("exact (NearestNeighbors, skaloe)", exact_time, 1.0)]

    try:
        import pynndescent
    except ImportError:
        print("pynndescent is not installed (pip install pynndescent): exact search only.")
    else:
        versions.append(f"pynndescent {pynndescent.__version__}")
        t0 = time.perf_counter()
        found = pynndescent_neighbors(X, k, args.n_jobs, random_state=0)
        approx_time = time.perf_counter() - t0
        rows.append(("pynndescent NNDescent", approx_time, recall(found, truth)))

    print()
    print(f"k-NN search: pool {args.n_pool} x {args.n_features} float32, k = {k}, "
          f"n_jobs = {args.n_jobs}")
    print(", ".join(versions))
    print(f"{'method':34s} {'time':>9s} {'/exact':>7s} {'recall@' + str(k):>10s}")
    for name, seconds, rec in rows:
        print(f"{name:34s} {seconds:7.1f} s {seconds / exact_time:6.2f}x {rec:10.3f}")


if __name__ == "__main__":
    main()
