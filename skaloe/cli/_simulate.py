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
import logging
import os
import sys
import tempfile
import time

import numpy as np

# The file of a store folder that holds the labels of ``skaloe embed --dask``.
from ..datasets._embeddings import _STORE_LABELS


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


_DEFAULT_SHARD_SIZE = 256
_MAX_LOCAL_WORKERS = 8


def _argument_type(cast, accept, expected):
    """An argparse ``type`` that casts and checks a value, naming what it expected."""

    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type(int, lambda v: v >= 0, "a non-negative integer")
_positive_float = _argument_type(
    float, lambda v: 0 < v < float("inf"), "a positive number"
)
_fraction = _argument_type(
    float, lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"
)


def _comma_list(text):
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names without empty items, got {text!r}")
    if len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"names are repeated in {text!r}")
    return items


def _choice_list(what, choices):
    """An argparse type: a comma-separated list, each item among ``choices()``."""

    def parse(text):
        items = _comma_list(text)
        known = choices()
        unknown = [s for s in items if s not in known]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {unknown[0]!r}; choose from {', '.join(known)}")
        return items

    return parse


def _query_scorer_names():
    from ..active import get_query_scorer_names

    return get_query_scorer_names()


_SELECTIONS = ("class-aware", "class-agnostic")
_STOPPING_RULES = ("plateau", "stabilizing")
_strategy_list = _choice_list("query strategy", _query_scorer_names)
_selection_list = _choice_list("selection", lambda: _SELECTIONS)
_stopping_list = _choice_list("stopping rule", lambda: _STOPPING_RULES)


