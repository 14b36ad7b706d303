"""Stopping rules: when has active learning labeled enough?

Two monitors, fed once per round, in a simulation or beside an interactive
:class:`~skaloe.active.ActiveLearner`:

- :class:`PlateauStopping` watches a validation score and says stop when it
  has not improved for a while (the ALOE paper's advice: monitor validation
  accuracy and stop early when it plateaus);
- :class:`StabilizingPredictions` needs no labels: it stops when successive
  models agree on an unlabeled "stop set" (Bloodgood & Vijay-Shanker, 2009).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn.metrics import cohen_kappa_score
from sklearn.utils import check_random_state
from sklearn.utils._indexing import _safe_indexing

__all__ = ["PlateauStopping", "StabilizingPredictions", "stopping_hint"]


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_n_labels(n_labels):
    if n_labels is None:
        return None
    if not _is_int(n_labels) or n_labels < 0:
        raise ValueError(f"n_labels must be a non-negative integer or None, got {n_labels!r}.")
    return int(n_labels)


def _watches_validation(rule):
    """Whether a stopping rule is fed validation scores (else it reads the learner).

    Rules declare it with ``_needs_validation``; a rule of another kind
    without ``update_from_learner`` can only take scores.
    """
    return getattr(rule, "_needs_validation", not hasattr(rule, "update_from_learner"))


def _where(n_labels, update):
    return f"{n_labels} labels" if n_labels is not None else f"update {update}"


class _StoppingRule:
    """Shared plumbing: parameter storage, repr, stop bookkeeping."""

    _param_names: tuple = ()

    def get_params(self, deep=True):
        """Parameters of this rule.

        Parameters
        ----------
        deep : bool, default=True
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        params : dict
        """
        return {name: getattr(self, name) for name in self._param_names}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _record_stop(self, stop, n_labels):
        self.stop_ = bool(stop)
        if self.stop_ and self.stopped_at_ is None:
            self.stopped_at_ = n_labels if n_labels is not None else self.n_updates_
        return self.stop_


class PlateauStopping(_StoppingRule):
    """Stop when a validation score has stopped improving.

    Feed it one score per round with :meth:`update`; it says stop once
    ``patience`` consecutive updates failed to improve on the best score by
    more than ``min_delta``. This is the early stopping advised by the ALOE
    paper (Lee et al., 2023): monitor validation accuracy and stop when it
    plateaus.

    Parameters
    ----------
    patience : int, default=5
        Number of consecutive updates without improvement before stopping.
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
    best_score_ : float or None
        The reference score: the last one that improved on the previous best
        by more than ``min_delta`` (the first score to begin with).
    best_n_labels_ : int or None
        ``n_labels`` given with ``best_score_`` (None if not given).
    best_update_ : int or None
        The update (1-based) that gave ``best_score_``.
    n_updates_ : int
        Number of scores received since construction or :meth:`reset`.
    wait_ : int
        Consecutive updates without improvement.
    stop_ : bool
        Whether the rule says stop now (``wait_ >= patience``). It becomes
        False again if the score later improves.
    stopped_at_ : int or None
        Where the rule first said stop: its ``n_labels`` when given,
        otherwise the update number; None while it has not. It stays set
        after a later improvement, so a simulation can read its stop point.
    history_ : list of dict
        One ``{"update", "n_labels", "score", "improved"}`` per update.

    See Also
    --------
    StabilizingPredictions : A rule that needs no validation labels.

    Examples
    --------
    >>> from skaloe.active import PlateauStopping
    >>> rule = PlateauStopping(patience=2, min_delta=0.01, name="accuracy")
    >>> for n_labels, acc in [(10, 0.60), (20, 0.75), (30, 0.80), (40, 0.805), (50, 0.80)]:
    ...     if rule.update(acc, n_labels=n_labels):
    ...         break
    >>> rule.stopped_at_, rule.best_score_, rule.best_n_labels_
    (50, 0.8, 30)
    >>> print(rule.describe())
    accuracy has not improved by more than 0.01 for 2 rounds (best 0.800 at 30 labels): you can stop
    """

    _param_names = ("patience", "min_delta", "mode", "name")
    _needs_validation = True

    def __init__(self, patience=5, min_delta=0.005, mode="max", name="validation score"):
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.name = name
        self.reset()

    def _validate_params(self):
        if not _is_int(self.patience) or self.patience < 1:
            raise ValueError(f"patience must be a positive integer, got {self.patience!r}.")
        if not _is_real(self.min_delta) or self.min_delta < 0:
            raise ValueError(
                f"min_delta must be a finite non-negative number, got {self.min_delta!r}."
            )
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {self.mode!r}.")
        if not isinstance(self.name, str):
            raise ValueError(f"name must be a string, got {self.name!r}.")

    def reset(self):
        """Forget every score; keep the parameters.

        Returns
        -------
        self : PlateauStopping
        """
        self._validate_params()
        self.best_score_ = None
        self.best_n_labels_ = None
        self.best_update_ = None
        self.n_updates_ = 0
        self.wait_ = 0
        self.stop_ = False
        self.stopped_at_ = None
        self.history_ = []
        return self

    def _improves(self, score):
        if self.best_score_ is None:
            return True
        if self.mode == "max":
            return score - self.min_delta > self.best_score_
        return score + self.min_delta < self.best_score_

    def update(self, score, n_labels=None):
        """Take this round's validation score.

        Parameters
        ----------
        score : float
            The validation score of the model after this round.
        n_labels : int, default=None
            How many labels the model was trained on; used in
            ``best_n_labels_``, ``stopped_at_`` and :meth:`describe`.

        Returns
        -------
        stop : bool
            True when ``patience`` consecutive updates brought no improvement
            of more than ``min_delta``.
        """
        self._validate_params()
        if isinstance(score, np.generic):
            score = score.item()
        if not _is_real(score):
            raise ValueError(f"score must be a finite number, got {score!r}.")
        score = float(score)
        n_labels = _check_n_labels(n_labels)
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

    def update_from_learner(self, learner):
        """Take a learner's latest validation score.

        :class:`~skaloe.active.ActiveLearner` calls this after every refit
        when the rule is in its ``stopping``. While fewer than two classes are
        labeled there is no model and no score, and nothing changes.

        Parameters
        ----------
        learner : ActiveLearner
            Fitted with a validation set (``fit(X, y, X_val=..., y_val=...)``).

        Returns
        -------
        stop : bool
        """
        if not hasattr(learner, "validation_scores_"):
            raise ValueError(
                "learner must be an ActiveLearner fitted on a pool; call its fit() first."
            )
        if getattr(learner, "_val", None) is None:
            raise ValueError(
                f"{self!r} watches a validation score, but the learner has no validation set; "
                "pass X_val and y_val to its fit()."
            )
        if learner.validation_score_ is None:
            return self.stop_
        return self.update(learner.validation_score_, n_labels=learner._n_labels())

    def describe(self):
        """One line for a person: the state of the rule and its advice.

        Returns
        -------
        text : str
        """
        if self.n_updates_ == 0:
            return f"no {self.name} yet: keep labeling"
        best = f"best {self.best_score_:.3f} at {_where(self.best_n_labels_, self.best_update_)}"
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

    After each round the model predicts a fixed set of unlabeled samples, the
    stop set; Cohen's kappa between these predictions and the previous
    round's measures how much the model still changes. Once the agreement
    stays at or above ``threshold`` for ``window`` consecutive rounds, the
    rule says stop. No validation labels are needed (Bloodgood &
    Vijay-Shanker, 2009, who used a threshold of 0.99 and a window of 3).

    Parameters
    ----------
    window : int, default=3
        Number of consecutive agreements needed.
    threshold : float, default=0.99
        Kappa agreement at which two successive models count as agreeing, in
        [-1, 1]. Lower stops earlier (more aggressive).
    stop_set_size : int or None, default=2000
        Size of the stop set drawn from the pool by
        :meth:`update_from_learner`; the whole pool when it is smaller, or
        when None.
    aggregate : {"min", "mean"}, default="min"
        ``"min"``: each of the last ``window`` agreements must reach
        ``threshold``; ``"mean"``: their mean must.
    random_state : int, RandomState instance or None, default=None
        Draws the stop set; an int gives the same stop set every time.

    Attributes
    ----------
    agreements_ : list of float
        Kappa between each pair of successive predictions compared. Two
        identical predictions of a single class count as 1.0.
    n_labels_ : list of int or None
        ``n_labels`` at each entry of ``agreements_``.
    n_updates_ : int
        Number of updates since construction or :meth:`reset`.
    n_stable_ : int
        Consecutive agreements at or above ``threshold`` so far.
    stop_ : bool
        Whether the rule says stop now; False again if the predictions later
        change.
    stopped_at_ : int or None
        Where the rule first said stop: its ``n_labels`` when known,
        otherwise the update number; None while it has not.
    stop_set_indices_ : ndarray of int or None
        Pool positions of the stop set, drawn on the first
        :meth:`update_from_learner`.

    See Also
    --------
    PlateauStopping : Stop on a plateau of a validation score.

    References
    ----------
    M. Bloodgood and K. Vijay-Shanker, "A Method for Stopping Active Learning
    Based on Stabilizing Predictions and the Need for User-Adjustable
    Stopping", CoNLL 2009.

    Examples
    --------
    >>> from skaloe.active import StabilizingPredictions
    >>> rule = StabilizingPredictions(window=2, threshold=0.99)
    >>> rule.update(["a", "b", "b", "a"])
    False
    >>> rule.update(["a", "b", "a", "a"])   # changed: kappa 0.5
    False
    >>> rule.update(["a", "b", "a", "a"])
    False
    >>> rule.update(["a", "b", "a", "a"])   # two agreements in a row
    True
    >>> [round(k, 2) for k in rule.agreements_]
    [0.5, 1.0, 1.0]

    With a learner, the rule draws its stop set from the pool:

    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import ActiveLearner
    >>> X, y = make_classification(300, random_state=0)
    >>> learner = ActiveLearner(random_state=0).fit(X)
    >>> rule = StabilizingPredictions(stop_set_size=100, random_state=0)
    >>> for _ in range(30):
    ...     batch = learner.query(2)
    ...     learner = learner.teach(batch, y[batch])
    ...     if rule.update_from_learner(learner):
    ...         break
    >>> rule.stop_
    True
    """

    _param_names = ("window", "threshold", "stop_set_size", "aggregate", "random_state")
    _needs_validation = False

    def __init__(
        self, window=3, threshold=0.99, stop_set_size=2000, aggregate="min", random_state=None
    ):
        self.window = window
        self.threshold = threshold
        self.stop_set_size = stop_set_size
        self.aggregate = aggregate
        self.random_state = random_state
        self.reset()

    def _validate_params(self):
        if not _is_int(self.window) or self.window < 1:
            raise ValueError(f"window must be a positive integer, got {self.window!r}.")
        if not _is_real(self.threshold) or not -1 <= self.threshold <= 1:
            raise ValueError(
                f"threshold must be a number in [-1, 1] (a kappa), got {self.threshold!r}."
            )
        if self.stop_set_size is not None and (
            not _is_int(self.stop_set_size) or self.stop_set_size < 1
        ):
            raise ValueError(
                f"stop_set_size must be a positive integer or None, got {self.stop_set_size!r}."
            )
        if self.aggregate not in ("min", "mean"):
            raise ValueError(f"aggregate must be 'min' or 'mean', got {self.aggregate!r}.")

    def reset(self):
        """Forget every prediction and the stop set; keep the parameters.

        Returns
        -------
        self : StabilizingPredictions
        """
        self._validate_params()
        self.agreements_ = []
        self.n_labels_ = []
        self.n_updates_ = 0
        self.n_stable_ = 0
        self.stop_ = False
        self.stopped_at_ = None
        self.stop_set_indices_ = None
        self._previous = None
        self._chain_start = 0  # agreements_ before it belong to a broken chain
        return self

    @staticmethod
    def _as_predictions(predictions):
        if isinstance(predictions, (str, bytes)):
            raise ValueError("predictions must be a 1-D sequence of labels, got a string.")
        values = np.asarray(predictions, dtype=object) if isinstance(
            predictions, (list, tuple)
        ) else np.asarray(predictions)
        if values.ndim != 1:
            raise ValueError(
                f"predictions must be 1-D (one label per stop-set sample), got shape "
                f"{values.shape}."
            )
        if values.size == 0:
            raise ValueError("predictions is empty; the stop set needs at least one sample.")
        return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]

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

    def update(self, predictions, n_labels=None):
        """Take this round's predictions on the stop set.

        Parameters
        ----------
        predictions : array-like of shape (n_stop_set,)
            The current model's predicted labels for the stop set, the same
            samples in the same order every round.
        n_labels : int, default=None
            How many labels the model was trained on; used in
            ``stopped_at_`` and :meth:`describe`.

        Returns
        -------
        stop : bool
            True when the last ``window`` agreements reach ``threshold``.
        """
        self._validate_params()
        current = self._as_predictions(predictions)
        n_labels = _check_n_labels(n_labels)
        if self._previous is not None and len(self._previous) != len(current):
            raise ValueError(
                f"Got predictions for {len(current)} samples, but the previous round had "
                f"{len(self._previous)}; predict the same stop set every round (or reset())."
            )
        self.n_updates_ += 1
        if self._previous is not None:
            kappa = self._kappa(self._previous, current)
            self.agreements_.append(kappa)
            self.n_labels_.append(n_labels)
            self.n_stable_ = self.n_stable_ + 1 if kappa >= self.threshold else 0
        self._previous = current
        return self._record_stop(self._stable(), n_labels)

    def _draw_stop_set(self, n_pool):
        size = n_pool if self.stop_set_size is None else min(self.stop_set_size, n_pool)
        if size == n_pool:
            return np.arange(n_pool)
        rng = check_random_state(self.random_state)
        return np.sort(rng.choice(n_pool, size=size, replace=False))

    def update_from_learner(self, learner):
        """Predict the stop set with a learner's current model and update.

        The stop set is drawn from the learner's pool on the first call and
        kept. While fewer than two classes are labeled there is no model, so
        nothing is compared (and the next comparison starts afresh).

        Parameters
        ----------
        learner : ActiveLearner
            A fitted :class:`~skaloe.active.ActiveLearner`, after this
            round's :meth:`~skaloe.active.ActiveLearner.teach`.

        Returns
        -------
        stop : bool
        """
        self._validate_params()
        if not hasattr(learner, "labeled_mask_") or not hasattr(learner, "_pool"):
            raise ValueError(
                "learner must be an ActiveLearner fitted on a pool; call its fit() first."
            )
        n_pool = len(learner.labeled_mask_)
        if self.stop_set_indices_ is None:
            self.stop_set_indices_ = self._draw_stop_set(n_pool)
        elif self.stop_set_indices_.max(initial=-1) >= n_pool:
            raise ValueError(
                f"The stop set was drawn from a pool of more than {n_pool} samples; this "
                "learner's pool is smaller. Call reset() before using another pool."
            )
        n_labels = int(learner.labeled_mask_.sum()) + len(getattr(learner, "_extra_y", ()))
        model = getattr(learner, "_final", None)
        if model is None or len(learner.classes_) < 2:
            self.n_updates_ += 1
            self._previous = None
            self.n_stable_ = 0
            self._chain_start = len(self.agreements_)
            return self._record_stop(False, n_labels)
        X_stop = _safe_indexing(learner._pool, self.stop_set_indices_)
        codes = np.asarray(model.predict(X_stop), dtype=np.intp)
        return self.update(np.asarray(learner.classes_)[codes], n_labels=n_labels)

    def describe(self):
        """One line for a person: the state of the rule and its advice.

        Returns
        -------
        text : str
        """
        if not self.agreements_:
            return (
                "predictions of two successive models (with two or more classes) are needed "
                "to measure their agreement: keep labeling"
            )
        last = self.agreements_[-1]
        n = len(self._previous) if self._previous is not None else None
        on = f" on {n} stop-set samples" if n is not None else ""
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
    >>> from skaloe.active import PlateauStopping, stopping_hint
    >>> rule = PlateauStopping(name="validation accuracy")
    >>> rule.update(0.7, n_labels=10)
    False
    >>> stopping_hint(rule)
    'validation accuracy improved in the last round (best 0.700 at 10 labels): keep labeling'
    """
    if hasattr(rules, "describe"):
        rules = [rules]
    rules = list(rules)
    for rule in rules:
        if not hasattr(rule, "describe"):
            raise ValueError(f"Each rule needs a describe() method; got {rule!r}.")
    return "; ".join(rule.describe() for rule in rules)
