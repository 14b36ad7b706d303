"""``skaloe demo``: the ALOE loop on synthetic speech, offline, with learning curves."""

from __future__ import annotations

import sys
import tempfile
import time
import warnings

from ._parser import _plural, _positive_int
from ._report import curve_table, ran_out_note, reach_lines, wrap


def add_parser(sub):
    """Add the ``demo`` command to the subparsers ``sub``."""
    demo = sub.add_parser(
        "demo",
        help="offline demo: how many labels active learning saves, on synthetic speech",
        description=(
            "Synthesise sustained vowels spoken by synthetic speakers and write them as WAV "
            "files; embed them once with an offline encoder (cached); then compare two ways "
            "of choosing which clips to label next, from the same starting labels: active "
            "learning (the clips the model is least sure about, one per vowel it predicts) "
            "and random picks. Prints the held-out accuracy after every round (mean and "
            "spread over runs) beside the accuracy with every clip labeled, and how many "
            "labels each way needed to come within 95% and 98% of it. Needs no download."
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

    def say_wrapped(text, indent=""):
        say(wrap(text, indent))

    with tempfile.TemporaryDirectory(prefix="skaloe-demo-") as tmp:
        data_dir = args.data_dir or f"{tmp}/audio"
        cache = args.cache or f"{tmp}/cache"
        t_start = time.perf_counter()
        make_vowels(args.n_samples, directory=data_dir, random_state=args.random_state)
        folder = load_audio_folder(data_dir)
        names = folder.target_names
        n_classes = len(names)
        say_wrapped(f"skaloe demo: {len(folder.filenames)} synthetic clips of {n_classes} "
                    f"vowels spoken by synthetic speakers (WAV files in {data_dir})")

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
        say_wrapped(f"encoder {args.model!r} ({what}) turned each clip into {X.shape[1]} "
                    f"numbers once: {t_cold:.2f} s, then {t_warm:.3f} s to read them back "
                    f"from the cache ({cache})", indent="  ")

        X_pool, X_test, y_pool, y_test = train_test_split(
            X, folder.target, test_size=0.25, stratify=folder.target,
            random_state=args.random_state,
        )
        # ALOE's loop, run by the one simulation every experiment uses: the same
        # seed labels for both strategies in each run, one label per predicted
        # class per round, held-out accuracy after every round.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the pool running out: said below
            results = simulate(
                X_pool, y_pool, X_test, y_test,
                estimator=make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                strategies=("margin", "random"), selections=("class-aware",),
                n_rounds=args.rounds, n_per_class=args.n_per_class, n_runs=args.runs,
                random_state=args.random_state,
            )
        headers = {("margin", "class-aware"): "active", ("random", "class-aware"): "random"}
        all_labels = results.upper_bound["val_score"]

        say()
        say_wrapped(f"What is compared: a person labels {len(y_pool)} clips a few at a time; "
            "which clips should they label first? Active learning (\"active\") asks for "
            "the clips the model is least sure about (its two likeliest vowels are "
            "closest), one per vowel it predicts; \"random\" asks for clips at random. "
            f"Both start from the same {_plural(args.n_per_class, 'label')} per vowel, ask for "
            f"{n_classes} more per round, and retrain a linear classifier on the "
            "embeddings each time (the recipe of the ALOE paper, Lee et al. 2023).")
        say()
        say_wrapped(f"Accuracy on {len(y_test)} held-out clips, mean \u00b1 std over "
            f"{args.runs} run{'s' if args.runs != 1 else ''} with different starting labels:")
        table, _ = curve_table(results, headers)
        say(table)
        say(f"  {len(y_pool):6d}  {all_labels:13.3f}  <- all labels: every clip of the pool "
            "labeled, the goal to come close to")
        note = ran_out_note(results, args.rounds)
        if note:
            say_wrapped(note)
        say()
        for line in reach_lines(results, headers):
            say(line)
        say(f"Total time {time.perf_counter() - t_start:.1f} s.")
    return 0