_non_negative_float = _argument_type(
    float, lambda v: 0 <= v < float("inf"), "a non-negative number"
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``<prog>: error: <message>``."""

    def error(self, message):
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_encoder_options(parser, *, cache_help):
    parser.add_argument(
        "--model", default="ge2e", metavar="MODEL",
        help="encoder: a built-in that runs offline ('ge2e', a pretrained speech network "
             "whose weights ship with skaloe; the spectral baselines 'mfcc', 'logmel'), a "
             "TF-Hub model name such as 'trillsson1'...'trillsson5', 'yamnet', 'vggish' "
             "(downloaded on first use), a tfhub.dev or Kaggle URL, or a SavedModel folder "
             "(default: ge2e)",
    )
    parser.add_argument("--cache", default=None, metavar="DIR", help=cache_help)
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="threads for decoding and encoding (default: 1; -1: all cores)")
    parser.add_argument("--timeout", type=_positive_float, default=10.0, metavar="S",
                        help="seconds to wait for a model download server (default: 10)")


def _build_parser():
    parser = _Parser(
        prog="skaloe",
        description="Active learning on audio with frozen pretrained encoders.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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

    embed = sub.add_parser(
        "embed",
        help="embed audio files with a frozen encoder into an .npz file (or, with --dask, "
             "into a store folder on a Dask cluster)",
        description=(
            "Embed audio clips once with a frozen encoder and write the embeddings to an "
            ".npz file: 'embeddings' (float32, n x dim), 'paths' and, when the classes are "
            "known, 'labels' (int) and 'label_names'. INPUT is a folder with one subfolder "
            "per class (the subfolder names are the classes), a folder of audio files "
            "without class subfolders (no labels), or a text file with one audio path per "
            "line, optionally followed by a TAB and its label (relative paths are read "
            "from the list file's folder; empty lines and lines starting with '#' are "
            "skipped). With --dask, the clips are embedded on a Dask cluster, shard by "
            "shard, into an embedding store: OUTPUT is then a folder (see "
            "skaloe.distributed.open_store) and the labels, if any, go to "
            f"OUTPUT/{_STORE_LABELS}; running the same command again resumes an "
            "unfinished store."
        ),
        epilog="examples: skaloe embed data/ -o embeddings.npz --model mfcc --cache "
               "~/.cache/skaloe -v ; skaloe embed data/ -o store/ --dask local "
               "--dask-workers 4 ; skaloe embed data/ -o /shared/store --dask "
               "tcp://10.0.0.5:8786 --shard-size 512 --model trillsson5",
    )
    embed.add_argument("input", metavar="INPUT",
                       help="audio folder (with or without class subfolders) or file list")
    embed.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                       help="the .npz file to write (the suffix .npz is added if missing); "
                            "with --dask, the store folder")
    _add_encoder_options(
        embed, cache_help="embedding cache folder, reused across runs (default: no cache; "
                          "not with --dask)")
    embed.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                       help="clips per model call for batched TF-Hub models (default: 32)")
    embed.add_argument("-v", "--verbose", action="count", default=0,
                       help="show a progress bar")
    dask = embed.add_argument_group(
        "embedding on a Dask cluster (pip install 'skaloe[dask]')")
    dask.add_argument(
        "--dask", default=None, metavar="ADDRESS",
        help="embed on Dask: the address of a running scheduler, e.g. tcp://10.0.0.5:8786 "
             "(waiting at most --timeout seconds for it), or 'local' for a cluster of "
             "worker processes on this machine; OUTPUT is then a store folder")
    dask.add_argument(
        "--dask-workers", type=_positive_int, default=None, metavar="N",
        help="worker processes of --dask local, one thread each (default: the number of "
             f"CPU cores, at most {_MAX_LOCAL_WORKERS}); each loads its own copy of the model")
    dask.add_argument(
        "--shard-size", type=_positive_int, default=None, metavar="N",
        help=f"clips per Dask task (default: {_DEFAULT_SHARD_SIZE}, or the shard size of "
             "the store being resumed)")
    dask.add_argument(
        "--write-on", choices=("workers", "client"), default=None,
        help="who writes the rows into the store: the workers (default; the store must be "
             "on a filesystem every worker mounts at the same path) or this client (the "
             "workers send their rows back)")
    dask.add_argument(
        "--overwrite", action="store_true",
        help="discard the store in OUTPUT and embed everything again (default: resume it)")
    embed.set_defaults(func=run_embed)

    simulate = sub.add_parser(
        "simulate",
        help="simulate active learning with an oracle (ALOE's protocol) and compare strategies",
        description=(
            "Simulate pool-based active learning on labeled data, ALOE's protocol: split "
            "the data (stratified) into a pool, a validation and a test set, or take the "
            "validation and test sets from --val-input and --test-input (a dataset's own "
            "split); standardize "
            "the embeddings (fit on the pool); in each run, start from N labels per class "
            "and let each query strategy ask for labels round after round, an oracle "
            "answering from the known labels; score on the validation set after every "
            "round and on the test set at the end, beside the classifier trained on the "
            "whole pool. Prints the learning curves (labels vs mean validation score) and "
            "the summary table; writes results.json, records.csv, summary.txt and "
            "learning_curves.png to --out. INPUT is an .npz file with labels written by "
            "'skaloe embed', a labeled store folder written by 'skaloe embed --dask' (read "
            "lazily), an audio folder with one subfolder per class, or a file list "
            "with labels (both embedded first with --model, through --cache). With "
            "--stopping, the summary also says where each stopping rule would have "
            "stopped (the simulation still runs every round)."
        ),
        epilog="examples: skaloe simulate embeddings.npz --strategies margin,entropy,random "
               "--rounds 20 --runs 5 --stopping plateau,stabilizing --out results/ ; "
               "skaloe simulate train.npz --val-input validation.npz --test-input test.npz "
               "--rounds 100 --runs 10 (ALOE's protocol on a dataset's own split)",
    )
    simulate.add_argument("input", metavar="INPUT",
                          help="labeled .npz from 'skaloe embed', labeled store folder from "
                               "'skaloe embed --dask', audio folder with class subfolders, "
                               "or file list with labels")
    _add_encoder_options(
        simulate, cache_help="embedding cache folder when INPUT is audio (default: no cache)")
    simulate.add_argument(
        "--strategies", type=_strategy_list, default=["margin", "random"], metavar="LIST",
        help="comma-separated query strategies to compare, among entropy, largest_margin, "
             "least_confidence, margin (ALOE's smallest margin), norm, random "
             "(default: margin,random)",
    )
    simulate.add_argument(
        "--selections", type=_selection_list, default=["class-aware"], metavar="LIST",
        help="comma-separated selection rules: class-aware (one label per predicted class "
             "per round, ALOE), class-agnostic (the top scores) (default: class-aware)",
    )
    simulate.add_argument("--rounds", type=_non_negative_int, default=20, metavar="N",
                          help="query rounds after the seed labels (default: 20)")
    simulate.add_argument("--runs", type=_positive_int, default=3, metavar="N",
                          help="runs with different seed labels, averaged (default: 3)")
    simulate.add_argument("--n-per-class", type=_positive_int, default=5, metavar="N",
                          help="seed labels per class at the start of each run (default: 5)")
    simulate.add_argument(
        "--batch-size", type=_positive_int, default=None, metavar="N",
        help="labels asked per round (default: the number of classes for class-aware, "
             "1 for class-agnostic)",
    )
    simulate.add_argument("--test-size", type=_fraction, default=None, metavar="F",
                          help="fraction of INPUT held out for testing (default: 0.2; not "
                               "with --test-input)")
    simulate.add_argument("--val-size", type=_fraction, default=None, metavar="F",
                          help="fraction of INPUT held out for validation (default: 0.2; not "
                               "with --val-input)")
    simulate.add_argument(
        "--val-input", default=None, metavar="VAL",
        help="a labeled validation set, in any form INPUT takes (.npz from 'skaloe embed', "
             "store folder from 'skaloe embed --dask', class folder, or file list with "
             "labels), e.g. a dataset's own validation "
             "split; INPUT is then not split for validation")
    simulate.add_argument(
        "--test-input", default=None, metavar="TEST",
        help="a labeled test set, in any form INPUT takes, e.g. a dataset's own test split; "
             "INPUT is then not split for testing (with --val-input too, all of INPUT is "
             "the pool)")
    simulate.add_argument("--scoring", default="accuracy", metavar="NAME",
                          help="scikit-learn scorer name, e.g. accuracy, balanced_accuracy, "
                               "f1_macro (default: accuracy)")
    simulate.add_argument(
        "--stopping", type=_stopping_list, default=[], metavar="LIST",
        help="comma-separated stopping rules to evaluate: plateau (the validation score "
             "has not improved by more than --min-delta for --patience rounds, ALOE's "
             "advice), stabilizing (successive models agree on 2000 pool samples, Cohen's "
             "kappa >= 0.99 for 3 rounds; Bloodgood & Vijay-Shanker 2009). Reports where "
             "each would have stopped; every round still runs (default: none)")
    simulate.add_argument("--patience", type=_positive_int, default=None, metavar="N",
                          help="rounds without improvement before plateau stops (default: 5)")
    simulate.add_argument("--min-delta", type=_non_negative_float, default=None, metavar="D",
                          help="smallest gain of the validation score that counts as an "
                               "improvement for plateau (default: 0.005)")
    simulate.add_argument("--random-state", type=int, default=0, metavar="SEED",
                          help="seed of the split, the seed labels and the learners (default: 0)")
    simulate.add_argument("--out", default="skaloe-simulation", metavar="DIR",
                          help="folder for the result files, created if needed "
                               "(default: skaloe-simulation)")
    simulate.add_argument("-v", "--verbose", action="count", default=0,
                          help="show progress (-vv: every round)")
    simulate.set_defaults(func=run_simulate)
    _add_label_parser(sub)
    return parser


def _strategy_name(text):
    names = _query_scorer_names()
    if text not in names:
        raise argparse.ArgumentTypeError(
            f"unknown query strategy {text!r}; choose from {', '.join(names)}")
    return text


def _add_label_parser(sub):
    label = sub.add_parser(
        "label",
        help="label clips in a local web page; every label is saved at once (resumable)",
        description=(
            "Label audio clips in your browser, with active learning choosing the clips. "
            "The first run embeds POOL once (--model, through --cache) and creates the "
            "session database --db; each label is committed to it (with the annotator and "
            "the time) before the page moves on, so a crash loses nothing already shown as "
            "saved. Run the same command again to resume exactly where you stopped: the "
            "same next clips, the same labels (POOL may then be left out; if given, it "
            "must be the pool the database was made for). The page lists the next queried "
            "clips with an audio player each, one button per class (keys 1-9 label the "
            "highlighted clip, Space plays it, U undoes the last label), the number of "
            "labels, the validation accuracy (with --val-input) or an estimate from "
            "cross-validation on your labels, and a stopping hint. It is served on "
            "127.0.0.1 (this machine only) unless --host says otherwise, and serves pool "
            "clips by number only. POOL is an audio folder, a text file with one audio "
            "path per line, or an .npz written by 'skaloe embed'."
        ),
        epilog="examples: skaloe label clips/ --db labels.sqlite --classes dog,cat,bird "
               "--cache ~/.cache/skaloe ; skaloe label --db labels.sqlite (resume) ; "
               "skaloe label --db labels.sqlite --export-csv labels.csv",
    )
    label.add_argument("pool", nargs="?", default=None, metavar="POOL",
                       help="audio folder, file list or .npz of embeddings (needed to create "
                            "the database; optional when resuming)")
    label.add_argument("--db", required=True, metavar="FILE",
                       help="the session database (SQLite), created on the first run")
    label.add_argument("--classes", type=_comma_list, default=None, metavar="LIST",
                       help="comma-separated class names, at least two (required for a new "
                            "database; stored in it)")
    _add_encoder_options(
        label, cache_help="embedding cache folder for POOL and --val-input (default: no cache)")
    label.add_argument(
        "--val-input", default=None, metavar="VAL",
        help="a labeled validation set: a folder with one subfolder per class or a file list "
             "of path<TAB>label lines (new database only); the page then shows validation "
             "accuracy instead of an estimate")
    label.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                       help="clips shown and queried at a time (default: the number of "
                            "classes, one per predicted class)")
    label.add_argument("--query-strategy", type=_strategy_name, default=None, metavar="NAME",
                       help="query strategy: entropy, largest_margin, least_confidence, "
                            "margin, norm or random (default: margin, ALOE's smallest margin)")
    label.add_argument("--selection", choices=_SELECTIONS, default=None,
                       help="class-aware (spread over predicted classes) or class-agnostic "
                            "(default: class-aware)")
    label.add_argument("--random-state", type=int, default=None, metavar="SEED",
                       help="seed of the learner (default: 0); the same seed and labels "
                            "give the same queries")
    label.add_argument("--host", default="127.0.0.1",
                       help="address to serve on (default: 127.0.0.1, this machine only; "
                            "0.0.0.0 lets anyone on the network listen and label)")
    label.add_argument("--port", type=_non_negative_int, default=8765,
                       help="port to serve on; 0 picks a free one (default: 8765)")
    label.add_argument("--annotator", default=None, metavar="NAME",
                       help="name recorded with every label (default: your user name)")
    label.add_argument("--export-csv", default=None, metavar="FILE",
                       help="write the labels (position, path, label, annotator, time) to "
                            "FILE and exit, without serving the page")
    label.add_argument("-v", "--verbose", action="count", default=0,
                       help="show embedding progress and log each request")
    label.set_defaults(func=run_label)


def _version():
    from .._version import __version__

    return f"skaloe {__version__}"


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


# -- embed and simulate ------------------------------------------------------


def _one_line(text):
    return " ".join(str(text).split())


def _has_audio_suffix(name):
    from ..datasets import AUDIO_EXTENSIONS

    return not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS)


def _read_file_list(path):
    """Paths (and labels, if every line has one) from a text file, one clip per line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise CLIError(
            f"{path!r} is neither a folder nor a text file listing audio paths "
            "(it is not UTF-8 text)") from None
    base = os.path.dirname(os.path.abspath(path))
    paths, labels = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        file, sep, label = line.partition("\t")
        file, label = file.strip(), label.strip()
        if sep and not label:
            raise CLIError(f"{path}, line {number}: a TAB but no label after it")
        if not os.path.isabs(file):
            local = os.path.join(base, file)
            file = local if os.path.exists(local) or not os.path.exists(file) else file
        if not os.path.isfile(file):
            raise CLIError(f"{path}, line {number}: audio file {file!r} does not exist")
        paths.append(file)
        labels.append(label if sep else None)
    if not paths:
        raise CLIError(f"the file list {path!r} lists no audio file")
    labeled = [label is not None for label in labels]
    if any(labeled) and not all(labeled):
        number = labeled.index(False) if labeled[0] else labeled.index(True)
        raise CLIError(
            f"{path}: some lines have a label (path<TAB>label) and some do not "
            f"(e.g. the clip {paths[number]!r}); label every line or none")
    if not any(labeled):
        return paths, None, None
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    return paths, np.array([index[x] for x in labels], dtype=np.int64), names


def _read_audio_input(path, command):
    """``(paths, labels or None, label_names or None, description)`` for an audio INPUT."""
    import warnings

    from ..datasets import load_audio_folder

    if not os.path.exists(path):
        raise CLIError(f"INPUT {path!r} does not exist")
    if _is_store(path):
        raise CLIError(f"{path!r} is an embedding store (written by 'skaloe embed --dask'); "
                       "pass an audio folder or a file list")
    if os.path.isdir(path):
        entries = sorted(os.listdir(path))
        subfolders = [e for e in entries
                      if not e.startswith(".") and os.path.isdir(os.path.join(path, e))]
        loose = [e for e in entries
                 if _has_audio_suffix(e) and os.path.isfile(os.path.join(path, e))]
        if subfolders:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                folder = load_audio_folder(path)
            for w in caught:
                print(f"skaloe {command}: note: {_one_line(w.message)}", file=sys.stderr)
            if loose:
                print(f"skaloe {command}: note: {len(loose)} audio files directly in {path} "
                      "(outside the class subfolders) are ignored", file=sys.stderr)
            names = list(folder.target_names)
            return (list(folder.filenames), folder.target.astype(np.int64), names,
                    f"{len(folder.filenames)} clips in {len(names)} classes")
        if not loose:
            from ..datasets import AUDIO_EXTENSIONS

            raise CLIError(
                f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) and no class subfolders "
                f"in {path!r}")
        return [os.path.join(path, e) for e in loose], None, None, f"{len(loose)} clips"
    if path.lower().endswith(".npz"):
        raise CLIError(f"{path!r} is an .npz file; pass an audio folder or a file list")
    paths, labels, names = _read_file_list(path)
    what = f"{len(paths)} clips" + ("" if names is None else f" in {len(names)} classes")
    return paths, labels, names, what


