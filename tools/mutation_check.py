"""Apply deliberate bugs to a copy of skaloe, one at a time, and see which the tests catch.

Run by hand from a checkout whose test dependencies are installed (not in CI)::

    python tools/mutation_check.py            # every mutation
    python tools/mutation_check.py --list     # their names
    python tools/mutation_check.py cache-key-without-size simulate-ignores-selection

For each mutation the working tree (tracked files and untracked ones git does
not ignore) is copied to a temporary folder, one edit is made there (the
original text must occur exactly once, so a mutation that no longer applies
is reported, not silently skipped), and the tests named for it run in that
copy with the copy first on ``PYTHONPATH``. A mutation is *caught* when those
tests fail. The script exits 1 if any mutation survives or does not apply.
Its output is recorded in ``docs/development.rst``.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# name: (file, original text, mutated text, tests to run, what the bug means)
MUTATIONS = {
    "demo-active-column-is-random": (
        "skaloe/cli/_demo.py",
        'headers = {("margin", "class-aware"): "active", ("random", "class-aware"): "random"}',
        'headers = {("margin", "class-aware"): "random", ("random", "class-aware"): "active"}',
        ["tests/test_cli.py"],
        "the demo's active-learning column shows random sampling",
    ),
    "simulate-ignores-selection": (
        "skaloe/experiment/_simulate.py",
        "                    selection=selection,\n",
        "",
        ["tests/test_experiment.py"],
        "simulate runs every learner with the default selection",
    ),
    "simulate-ignores-strategy": (
        "skaloe/experiment/_simulate.py",
        "                        query_strategy=strategy,\n                        selection=selection,\n",
        "                        selection=selection,\n",
        ["tests/test_experiment.py"],
        "simulate runs every learner with the default strategy",
    ),
    "reach-counts-the-whole-pool": (
        "skaloe/experiment/_results.py",
        'counted = [r for r in rs if n_pool is None or r["n_labels"] < n_pool]',
        "counted = list(rs)",
        ["tests/test_experiment.py"],
        "labels_to_reach counts rounds in which every pool sample is labeled",
    ),
    "aloe-preset-ties-at-random": (
        "skaloe/active/_aloe.py",
        'tie_break="first",',
        'tie_break="random",',
        ["tests/test_aloe_preset.py"],
        "the ALOE preset breaks ties at random instead of to the lowest position",
    ),
    "blind-page-shows-file-names": (
        "skaloe/labeling/_server.py",
        'return f"Clip {self._blind_clip(position)[1]}"',
        "return self.session.clip_name(position)",
        ["tests/test_label_web.py"],
        "the blind labeling page names the clips by their files",
    ),
    "page-estimate-is-training-accuracy": (
        "skaloe/labeling/_session.py",
        "X, np.asarray(labels), cv=StratifiedKFold(k),",
        "X, np.asarray(labels), cv=[(np.arange(len(X)), np.arange(len(X)))],",
        ["tests/test_labeling.py"],
        "the labeling page's estimated accuracy is accuracy on the training labels",
    ),
    "cache-key-without-size": (
        "skaloe/encoders/_audio.py",
        'h.update(f"\\0{st.st_size}\\0{st.st_mtime_ns}\\0{st.st_ino}\\0{st.st_ctime_ns}".encode())',
        'h.update(f"\\0{st.st_mtime_ns}\\0{st.st_ino}".encode())',
        ["tests/test_encoder.py"],
        "a file rewritten with its old mtime is read from the cache",
    ),
    "page-accepts-origin-null": (
        "skaloe/labeling/_server.py",
        "    parts = urlsplit(origin)\n",
        '    if origin == "null":\n        return True\n    parts = urlsplit(origin)\n',
        ["tests/test_label_web.py"],
        "the labeling page accepts a POST from an opaque (null) origin",
    ),
    "merge-deletes-before-writing": (
        "skaloe/encoders/_cache.py",
        '        merged = f"{uuid.uuid4().hex}"\n',
        '        merged = f"{uuid.uuid4().hex}"\n'
        "        for shard in shards:\n"
        '            for suffix in (".keys.npy", ".emb.npy"):\n'
        "                try:\n"
        "                    os.remove(self.folder / f\"{shard}{suffix}\")\n"
        "                except FileNotFoundError:\n"
        "                    pass\n",
        ["tests/test_encoder.py"],
        "a cache merge removes the old shards before the merged one is written",
    ),
    "teach-samples-never-found": (
        "skaloe/active/_learner.py",
        "        found, features = self._lookup.find(X, self._as_pool_features)\n",
        "        found, features = [[] for _ in range(n)], None\n",
        ["tests/test_active.py"],
        "teach(X_pool[idx], y) adds pool rows a second time instead of labeling them",
    ),
    "cold-start-recomputed-per-query": (
        "skaloe/active/_learner.py",
        '        if self._cold_order is None and self.cold_start == "kmeans":\n',
        '        if self.cold_start == "kmeans":\n',
        ["tests/test_active.py", "tests/test_labeling.py"],
        "the k-means cold start is clustered again at every query (the same region over and "
        "over for one-at-a-time labeling)",
    ),
    "second-live-label-accepted": (
        "skaloe/labeling/_database.py",
        "                if live is not None:\n",
        "                if False:\n",
        ["tests/test_labeling.py"],
        "the session file takes a second label for a clip that has one in force",
    ),
    "no-writer-lock": (
        "skaloe/labeling/_database.py",
        "        if write:\n            self._writer = WriterLock(self.path)\n",
        "",
        ["tests/test_labeling.py"],
        "two processes can open one session for labeling",
    ),
    "reopen-ignores-checkpoints": (
        "skaloe/labeling/_session.py",
        "        for checkpoint_id, covers in checkpoints:\n",
        "        for checkpoint_id, covers in []:\n",
        ["tests/test_labeling.py"],
        "reopening and undoing replay the whole log instead of loading a checkpoint",
    ),
    "checkpoint-labels-not-checked": (
        "skaloe/labeling/_session.py",
        "                self._check_restored(self._active[:len(covers)])\n",
        "                pass\n",
        ["tests/test_labeling.py"],
        "a checkpoint whose labels differ from the log is trusted",
    ),
    "estimate-on-all-threads": (
        "skaloe/labeling/_session.py",
        'threadpool_limits(limits=1, user_api="blas")',
        'threadpool_limits(limits=None, user_api="blas")',
        ["tests/test_labeling.py"],
        "the page's accuracy estimate runs on every BLAS thread while a label waits",
    ),
    "nan-pool-accepted": (
        "skaloe/active/_learner.py",
        '        check_finite_rows(pool, "the encoded X" if prefix else "X", allow_nan=self._allow_nan)\n',
        "",
        ["tests/test_active.py"],
        "a pool with NaN rows is accepted at fit, and every later query fails naming no row",
    ),
    "margin-scorer-inverted": (
        "skaloe/active/_scorer.py",
        "    return 1 - (first - second)\n",
        "    return first - second\n",
        ["tests/test_scorers.py"],
        "the margin strategy asks for the most confident samples",
    ),
    "seed-one-label-short": (
        "skaloe/active/_seeding.py",
        "rng.choice(positions, n_per_class, replace=False)",
        "rng.choice(positions, max(n_per_class - 1, 1), replace=False)",
        ["tests/test_active.py"],
        "seed_per_class draws one label per class too few",
    ),
}


def _copy_tree(destination):
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / os.fsdecode(name)
        if not source.is_file():  # deleted in the working tree
            continue
        target = destination / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _apply(copy, file, original, mutated):
    path = copy / file
    text = path.read_text(encoding="utf-8")
    count = text.count(original)
    if count != 1:
        return f"does not apply: the original text occurs {count} times in {file}"
    path.write_text(text.replace(original, mutated), encoding="utf-8")
    return None


def run(names, *, verbose=False):
    width = max(len(name) for name in names)
    survived = 0
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    for name in names:
        file, original, mutated, tests, meaning = MUTATIONS[name]
        with tempfile.TemporaryDirectory(prefix="skaloe-mutant-") as tmp:
            copy = Path(tmp)
            _copy_tree(copy)
            problem = _apply(copy, file, original, mutated)
            if problem is not None:
                print(f"{name:<{width}}  NOT APPLIED  {problem}", flush=True)
                survived += 1
                continue
            run_env = {**env, "PYTHONPATH": os.pathsep.join([str(copy), env.get("PYTHONPATH", "")])}
            # the copy, not an installed skaloe, must be what the tests import
            where = subprocess.run(
                [sys.executable, "-c", "import skaloe; print(skaloe.__file__)"],
                cwd=copy, env=run_env, capture_output=True, text=True, check=True,
            ).stdout.strip()
            if not where.startswith(str(copy)):
                raise SystemExit(f"the tests would import skaloe from {where}, not the copy")
            t0 = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                cwd=copy, env=run_env, capture_output=True, text=True,
            )
            seconds = time.perf_counter() - t0
        lines = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
        if result.returncode == 0:
            survived += 1
            verdict = "SURVIVED"
            detail = meaning
        elif result.returncode == 1:
            verdict = "caught"
            detail = lines[0].removeprefix("FAILED ").split(" - ")[0] if lines else meaning
        else:
            survived += 1
            verdict = "ERROR"
            detail = f"pytest exited {result.returncode}"
        print(f"{name:<{width}}  {verdict:<8}  {seconds:5.0f} s  {detail}", flush=True)
        if verbose or verdict == "ERROR":
            print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
    caught = len(names) - survived
    print(f"{caught} of {len(names)} mutations caught", flush=True)
    return 0 if survived == 0 else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    args = parser.parse_args(argv)
    if args.list:
        for name, (file, _, _, tests, meaning) in MUTATIONS.items():
            print(f"{name}: {meaning} ({file}; {' '.join(tests)})")
        return 0
    unknown = [name for name in args.names if name not in MUTATIONS]
    if unknown:
        parser.error(f"unknown mutation(s) {unknown}; --list shows them")
    return run(args.names or list(MUTATIONS), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
