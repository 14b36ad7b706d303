"""The model inside ActiveLearner: frozen prefix, trainable part, one-thread fits.

A Pipeline whose first steps are frozen (:func:`skaloe.base.is_frozen_step`)
is split once: the prefix turns the pool into features in ``fit``; each round
refits only the trainable rest, under one BLAS thread.
"""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ..base import is_frozen_step


def default_estimator():
    # warm_start: each refit starts from the previous round's solution; the
    # problem is convex, so it converges to the same model, in fewer steps.
    return LogisticRegression(max_iter=1000, warm_start=True)


@functools.lru_cache(maxsize=1)
def _scipy_blas():
    """A threadpoolctl controller of the BLAS bundled with SciPy's wheel, or None.

    L-BFGS (LogisticRegression's solver) calls SciPy's BLAS on small vectors;
    with several threads it spends more time starting and spinning threads
    than computing, and the spinning threads then slow down the next query's
    matrix products. Only SciPy's own copy is limited, so numpy's products
    (and with them every score) are unchanged.
    """
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    own = [
        lib.filepath
        for lib in controller.lib_controllers
        if os.path.basename(os.path.dirname(lib.filepath)) in ("scipy.libs", ".dylibs")
        and "scipy" in lib.filepath
    ]
    return controller.select(filepath=own) if own else None


def fit_one_thread(model, X, y):
    blas = _scipy_blas()
    with warnings.catch_warnings():
        # Active learning starts from a handful of labels, often one or two per
        # class; scikit-learn's hint that y "could represent a regression
        # problem" is then noise.
        warnings.filterwarnings(
            "ignore", message="The number of unique classes is greater than 50%",
            category=UserWarning,
        )
        if blas is None:
            return model.fit(X, y)
        with blas.limit(limits=1):
            return model.fit(X, y)


def final_step(model):
    """A Pipeline's last step, or the model itself."""
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def split_frozen_prefix(estimator):
    """``(prefix_steps, trainable)`` of a Pipeline that starts with frozen steps."""
    if not isinstance(estimator, Pipeline):
        return [], estimator
    steps = list(estimator.steps)
    k = 0
    while k < len(steps) - 1 and is_frozen_step(steps[k][1]):
        k += 1
    if k == 0:
        return [], estimator
    rest = steps[k:]
    trainable = rest[0][1] if len(rest) == 1 else Pipeline(rest)
    return steps[:k], trainable


def fit_frozen_prefix(prefix, X):
    """Fit clones of the frozen steps in turn; return them and the pool's features."""
    fitted, features = [], X
    for name, step in prefix:
        # Each step sees the previous one's output; FrozenEstimator.fit needs a y.
        step = clone(step).fit(features, None)
        features = step.transform(features)
        fitted.append((name, step))
    return fitted, features


def transform_frozen(prefix, X):
    """Samples through the fitted frozen steps."""
    for _, step in prefix:
        X = step.transform(X)
    return X


def assemble(prefix, model):
    """The estimator a user sees: the frozen prefix followed by the fitted model."""
    if model is None or not prefix:
        return model
    steps = list(prefix) + (
        list(model.steps) if isinstance(model, Pipeline) else [("classifier", model)]
    )
    return Pipeline(steps)


class FittedView(ClassifierMixin, BaseEstimator):
    """The current model seen as a classifier of the learner's labels.

    The inner model predicts integer codes; scorers compare predictions with
    the user's labels, so this view maps codes back to ``classes_``.
    """

    def __init__(self, model, classes):
        self.model = model
        self.classes_ = classes

    def __sklearn_is_fitted__(self):
        return True

    def predict(self, X):
        return self.classes_[np.asarray(self.model.predict(X), dtype=np.intp)]

    def predict_proba(self, X):
        return self.model.predict_proba(X)

    def decision_function(self, X):
        return self.model.decision_function(X)


def check_finite_rows(X, name, *, allow_nan=False):
    """Refuse NaN and infinite features, naming the first bad row; ``allow_nan`` skips it.

    One pass over a dense array (row sums in float64, which cannot overflow
    for float32 rows), then an exact check of the rows it flags.
    """
    if allow_nan or not hasattr(X, "dtype") or X.dtype.kind not in "fc":
        return
    if hasattr(X, "tocsr"):  # sparse: only the stored values can be non-finite
        X = X.tocsr()
        bad = np.flatnonzero(~np.isfinite(X.data))
        rows = np.searchsorted(X.indptr, bad, side="right") - 1
    elif X.ndim == 2:
        flagged = np.flatnonzero(~np.isfinite(X.sum(axis=1, dtype=np.float64)))
        rows = flagged[~np.isfinite(X[flagged]).all(axis=1)] if flagged.size else flagged
    else:
        return
    if rows.size:
        raise ValueError(
            f"{name}[{int(rows[0])}] holds NaN or infinite values ({rows.size} such rows); "
            "the classifier cannot use them. Remove or fix those rows, or use an estimator "
            "that accepts missing values (e.g. HistGradientBoostingClassifier)."
        )
