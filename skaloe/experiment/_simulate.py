"""Simulated active learning: an oracle answers every query from known labels."""

from __future__ import annotations

import numbers
import time
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.utils import check_random_state

from ._results import SimulationResults

_SELECTIONS = ("class-aware", "class-agnostic", "one-per-class")
_PRESETS = ("aloe",)


def _strategy_name(strategy):
    """A printable, JSON-friendly name of a query strategy."""
    if isinstance(strategy, str):
        return strategy
    name = getattr(strategy, "__name__", None)
    return name if isinstance(name, str) else repr(strategy)


def _scoring_name(scoring):
    if isinstance(scoring, str):
        return scoring
    name = getattr(scoring, "__name__", None)
    return name if isinstance(name, str) else repr(scoring)


def _as_float(value):
    return float(np.asarray(value, dtype=np.float64))


def _check_positive_int(value, name, *, allow_zero=False, allow_none=False):
    if value is None and allow_none:
        return
    low = 0 if allow_zero else 1
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}.")


def _n_samples(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _rule_keys(rules):
    """Column names of the rules' stop points: the class name, numbered when repeated."""
    keys = []
    for rule in rules:
        key = type(rule).__name__
        keys.append(key if key not in keys else f"{key}_{len(keys)}")
    return keys


def simulate(
    X_pool,
    y_pool,
    X_val,
    y_val,
    X_test=None,
    y_test=None,
    *,
    estimator=None,
    strategies=("margin", "random"),
    selections=("class-aware",),
    response_method=None,
    n_rounds=100,
    batch_size=None,
    n_per_class=5,
    n_runs=10,
    scoring="accuracy",
    stopping=None,
    random_state=None,
    preset=None,
    verbose=0,
):
    """Simulate pool-based active learning with an oracle, ALOE's protocol.

    The labels of the pool are known; each query is answered with them. Every
    run draws a new seed set of ``n_per_class`` labels per class
    (:func:`~skaloe.active.seed_per_class`), shared by all the strategies and
    selections compared in that run. Each (strategy, selection) then runs
    ``n_rounds`` rounds of :meth:`~skaloe.active.ActiveLearner.query` and
    :meth:`~skaloe.active.ActiveLearner.teach`, the validation score being
    recorded after the seed set (round 0) and after every round; the test
    score is taken once, at the end. The all-labels reference (the same
    classifier, trained once from scratch on every label of the pool; kept
    as ``upper_bound`` in the results) is scored on the same sets. It is a
    reference, not a ceiling: a learner refit with warm start, or trained on
    a well-chosen part of the pool, can score above it.

    When the pool runs out before ``n_rounds`` rounds, a ``UserWarning``
    says so: from then on every learner has every label, and their scores
    no longer compare the strategies.

    Each learner is an :class:`~skaloe.active.ActiveLearner` fitted with
    ``X_val`` and ``y_val``: the validation score of a round is its
    ``validation_score_``, computed by the learner after every refit, and
    the stop points are read from the rules in its ``stopping_``. The
    recorded ``fit_time`` includes that scoring and the rules' updates.

    ``preset="aloe"`` makes every choice as ALOE's code does (seed sets,
    classifier refits, scores on logits, selection, ties); see below and
    :func:`~skaloe.active.aloe_learner`.

    Parameters
    ----------
    X_pool : array-like of shape (n_pool, n_features), or what the estimator takes
        The pool the learners query.
    y_pool : array-like of shape (n_pool,)
        The oracle's labels of the pool.
    X_val, y_val : array-like
        Validation set, scored after every round.
    X_test, y_test : array-like, default=None
        Test set, scored after the last round (and by the all-labels
        reference).
    estimator : estimator object, default=None
        Classifier of every learner (cloned). None means the
        :class:`~skaloe.active.ActiveLearner` default for the learners and
        ``LogisticRegression(max_iter=1000)`` (the same, without warm start)
        for the all-labels reference.
    strategies : sequence of str or callable, default=("margin", "random")
        Query strategies, names from
        :func:`~skaloe.active.get_query_scorer_names` or callables.
    selections : sequence of {"class-aware", "class-agnostic", "one-per-class"}, \
            default=("class-aware",)
        Selection rules to compare, each with every strategy (see
        :class:`~skaloe.active.ActiveLearner`'s ``selection``).
    response_method : {"predict_proba", "decision_function"} or None, default=None
        What the strategies score: ``"decision_function"`` scores the
        classifier's logits, as ALOE does (see
        :func:`~skaloe.active.get_query_scorer`); None keeps each strategy's
        own (probabilities for the built-in names). Not with a callable
        strategy that is not a query scorer.
    n_rounds : int, default=100
        Query rounds after the seed set; fewer when the pool runs out.
    batch_size : int, default=None
        Labels asked per round; None means the number of classes for
        ``"class-aware"`` and ``"one-per-class"`` and 1 for
        ``"class-agnostic"`` (ALOE).
    n_per_class : int, default=5
        Seed labels per class at the start of each run.
    n_runs : int, default=10
        Repetitions, each with a new seed set.
    scoring : str or callable, default="accuracy"
        A scikit-learn scorer name or a callable ``scorer(estimator, X, y)``
        (see :func:`sklearn.metrics.get_scorer`): each learner's ``scoring``,
        and the score of the test set and of the all-labels reference.
    stopping : stopping rule or list of them, default=None
        Rules such as :class:`~skaloe.active.PlateauStopping` or
        :class:`~skaloe.active.StabilizingPredictions`; every learner gets
        fresh clones in its ``stopping`` and updates them itself. The
        simulation runs all ``n_rounds`` regardless; each final record gets
        ``stop_<RuleName>``, the number of labels at which that rule would
        first have stopped (its ``stopped_at_``; None if it never did).
    random_state : int, RandomState instance or None, default=None
        Seeds every seed set and every learner; an int makes the results
        (timings aside) identical from call to call. With ``preset="aloe"``
        it is ALOE's ``--seed`` of the first run (a non-negative int; None
        or a RandomState draws it).
    preset : {"aloe"} or None, default=None
        ``"aloe"`` runs ALOE's code's protocol (HarlinLee/ALOE ``al.py`` and
        ``utils.py``): run ``r`` draws its seed set as ``al.py
        --seed=random_state + r`` does (:func:`~skaloe.active.seed_per_class`
        with ``method="aloe"``) and seeds its learners with that number; the
        learners are :func:`~skaloe.active.aloe_learner`'s: a classifier
        refit from scratch every round (``estimator`` must not warm-start;
        None means ``LogisticRegression(max_iter=1000)``), every strategy
        scoring logits, ``"class-aware"`` meaning ALOE's class-aware round
        (at most one label per predicted class, the same as
        ``"one-per-class"``), ties to the lowest pool position. It overrides
        ``response_method`` (``"predict_proba"`` is refused) and the batch
        size (``batch_size`` must be None: a class-aware round asks one
        label per predicted class, a class-agnostic one 1). ``strategies``
        keep their names (ALOE compares ``"margin"``, its "uncertainty",
        with ``"random"``, the default); strategies other than query
        scorers are refused, as they cannot be told to score logits.
    verbose : int, default=0
        Print progress: 1 per run and learner, 2 per round.

    Returns
    -------
    results : SimulationResults
        ``records`` (one dict per run, strategy, selection and round),
        ``final`` (one per run, strategy and selection), ``upper_bound`` and
        ``params``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.model_selection import train_test_split
    >>> from skaloe.experiment import simulate
    >>> X, y = make_classification(300, n_classes=3, n_informative=4, random_state=0)
    >>> X_pool, X_val, y_pool, y_val = train_test_split(X, y, random_state=0)
    >>> results = simulate(X_pool, y_pool, X_val, y_val, n_rounds=2, n_runs=2,
    ...                    random_state=0)
    >>> len(results.records)            # 2 runs x 2 strategies x (1 + 2 rounds)
    12
    >>> [r["n_labels"] for r in results.records[:3]]   # 5 per class, then 3 per round
    [15, 18, 21]
    >>> sorted(results.curves())
    [('margin', 'class-aware'), ('random', 'class-aware')]
    """
    from ..active import ActiveLearner, aloe_learner, get_query_scorer, seed_per_class
    from ..active._aloe import check_no_warm_start

    _check_positive_int(n_rounds, "n_rounds", allow_zero=True)
    _check_positive_int(batch_size, "batch_size", allow_none=True)
    _check_positive_int(n_per_class, "n_per_class")
    _check_positive_int(n_runs, "n_runs")
    if isinstance(strategies, str) or callable(strategies):
        strategies = (strategies,)
    if isinstance(selections, str):
        selections = (selections,)
    strategies, selections = list(strategies), list(selections)
    if not strategies:
        raise ValueError("strategies must name at least one query strategy.")
    if not selections:
        raise ValueError("selections must name at least one selection rule.")
    for selection in selections:
        if selection not in _SELECTIONS:
            raise ValueError(
                f"selections must be among {_SELECTIONS}, got {selection!r}."
            )
    names = [_strategy_name(s) for s in strategies]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies must have distinct names, got {names}.")
    if len(set(selections)) != len(selections):
        raise ValueError(f"selections must be distinct, got {selections}.")
    if (X_test is None) != (y_test is None):
        raise ValueError("Give both X_test and y_test, or neither.")
    if preset is not None and preset not in _PRESETS:
        raise ValueError(f"preset must be None or one of {list(_PRESETS)}, got {preset!r}.")
    if preset == "aloe":
        if batch_size is not None:
            raise ValueError(
                "preset='aloe' asks ALOE's number of labels per round (one per predicted "
                "class, or 1 for class-agnostic selection); batch_size must be None, got "
                f"{batch_size!r}."
            )
        if response_method not in (None, "decision_function"):
            raise ValueError(
                "preset='aloe' scores the classifier's logits (decision_function), as "
                f"ALOE does; response_method={response_method!r} contradicts it: leave it "
                "None, or drop the preset."
            )
        if random_state is not None and not isinstance(random_state, np.random.RandomState) and (
                not isinstance(random_state, Integral) or isinstance(random_state, bool)
                or random_state < 0):
            raise ValueError(
                "With preset='aloe', random_state is ALOE's --seed of the first run: a "
                f"non-negative int, a RandomState or None; got {random_state!r}."
            )
        if estimator is not None:
            check_no_warm_start(estimator, "simulate(preset='aloe')")
        response_method = "decision_function"
    if response_method is not None:
        # Checks the method and the strategies that cannot score it, before any run.
        scorers = [get_query_scorer(s, response_method=response_method) for s in strategies]
    else:
        scorers = strategies

    y_pool = np.asarray(y_pool)
    y_val = np.asarray(y_val)
    if len(y_pool) != _n_samples(X_pool):
        raise ValueError(
            f"X_pool has {_n_samples(X_pool)} samples but y_pool has {len(y_pool)}."
        )
    if y_test is not None:
        y_test = np.asarray(y_test)
    n_pool = len(y_pool)
    n_classes = len(np.unique(y_pool))
    if n_classes < 2:
        raise ValueError(
            f"y_pool holds {n_classes} distinct label(s); a simulation needs two classes or "
            "more, so that each learner has a model to score."
        )
    scorer = get_scorer(scoring)

    rng = check_random_state(random_state)
    if preset == "aloe":  # run r is ALOE's al.py --seed=<first seed + r>
        first_seed = (int(random_state) if isinstance(random_state, Integral)
                      else int(rng.randint(np.iinfo(np.int32).max - n_runs)))
        run_seeds = first_seed + np.arange(n_runs)
    else:
        run_seeds = rng.randint(np.iinfo(np.int32).max, size=n_runs)

    def say(level, text):
        if verbose >= level:
            print(text, flush=True)

    records, final = [], []
    ran_out = {}  # "strategy/selection" -> the fewest rounds before the pool ran out
    for run in range(n_runs):
        if preset == "aloe":
            seed_state = learner_state = int(run_seeds[run])
            seed = seed_per_class(y_pool, n_per_class, random_state=seed_state, method="aloe")
        else:
            seed_state, learner_state = (
                int(s) for s in np.random.SeedSequence(int(run_seeds[run])).generate_state(2)
            )
            seed = seed_per_class(y_pool, n_per_class, random_state=seed_state)
        say(1, f"[simulate] run {run + 1}/{n_runs}: seed set of {len(seed)} labels")
        for strategy, name in zip(scorers, names):
            for selection in selections:
                if batch_size is not None:
                    batch = batch_size
                else:
                    batch = 1 if selection == "class-agnostic" else n_classes
                if preset == "aloe":
                    learner = aloe_learner(
                        None if estimator is None else clone(estimator),
                        query_strategy=strategy,
                        selection="class-agnostic" if selection == "class-agnostic"
                        else "class-aware",
                        random_state=learner_state,
                        stopping=stopping,
                        scoring=scoring,
                    )
                else:
                    learner = ActiveLearner(
                        None if estimator is None else clone(estimator),
                        query_strategy=strategy,
                        selection=selection,
                        random_state=learner_state,
                        stopping=stopping,  # the learner checks the rules and keeps clones
                        scoring=scoring,
                    )
                t0 = time.perf_counter()
                learner.fit(X_pool, X_val=X_val, y_val=y_val)
                learner.teach(seed, y_pool[seed])
                fit_time = time.perf_counter() - t0
                query_time = 0.0
                rnd = 0
                while True:
                    val_score = learner.validation_score_
                    n_labels = learner.n_labels_
                    records.append({
                        "run": run,
                        "strategy": name,
                        "selection": selection,
                        "round": rnd,
                        "n_labels": n_labels,
                        "val_score": val_score,
                        "fit_time": fit_time,
                        "query_time": query_time,
                    })
                    say(2, f"[simulate]   {name}/{selection} round {rnd}: "
                           f"{n_labels} labels, val {val_score:.4f}")
                    if rnd >= n_rounds:
                        break
                    if n_labels >= n_pool:
                        key = f"{name}/{selection}"
                        ran_out[key] = min(rnd, ran_out.get(key, rnd))
                        break
                    t0 = time.perf_counter()
                    idx = learner.query(batch)
                    query_time = time.perf_counter() - t0
                    if not len(idx):  # pragma: no cover - guarded by n_labels above
                        break
                    t0 = time.perf_counter()
                    learner.teach(idx, y_pool[idx])
                    fit_time = time.perf_counter() - t0
                    rnd += 1
                test_score = (
                    None if X_test is None else _as_float(scorer(learner, X_test, y_test))
                )
                final.append({
                    "run": run,
                    "strategy": name,
                    "selection": selection,
                    "n_rounds": rnd,
                    "n_labels": n_labels,
                    "val_score": val_score,
                    "test_score": test_score,
                    **{
                        f"stop_{key}": rule.stopped_at_
                        for key, rule in zip(_rule_keys(learner.stopping_), learner.stopping_)
                    },
                })
                say(1, f"[simulate]   {name}/{selection}: {rnd} rounds, {n_labels} labels, "
                       f"val {val_score:.4f}"
                       + ("" if test_score is None else f", test {test_score:.4f}"))

    if ran_out:
        fewest = min(ran_out.values())
        warnings.warn(
            f"The pool of {n_pool} samples ran out after {fewest} of the {n_rounds} rounds "
            f"asked ({', '.join(f'{k}: {v} rounds' for k, v in ran_out.items())}): from "
            "then on every learner has every label, so their scores no longer compare "
            "strategies (SimulationResults.labels_to_reach leaves those rounds out). Ask "
            "for fewer rounds, smaller batches, or give a bigger pool.",
            UserWarning, stacklevel=2,
        )

    # The all-labels reference: the learners' classifier trained once, from
    # scratch, on every label of the pool.
    if estimator is None:
        from sklearn.linear_model import LogisticRegression

        full = LogisticRegression(max_iter=1000)
    else:
        full = clone(estimator)
    t0 = time.perf_counter()
    full.fit(X_pool, y_pool)
    upper_bound = {
        "n_labels": n_pool,
        "val_score": _as_float(scorer(full, X_val, y_val)),
        "test_score": None if X_test is None else _as_float(scorer(full, X_test, y_test)),
        "fit_time": time.perf_counter() - t0,
    }
    say(1, f"[simulate] all labels ({n_pool}): val {upper_bound['val_score']:.4f}")

    params = {
        "estimator": None if estimator is None else repr(estimator),
        "strategies": names,
        "selections": selections,
        "response_method": response_method,
        "preset": preset,
        "n_rounds": int(n_rounds),
        "batch_size": None if batch_size is None else int(batch_size),
        "n_per_class": int(n_per_class),
        "n_runs": int(n_runs),
        "scoring": _scoring_name(scoring),
        "stopping": [repr(rule) for rule in learner.stopping_],
        "random_state": (
            int(random_state) if isinstance(random_state, numbers.Integral)
            else None if random_state is None else repr(random_state)
        ),
        "n_pool": n_pool,
        "n_classes": n_classes,
        "n_val": len(y_val),
        "n_test": None if y_test is None else len(y_test),
    }
    return SimulationResults(records, final, upper_bound, params)