def _embed_paths(paths, args, *, verbose):
    from ..encoders import EncoderTransformer

    encoder = EncoderTransformer(
        args.model, memory=args.cache, n_jobs=args.n_jobs,
        batch_size=getattr(args, "batch_size_encoder", None) or 32,
        timeout=args.timeout, verbose=verbose,
    )
    return encoder.fit_transform(paths).astype(np.float32, copy=False)


def run_embed(args, out=None):
    """The ``embed`` command: audio clips in, an .npz file of embeddings out.

    With ``--dask``, a store folder filled on a Dask cluster instead (see
    :func:`_run_embed_dask`).
    """
    out = sys.stdout if out is None else out
    if getattr(args, "dask", None) is not None:
        return _run_embed_dask(args, out)
    for option, value in (
        ("--dask-workers", getattr(args, "dask_workers", None)),
        ("--shard-size", getattr(args, "shard_size", None)),
        ("--write-on", getattr(args, "write_on", None)),
        ("--overwrite", getattr(args, "overwrite", False) or None),
    ):
        if value is not None:
            raise CLIError(f"{option} applies to embedding on a Dask cluster; add --dask "
                           "ADDRESS (or --dask local)")
    t0 = time.perf_counter()
    output = os.fspath(args.output)
    if not output.lower().endswith(".npz"):
        output += ".npz"
    if os.path.isdir(output):
        raise CLIError(f"OUTPUT {output!r} is a folder; give the name of an .npz file")
    paths, labels, names, what = _read_audio_input(args.input, "embed")
    args.batch_size_encoder = args.batch_size
    embeddings = _embed_paths(paths, args, verbose=args.verbose)
    from ..datasets import save_embeddings

    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    save_embeddings(output, embeddings, labels=labels, label_names=names, paths=paths,
                    model=str(args.model))
    classes = "no labels" if labels is None else f"{len(names)} classes"
    print(f"skaloe embed: {len(paths)} clips, {embeddings.shape[1]}-d embeddings "
          f"({args.model}, {classes}) in {time.perf_counter() - t0:.1f} s, written to "
          f"{output}", file=out, flush=True)
    return 0


