"""The ALOE protocol on a large pool: skaloe vs a plain scikit-learn loop, side by side.

A synthetic 100k x 1024 float32 pool with 12 classes (class means in a
64-dimensional subspace plus isotropic noise, generated directly in float32),
and a held-out set. Every method starts from the same seed of 5 labels per
class (:func:`skaloe.active.seed_per_class`) and then runs R rounds of 12
smallest-margin queries:

(a) skaloe: ``ActiveLearner(random_state=0).fit(X)``, ``teach`` the seed, then
    ``idx = learner.query(12); learner.teach(idx, y[idx])`` each round (class-
    aware: the best candidate of each predicted class);
(b) a straightforward scikit-learn loop, as users write it: refit
    ``LogisticRegression(max_iter=1000)`` on ``X[labeled]``, then
    ``predict_proba(X[unlabeled])`` (the fancy-index copy included), margin
    ``1 - (p1 - p2)``, the best candidate of each predicted class;
(c) scikit-activeml (when installed): ``SklearnClassifier(LogisticRegression(
    max_iter=1000))`` refitted each round, then ``UncertaintySampling(
    method="margin_sampling").query(X, y, clf, fit_clf=False, batch_size=12)``.
    It has no class-aware selection, so its batch is the 12 top margins.

Printed: per-round medians of the fit and query steps, end-to-end times and
their ratios, the held-out accuracy of each method, the time of ONE float32
matrix product ``X[unlabeled] @ W.T`` (W of shape (12, n_features)) as the
floor of any query, and the peak memory growth of each method (to show that
skaloe copies no part of the pool per round).

Usage::

    python benchmarks/bench_active.py                      # 100k x 1024, 100 rounds
    python benchmarks/bench_active.py --rounds 20 --n-pool 20000   # quick
    python benchmarks/bench_active.py --scipy-blas-threads 1       # see below

scipy ships its own OpenBLAS, which L-BFGS-B (inside every method's
``LogisticRegression.fit``) calls on vectors of ``n_classes * n_features``
values. On a small machine its threads make each fit several times slower
and, spinning for a moment after it, slow the next pass over the pool; the
matrix-product reference is therefore timed both back to back and right after
a fit. ``--scipy-blas-threads 1`` limits that BLAS (for every method alike).

Timings on shared machines are noisy: compare the ratios within one run, not
absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings

import numpy as np


# -- memory ------------------------------------------------------------------


def _read_status(field):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Reset the kernel's high-water mark of this process's RSS (Linux); True if it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak RSS growth over a block: VmHWM after a reset on Linux, else ru_maxrss."""

    def __enter__(self):
        self.exact = reset_peak_rss()
        self.start_rss = _read_status("VmRSS")
        if not self.exact or self.start_rss is None:
            self.exact = False
            self.start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return self

    def __exit__(self, *exc):
        peak = _read_status("VmHWM") if self.exact else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.growth = max(peak - self.start_rss, 0)
        return False


# -- data --------------------------------------------------------------------


def make_pool(n_samples, n_features, n_classes, n_informative, class_sep, random_state=0):
    """Class means in an ``n_informative``-dim subspace plus unit noise, built in float32.

    Each class is one Gaussian cluster (like ``make_classification`` with
    ``n_clusters_per_class=1``); ``class_sep`` scales the distances between the
    means, so the classes overlap and accuracy stays well below 100%.
    """
    rng = np.random.default_rng(random_state)
    means = rng.standard_normal((n_classes, n_informative)) * class_sep
    basis, _ = np.linalg.qr(rng.standard_normal((n_features, n_informative)))
    basis = basis.T.astype(np.float32)  # orthonormal rows, (n_informative, n_features)
    y = rng.integers(n_classes, size=n_samples)
    X = np.empty((n_samples, n_features), dtype=np.float32)
    step = 16384
    for start in range(0, n_samples, step):
        part = slice(start, min(start + step, n_samples))
        latent = means[y[part]].astype(np.float32)
        latent += rng.standard_normal(latent.shape, dtype=np.float32)
        X[part] = rng.standard_normal((latent.shape[0], n_features), dtype=np.float32)
        X[part] += latent @ basis
    return X, y


