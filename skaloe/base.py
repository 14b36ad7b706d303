"""Roles an estimator declares to :class:`~skaloe.active.ActiveLearner`.

The learner treats two kinds of estimator specially, and learns which kind a
step is from these markers, never from its class: ``active/`` imports no
encoder and no graph code.

- A **frozen step** (:class:`FrozenStepMixin`) is fitted once and only
  transforms, e.g. a pretrained encoder. Leading frozen steps of a Pipeline
  run once over the pool in ``fit``; each round refits only what follows.
- A **transductive classifier** (:class:`TransductiveMixin`) learns from the
  unlabeled samples too: it is fitted on the whole pool with ``-1`` marking
  unlabeled samples, and after fitting it holds the pool's class
  distributions in ``label_distributions_``.

scikit-learn's ``FrozenEstimator`` counts as frozen, and its
``LabelPropagation``, ``LabelSpreading`` and ``SelfTrainingClassifier`` as
transductive. Your own estimators declare a role by inheriting the mixin.

Examples
--------
>>> from sklearn.base import BaseEstimator, TransformerMixin
>>> from skaloe.base import FrozenStepMixin, is_frozen_step
>>> class MyEncoder(FrozenStepMixin, TransformerMixin, BaseEstimator):
...     def fit(self, X, y=None):
...         return self
...     def transform(self, X):
...         return X
>>> is_frozen_step(MyEncoder())
True
"""

from __future__ import annotations

__all__ = ["FrozenStepMixin", "TransductiveMixin", "is_frozen_step", "is_transductive"]


class FrozenStepMixin:
    """Marks a transformer that is fitted once and then only transforms.

    ActiveLearner runs the leading frozen steps of a Pipeline once over the
    pool and never refits them.
    """


class TransductiveMixin:
    """Marks a classifier fitted on the whole pool, ``-1`` for unlabeled samples.

    After ``fit`` it may hold ``label_distributions_``, one row of class
    probabilities per sample it was fitted on; ActiveLearner then scores the
    pool from those rows instead of calling ``predict_proba``.
    """


def _last_step(estimator):
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def is_frozen_step(estimator):
    """Whether ``estimator`` is a frozen step (see :class:`FrozenStepMixin`).

    Parameters
    ----------
    estimator : estimator object

    Returns
    -------
    frozen : bool
    """
    from sklearn.frozen import FrozenEstimator

    return isinstance(estimator, (FrozenStepMixin, FrozenEstimator))


def is_transductive(estimator):
    """Whether a classifier (or a Pipeline's last step) learns from unlabeled samples.

    Parameters
    ----------
    estimator : estimator object

    Returns
    -------
    transductive : bool
    """
    from sklearn.semi_supervised import (
        LabelPropagation,
        LabelSpreading,
        SelfTrainingClassifier,
    )

    return isinstance(
        _last_step(estimator),
        (TransductiveMixin, LabelPropagation, LabelSpreading, SelfTrainingClassifier),
    )