# -- embed --dask: a store folder filled on a Dask cluster ---------------------


def _is_store(path):
    """Whether ``path`` is a folder holding an embedding store (it has a manifest)."""
    from ..distributed import _store

    return os.path.isdir(path) and os.path.isfile(os.path.join(path, _store._MANIFEST))


def _check_store_output(store, overwrite):
    """Fail early when OUTPUT cannot be a store; return the manifest of one already there."""
    from ..datasets import save_store_labels
    from ..distributed import _store

    if os.path.exists(store) and not os.path.isdir(store):
        raise CLIError(f"OUTPUT {store!r} is a file; with --dask, OUTPUT is a store folder "
                       "(new, empty, or a store to resume)")
    if not os.path.isdir(store):
        return None
    manifest = _store.read_manifest(store)  # a foreign manifest.json: ValueError
    if manifest is None:
        others = sorted(e for e in os.listdir(store) if not e.startswith("."))
        if others:
            raise CLIError(
                f"OUTPUT {store!r} is a folder that holds other files (e.g. {others[0]!r}) "
                "and no embedding store; give a new or empty folder for the store")
    elif overwrite:
        # embed_distributed removes the store's own files; the labels go with them.
        save_store_labels(store, None)
        return None
    return manifest


def _dask_client(address, args):
    """``(client, cluster or None)`` for ``--dask ADDRESS``; the caller closes both."""
    try:
        import distributed
    except ImportError as exc:
        raise CLIError(f"--dask needs dask.distributed: pip install 'skaloe[dask]' "
                       f"({_one_line(exc)})") from None
    if address == "local":
        n_workers = args.dask_workers or max(1, min(os.cpu_count() or 1, _MAX_LOCAL_WORKERS))
        try:
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
                # A failed shard is reported once, as the command's error line; the
                # workers' own log (tracebacks included) only with -v.
                silence_logs=logging.WARNING if args.verbose else logging.CRITICAL,
            )
        except Exception as exc:
            raise CLIError(f"cannot start a local Dask cluster of {n_workers} workers: "
                           f"{_one_line(exc)}") from None
        try:
            return distributed.Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        return distributed.Client(address, timeout=args.timeout), None
    except ValueError as exc:
        raise CLIError(f"--dask {address!r} is not a scheduler address ({_one_line(exc)}); "
                       "give one such as tcp://10.0.0.5:8786, or 'local'") from None
    except (OSError, TimeoutError) as exc:
        raise CLIError(
            f"cannot reach the Dask scheduler at {address!r} within {args.timeout:g} s "
            f"({_one_line(exc)}); check the address and that 'dask scheduler' runs there "
            "(--timeout waits longer), or use --dask local") from None