# -- the three loops -----------------------------------------------------------


def run_skaloe(X, y, seed, rounds, batch, X_test, y_test):
    from skaloe.active import ActiveLearner

    fit_times, query_times = [], []
    start = time.perf_counter()
    learner = ActiveLearner(random_state=0).fit(X)
    t0 = time.perf_counter()
    learner.teach(seed, y[seed])
    fit_times.append(time.perf_counter() - t0)
    for _ in range(rounds):
        t0 = time.perf_counter()
        idx = learner.query(batch)
        t1 = time.perf_counter()
        learner.teach(idx, y[idx])
        t2 = time.perf_counter()
        query_times.append(t1 - t0)
        fit_times.append(t2 - t1)
    total = time.perf_counter() - start
    no_copy = np.shares_memory(learner._pool, X)
    return dict(
        fit=fit_times, query=query_times, total=total,
        accuracy=float(np.mean(learner.predict(X_test) == y_test)),
        n_labeled=int(learner.labeled_mask_.sum()), labeled=learner.labeled_mask_.copy(),
        note="pool shared, not copied" if no_copy else "POOL WAS COPIED",
    )


def straightforward_pick(X, labeled, clf, batch, parts):
    """One class-aware margin query, written the way users write it."""
    t0 = time.perf_counter()
    unlabeled = np.flatnonzero(~labeled)
    X_unlabeled = X[unlabeled]
    t1 = time.perf_counter()
    proba = clf.predict_proba(X_unlabeled)
    t2 = time.perf_counter()
    top = np.sort(proba, axis=1)
    margin = 1 - (top[:, -1] - top[:, -2])
    predicted = proba.argmax(axis=1)
    picks = []
    for c in range(proba.shape[1]):
        members = np.flatnonzero(predicted == c)
        if members.size:
            picks.append(members[np.argmax(margin[members])])
    picks = sorted(picks, key=lambda i: -margin[i])[:batch]
    if len(picks) < batch:  # fewer predicted classes than the batch: top margins fill it
        rest = np.argsort(-margin, kind="stable")
        rest = rest[~np.isin(rest, picks)][: batch - len(picks)]
        picks += rest.tolist()
    t3 = time.perf_counter()
    parts["copy"].append(t1 - t0)
    parts["predict_proba"].append(t2 - t1)
    parts["select"].append(t3 - t2)
    return unlabeled[np.asarray(picks, dtype=np.intp)]


def run_sklearn(X, y, seed, rounds, batch, X_test, y_test):
    from sklearn.linear_model import LogisticRegression

    fit_times, query_times = [], []
    parts = {"copy": [], "predict_proba": [], "select": []}
    start = time.perf_counter()
    labeled = np.zeros(len(X), dtype=bool)
    labeled[seed] = True
    t0 = time.perf_counter()
    clf = LogisticRegression(max_iter=1000).fit(X[labeled], y[labeled])
    fit_times.append(time.perf_counter() - t0)
    for _ in range(rounds):
        t0 = time.perf_counter()
        idx = straightforward_pick(X, labeled, clf, batch, parts)
        t1 = time.perf_counter()
        labeled[idx] = True
        clf = LogisticRegression(max_iter=1000).fit(X[labeled], y[labeled])
        t2 = time.perf_counter()
        query_times.append(t1 - t0)
        fit_times.append(t2 - t1)
    total = time.perf_counter() - start
    note = ", ".join(f"{k} {1e3 * np.median(v):.0f} ms" for k, v in parts.items())
    return dict(
        fit=fit_times, query=query_times, total=total,
        accuracy=float(np.mean(clf.predict(X_test) == y_test)),
        n_labeled=int(labeled.sum()), note="query = " + note,
    )


