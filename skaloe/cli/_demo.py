"""``skaloe demo``: the ALOE loop on synthetic speech, offline, with learning curves."""

from __future__ import annotations

import sys
import tempfile
import time

from ._parser import _positive_int


def add_parser(sub):
    """Add the ``demo`` command to the subparsers ``sub``."""
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
        "--model", default="ge2e", choices=("ge2e", "mfcc", "logmel"),
        help="offline encoder: 'ge2e', a pretrained speech network that ships with skaloe, "
             "or a spectral baseline (default: ge2e)",
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


def run_demo(args, out=None):
    """The ``demo`` command: the ALOE loop on synthetic speech, offline."""
    out = sys.stdout if out is None else out
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..datasets import load_audio_folder, make_vowels
    from ..encoders import EncoderTransformer
    from ..experiment import simulate

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

        # The frozen encoder embeds the files once (cold pass, written to the cache);
        # a second encoder reads them back (warm pass), as any later run would.
        t0 = time.perf_counter()
        EncoderTransformer(args.model, memory=cache, n_jobs=args.n_jobs,
                           verbose=args.verbose).fit_transform(folder.filenames)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        X = EncoderTransformer(args.model, memory=cache).fit_transform(folder.filenames)
        t_warm = time.perf_counter() - t0
        what = {"ge2e": "a pretrained speech network that ships with skaloe, run offline",
                "mfcc": "spectral baseline", "logmel": "spectral baseline"}[args.model]
        say(f"  encoder {args.model!r} ({what}): cold pass {t_cold:.2f} s, warm pass "
            f"{t_warm:.3f} s (cache in {cache})")

        X_pool, X_test, y_pool, y_test = train_test_split(
            X, folder.target, test_size=0.25, stratify=folder.target,
            random_state=args.random_state,
        )
        # ALOE's loop, run by the one simulation every experiment uses: the same
        # seed labels for both strategies in each run, one label per predicted
        # class per round, held-out accuracy after every round.
        results = simulate(
            X_pool, y_pool, X_test, y_test,
            estimator=make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            strategies=("margin", "random"), selections=("class-aware",),
            n_rounds=args.rounds, n_per_class=args.n_per_class, n_runs=args.runs,
            random_state=args.random_state,
        )
        curves = results.curves()
        n_labels, margin, _ = curves[("margin", "class-aware")]
        labels_used = [int(round(n)) for n in n_labels]
        _, random_, _ = curves[("random", "class-aware")]
        upper = results.upper_bound["val_score"]

        say(f"  ALOE on the pool of {len(y_pool)} clips: {args.n_per_class} labels per class to "
            f"start, then {args.rounds} class-aware rounds of {n_classes} labels; held-out "
            f"accuracy on {len(y_test)} clips, mean of {args.runs} runs")
        say()
        say(f"  {'labels':>6s}  {'margin':>7s}  {'random':>7s}")
        for k, count in enumerate(labels_used):
            say(f"  {count:6d}  {margin[k]:7.3f}  {random_[k]:7.3f}")
        say(f"  {len(y_pool):6d}  {upper:7.3f}  (full-data linear probe: every pool label)")
        say()
        k = len(labels_used) - 1
        say(f"  With {labels_used[k]} labels ({labels_used[k] / len(y_pool):.0%} of the pool), "
            f"margin sampling reaches {margin[k]:.3f} ({margin[k] / upper:.0%} of the full-data "
            f"probe), random sampling {random_[k]:.3f}.")
        say(f"  Total time {time.perf_counter() - t_start:.1f} s.")
    return 0