def _run_embed_dask(args, out):
    """``skaloe embed --dask``: fill (or resume) a store folder with embed_distributed."""
    from ..datasets import save_store_labels
    from ..distributed import ShardError, _store, embed_distributed

    t0 = time.perf_counter()
    address = args.dask.strip()
    if not address:
        raise CLIError("--dask needs a scheduler address such as tcp://10.0.0.5:8786, or "
                       "'local'")
    local = address.lower() == "local"
    address = "local" if local else address
    if args.dask_workers is not None and not local:
        raise CLIError("--dask-workers sets the size of --dask local; a running cluster "
                       "has the workers its scheduler has")
    if args.cache is not None:
        raise CLIError("--cache does not apply with --dask: the store in OUTPUT keeps "
                       "every finished shard, and running the command again resumes it")
    store = os.path.abspath(os.fspath(args.output))
    if store.lower().endswith(".npz"):
        raise CLIError(f"with --dask, OUTPUT is a store folder, not an .npz file; give a "
                       f"folder name such as {store[:-4]!r}")
    manifest = _check_store_output(store, args.overwrite)
    paths, labels, names, what = _read_audio_input(args.input, "embed")
    # Workers open the files (and the store) themselves: give them absolute paths.
    paths = [os.path.abspath(p) for p in paths]
    shard_size = args.shard_size
    n_before = 0
    if manifest is not None:
        if shard_size is None:  # resuming: keep the shards the store was cut into
            shard_size = manifest["shard_size"]
        elif shard_size != manifest["shard_size"]:
            raise CLIError(
                f"the store {store!r} was written with --shard-size "
                f"{manifest['shard_size']}, not {shard_size}; drop --shard-size to resume it, "
                "or pass --overwrite to embed everything again")
        n_before = len(_store.done_shards(store, manifest["n_shards"]))
    shard_size = _DEFAULT_SHARD_SIZE if shard_size is None else shard_size
    write_on = args.write_on or "workers"

    client, cluster = _dask_client(address, args)
    try:
        where = (f"a local cluster of {len(cluster.workers)} workers" if local
                 else client.scheduler.address)
        embeddings = embed_distributed(
            paths, store, model=args.model, client=client, shard_size=shard_size,
            batch_size=args.batch_size, n_jobs=args.n_jobs, timeout=args.timeout,
            write_on=write_on, overwrite=args.overwrite, verbose=args.verbose,
        )
    except ShardError as exc:
        message = _one_line(exc).replace(
            "call embed_distributed again with the same arguments", "run the same command again")
        raise CLIError(message) from None
    except (ValueError, FileExistsError) as exc:  # a store of other files, model, settings
        message = _one_line(exc).replace("pass overwrite=True", "pass --overwrite")
        raise CLIError(message) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    # Without labels, a stale labels file of an earlier run is removed.
    save_store_labels(store, labels, label_names=names)
    n_shards = len(_store.shard_bounds(len(paths), shard_size))
    n_new = n_shards - n_before
    classes = "no labels" if labels is None else (
        f"{len(names)} classes, labels in {_STORE_LABELS}")
    done = (f"{n_new} of {_plural(n_shards, 'shard')} embedded"
            + (f", {n_before} already stored" if n_before else ""))
    print(f"skaloe embed: {len(paths)} clips, {embeddings.shape[1]}-d embeddings "
          f"({args.model}, {classes}) on Dask ({where}): {done}, {shard_size} clips a shard, "
          f"in {time.perf_counter() - t0:.1f} s; store in {store}", file=out, flush=True)
    return 0


