"""teach() with samples vs with positions, and against a per-row scan of the pool.

modAL-style code labels samples, ``learner.teach(X_pool[idx], y)``; skaloe
then has to find each sample in the pool. This script builds the synthetic
pool of ``bench_active.py`` (100 000 x 1024 float32, 12 classes), fits an
``ActiveLearner`` on 5 labels per class, and then, side by side in one run,
over ``--rounds`` rounds of 12 queried samples:

- ``teach(positions)``: the positions ``query`` returned (the refit only);
- ``teach(samples)``: the same rows as samples, on a second learner; its
  first call also fingerprints the whole pool once (timed apart: the
  one-off index);
- the lookup alone (fingerprints of the 12 samples, binary search, byte
  comparison with the candidate rows);
- a per-row scan: for each of the 12 samples, ``(pool == row).all(axis=1)``
  over the whole pool, the straightforward way to find them.

Printed: median times per round, the one-off index cost, and the ratios.

Usage::

    python benchmarks/bench_teach.py                    # 100k x 1024
    python benchmarks/bench_teach.py --n-pool 20000     # quick

Timings on shared machines are noisy: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from bench_active import make_pool


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    import sklearn

    import skaloe
    from skaloe.active import ActiveLearner, seed_per_class
    from skaloe.active._matching import RowIndex

    X, y = make_pool(args.n_pool, args.n_features, 12, 64, 0.6)
    seed = seed_per_class(y, 5, random_state=0)
    by_position = ActiveLearner(random_state=0).fit(X)
    by_sample = ActiveLearner(random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_position.teach(seed, y[seed])
        by_sample.teach(seed, y[seed])

        t0 = time.perf_counter()
        index = RowIndex(X)
        index_time = time.perf_counter() - t0

        positions, samples, lookups, scans, first = [], [], [], [], None
        for r in range(args.rounds):
            idx = by_position.query(12)
            t0 = time.perf_counter()
            by_position.teach(idx, y[idx])
            positions.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            by_sample.teach(X[idx], y[idx])
            elapsed = time.perf_counter() - t0
            assert by_sample.taught_positions_.tolist() == idx.tolist()
            if r == 0:
                first = elapsed  # includes fingerprinting the pool once
            else:
                samples.append(elapsed)
            t0 = time.perf_counter()
            found = index.find(X, X[idx])
            lookups.append(time.perf_counter() - t0)
            assert [f[0] for f in found] == idx.tolist()
            t0 = time.perf_counter()
            found = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in X[idx]]
            scans.append(time.perf_counter() - t0)
            assert found == idx.tolist()
    assert np.array_equal(by_position.labeled_mask_, by_sample.labeled_mask_)

    pos, smp, look, scan = (float(np.median(v)) for v in (positions, samples, lookups, scans))
    print()
    print(f"teach() of 12 samples: pool {args.n_pool} x {args.n_features} float32 "
          f"({X.nbytes / 1e6:.0f} MB), {args.rounds} rounds")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}, skaloe {skaloe.__version__}")
    print(f"  fingerprinting the pool, once per fit: {index_time:.2f} s")
    print(f"  teach(positions), refit included, median:   {1e3 * pos:8.1f} ms")
    print(f"  teach(samples), first call (with the index): {1e3 * first:8.1f} ms")
    print(f"  teach(samples), later calls, median:         {1e3 * smp:8.1f} ms")
    print(f"  finding the 12 samples (index lookup):       {1e3 * look:8.2f} ms")
    print(f"  per-row scan of the pool for the 12 samples: {1e3 * scan:8.1f} ms "
          f"({scan / look:.0f}x the lookup)")


if __name__ == "__main__":
    main()
