"""The ``skaloe`` command line.

``skaloe demo`` is the offline main job: it synthesises a speech-like dataset
(:func:`skaloe.datasets.make_vowels`), writes it as WAV files, embeds them once
with a built-in offline encoder through the on-disk embedding cache, runs the
ALOE loop (class-aware smallest-margin sampling) against random sampling from
the same seed sets, and prints learning curves beside the full-data linear
probe.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skaloe",
        description="Active learning on audio with frozen pretrained encoders.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="offline demo: ALOE active learning on synthetic speech, with learning curves",
        description=(
            "Synthesise sustained vowels spoken by synthetic speakers and write them as WAV "
            "files; embed them once with an offline encoder (cached); run ALOE's active "
            "learning loop (class-aware smallest-margin sampling) against random sampling "
            "from the same initial labels; print learning curves (labels vs held-out "
            "accuracy) beside the full-data linear probe. Needs no download."
        ),
    )
    demo.add_argument("--n-samples", type=_positive_int, default=1200, help="number of clips (default: 1200)")
    demo.add_argument("--rounds", type=_positive_int, default=25, help="active learning rounds (default: 25)")
    demo.add_argument("--runs", type=_positive_int, default=3,
                      help="runs with different seed sets, averaged (default: 3)")
    demo.add_argument("--n-per-class", type=_positive_int, default=2,
                      help="labels per class to start from (default: 2)")
    demo.add_argument(
        "--model", default="mfcc", choices=("mfcc", "logmel"),
        help="offline encoder (default: mfcc)",
    )
    demo.add_argument(
        "--data-dir", default=None,
        help="folder for the WAV files (default: a temporary folder, removed afterwards)",
    )
    demo.add_argument(
        "--cache", default=None,
        help="embedding cache folder (default: a temporary folder, removed afterwards)",
    )
    demo.add_argument("--n-jobs", type=int, default=None, help="threads for decoding and encoding")
    demo.add_argument("--random-state", type=int, default=0, help="seed (default: 0)")
    demo.add_argument("-v", "--verbose", action="count", default=0, help="show progress")
    demo.set_defaults(func=run_demo)
    return parser


def _version():
    from ._version import __version__

    return f"skaloe {__version__}"


def run_demo(args, out=sys.stdout):
    """The ``demo`` command: the ALOE loop on synthetic speech, offline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .active import ActiveLearner, seed_per_class
    from .datasets import load_audio_folder, make_vowels
    from .encoders import EncoderTransformer

    def say(text=""):
        print(text, file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="skaloe-demo-") as tmp:
        data_dir = args.data_dir or f"{tmp}/audio"
        cache = args.cache or f"{tmp}/cache"
        t_start = time.perf_counter()
        make_vowels(args.n_samples, directory=data_dir, random_state=args.random_state)
        folder = load_audio_folder(data_dir)
        names = folder.target_names
        n_classes = len(names)
        say(f"skaloe demo: {len(folder.filenames)} synthetic vowel clips (WAV files in "
            f"{data_dir}), {n_classes} classes")

        # The frozen encoder embeds the files once (cold pass, written to the cache) ...
        t0 = time.perf_counter()
        EncoderTransformer(args.model, memory=cache, n_jobs=args.n_jobs,
                           verbose=args.verbose).fit_transform(folder.filenames)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        EncoderTransformer(args.model, memory=cache).fit_transform(folder.filenames)
        t_warm = time.perf_counter() - t0
        say(f"  encoder {args.model!r}: cold pass {t_cold:.2f} s, warm pass {t_warm:.3f} s "
            f"(cache in {cache})")

        paths_pool, paths_test, y_pool, y_test = train_test_split(
            folder.filenames, folder.target, test_size=0.25, stratify=folder.target,
            random_state=args.random_state,
        )

        def pipeline():
            # ... and every learner below reads the embeddings back from the cache.
            return make_pipeline(
                EncoderTransformer(args.model, memory=cache, n_jobs=args.n_jobs),
                StandardScaler(),
                LogisticRegression(max_iter=1000),
            )

        upper = pipeline().fit(paths_pool, y_pool).score(paths_test, y_test)
        curves = {"margin": [], "random": []}
        labels_used = []
        for run in range(args.runs):
            seed = args.random_state + run
            start_idx = seed_per_class(y_pool, args.n_per_class, random_state=seed)
            for strategy in curves:
                learner = ActiveLearner(pipeline(), query_strategy=strategy, random_state=seed)
                learner.fit(paths_pool)
                learner.teach(start_idx, y_pool[start_idx])
                curve, used = [learner.score(paths_test, y_test)], [len(start_idx)]
                for _ in range(args.rounds):
                    idx = learner.query(n_classes)  # class-aware: one per predicted class
                    if not len(idx):
                        break
                    learner.teach(idx, y_pool[idx])
                    curve.append(learner.score(paths_test, y_test))
                    used.append(int(learner.labeled_mask_.sum()))
                curves[strategy].append(curve)
                labels_used = used

        say(f"  ALOE on the pool of {len(y_pool)} clips: {args.n_per_class} labels per class to "
            f"start, then {args.rounds} class-aware rounds of {n_classes} labels; held-out "
            f"accuracy on {len(y_test)} clips, mean of {args.runs} runs")
        say()
        say(f"  {'labels':>6s}  {'margin':>7s}  {'random':>7s}")
        margin = np.mean([c for c in curves["margin"]], axis=0)
        random_ = np.mean([c for c in curves["random"]], axis=0)
        for k, n_labels in enumerate(labels_used):
            say(f"  {n_labels:6d}  {margin[k]:7.3f}  {random_[k]:7.3f}")
        say(f"  {len(y_pool):6d}  {upper:7.3f}  (full-data linear probe: every pool label)")
        say()
        k = len(labels_used) - 1
        say(f"  With {labels_used[k]} labels ({labels_used[k] / len(y_pool):.0%} of the pool), "
            f"margin sampling reaches {margin[k]:.3f} ({margin[k] / upper:.0%} of the full-data "
            f"probe), random sampling {random_[k]:.3f}.")
        say(f"  Total time {time.perf_counter() - t_start:.1f} s.")
    return 0


def main(argv=None):
    """Entry point of the ``skaloe`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (CLIError, ValueError, FileNotFoundError, OSError, ImportError) as exc:
        print(f"skaloe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skaloe {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