def _split(X, y, names, args, *, val_given=False, test_given=False):
    """Stratified split of INPUT into the pool and the held-out sets not given apart.

    Returns ``(X_pool, X_val, X_test, y_pool, y_val, y_test)``; the validation
    or test part is None when it comes from ``--val-input`` / ``--test-input``.
    """
    from sklearn.model_selection import train_test_split

    present, counts = np.unique(y, return_counts=True)
    if len(present) < 2:
        raise CLIError("simulate needs at least 2 classes, the data has "
                       f"{len(present)}")
    smallest = int(np.argmin(counts))
    small_name, small_n = names[present[smallest]], int(counts[smallest])
    sizes = "/".join(
        option for option, given in (("--test-size", test_given), ("--val-size", val_given))
        if not given)
    hint = f"the smallest class {small_name!r} has {small_n} samples; add data, drop the class"
    hint += f", or change {sizes}" if sizes else ""
    n_parts = 1 + (not val_given) + (not test_given)
    wanted = {
        (False, False): "pool, validation and test",
        (True, False): "pool and test",
        (False, True): "pool and validation",
        (True, True): "pool",
    }[val_given, test_given]
    if n_parts > 1 and small_n < n_parts:
        raise CLIError(f"cannot split the data into {wanted} sets: {hint}")
    X_val = y_val = X_test = y_test = None
    try:
        X_pool, y_pool = X, y
        if not test_given:
            X_pool, X_test, y_pool, y_test = train_test_split(
                X_pool, y_pool, test_size=args.test_size, stratify=y_pool,
                random_state=args.random_state)
        if not val_given:
            left = 1 - (0 if test_given else args.test_size)
            X_pool, X_val, y_pool, y_val = train_test_split(
                X_pool, y_pool, test_size=args.val_size / left, stratify=y_pool,
                random_state=args.random_state)
    except ValueError as exc:
        raise CLIError(f"cannot split {len(y)} samples of {len(present)} classes into {wanted} "
                       f"sets ({_one_line(exc)}); {hint}") from None
    pool_classes, pool_counts = np.unique(y_pool, return_counts=True)
    if len(pool_classes) < len(present):
        missing = sorted(set(present) - set(pool_classes))
        raise CLIError(f"class {names[missing[0]]!r} has no sample left in the pool; {hint}")
    k = int(np.argmin(pool_counts))
    if pool_counts[k] < args.n_per_class:
        raise CLIError(
            f"class {names[pool_classes[k]]!r} has only {int(pool_counts[k])} samples in the "
            f"pool, fewer than --n-per-class {args.n_per_class}; lower --n-per-class or "
            "add data")
    return X_pool, X_val, X_test, y_pool, y_val, y_test


def _load_labeled(source, args, option, say, lead=None):
    """``(X, y, label_names, model)`` of a labeled INPUT, --val-input or --test-input.

    ``model`` is the encoder that wrote an .npz file (None when unknown), or
    ``--model`` for audio, which is embedded here. ``lead`` starts the
    progress line (default: ``"  <option>:"``).
    """
    lead = f"  {option}:" if lead is None else lead
    if not os.path.exists(source):
        raise CLIError(f"{option} {source!r} does not exist")
    store = _is_store(source)
    if store or (os.path.isfile(source) and source.lower().endswith(".npz")):
        from ..datasets import load_embeddings

        try:
            data = load_embeddings(source)
        except ValueError as exc:
            raise CLIError(f"{option}: {_one_line(exc)}") from None
        if data.labels is None:
            what = (f"is an embedding store without labels (no {_STORE_LABELS})" if store
                    else "holds no labels")
            raise CLIError(
                f"{option} {source!r} {what}; simulate needs labeled data: embed a folder "
                "with one subfolder per class, or a file list with path<TAB>label lines")
        X, y, names = data.embeddings, data.labels, data.label_names
        say(f"{lead} {len(y)} embeddings ({X.shape[1]}-d) in {len(names)} classes "
            f"from {'the store ' if store else ''}{source}")
        return X, y, names, data.model
    paths, y, names, what = _read_audio_input(source, "simulate")
    if y is None:
        raise CLIError(
            f"{option} {source!r} has no labels; simulate needs one subfolder per class (or a "
            "file list with path<TAB>label lines)")
    t0 = time.perf_counter()
    args.batch_size_encoder = None
    X = _embed_paths(paths, args, verbose=args.verbose)
    say(f"{lead} {what} from {source}, embedded with {args.model} "
        f"({X.shape[1]}-d) in {time.perf_counter() - t0:.1f} s")
    return X, y, list(names), str(args.model)


def _align_labels(y, names, pool_names, option, source):
    """Codes of ``y`` (indices into ``names``) as indices into the pool's class names."""
    index = {name: i for i, name in enumerate(pool_names)}
    unknown = [n for n in names if n not in index and np.any(y == names.index(n))]
    if unknown:
        raise CLIError(
            f"{option} {source!r} has class {unknown[0]!r}, which INPUT does not have "
            f"(INPUT's classes: {', '.join(pool_names[:12])}"
            + (", ..." if len(pool_names) > 12 else "") + ")")
    mapping = np.array([index.get(n, -1) for n in names], dtype=np.int64)
    return mapping[y]


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _format_n(value):
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _curve_table(results):
    """Learning curves as text: labels vs mean validation score, one column per learner."""
    curves = results.curves()
    keys = list(curves)
    headers = [f"{s}/{sel}" for s, sel in keys]
    rows = {}
    for j, key in enumerate(keys):
        n_labels, mean, _ = curves[key]
        for n, m in zip(n_labels, mean):
            rows.setdefault(float(n), {})[j] = float(m)
    width = [max(7, len(h)) for h in headers]
    lines = ["  " + f"{'labels':>6s}  " + "  ".join(f"{h:>{w}s}" for h, w in zip(headers, width))]
    for n in sorted(rows):
        cells = [f"{rows[n][j]:{w}.3f}" if j in rows[n] else " " * w
                 for j, w in enumerate(width)]
        lines.append("  " + f"{_format_n(n):>6s}  " + "  ".join(cells))
    return "\n".join(lines)


def _plot_curves(results, path):
    """Write the learning curves as a PNG; a one-line reason when it cannot."""
    try:
        from matplotlib.figure import Figure

        from ..experiment import ActiveLearningCurveDisplay
    except ImportError as exc:
        return f"learning_curves.png skipped (plotting unavailable: {_one_line(exc)})"
    try:
        fig = Figure(figsize=(7, 4.5))
        ax = fig.add_subplot()
        display = ActiveLearningCurveDisplay.from_results(results, ax=ax)
        figure = getattr(display, "figure_", None) or fig
        figure.savefig(path, dpi=120, bbox_inches="tight")
    except Exception as exc:  # a plotting failure must not lose the results
        return f"learning_curves.png skipped (plotting failed: {_one_line(exc)})"
    return None