def run_skactiveml(X, y, seed, rounds, batch, X_test, y_test, n_classes):
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling
    from sklearn.linear_model import LogisticRegression

    fit_times, query_times = [], []
    start = time.perf_counter()
    y_partial = np.full(len(X), np.nan)
    y_partial[seed] = y[seed]
    clf = SklearnClassifier(
        LogisticRegression(max_iter=1000), classes=np.arange(n_classes), random_state=0
    )
    strategy = UncertaintySampling(method="margin_sampling", random_state=0)
    t0 = time.perf_counter()
    clf.fit(X, y_partial)
    fit_times.append(time.perf_counter() - t0)
    for _ in range(rounds):
        t0 = time.perf_counter()
        idx = strategy.query(X, y_partial, clf, fit_clf=False, batch_size=batch)
        t1 = time.perf_counter()
        y_partial[idx] = y[idx]
        clf.fit(X, y_partial)
        t2 = time.perf_counter()
        query_times.append(t1 - t0)
        fit_times.append(t2 - t1)
    total = time.perf_counter() - start
    return dict(
        fit=fit_times, query=query_times, total=total,
        accuracy=float(np.mean(clf.predict(X_test) == y_test)),
        n_labeled=int((~np.isnan(y_partial)).sum()),
        note="class-agnostic: the 12 top margins (no class-aware selection)",
    )


def matmul_time(X, y, labeled, n_classes, repeats=7):
    """Median time of ONE float32 ``X[unlabeled] @ W.T`` (the copy made beforehand).

    Measured twice: back to back ("hot"), and right after a
    ``LogisticRegression.fit`` on the labeled rows, which is when every query
    of the loops runs: BLAS threads left spinning by the fit compete with it.
    """
    from sklearn.linear_model import LogisticRegression

    X_unlabeled = X[~labeled]
    X_labeled, y_labeled = X[labeled], y[labeled]
    W = np.random.default_rng(1).standard_normal((n_classes, X.shape[1]), dtype=np.float32)
    hot, after_fit = [], []
    X_unlabeled @ W.T
    for _ in range(repeats):
        t0 = time.perf_counter()
        X_unlabeled @ W.T
        hot.append(time.perf_counter() - t0)
    for _ in range(repeats):
        LogisticRegression(max_iter=1000).fit(X_labeled, y_labeled)
        t0 = time.perf_counter()
        X_unlabeled @ W.T
        after_fit.append(time.perf_counter() - t0)
    return float(np.median(hot)), float(np.median(after_fit)), len(X_unlabeled)


def limit_scipy_blas(n_threads):
    """Limit the threads of scipy's own BLAS (L-BFGS-B inside LogisticRegression.fit)."""
    from threadpoolctl import ThreadpoolController

    import scipy.linalg  # noqa: F401  (loads scipy's BLAS)

    found = []
    for controller in ThreadpoolController().lib_controllers:
        path = controller.filepath
        if controller.user_api == "blas" and "scipy" in path and "numpy" not in path:
            controller.set_num_threads(n_threads)
            found.append(controller.filepath)
    return found


