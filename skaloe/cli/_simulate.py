"""``skaloe simulate``: ALOE's simulated active learning protocol on labeled data."""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

from ..datasets._embeddings import _STORE_LABELS
from ._inputs import _embed_paths, _is_store, _read_audio_input
from ._parser import (
    CLIError,
    _add_encoder_options,
    _fraction,
    _non_negative_float,
    _non_negative_int,
    _one_line,
    _plural,
    _positive_int,
    _selection_list,
    _stopping_list,
    _strategy_list,
)
from ._report import (
    comparable_labels,
    curve_table,
    format_count,
    ran_out_note,
    reach_lines,
    strategy_lines,
    wrap,
)


def add_parser(sub):
    """Add the ``simulate`` command to the subparsers ``sub``."""
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
             "per round, ALOE), class-agnostic (the top scores), one-per-class (at most one "
             "label per predicted class: none for a class predicted nowhere, as ALOE's "
             "code) (default: class-aware)",
    )
    # ALOE's code exactly, and scoring logits (issue 13, item 5).
    simulate.add_argument(
        "--preset", choices=["aloe"], default=None,
        help="aloe: make every choice as ALOE's code (HarlinLee/ALOE) does: its seed "
             "sets (--random-state is its --seed of the first run), a classifier refit "
             "from scratch each round, strategies scoring logits, class-aware rounds of "
             "at most one label per predicted class, ties to the lowest index; not with "
             "--batch-size")
    simulate.add_argument(
        "--response-method", choices=["predict_proba", "decision_function"], default=None,
        help="what the strategies score: predict_proba (probabilities, the default) or "
             "decision_function (logits, as ALOE; implied by --preset aloe)")
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


def _plot_curves(results, path):
    """Write the learning curves as a PNG; a one-line reason when it cannot."""
    try:
        from matplotlib.figure import Figure

        from ..experiment import ActiveLearningCurveDisplay
    except ImportError as exc:
        return (f"learning_curves.png was not written: matplotlib cannot be imported "
                f"({_one_line(exc)}); install it with `pip install matplotlib` and run "
                "again, or plot results.json later with "
                "ActiveLearningCurveDisplay.from_results(SimulationResults.from_json(...))")
    try:
        fig = Figure(figsize=(7, 4.5))
        ax = fig.add_subplot()
        display = ActiveLearningCurveDisplay.from_results(results, ax=ax)
        figure = getattr(display, "figure_", None) or fig
        figure.savefig(path, dpi=120, bbox_inches="tight")
    except Exception as exc:  # a plotting failure must not lose the results
        return (f"learning_curves.png was not written: plotting failed ({_one_line(exc)}); "
                "the results are in results.json: plot them with "
                "ActiveLearningCurveDisplay.from_results(SimulationResults.from_json(...))")
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
    if args.preset is not None and args.batch_size is not None:
        raise CLIError(f"--preset {args.preset} asks ALOE's number of labels per round; "
                       "drop --batch-size")
    if args.preset is not None and args.response_method == "predict_proba":
        raise CLIError(f"--preset {args.preset} scores logits; --response-method "
                       "predict_proba contradicts it")

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
        say(wrap(f"split (stratified, random state {args.random_state}): pool {len(y_pool)}, "
                 f"validation {len(y_val)}, test {len(y_test)}; embeddings standardized on "
                 "the pool", "  "))
    else:
        split = "all of INPUT" if val_given and test_given else (
            f"INPUT split stratified, random state {args.random_state}")
        say(wrap(f"pool {len(y_pool)} ({split}), validation {len(y_val)}"
                 f"{' (--val-input)' if val_given else ''}, test {len(y_test)}"
                 f"{' (--test-input)' if test_given else ''}; embeddings standardized on the "
                 "pool", "  "))
    say(wrap(f"{_plural(args.runs, 'run')} of {_plural(args.rounds, 'round')} from "
             f"{_plural(args.n_per_class, 'label')} per class; "
             f"strategies {', '.join(args.strategies)}; selections "
             f"{', '.join(args.selections)}; scoring {args.scoring}"
             + (f"; stopping rules {', '.join(args.stopping)}" if args.stopping else "")
             + ("; preset aloe (ALOE's seed draws, margins of logits, a classifier refit "
                "from scratch, at most one label per predicted class, ties to the lowest "
                "index)" if args.preset == "aloe" else ""), "  "))

    rules = _stopping_rules(args)
    with warnings.catch_warnings():
        # The pool running out is said in plain words below, with the curves.
        warnings.filterwarnings("ignore", "The pool of", UserWarning)
        results = simulate(
            X_pool, y_pool, X_val, y_val, X_test, y_test,
            preset=args.preset, response_method=args.response_method,
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
    say(wrap("What is compared: each strategy decides which clips an oracle labels next, "
             "starting from the same labels in each run:"))
    for line in strategy_lines(args.strategies, args.selections, preset=args.preset):
        say(line)
    say()
    say(f"Learning curves: validation {args.scoring}, mean \u00b1 std over "
        f"{_plural(args.runs, 'run')}")
    table, _ = curve_table(results)
    say(table)
    say(f"  {len(y_pool):6d}  all labels (every pool clip labeled, trained once): "
        f"validation {ub['val_score']:.3f}, test {ub['test_score']:.3f}")
    note = ran_out_note(results, args.rounds)
    if note:
        say(wrap(note))
    say()
    for line in reach_lines(results):
        say(line)
    say()
    cut = comparable_labels(results) if note else None
    if cut is not None:
        summary = results.summary(at_labels=cut).to_text()
        say(wrap(f"Summary at {format_count(cut)} labels, the last round before the pool "
                 f"ran out: validation {args.scoring}, mean \u00b1 std over runs (the test "
                 "set is scored at the end only, with every clip labeled)"))
    else:
        summary = results.summary().to_text()
        say(wrap(f"Summary: final {args.scoring} (validation and test), mean \u00b1 std over "
                 "runs" + ("; where each stopping rule would have stopped (labels, and the "
                           "validation score there)" if rules else "")))
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
    plotted = results
    if cut is not None:  # the plot, too, stops before the pool ran out
        from ..experiment import SimulationResults

        plotted = SimulationResults([r for r in results.records if r["n_labels"] <= cut],
                                    results.final, results.upper_bound, results.params)
    note = _plot_curves(plotted, os.path.join(args.out, "learning_curves.png"))
    if note is None:
        written.append("learning_curves.png")
    say(f"Wrote {', '.join(written)} to {args.out} "
        f"(total time {time.perf_counter() - t_start:.1f} s).")
    if note is not None:
        say(f"Note: {note}.")
    return 0