def _stopping_rules(args):
    """The rules named by ``--stopping``, as :mod:`skaloe.active` objects."""
    from ..active import PlateauStopping, StabilizingPredictions

    rules = []
    for name in args.stopping:
        if name == "plateau":
            rules.append(PlateauStopping(patience=args.patience, min_delta=args.min_delta,
                                         name=f"validation {args.scoring}"))
        else:
            rules.append(StabilizingPredictions(random_state=args.random_state))
    return rules


def run_simulate(args, out=None):
    """The ``simulate`` command: ALOE's simulated active learning protocol."""
    out = sys.stdout if out is None else out
    from sklearn.metrics import get_scorer
    from sklearn.preprocessing import StandardScaler

    from ..experiment import simulate

    def say(text=""):
        print(text, file=out, flush=True)

    t_start = time.perf_counter()
    try:
        get_scorer(args.scoring)
    except ValueError:
        raise CLIError(f"unknown --scoring {args.scoring!r}; use a scikit-learn scorer name "
                       "such as accuracy, balanced_accuracy or f1_macro") from None
    val_given, test_given = args.val_input is not None, args.test_input is not None
    for option, size, given, input_option in (
        ("--val-size", args.val_size, val_given, "--val-input"),
        ("--test-size", args.test_size, test_given, "--test-input"),
    ):
        if given and size is not None:
            raise CLIError(f"{option} and {input_option} cannot be used together: the "
                           f"{input_option} set replaces the part {option} would hold out")
    args.val_size = 0.2 if args.val_size is None else args.val_size
    args.test_size = 0.2 if args.test_size is None else args.test_size
    held_out = (0 if val_given else args.val_size) + (0 if test_given else args.test_size)
    if held_out >= 1:
        raise CLIError(f"--test-size {args.test_size} and --val-size {args.val_size} leave "
                       "no pool; their sum must be below 1")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CLIError(f"--out {args.out!r} is a file; give a folder")
    if "plateau" not in args.stopping:
        for option, value in (("--patience", args.patience), ("--min-delta", args.min_delta)):
            if value is not None:
                raise CLIError(f"{option} sets the plateau rule; add --stopping plateau")
    args.patience = 5 if args.patience is None else args.patience
    args.min_delta = 0.005 if args.min_delta is None else args.min_delta

    source = args.input
    X, y, names, model = _load_labeled(source, args, "INPUT", say, lead="skaloe simulate:")

    given = {}
    for option, path in (("--val-input", args.val_input), ("--test-input", args.test_input)):
        if path is None:
            continue
        X_o, y_o, names_o, model_o = _load_labeled(path, args, option, say)
        if X_o.shape[1] != X.shape[1]:
            raise CLIError(
                f"{option} {path!r} holds {X_o.shape[1]}-d embeddings but INPUT holds "
                f"{X.shape[1]}-d ones; embed both with the same --model")
        if model is not None and model_o is not None and model_o != model:
            raise CLIError(
                f"{option} {path!r} was embedded with {model_o!r} but INPUT with {model!r}; "
                "embed both with the same --model")
        given[option] = (X_o, _align_labels(y_o, names_o, names, option, path))

    X_pool, X_val, X_test, y_pool, y_val, y_test = _split(
        X, y, names, args, val_given=val_given, test_given=test_given)
    if val_given:
        X_val, y_val = given["--val-input"]
    if test_given:
        X_test, y_test = given["--test-input"]
    scaler = StandardScaler().fit(X_pool)  # unsupervised: no label is used
    X_pool, X_val, X_test = (scaler.transform(a) for a in (X_pool, X_val, X_test))
    if not (val_given or test_given):
        say(f"  split (stratified, random state {args.random_state}): pool {len(y_pool)}, "
            f"validation {len(y_val)}, test {len(y_test)}; embeddings standardized on the "
            "pool")
    else:
        split = "all of INPUT" if val_given and test_given else (
            f"INPUT split stratified, random state {args.random_state}")
        say(f"  pool {len(y_pool)} ({split}), validation {len(y_val)}"
            f"{' (--val-input)' if val_given else ''}, test {len(y_test)}"
            f"{' (--test-input)' if test_given else ''}; embeddings standardized on the pool")
    say(f"  {_plural(args.runs, 'run')} of {_plural(args.rounds, 'round')} from "
        f"{_plural(args.n_per_class, 'label')} per class; "
        f"strategies {', '.join(args.strategies)}; selections {', '.join(args.selections)}; "
        f"scoring {args.scoring}"
        + (f"; stopping rules {', '.join(args.stopping)}" if args.stopping else ""))

    rules = _stopping_rules(args)
    results = simulate(
        X_pool, y_pool, X_val, y_val, X_test, y_test,
        strategies=args.strategies, selections=args.selections, n_rounds=args.rounds,
        batch_size=args.batch_size, n_per_class=args.n_per_class, n_runs=args.runs,
        scoring=args.scoring, stopping=rules or None, random_state=args.random_state,
        verbose=max(0, args.verbose),
    )
    results.params["input"] = os.fspath(source)
    results.params["val_input"] = args.val_input
    results.params["test_input"] = args.test_input
    results.params["label_names"] = list(names)

    ub = results.upper_bound
    say()
    say(f"Learning curves: mean validation {args.scoring} over {_plural(args.runs, 'run')}")
    say(_curve_table(results))
    say(f"  {len(y_pool):6d}  upper bound (every pool label): validation "
        f"{ub['val_score']:.3f}, test {ub['test_score']:.3f}")
    say()
    summary = results.summary().to_text()
    say(f"Summary: final {args.scoring} (validation and test), mean \u00b1 std over runs"
        + ("; where each stopping rule would have stopped (labels, and the validation "
           "score there)" if rules else ""))
    say(summary)
    say()

    os.makedirs(args.out, exist_ok=True)
    written = []
    for name, write in (
        ("results.json", results.to_json),
        ("records.csv", results.to_csv),
    ):
        write(os.path.join(args.out, name))
        written.append(name)
    with open(os.path.join(args.out, "summary.txt"), "w", encoding="utf-8") as f:
        f.write(summary + "\n")
    written.append("summary.txt")
    note = _plot_curves(results, os.path.join(args.out, "learning_curves.png"))
    if note is None:
        written.append("learning_curves.png")
    say(f"Wrote {', '.join(written)} to {args.out} "
        f"(total time {time.perf_counter() - t_start:.1f} s).")
    if note is not None:
        say(f"Note: {note}.")
    return 0


