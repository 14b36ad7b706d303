"""Stopping rules: when has active learning labeled enough?

Two rules, fed once per round with the learner itself (``rule.update(learner)``),
in a simulation or beside an interactive :class:`~skaloe.active.ActiveLearner`:

- :class:`PlateauStopping` watches the learner's validation score and says
  stop when it has not improved for a while (the ALOE paper's advice: monitor
  validation accuracy and stop early when it plateaus);
- :class:`StabilizingPredictions` needs no labels: it stops when successive
  models agree on an unlabeled "stop set" (Bloodgood & Vijay-Shanker, 2009).

A rule reads only the learner's public state: ``validation_score_``,
``n_labels_``, ``n_pool_``, ``classes_``, ``estimator_`` and
:meth:`~skaloe.active.ActiveLearner.predict_pool`. Its class attribute
``needs_validation`` says whether the learner must have a validation set.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import cohen_kappa_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

__all__ = ["PlateauStopping", "StabilizingPredictions", "stopping_hint"]


def _read(learner, name):
    """``learner.<name>``, or an error that says the learner is not a fitted one."""
    try:
        return getattr(learner, name)
    except AttributeError:  # NotFittedError is an AttributeError too
        raise ValueError(
            f"A stopping rule reads {name} from the learner, and this "
            f"{type(learner).__name__} has none: pass an ActiveLearner fitted on a pool "
            "(call its fit() first)."
        ) from None


class _StoppingRule(BaseEstimator):
    """Shared plumbing: validation at first use, stop bookkeeping."""

    needs_validation = False

    def reset(self):
        """Validate the parameters and forget every update.

        Returns
        -------
        self : object
            The rule, ready for its first :meth:`update`.
        """
        self._validate_params()
        self.n_updates_ = 0
        self.stop_ = False
        self.stopped_at_ = None
        self._reset_state()
        return self

    def _ensure_started(self):
        # Like partial_fit: the parameters are validated at the first update.
        if not hasattr(self, "n_updates_"):
            self.reset()

    def _record_stop(self, stop, n_labels):
        self.stop_ = bool(stop)
        if self.stop_ and self.stopped_at_ is None:
            self.stopped_at_ = n_labels
        return self.stop_


class PlateauStopping(_StoppingRule):
    """Stop when the learner's validation score has stopped improving.

    Feed it the learner once per round with :meth:`update`; it says stop once
    ``patience`` consecutive scores failed to improve on the best score by
    more than ``min_delta``. This is the early stopping advised by the ALOE
    paper (Lee et al., 2023): monitor validation accuracy and stop when it
    plateaus. The score is the learner's ``validation_score_``, so the learner
    needs a validation set (``fit(X, y, X_val=..., y_val=...)``); an
    :class:`~skaloe.active.ActiveLearner` given this rule in ``stopping``
    refuses to fit without one.

    Parameters
    ----------
    patience : int, default=5
        Number of consecutive scores without improvement before stopping.
    min_delta : float, default=0.005
        Smallest change that counts as an improvement: a score must beat the
        best by strictly more than this. Noise below it counts as no
        improvement, and so does a slow drift until it adds up to more than
        ``min_delta`` over the best.
    mode : {"max", "min"}, default="max"
        ``"max"`` for scores where higher is better (accuracy, F1),
        ``"min"`` for losses.
    name : str, default="validation score"
        What the score is, for :meth:`describe`.

    Attributes
    ----------
    needs_validation : bool
        Class attribute, True: the rule reads the learner's validation score.
    best_score_ : float or None
        The reference score: the last one that improved on the previous best
        by more than ``min_delta`` (the first score to begin with).
    best_n_labels_ : int or None
        The learner's ``n_labels_`` when it gave ``best_score_``.
    best_update_ : int or None
        The update (1-based) that gave ``best_score_``.
    n_updates_ : int
        Number of scores received since the first update or :meth:`reset`.
        An update without a score (no model yet) does not count.
    wait_ : int
        Consecutive scores without improvement.
    stop_ : bool
        Whether the rule says stop now (``wait_ >= patience``). It becomes
        False again if the score later improves.
    stopped_at_ : int or None
        The learner's ``n_labels_`` when the rule first said stop; None while
        it has not. It stays set after a later improvement, so a simulation
        can read its stop point.
    history_ : list of dict
        One ``{"update", "n_labels", "score", "improved"}`` per score.

    See Also
    --------
    StabilizingPredictions : A rule that needs no validation labels.
    ActiveLearner : Takes rules in ``stopping`` and updates them itself.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import ActiveLearner, PlateauStopping
    >>> X, y = make_classification(300, random_state=0)
    >>> learner = ActiveLearner(random_state=0).fit(X[:200], X_val=X[200:], y_val=y[200:])
    >>> rule = PlateauStopping(patience=3, min_delta=0.01, name="accuracy")
    >>> while not rule.update(learner):
    ...     batch = learner.query(4)
    ...     learner = learner.teach(batch, y[batch])
    >>> rule.stopped_at_, rule.best_n_labels_
    (32, 20)
    >>> print(rule.describe())
    accuracy has not improved by more than 0.01 for 3 rounds (best 0.900 at 20 labels): you can stop

    The same rule in ``stopping`` is copied and updated by the learner:

    >>> learner = ActiveLearner(stopping=rule, random_state=0)
    >>> learner = learner.fit(X[:200], X_val=X[200:], y_val=y[200:])
    >>> learner.stopping_[0]
    PlateauStopping(min_delta=0.01, name='accuracy', patience=3)
    """

    needs_validation = True

    _parameter_constraints: dict = {
        "patience": [Interval(Integral, 1, None, closed="left")],
        "min_delta": [Interval(Real, 0, None, closed="left")],
        "mode": [StrOptions({"max", "min"})],
        "name": [str],
    }

    def __init__(self, patience=5, min_delta=0.005, mode="max", name="validation score"):
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.name = name

    def _reset_state(self):
        self.best_score_ = None
        self.best_n_labels_ = None
        self.best_update_ = None
        self.wait_ = 0
        self.history_ = []

    def _improves(self, score):
        if self.best_score_ is None:
            return True
        if self.mode == "max":
            return score - self.min_delta > self.best_score_
        return score + self.min_delta < self.best_score_

    def update(self, learner):
        """Take the learner's latest validation score.

        While the learner has no model (fewer than two classes labeled) it has
        no score either, and nothing changes.

        Parameters
        ----------
        learner : ActiveLearner
            Fitted with a validation set (``fit(X, y, X_val=..., y_val=...)``),
            after this round's :meth:`~skaloe.active.ActiveLearner.teach`.

        Returns
        -------
        stop : bool
            True when ``patience`` consecutive scores brought no improvement
            of more than ``min_delta``.
        """
        self._ensure_started()
        score = _read(learner, "validation_score_")
        if score is None:
            if _read(learner, "estimator_") is not None:
                raise ValueError(
                    f"{self!r} watches a validation score, but the learner has a model and "
                    "no validation score: pass X_val and y_val to its fit()."
                )
            return self.stop_
        if isinstance(score, np.generic):
            score = score.item()
        if not isinstance(score, Real) or isinstance(score, bool) or not math.isfinite(score):
            raise ValueError(
                f"The learner's validation_score_ is {score!r}; {type(self).__name__} needs "
                "a finite number: check the learner's scoring."
            )
        score = float(score)
        n_labels = int(_read(learner, "n_labels_"))
        self.n_updates_ += 1
        improved = self._improves(score)
        if improved:
            self.best_score_ = score
            self.best_n_labels_ = n_labels
            self.best_update_ = self.n_updates_
            self.wait_ = 0
        else:
            self.wait_ += 1
        self.history_.append(
            {"update": self.n_updates_, "n_labels": n_labels, "score": score, "improved": improved}
        )
        return self._record_stop(self.wait_ >= self.patience, n_labels)

    def describe(self):
        """One line for a person: the state of the rule and its advice.

        Returns
        -------
        text : str
        """
        if not getattr(self, "n_updates_", 0):
            return f"no {self.name} yet: keep labeling"
        best = f"best {self.best_score_:.3f} at {self.best_n_labels_} labels"
        if self.stop_:
            return (
                f"{self.name} has not improved by more than {self.min_delta:g} for "
                f"{self.wait_} rounds ({best}): you can stop"
            )
        if self.wait_ == 0:
            return f"{self.name} improved in the last round ({best}): keep labeling"
        return (
            f"{self.name} has not improved by more than {self.min_delta:g} for "
            f"{self.wait_} of {self.patience} rounds ({best}): keep labeling"
        )


class StabilizingPredictions(_StoppingRule):
    """Stop when successive models agree on an unlabeled stop set.

    The rule draws a fixed set of pool samples, the stop set, at its first
    :meth:`update`. After each round the learner's model predicts it
    (:meth:`~skaloe.active.ActiveLearner.predict_pool`); Cohen's kappa between
    these predictions and the previous round's measures how much the model
    still changes. Once the agreement stays at or above ``threshold`` for
    ``window`` consecutive rounds, the rule says stop. No validation labels
    are needed (Bloodgood & Vijay-Shanker, 2009, who used a threshold of 0.99
    and a window of 3).

    Parameters
    ----------
    window : int, default=3
        Number of consecutive agreements needed.
    threshold : float, default=0.99
        Kappa agreement at which two successive models count as agreeing, in
        [-1, 1]. Lower stops earlier (more aggressive).
    stop_set_size : int or None, default=2000
        Size of the stop set drawn from the pool; the whole pool when it is
        smaller, or when None.
    aggregate : {"min", "mean"}, default="min"
        ``"min"``: each of the last ``window`` agreements must reach
        ``threshold``; ``"mean"``: their mean must.
    random_state : int, RandomState instance or None, default=None
        Draws the stop set; an int gives the same stop set every time.

    Attributes
    ----------
    needs_validation : bool
        Class attribute, False: the rule needs no validation set.
    agreements_ : list of float
        Kappa between each pair of successive predictions compared. Two
        identical predictions of a single class count as 1.0.
    n_labels_ : list of int
        The learner's ``n_labels_`` at each entry of ``agreements_``.
    n_updates_ : int
        Number of updates since the first one or :meth:`reset`.
    n_stable_ : int
        Consecutive agreements at or above ``threshold`` so far.
    stop_ : bool
        Whether the rule says stop now; False again if the predictions later
        change.
    stopped_at_ : int or None
        The learner's ``n_labels_`` when the rule first said stop; None while
        it has not.
    stop_set_indices_ : ndarray of int
        Pool positions of the stop set, drawn at the first update.

    See Also
    --------
    PlateauStopping : Stop on a plateau of a validation score.
    ActiveLearner : Takes rules in ``stopping`` and updates them itself.

    Notes
    -----
    While the learner has no model (fewer than two classes labeled) nothing
    is compared, and the next comparison starts a new chain of agreements.

    References
    ----------
    M. Bloodgood and K. Vijay-Shanker, "A Method for Stopping Active Learning
    Based on Stabilizing Predictions and the Need for User-Adjustable
    Stopping", CoNLL 2009.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import ActiveLearner, StabilizingPredictions
    >>> X, y = make_classification(300, random_state=0)
    >>> learner = ActiveLearner(random_state=0).fit(X)
    >>> rule = StabilizingPredictions(stop_set_size=100, random_state=0)
    >>> while not rule.update(learner):
    ...     batch = learner.query(2)
    ...     learner = learner.teach(batch, y[batch])
    >>> rule.stopped_at_, len(rule.stop_set_indices_)
    (54, 100)
    >>> [round(kappa, 2) for kappa in rule.agreements_[-3:]]
    [1.0, 1.0, 1.0]
    """

    _parameter_constraints: dict = {
        "window": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Interval(Real, -1, 1, closed="both")],
        "stop_set_size": [Interval(Integral, 1, None, closed="left"), None],
        "aggregate": [StrOptions({"min", "mean"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self, window=3, threshold=0.99, stop_set_size=2000, aggregate="min", random_state=None
    ):
        self.window = window
        self.threshold = threshold
        self.stop_set_size = stop_set_size
        self.aggregate = aggregate
        self.random_state = random_state

    def _reset_state(self):
        self.agreements_ = []
        self.n_labels_ = []
        self.n_stable_ = 0
        self.stop_set_indices_ = None
        self._previous = None
        self._chain_start = 0  # agreements_ before it belong to a broken chain

    def _draw_stop_set(self, n_pool):
        size = n_pool if self.stop_set_size is None else min(self.stop_set_size, n_pool)
        if size == n_pool:
            return np.arange(n_pool)
        rng = check_random_state(self.random_state)
        return np.sort(rng.choice(n_pool, size=size, replace=False))

    @staticmethod
    def _kappa(previous, current):
        # Codes over the union of labels: a class that appears in one round only,
        # or labels of types that do not sort together, compare fine.
        codes = {}
        a = np.fromiter((codes.setdefault(v, len(codes)) for v in previous), np.intp, len(previous))
        b = np.fromiter((codes.setdefault(v, len(codes)) for v in current), np.intp, len(current))
        if np.array_equal(a, b):
            return 1.0  # perfect agreement (kappa is 0/0 when both are one class)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kappa = cohen_kappa_score(a, b, labels=np.arange(len(codes)))
        return float(kappa) if np.isfinite(kappa) else 0.0

    def _stable(self):
        recent = self.agreements_[self._chain_start:][-self.window:]
        if len(recent) < self.window:
            return False
        if self.aggregate == "mean":
            return float(np.mean(recent)) >= self.threshold
        return min(recent) >= self.threshold

    def update(self, learner):
        """Predict the stop set with the learner's current model and compare.

        Parameters
        ----------
        learner : ActiveLearner
            A fitted :class:`~skaloe.active.ActiveLearner`, after this
            round's :meth:`~skaloe.active.ActiveLearner.teach`; the same
            pool every round.

        Returns
        -------
        stop : bool
            True when the last ``window`` agreements reach ``threshold``.
        """
        self._ensure_started()
        n_pool = int(_read(learner, "n_pool_"))
        n_labels = int(_read(learner, "n_labels_"))
        has_model = _read(learner, "estimator_") is not None
        n_classes = len(_read(learner, "classes_"))
        if self.stop_set_indices_ is None:
            self.stop_set_indices_ = self._draw_stop_set(n_pool)
        elif self.stop_set_indices_.max(initial=-1) >= n_pool:
            raise ValueError(
                f"The stop set was drawn from a pool of more than {n_pool} samples; this "
                "learner's pool is smaller. Call reset() before using another pool."
            )
        self.n_updates_ += 1
        if not has_model or n_classes < 2:
            self._previous = None
            self.n_stable_ = 0
            self._chain_start = len(self.agreements_)
            return self._record_stop(False, n_labels)
        predictions = np.asarray(_read(learner, "predict_pool")(self.stop_set_indices_))
        if predictions.shape != self.stop_set_indices_.shape:
            raise ValueError(
                f"predict_pool gave predictions of shape {predictions.shape} for "
                f"{len(self.stop_set_indices_)} stop-set positions; it must give one label "
                "per position."
            )
        current = [v.item() if isinstance(v, np.generic) else v for v in predictions.tolist()]
        if self._previous is not None:
            kappa = self._kappa(self._previous, current)
            self.agreements_.append(kappa)
            self.n_labels_.append(n_labels)
            self.n_stable_ = self.n_stable_ + 1 if kappa >= self.threshold else 0
        self._previous = current
        return self._record_stop(self._stable(), n_labels)

    def describe(self):
        """One line for a person: the state of the rule and its advice.

        Returns
        -------
        text : str
        """
        if not getattr(self, "agreements_", None):
            return (
                "predictions of two successive models (with two or more classes) are needed "
                "to measure their agreement: keep labeling"
            )
        last = self.agreements_[-1]
        on = f" on {len(self.stop_set_indices_)} stop-set samples"
        crit = "mean kappa" if self.aggregate == "mean" else "kappa"
        if self.stop_:
            return (
                f"successive models' predictions{on} agreed ({crit} >= {self.threshold:g}) "
                f"over the last {self.window} rounds (last kappa {last:.3f}): you can stop"
            )
        return (
            f"successive models' predictions{on}: last kappa {last:.3f}, "
            f"{self.n_stable_} of {self.window} rounds at or above {self.threshold:g}: "
            "keep labeling"
        )


def check_stopping_rules(stopping, *, has_validation):
    """Fresh, validated copies of the stopping rules given to a learner.

    Parameters
    ----------
    stopping : stopping rule, list of stopping rules or None
        Objects with ``describe()`` and ``update(learner)``, such as
        :class:`PlateauStopping` and :class:`StabilizingPredictions`. A rule
        whose ``needs_validation`` is True needs a validation set.
    has_validation : bool
        Whether the learner has a validation set.

    Returns
    -------
    rules : list of stopping rules
        Clones of the rules, each reset (its parameters validated).
    """
    if stopping is None:
        rules = []
    elif isinstance(stopping, (list, tuple)):
        rules = list(stopping)
    else:
        rules = [stopping]
    fitted = []
    for rule in rules:
        if isinstance(rule, type) or not (hasattr(rule, "describe") and hasattr(rule, "update")):
            raise InvalidParameterError(
                "stopping must hold stopping rules with describe() and update(learner) "
                f"methods, such as skaloe.active.PlateauStopping(); got {rule!r}."
            )
        if getattr(rule, "needs_validation", False) and not has_validation:
            raise ValueError(
                f"The stopping rule {rule!r} watches a validation score: pass a labeled "
                "validation set to fit(X, y, X_val=..., y_val=...), or use "
                "StabilizingPredictions, which needs no labels."
            )
        rule = clone(rule, safe=False)
        if hasattr(rule, "reset"):
            rule.reset()
        fitted.append(rule)
    return fitted


def stopping_hint(rules):
    """One line combining the advice of several stopping rules.

    Parameters
    ----------
    rules : stopping rule or list of stopping rules
        Objects with a ``describe()`` method, such as
        :class:`PlateauStopping` and :class:`StabilizingPredictions`.

    Returns
    -------
    text : str
        Each rule's :meth:`describe` line, joined with ``"; "``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import ActiveLearner, PlateauStopping, StabilizingPredictions
    >>> from skaloe.active import stopping_hint
    >>> X, y = make_classification(300, random_state=0)
    >>> rules = [PlateauStopping(name="validation accuracy"), StabilizingPredictions()]
    >>> learner = ActiveLearner(random_state=0).fit(X[:200], y[:200], X_val=X[200:],
    ...                                             y_val=y[200:])
    >>> for rule in rules:
    ...     stop = rule.update(learner)
    >>> print(stopping_hint(rules))  # doctest: +NORMALIZE_WHITESPACE
    validation accuracy improved in the last round (best 0.900 at 200 labels): keep labeling;
    predictions of two successive models (with two or more classes) are needed to measure
    their agreement: keep labeling
    """
    if hasattr(rules, "describe"):
        rules = [rules]
    rules = list(rules)
    for rule in rules:
        if not hasattr(rule, "describe"):
            raise ValueError(f"Each rule needs a describe() method; got {rule!r}.")
    return "; ".join(rule.describe() for rule in rules)