# -- main ----------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000, help="held-out samples")
    parser.add_argument("--n-features", type=int, default=1024)
    parser.add_argument("--n-classes", type=int, default=12)
    parser.add_argument("--n-informative", type=int, default=64)
    parser.add_argument("--class-sep", type=float, default=0.6,
                        help="scale of the class means (unit noise); lower = harder")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--batch", type=int, default=None, help="labels per round (default: n_classes)")
    parser.add_argument("--seed-per-class", type=int, default=5)
    parser.add_argument("--skip-skactiveml", action="store_true")
    parser.add_argument("--skip-sklearn", action="store_true", help="time skaloe alone")
    parser.add_argument("--scipy-blas-threads", type=int, default=None,
                        help="limit scipy's BLAS (used by L-BFGS-B in every method's fit) to this "
                             "many threads; default: as installed")
    args = parser.parse_args(argv)
    batch = args.batch or args.n_classes

    import sklearn

    import skaloe
    from skaloe.active import seed_per_class

    blas_note = "scipy BLAS threads as installed"
    if args.scipy_blas_threads is not None:
        found = limit_scipy_blas(args.scipy_blas_threads)
        blas_note = (f"scipy BLAS limited to {args.scipy_blas_threads} thread(s)" if found
                     else "no separate scipy BLAS found to limit")
    print(f"Generating a {args.n_pool} x {args.n_features} float32 pool ({args.n_classes} classes) "
          f"and {args.n_test} held-out samples ...", flush=True)
    X_all, y_all = make_pool(args.n_pool + args.n_test, args.n_features, args.n_classes,
                             args.n_informative, args.class_sep)
    X, y = X_all[: args.n_pool], y_all[: args.n_pool]
    X_test, y_test = X_all[args.n_pool:], y_all[args.n_pool:]
    seed = seed_per_class(y, args.seed_per_class, random_state=0)
    protocol = (X, y, seed, args.rounds, batch, X_test, y_test)

    methods = {"skaloe ActiveLearner": lambda: run_skaloe(*protocol)}
    if not args.skip_sklearn:
        methods["straightforward sklearn loop"] = lambda: run_sklearn(*protocol)
    skactiveml_version = None
    if not args.skip_skactiveml:
        try:
            import skactiveml

            skactiveml_version = skactiveml.__version__
            methods["scikit-activeml"] = lambda: run_skactiveml(*protocol, args.n_classes)
        except ImportError:
            print("scikit-activeml is not installed (pip install scikit-activeml): skipped.")

    results = {}
    for name, run in methods.items():
        print(f"Running {name}: {len(seed)} seed labels + {args.rounds} rounds of {batch} ...",
              flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. lbfgs ConvergenceWarning, skactiveml notes
            with PeakMemory() as memory:
                results[name] = run()
        results[name]["memory"] = memory.growth
        results[name]["memory_exact"] = memory.exact

    floor, floor_after_fit, n_unlabeled = matmul_time(
        X, y, results["skaloe ActiveLearner"]["labeled"], args.n_classes
    )

    print()
    print(f"ALOE protocol: pool {args.n_pool} x {args.n_features} float32 ({X.nbytes / 1e6:.0f} MB), "
          f"{args.n_classes} classes, seed {args.seed_per_class}/class, {args.rounds} rounds of "
          f"{batch}; held-out {args.n_test}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}, skaloe {skaloe.__version__}"
          + (f", scikit-activeml {skactiveml_version}" if skactiveml_version else "")
          + f"; {blas_note}")
    print(f"{'method':30s} {'fit/round':>10s} {'query/round':>12s} {'end to end':>11s} "
          f"{'labels':>7s} {'accuracy':>9s} {'peak RSS +':>11s}")
    for name, r in results.items():
        print(f"{name:30s} {1e3 * np.median(r['fit']):7.0f} ms {1e3 * np.median(r['query']):9.1f} ms "
              f"{r['total']:9.1f} s {r['n_labeled']:7d} {r['accuracy']:9.3f} "
              f"{r['memory'] / 1e6:8.0f} MB")
    for name, r in results.items():
        print(f"  {name}: {r['note']}")
    if not all(r["memory_exact"] for r in results.values()):
        print("  (peak RSS from ru_maxrss: a method's growth hides under earlier peaks)")

    sk = results["skaloe ActiveLearner"]
    q_sk = float(np.median(sk["query"]))
    print()
    print(f"One float32 X[unlabeled] @ W.T ({n_unlabeled} x {args.n_features} @ "
          f"{args.n_features} x {args.n_classes}): {1e3 * floor:.1f} ms back to back, "
          f"{1e3 * floor_after_fit:.1f} ms right after a LogisticRegression fit")
    print(f"  skaloe query / matmul: {q_sk / floor:.2f}x back to back, "
          f"{q_sk / floor_after_fit:.2f}x after a fit  (target: about 1.5x or less)")
    for name, r in results.items():
        if name == "skaloe ActiveLearner":
            continue
        print(f"  {name} vs skaloe: end to end {r['total'] / sk['total']:.1f}x, "
              f"query step {np.median(r['query']) / q_sk:.1f}x, "
              f"fit step {np.median(r['fit']) / np.median(sk['fit']):.1f}x")
    print(f"  skaloe peak memory growth {sk['memory'] / 1e6:.0f} MB vs a pool of "
          f"{X.nbytes / 1e6:.0f} MB (one copy of the unlabeled rows: "
          f"{n_unlabeled * X.shape[1] * 4 / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
