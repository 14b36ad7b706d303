"""The ALOE preset: a learner that selects exactly as ALOE's published code.

ALOE's loop (HarlinLee/ALOE, ``utils.py``, function ``active_learning_loop``;
``shared/reference/encoders-and-aloe.md`` section 1.3 summarizes it) refits a
new classifier from scratch every round, scores the unlabeled training
samples with the smallest margin of the classifier's logits, and, in its
class-aware mode, takes for every class predicted among them the sample of
highest score predicted as that class, the lowest index winning a tie
(``np.argmax``). :func:`aloe_learner` returns an ordinary
:class:`ActiveLearner` with the parameters that reproduce those choices.
"""

from __future__ import annotations

from ._pipeline import final_step


def aloe_estimator():
    """ALOE's classifier in scikit-learn: a multinomial softmax refit from scratch."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def check_no_warm_start(estimator, where="aloe_learner"):
    """Refuse a classifier that would continue from the previous round's solution."""
    last = final_step(estimator)
    if getattr(last, "warm_start", False) is True:
        raise ValueError(
            f"{where} refits the classifier from scratch every round, as ALOE does, but "
            f"the estimator's {type(last).__name__} has warm_start=True, which starts each "
            "refit from the previous solution (the solver then stops elsewhere within its "
            "tolerance, and the picks change). Pass it with warm_start=False."
        )


def aloe_query_strategy(query_strategy):
    """A query strategy scoring logits (``decision_function``), as ALOE's ``utils.py``."""
    from ._scorer import get_query_scorer

    return get_query_scorer(query_strategy, response_method="decision_function")


def aloe_learner(
    estimator=None,
    *,
    query_strategy="margin",
    selection="class-aware",
    random_state=None,
    stopping=None,
    scoring=None,
    chunk_size=8192,
):
    """An :class:`ActiveLearner` that selects exactly as ALOE's code does.

    ALOE (Lee et al., 2023; github.com/HarlinLee/ALOE, ``utils.py``) makes
    these choices, which this learner repeats:

    - **a classifier refit from scratch every round**: ``estimator``
      defaults to ``LogisticRegression(max_iter=1000)``, which, unlike
      :class:`ActiveLearner`'s default, does not warm-start (a warm start
      moves the solution within the solver's tolerance, and with it some
      picks);
    - **scores on logits**: the query strategy scores the classifier's
      ``decision_function`` (ALOE's smallest margin ``1 - (u_(1) - u_(2))``
      of the logits ``u``), not its probabilities;
    - **class-aware rounds of at most one label per predicted class**: for
      every class predicted among the unlabeled samples, the one of highest
      score predicted as that class (``selection="one-per-class"``); a class
      predicted nowhere asks nothing, so ``query(n_classes)`` can return
      fewer than ``n_classes`` positions;
    - **ties to the lowest pool position** (``tie_break="first"``), the rule of
      ``np.argmax``.

    ALOE's seed set is :func:`seed_per_class` with ``method="aloe"``, and
    ``simulate(..., preset="aloe")`` runs the whole protocol (see
    :ref:`reproducing_aloe`). The result is an ordinary learner: its
    parameters can be read and changed with ``get_params`` / ``set_params``.

    Parameters
    ----------
    estimator : estimator object, default=None
        The classifier (cloned), with ``decision_function``; it must not have
        ``warm_start=True``. None means ``LogisticRegression(max_iter=1000)``,
        a linear softmax like ALOE's one-layer Keras model (which is trained
        with Adam for 100 epochs, without a penalty, and unseeded).
    query_strategy : str or query scorer, default="margin"
        A name from :func:`get_query_scorer_names` or a scorer from
        :func:`make_query_scorer`; it scores ``decision_function``. ALOE
        compares ``"margin"`` (its "uncertainty") with ``"random"`` (with
        one-per-class selection: one random sample per predicted class).
    selection : {"class-aware", "class-agnostic"}, default="class-aware"
        ALOE's ``--by_class`` (class-aware: at most one label per predicted
        class; the learner's ``selection`` is ``"one-per-class"``) or its
        default (class-agnostic: the top scores; ALOE asks one per round).
    random_state : int, RandomState instance or None, default=None
        Seeds the random strategy and the cold start (used only while fewer
        than two classes are labeled).
    stopping, scoring, chunk_size
        As for :class:`ActiveLearner`.

    Returns
    -------
    learner : ActiveLearner
        Not fitted.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import aloe_learner, seed_per_class
    >>> X, y = make_classification(300, n_classes=3, n_informative=4, random_state=0)
    >>> learner = aloe_learner().fit(X)
    >>> learner.selection, learner.tie_break
    ('one-per-class', 'first')
    >>> learner.query_strategy
    make_query_scorer(margin_score, response_method='decision_function')
    >>> start = seed_per_class(y, 5, random_state=1, method="aloe")   # al.py --seed=1
    >>> learner = learner.teach(start, y[start])
    >>> batch = learner.query(3)           # at most one per predicted class
    >>> len(set(learner.predict(X[batch]))) == len(batch)
    True
    """
    from ._learner import ActiveLearner

    if selection not in ("class-aware", "class-agnostic"):
        raise ValueError(
            "selection must be 'class-aware' (ALOE's --by_class: at most one label per "
            f"predicted class) or 'class-agnostic'; got {selection!r}."
        )
    if estimator is None:
        estimator = aloe_estimator()
    check_no_warm_start(estimator)
    return ActiveLearner(
        estimator,
        query_strategy=aloe_query_strategy(query_strategy),
        # ALOE's class-aware round: the best of each predicted class, no more.
        selection="one-per-class" if selection == "class-aware" else "class-agnostic",
        tie_break="first",
        random_state=random_state,
        stopping=stopping,
        scoring=scoring,
        chunk_size=chunk_size,
    )