def _label_pool(source):
    """What ``DurableSession`` takes as pool: an .npz path or a list of audio paths."""
    if not os.path.exists(source):
        raise CLIError(f"POOL {source!r} does not exist")
    if os.path.isfile(source) and source.lower().endswith(".npz"):
        return source
    paths, _, _, _ = _read_audio_input(source, "label")
    return paths


def run_label(args, out=None, *, ready=None):
    """The ``label`` command: serve the labeling page of a durable session.

    ``ready`` (for tests) is called with the server once it listens.
    """
    out = sys.stdout if out is None else out
    from ..labeling import (
        DamagedSessionError,
        DurableSession,
        LabelServer,
        SessionLockedError,
        export_labels,
    )

    def say(text):
        print(text, file=out, flush=True)

    db = os.fspath(args.db)
    if args.annotator is not None and not args.annotator.strip():
        raise CLIError("--annotator must not be empty")
    settings = {"classes": args.classes, "batch_size": args.batch_size,
                "query_strategy": args.query_strategy, "selection": args.selection,
                "random_state": args.random_state}
    if os.path.isfile(db) and os.path.getsize(db) > 0:
        pool = None if args.pool is None else _label_pool(args.pool)
        try:
            session = DurableSession(db, pool=pool, annotator=args.annotator)
        except (SessionLockedError, DamagedSessionError) as exc:
            if args.export_csv is None:
                raise CLIError(str(exc)) from None
            # Read the label log only: works while another process labels, and
            # on a file whose stored embeddings are damaged.
            n = export_labels(db, args.export_csv)
            say(f"skaloe label: {exc.__class__.__name__}: the session cannot be opened, but "
                f"{_plural(n, 'label')} were read from its log and written to "
                f"{args.export_csv}")
            return 0
        try:
            for name, value in settings.items():
                stored = getattr(session, name)
                if value is not None and value != stored:
                    shown = ",".join(stored) if name == "classes" else stored
                    raise CLIError(
                        f"{db} was created with --{name.replace('_', '-')} {shown}; drop the "
                        "option to resume, or give a new --db for a new session")
            if args.val_input is not None:
                raise CLIError(
                    f"--val-input is only read when a database is created; {db} already "
                    "exists (drop the option to resume)")
        except BaseException:
            session.close()
            raise
        say(f"skaloe label: resuming {db}: {len(session.labels())} labels of "
            f"{session.n_pool} clips")
    else:
        if args.export_csv is not None:
            raise CLIError(f"no database {db!r} to export from")
        if args.pool is None:
            raise CLIError(f"POOL is required to create the new database {db!r}")
        if args.classes is None:
            raise CLIError(
                f"--classes is required to create the new database {db!r} "
                "(e.g. --classes dog,cat,bird)")
        pool = _label_pool(args.pool)
        validation = None
        if args.val_input is not None:
            if isinstance(pool, str):
                raise CLIError("--val-input takes audio, but POOL is an .npz of embeddings; "
                               "embed POOL from audio to use a validation set")
            val_paths, val_labels, val_names, _ = _read_audio_input(args.val_input, "label")
            if val_labels is None:
                raise CLIError(
                    f"--val-input {args.val_input!r} has no labels; use one subfolder per "
                    "class or path<TAB>label lines")
            validation = (val_paths, [val_names[k] for k in val_labels])
        t0 = time.perf_counter()
        session = DurableSession.create(
            db, pool, args.classes, validation=validation, model=args.model,
            cache=args.cache, n_jobs=args.n_jobs, batch_size=args.batch_size,
            query_strategy=args.query_strategy or "margin",
            selection=args.selection or "class-aware",
            random_state=0 if args.random_state is None else args.random_state,
            annotator=args.annotator,
        )
        say(f"skaloe label: created {db}: {session.n_pool} clips embedded in "
            f"{time.perf_counter() - t0:.1f} s, classes {', '.join(session.classes)}")
    try:
        if args.export_csv is not None:
            n = session.export_csv(args.export_csv)
            say(f"skaloe label: {_plural(n, 'label')} written to {args.export_csv}")
            return 0
        try:
            server = LabelServer(session, args.host, args.port, annotator=args.annotator,
                                 verbose=bool(args.verbose))
        except OSError as exc:
            raise CLIError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
                           ) from None
        if server.allowed_hosts is None:
            print(f"skaloe label: note: serving on {args.host}, not only this machine: "
                  "anyone who reaches it can listen to the clips and label them",
                  file=sys.stderr)
        say(f"skaloe label: open {server.url} to label (Ctrl+C to stop; every label is "
            f"saved in {db} as you go)")
        try:
            if ready is not None:
                ready(server)
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        say(f"skaloe label: stopped with {_plural(len(session.labels()), 'label')} in {db}")
        return 0
    finally:
        session.close()


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
        message = _one_line(exc) or type(exc).__name__
        print(f"skaloe {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skaloe {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
