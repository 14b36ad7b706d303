"""A durable labeling session: the time to answer a label and to reopen, against one pool pass.

A person labels clips on the page of ``skaloe label``; each label goes through
``DurableSession.label`` (commit to SQLite, teach the learner, refit) and the
page then asks ``next_batch`` (a query over the pool). This script builds a
``DurableSession`` on the synthetic pool of ``bench_active.py`` (an .npz of
embeddings, as ``skaloe embed`` writes), answers ``--labels`` labels with the
true classes, always the first clip of the current batch, and times each
``label`` + ``next_batch``. Then it closes the session and reopens it from
the file, timing the reopening and the first ``next_batch`` after it. As the
yardstick it times one pass of a fitted ``LogisticRegression`` over the pool
(``predict_proba``), the least that any query costs.

Printed: the per-label median and worst time, and the reopening time, in
seconds and as multiples of one pool pass. DESIGN.md's target is a label in
about one pass (median at most 3x, worst at most 15x, cold start included) and
a reopening in about the same time whatever the number of labels.

Usage::

    python benchmarks/bench_labeling.py                  # 20 000 x 1024, 200 labels
    python benchmarks/bench_labeling.py --labels 50      # quicker

Timings on shared machines are noisy: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np

# The same synthetic pool as the other benchmarks (this folder is on sys.path
# when a script in it runs).
from bench_active import make_pool


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=1024)
    parser.add_argument("--n-classes", type=int, default=12)
    parser.add_argument("--labels", type=int, default=200, help="labels to give (default: 200)")
    args = parser.parse_args(argv)

    import sklearn
    from sklearn.linear_model import LogisticRegression

    import skaloe
    from skaloe.labeling import DurableSession

    X, y = make_pool(args.n_pool, args.n_features, args.n_classes, 64, 0.6)
    classes = [f"class{c:02d}" for c in range(args.n_classes)]
    truth = np.array(classes)[y]

    # One pass over the pool: the floor of any query.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(args.n_classes)])
        probe = LogisticRegression(max_iter=1000).fit(X[seed], y[seed])
    passes = []
    for _ in range(5):
        t0 = time.perf_counter()
        probe.predict_proba(X)
        passes.append(time.perf_counter() - t0)
    one_pass = float(np.median(passes))

    with tempfile.TemporaryDirectory(prefix="skaloe-bench-labeling-") as tmp:
        pool = os.path.join(tmp, "pool.npz")
        np.savez(pool, embeddings=X, paths=np.array([f"clip{i}.wav" for i in range(len(X))]))
        database = os.path.join(tmp, "session.sqlite")
        t0 = time.perf_counter()
        session = DurableSession.create(database, pool, classes, random_state=0)
        session.next_batch()
        create_time = time.perf_counter() - t0

        label_times = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(args.labels):
                position = session.next_batch()[0]
                t0 = time.perf_counter()
                session.label(position, str(truth[position]))
                session.next_batch()
                label_times.append(time.perf_counter() - t0)
        session.close()

        t0 = time.perf_counter()
        session = DurableSession(database)
        session.next_batch()
        reopen_time = time.perf_counter() - t0
        assert session.progress()["n_labels"] == args.labels
        session.close()

    label_times = np.array(label_times)
    median, worst = float(np.median(label_times)), float(label_times.max())
    print()
    print(f"Labeling session: pool {args.n_pool} x {args.n_features} float32, "
          f"{args.n_classes} classes, {args.labels} labels")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}, skaloe {skaloe.__version__}")
    print(f"one pass over the pool (LogisticRegression.predict_proba): {one_pass:.3f} s")
    print(f"{'step':40s} {'seconds':>9s} {'/pass':>8s}")
    rows = [
        ("create + first batch", create_time),
        ("label + next batch, median", median),
        ("label + next batch, worst", worst),
        (f"reopen with {args.labels} labels + next batch", reopen_time),
    ]
    for name, seconds in rows:
        print(f"{name:40s} {seconds:9.3f} {seconds / one_pass:7.1f}x")


if __name__ == "__main__":
    main()
