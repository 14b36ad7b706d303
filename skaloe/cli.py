"""The ``skaloe`` command line.

``skaloe demo`` is the offline main job: it synthesises a speech-like dataset
(:func:`skaloe.datasets.make_vowels`), writes it as WAV files, embeds them with
a built-in offline encoder through the on-disk embedding cache (a cold pass,
then a warm one), and prints a summary with the accuracy of a linear probe on
the embeddings.
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
        help="offline demo: synthesise speech-like clips, embed them (cached), summarise",
        description=(
            "Synthesise sustained vowels spoken by synthetic speakers, write them as WAV "
            "files, embed them with an offline encoder through the embedding cache (a cold "
            "pass, then a warm one) and print a summary. Needs no download."
        ),
    )
    demo.add_argument("--n-samples", type=_positive_int, default=600, help="number of clips (default: 600)")
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
    """The ``demo`` command."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .datasets import load_audio_folder, make_vowels
    from .encoders import EncoderTransformer

    def say(text=""):
        print(text, file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="skaloe-demo-") as tmp:
        data_dir = args.data_dir or f"{tmp}/audio"
        cache = args.cache or f"{tmp}/cache"
        t0 = time.perf_counter()
        make_vowels(args.n_samples, directory=data_dir, random_state=args.random_state)
        t_make = time.perf_counter() - t0
        folder = load_audio_folder(data_dir)
        n = len(folder.filenames)
        say(f"skaloe demo: {n} synthetic vowel clips, {len(folder.target_names)} classes "
            f"({', '.join(folder.target_names)})")
        say(f"  audio written to {data_dir} in {t_make:.1f} s")

        encoder = EncoderTransformer(
            args.model, memory=cache, n_jobs=args.n_jobs, verbose=args.verbose
        )
        t0 = time.perf_counter()
        X = encoder.fit_transform(folder.filenames)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        X_warm = EncoderTransformer(args.model, memory=cache, n_jobs=args.n_jobs).fit_transform(
            folder.filenames
        )
        t_warm = time.perf_counter() - t0
        if not np.array_equal(X, X_warm):
            raise RuntimeError("the cached embeddings differ from the computed ones")
        say(f"  encoder {args.model!r}: {X.shape[1]}-d float32 embeddings, cache in {cache}")
        say(f"  cold pass {t_cold:6.2f} s ({n / t_cold:8.0f} clips/s)")
        say(f"  warm pass {t_warm:6.2f} s ({n / t_warm:8.0f} clips/s, "
            f"{t_cold / t_warm:.0f}x faster from the cache)")

        n_splits = int(min(5, np.bincount(folder.target).min()))
        if n_splits >= 2:
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=args.random_state)
            scores = cross_val_score(probe, X, folder.target, cv=cv)
            say(f"  linear probe (logistic regression on all labels), {n_splits}-fold accuracy: "
                f"{scores.mean():.3f} +/- {scores.std():.3f} (chance {1 / len(folder.target_names):.3f})")
        else:
            say("  (too few clips per class for a cross-validated linear probe)")
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
