"""Query scorers: which unlabeled samples to ask a label for first.

A *query scorer* is a callable ``scorer(estimator, X)`` that returns one score
per row of ``X``; the higher the score, the sooner that sample's label should
be asked for. Built-in scorers wrap an uncertainty *score function*, which maps
a classifier's response (``predict_proba`` or ``decision_function`` output) of
shape ``(n_samples, n_classes)`` to ``(n_samples,)`` scores.

The structure follows :mod:`sklearn.metrics._scorer`: a factory
(:func:`make_query_scorer`), a private class whose ``repr`` echoes the factory
call, and a registry behind :func:`get_query_scorer` /
:func:`get_query_scorer_names`. Unlike scikit-learn scorers, a query scorer
returns an array and does not fit ``scoring=`` in a grid search.

The formulas are those of the acquisition functions of ALOE (HarlinLee/ALOE,
``utils.py``: smallest margin on logits) and of the code it was adapted from
(jwcalder/MSTAR-Active-Learning ``Python/active_learning.py`` and
jwcalder/GraphLearning ``graphlearning/active_learning.py``, class
``unc_sampling``); ``shared/reference/encoders-and-aloe.md`` sections 1.3-1.4
quote them.
"""

# Authors: The skaloe developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import copy
import inspect
from functools import partial

import numpy as np
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils.validation import check_array, check_random_state

from ._labels import num_rows

__all__ = [
    "entropy_score",
    "get_query_scorer",
    "get_query_scorer_names",
    "largest_margin_score",
    "least_confidence_score",
    "make_query_scorer",
    "margin_score",
    "norm_score",
    "random_score",
]

#: The estimator methods a query scorer can take its response from.
RESPONSE_METHODS = ("predict_proba", "decision_function")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _check_response(y_response):
    """Validate a 2-D response; keep float32/float64, convert anything else to float64.

    Never copies a float array that is already valid, so callers must not
    write into the result.
    """
    if np.ndim(y_response) != 2:
        raise ValueError(
            "y_response must be a 2-D array of shape (n_samples, n_classes); got an "
            f"array of shape {np.shape(y_response)}. Binary decision_function output "
            "of shape (n_samples,) is handled by the query scorers (see "
            "make_query_scorer), which turn d into the columns [-d/2, d/2]."
        )
    if (
        type(y_response) is np.ndarray
        and y_response.dtype in (np.float32, np.float64)
        and y_response.shape[1] >= 1
    ):
        with np.errstate(over="ignore", invalid="ignore"):
            total = y_response.sum()
        if np.isfinite(total):  # a finite sum means no NaN and no inf
            return y_response  # what check_array returns for it, without its overhead
    return check_array(
        y_response,
        dtype=(np.float64, np.float32),
        ensure_min_samples=0,
        input_name="y_response",
    )


def _softmax(y_response):
    """Row-wise softmax, numerically stable, in the input's dtype; never in place."""
    probabilities = y_response - y_response.max(axis=1, keepdims=True)
    np.exp(probabilities, out=probabilities)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities


def _top_two(y_response):
    """The largest and second largest value of each row (C >= 2)."""
    n_classes = y_response.shape[1]
    if n_classes > 32:
        top = np.partition(y_response, n_classes - 2, axis=1)[:, -2:]
        return top[:, 1], top[:, 0]
    # A pass over the columns: the same values, several times faster for few classes.
    first = y_response[:, 0].copy()
    second = np.full_like(first, -np.inf)
    low = np.empty_like(first)
    for j in range(1, n_classes):
        column = y_response[:, j]
        np.minimum(first, column, out=low)
        np.maximum(second, low, out=second)
        np.maximum(first, column, out=first)
    return first, second


def _zeros(y_response):
    return np.zeros(y_response.shape[0], dtype=y_response.dtype)


def _func_name(func):
    """Name of a function for reprs: the repr of a partial, else ``__name__``."""
    if isinstance(func, partial):
        return repr(func)
    return getattr(func, "__name__", repr(func))


# ---------------------------------------------------------------------------
# Score functions: (n_samples, n_classes) response -> (n_samples,) scores
# ---------------------------------------------------------------------------


def margin_score(y_response):
    r"""Smallest-margin score: one minus the gap between the two largest values.

    .. math::

        s(x) = 1 - \left(u_{(1)}(x) - u_{(2)}(x)\right)

    where :math:`u_{(1)} \ge u_{(2)} \ge \dots \ge u_{(C)}` is the row sorted
    in decreasing order. The highest score goes to the sample whose two most
    likely classes are closest. This is ALOE's acquisition function (paper
    eq. 2, :math:`\arg\min P(y_{(1)}|x) - P(y_{(2)}|x)`; HarlinLee/ALOE
    ``utils.py``: ``1. - (u_sort[:,-1] - u_sort[:,-2])``), which ALOE computes
    on the classifier's logits rather than on probabilities.

    Parameters
    ----------
    y_response : array-like of shape (n_samples, n_classes)
        Class probabilities or decision values (logits).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In ``[0, 1]`` for probabilities; float32 for float32 input.

    Notes
    -----
    With a single column (``n_classes == 1``, a model that saw one class) every
    score is 0. Ties between the two largest values give the maximal score
    ``1``.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active._scorer import margin_score
    >>> p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    >>> np.round(margin_score(p), 3)
    array([0.5 , 0.95])
    """
    y_response = _check_response(y_response)
    if y_response.shape[1] == 1:
        return _zeros(y_response)
    first, second = _top_two(y_response)
    return 1 - (first - second)


def largest_margin_score(y_response):
    r"""Largest-margin score: one minus the gap between the largest and smallest values.

    .. math::

        s(x) = 1 - \left(u_{(1)}(x) - u_{(C)}(x)\right)

    with :math:`u_{(1)} \ge \dots \ge u_{(C)}` the row sorted in decreasing
    order (jwcalder/MSTAR-Active-Learning and GraphLearning ``unc_sampling``:
    ``1 - (u_sort[:,-1] - u_sort[:,0])``, on the raw output).

    Parameters
    ----------
    y_response : array-like of shape (n_samples, n_classes)
        Class probabilities or decision values (logits).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In ``[0, 1]`` for probabilities; float32 for float32 input.

    Notes
    -----
    With a single column every score is 0. With two classes it equals
    :func:`margin_score`.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active._scorer import largest_margin_score
    >>> p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    >>> np.round(largest_margin_score(p), 3)
    array([0.4 , 0.85])
    """
    y_response = _check_response(y_response)
    if y_response.shape[1] == 1:
        return _zeros(y_response)
    return 1 - (y_response.max(axis=1) - y_response.min(axis=1))


def least_confidence_score(y_response):
    r"""Least-confidence score: one minus the largest value.

    .. math::

        s(x) = 1 - u_{(1)}(x)

    (jwcalder/MSTAR-Active-Learning and GraphLearning ``unc_sampling``:
    ``1 - np.max(u, 1)``, on the raw output).

    Parameters
    ----------
    y_response : array-like of shape (n_samples, n_classes)
        Class probabilities or decision values (logits).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In ``[0, 1 - 1/C]`` for probabilities; float32 for float32 input.

    Notes
    -----
    With a single column every score is 0. On logits the score depends on
    the logits' offset, which a softmax ignores: ``1 - max`` of logits ranks
    samples by their largest logit, not by their largest probability.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active._scorer import least_confidence_score
    >>> p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    >>> np.round(least_confidence_score(p), 3)
    array([0.3, 0.6])
    """
    y_response = _check_response(y_response)
    if y_response.shape[1] == 1:
        return _zeros(y_response)
    return 1 - y_response.max(axis=1)


def entropy_score(y_response):
    r"""Entropy score: the Shannon entropy of the class probabilities.

    .. math::

        s(x) = -\sum_{c=1}^{C} p_c(x) \log p_c(x), \qquad 0 \log 0 = 0

    in nats; it ranges from 0 (one class certain) to :math:`\log C` (uniform).

    Parameters
    ----------
    y_response : array-like of shape (n_samples, n_classes)
        Class probabilities (rows summing to one). Query scorers built on
        ``decision_function`` apply a softmax before calling this function.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Float32 for float32 input.

    Notes
    -----
    This is the textbook entropy. The code ALOE was adapted from
    (jwcalder/MSTAR-Active-Learning and GraphLearning ``unc_sampling``)
    computes ``np.max(p, 1) - np.sum(p * np.log(p + 1e-5), 1)``, i.e. it adds
    the largest probability :math:`p_{(1)}` to the entropy and shifts the
    logarithm by ``1e-5``; the rankings of the two can differ. Zero
    probabilities contribute 0, without warnings; negative entries (not
    probabilities) contribute 0 as well. With a single column every score
    is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active._scorer import entropy_score
    >>> p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1/3, 1/3, 1/3]])
    >>> np.round(entropy_score(p), 4)  # 0, log 2, log 3
    array([0.    , 0.6931, 1.0986])
    """
    y_response = _check_response(y_response)
    if y_response.shape[1] == 1:
        return _zeros(y_response)
    positive = y_response > 0
    # log(1) = 0 wherever p <= 0, so 0 * log 0 never happens.
    log_p = np.log(np.where(positive, y_response, 1))
    # 0 - x rather than -x: a certain row scores +0.0, not -0.0.
    return 0 - np.einsum("ij,ij->i", np.where(positive, y_response, 0), log_p)


def norm_score(y_response):
    r"""Norm score: distance between the probabilities and the predicted class's one-hot.

    .. math::

        s(x) = \left\lVert p(x) - e_{\arg\max_c p_c(x)} \right\rVert_2

    where :math:`e_k` is the k-th unit vector (jwcalder/MSTAR-Active-Learning
    and GraphLearning ``unc_sampling``: ``np.linalg.norm(u_probs -
    one_hot_predicted_labels, axis=1)``, with ``u_probs`` the softmax of the
    output). It is 0 for a certain prediction and at most
    :math:`\sqrt{(C - 1) / C}`, reached by the uniform distribution.

    Parameters
    ----------
    y_response : array-like of shape (n_samples, n_classes)
        Class probabilities. Query scorers built on ``decision_function``
        apply a softmax before calling this function.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Float32 for float32 input.

    Notes
    -----
    With a single column every score is 0. When several classes share the
    largest probability the score does not depend on which one is taken.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active._scorer import norm_score
    >>> p = np.array([[1.0, 0.0], [0.5, 0.5]])
    >>> np.round(norm_score(p), 4)  # 0 and sqrt(1/2)
    array([0.    , 0.7071])
    """
    y_response = _check_response(y_response)
    if y_response.shape[1] == 1:
        return _zeros(y_response)
    rows = np.arange(y_response.shape[0])
    predicted = y_response.argmax(axis=1)
    difference = y_response.copy()
    difference[rows, predicted] -= 1
    return np.sqrt(np.einsum("ij,ij->i", difference, difference))


def random_score(y_response, *, random_state=None):
    """Random score: one uniform draw in ``[0, 1)`` per sample.

    Querying the highest random scores is uniform random sampling, ALOE's
    baseline (HarlinLee/ALOE ``utils.py``; older MSTAR-Active-Learning:
    ``np.random.random(n)``). The response values are ignored, only their
    number of rows is used.

    Parameters
    ----------
    y_response : array-like of shape (n_samples, n_classes)
        Classifier output; only ``n_samples`` matters.

    random_state : int, RandomState instance, Generator or None, default=None
        Source of the draws. An int seeds a new
        :class:`numpy.random.RandomState` (so the same int gives the same
        scores); a :class:`numpy.random.RandomState` or
        :class:`numpy.random.Generator` is used, and advanced, as is; None
        uses NumPy's global RandomState, which is not reproducible. Pass an
        int for reproducible results.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Values in ``[0, 1)``; float32 for float32 input.

    Notes
    -----
    Unlike the other score functions, a single-column response still gets
    random scores.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active._scorer import random_score
    >>> p = np.full((4, 2), 0.5)
    >>> scores = random_score(p, random_state=0)
    >>> scores.shape
    (4,)
    >>> bool(np.all(scores == random_score(p, random_state=0)))
    True
    """
    y_response = _check_response(y_response)
    n_samples = y_response.shape[0]
    dtype = y_response.dtype
    if isinstance(random_state, np.random.Generator):
        return random_state.random(n_samples, dtype=dtype)
    draws = check_random_state(random_state).random_sample(n_samples)
    if dtype == np.float64:
        return draws
    # Rounding to float32 could turn a draw just below 1 into 1.0: keep [0, 1).
    return np.minimum(draws.astype(dtype), np.nextafter(dtype.type(1), dtype.type(0)))


#: Score functions whose input must be probabilities: on ``decision_function``
#: output the query scorer applies a softmax first, as ``unc_sampling`` does.
_NEEDS_PROBABILITIES = frozenset({entropy_score, norm_score})


# ---------------------------------------------------------------------------
# Scorer class, factory and registry
# ---------------------------------------------------------------------------


def _check_response_method(response_method):
    if not isinstance(response_method, str) or response_method not in RESPONSE_METHODS:
        raise ValueError(
            f"response_method must be one of {list(RESPONSE_METHODS)}; got "
            f"{response_method!r}. Use 'decision_function' to score an "
            "estimator's logits or decision values."
        )
    return response_method


def _accepts_random_state(func):
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):  # callables without a signature
        return False
    parameter = parameters.get("random_state")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def _needs_probabilities(func):
    """Whether ``func`` (or the function inside a partial) is in _NEEDS_PROBABILITIES."""
    while isinstance(func, partial):
        func = func.func
    try:
        return func in _NEEDS_PROBABILITIES
    except TypeError:  # unhashable callable object
        return False


class _QueryScorer:
    """Score the samples of ``X`` with a score function of a classifier's response.

    Use :func:`make_query_scorer` or :func:`get_query_scorer` to build one.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_response, **kwargs)`` returning one score per row of
        ``y_response``, higher meaning "query first". If it has a
        ``random_state`` parameter, the scorer passes its own ``random_state``.

    response_method : {"predict_proba", "decision_function"}
        The estimator method whose output is scored.

    kwargs : dict
        Extra keyword arguments of ``score_func``.
    """

    def __init__(self, score_func, response_method, kwargs):
        self._score_func = score_func
        self._response_method = response_method
        self._kwargs = kwargs
        self._accepts_random_state = _accepts_random_state(score_func)
        self._needs_probabilities = _needs_probabilities(score_func)

    @property
    def response_method(self):
        """The estimator method whose output is scored."""
        return self._response_method

    @property
    def score_func(self):
        """The function mapping a response to scores."""
        return self._score_func

    def __repr__(self):
        kwargs_string = "".join(f", {key}={value!r}" for key, value in self._kwargs.items())
        return (
            f"make_query_scorer({_func_name(self._score_func)}, "
            f"response_method={self._response_method!r}{kwargs_string})"
        )

    def __call__(self, estimator, X, *, random_state=None):
        """Score each sample of ``X``; the highest scores are to be labelled first.

        Parameters
        ----------
        estimator : object
            A fitted classifier with the method :attr:`response_method`.

        X : array-like of shape (n_samples, n_features)
            The candidate samples (anything ``estimator`` accepts).

        random_state : int, RandomState instance, Generator or None, default=None
            Passed to score functions that take a ``random_state`` (such as
            :func:`random_score`); ignored by the others.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            One score per sample.
        """
        try:
            method = getattr(estimator, self._response_method)
        except AttributeError as exc:
            other = [m for m in RESPONSE_METHODS if m != self._response_method][0]
            raise AttributeError(
                f"{type(estimator).__name__} has no usable method "
                f"{self._response_method!r} ({exc}), which the query scorer {self!r} "
                f"needs. Use a scorer with response_method={other!r} (e.g. "
                f"get_query_scorer(..., response_method={other!r})) or an estimator "
                f"that implements {self._response_method}."
            ) from exc
        return self.score_response(method(X), random_state=random_state)

    def score_response(self, y_response, *, random_state=None):
        """Score an already computed response.

        Parameters
        ----------
        y_response : array-like of shape (n_samples, n_classes) or (n_samples,)
            Output of the estimator's :attr:`response_method`. A 1-D
            ``decision_function`` output ``d`` (binary classifier) is scored as
            the two columns ``[-d/2, d/2]``: their softmax is the pair of class
            probabilities, and their margin is ``|d|``. With
            ``response_method="decision_function"``, score functions that need
            probabilities (:func:`entropy_score`, :func:`norm_score`) get the
            row-wise softmax; the others score the raw values.

        random_state : int, RandomState instance, Generator or None, default=None
            Passed to score functions that take a ``random_state``. When the
            scorer was made with a ``random_state`` keyword, that value is used
            unless this one is not None.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            One score per sample.
        """
        if np.ndim(y_response) == 1:
            if self._response_method != "decision_function":
                raise ValueError(
                    f"{self._response_method} returned an array of shape "
                    f"{np.shape(y_response)}; expected (n_samples, n_classes). Only a "
                    "binary decision_function may return one value per sample."
                )
            y_response = _check_response(np.asarray(y_response).reshape(-1, 1))[:, 0]
            half = y_response / 2
            y_response = np.stack([-half, half], axis=1)
        else:
            y_response = _check_response(y_response)
        if self._response_method == "decision_function" and self._needs_probabilities:
            y_response = _softmax(y_response)
        kwargs = self._kwargs
        if self._accepts_random_state and (
            random_state is not None or "random_state" not in kwargs
        ):
            kwargs = {**kwargs, "random_state": random_state}
        return self._score_func(y_response, **kwargs)

    def with_response_method(self, response_method):
        """A copy of this scorer that scores another estimator method's output.

        Parameters
        ----------
        response_method : {"predict_proba", "decision_function"}
            The method to score.

        Returns
        -------
        scorer : query scorer
            A new scorer; this one is unchanged.
        """
        _check_response_method(response_method)
        scorer = copy.deepcopy(self)
        scorer._response_method = response_method
        return scorer


def make_query_scorer(score_func, *, response_method="predict_proba", **kwargs):
    """Make a query scorer from a score function of a classifier's response.

    The scorer is called as ``scorer(estimator, X, random_state=None)`` and
    returns ``score_func(getattr(estimator, response_method)(X), **kwargs)``:
    one score per sample, the highest to be labelled first.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_response, **kwargs)`` mapping an array of shape
        ``(n_samples, n_classes)`` to ``(n_samples,)`` scores, higher meaning
        more informative. If it has a ``random_state`` parameter it receives
        the scorer's ``random_state``. Use a module-level function (not a
        lambda) for the scorer to be picklable.

    response_method : {"predict_proba", "decision_function"}, default="predict_proba"
        The estimator method whose output is scored. A 1-D binary
        ``decision_function`` output ``d`` is scored as the columns
        ``[-d/2, d/2]``; with ``"decision_function"``, :func:`entropy_score`
        and :func:`norm_score` get the softmax of the output, the margin and
        confidence scores the raw values (as ALOE, which scores logits).

    **kwargs : dict
        Extra keyword arguments passed to ``score_func``.

    Returns
    -------
    scorer : query scorer
        Callable ``scorer(estimator, X, *, random_state=None)``; its method
        ``score_response(y_response)`` scores a response already computed.

    See Also
    --------
    get_query_scorer : A built-in query scorer from its name.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active._scorer import make_query_scorer
    >>> def top_k_gap(y_response, k=2):
    ...     top = -np.sort(-y_response, axis=1)
    ...     return 1 - (top[:, 0] - top[:, k - 1])
    >>> scorer = make_query_scorer(top_k_gap, k=3)
    >>> scorer
    make_query_scorer(top_k_gap, response_method='predict_proba', k=3)
    >>> scorer.score_response(np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]]))
    array([0.4 , 0.85])
    """
    if not callable(score_func):
        raise TypeError(
            f"score_func must be a callable mapping a response of shape "
            f"(n_samples, n_classes) to (n_samples,) scores; got {score_func!r}."
        )
    _check_response_method(response_method)
    return _QueryScorer(score_func, response_method, kwargs)


_QUERY_SCORERS = {
    "margin": make_query_scorer(margin_score),
    "largest_margin": make_query_scorer(largest_margin_score),
    "least_confidence": make_query_scorer(least_confidence_score),
    "entropy": make_query_scorer(entropy_score),
    "norm": make_query_scorer(norm_score),
    "random": make_query_scorer(random_score),
}


def get_query_scorer_names():
    """Names of the built-in query scorers, for :func:`get_query_scorer`.

    Returns
    -------
    names : list of str
        Sorted names.

    Examples
    --------
    >>> from skaloe.active._scorer import get_query_scorer_names
    >>> get_query_scorer_names()
    ['entropy', 'largest_margin', 'least_confidence', 'margin', 'norm', 'random']
    """
    return sorted(_QUERY_SCORERS)


def get_query_scorer(scoring, *, response_method=None):
    """Get a query scorer from its name, or check a given one.

    Parameters
    ----------
    scoring : str, query scorer or callable
        - a name from :func:`get_query_scorer_names`: a new copy of that
          built-in scorer (``"margin"`` is ALOE's smallest margin);
        - a scorer made by :func:`make_query_scorer`: returned as is, or a copy
          when ``response_method`` is given;
        - any other callable ``scoring(estimator, X)`` returning one score per
          sample (higher = query first): returned as is.

    response_method : {"predict_proba", "decision_function"} or None, default=None
        Overrides the scorer's response method. ``"decision_function"``
        scores logits: margins and least confidence on the raw values (ALOE's
        acquisition), entropy and norm on their softmax. None keeps the
        scorer's own (``"predict_proba"`` for the built-ins). Not allowed
        with a custom callable.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X)`` returning an array of shape (n_samples,).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skaloe.active._scorer import get_query_scorer
    >>> X = np.array([[-2.0], [-1.0], [0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([0, 0, 1, 1, 2, 2])
    >>> classifier = LogisticRegression().fit(X, y)
    >>> get_query_scorer("margin")
    make_query_scorer(margin_score, response_method='predict_proba')
    >>> get_query_scorer("margin")(classifier, X).shape
    (6,)
    >>> aloe = get_query_scorer("margin", response_method="decision_function")
    >>> aloe
    make_query_scorer(margin_score, response_method='decision_function')
    >>> aloe(classifier, X).shape
    (6,)
    """
    if isinstance(scoring, str):
        try:
            scorer = _QUERY_SCORERS[scoring]
        except KeyError:
            raise ValueError(
                f"{scoring!r} is not a query scorer name; valid names are "
                f"{get_query_scorer_names()} (see get_query_scorer_names())."
            ) from None
        if response_method is None:
            return copy.deepcopy(scorer)
        return scorer.with_response_method(response_method)
    if isinstance(scoring, _QueryScorer):
        if response_method is None:
            return scoring
        return scoring.with_response_method(response_method)
    if callable(scoring):
        if response_method is not None:
            raise ValueError(
                f"response_method={response_method!r} cannot be applied to the custom "
                f"callable {scoring!r}, which computes its own scores from "
                "(estimator, X). Build the scorer with make_query_scorer(score_func, "
                "response_method=...) instead, or pass response_method=None."
            )
        return scoring
    raise TypeError(
        f"scoring must be a query scorer name among {get_query_scorer_names()}, a "
        "scorer from make_query_scorer, or a callable (estimator, X) -> scores; got "
        f"{scoring!r}."
    )


# ---------------------------------------------------------------------------
# Scoring a pool, chunk by chunk
# ---------------------------------------------------------------------------


def _linear_response(model, rows, response_method, coef, intercept):
    """LogisticRegression's response on a chunk, computed in the pool's dtype without copies."""
    logits = rows @ coef.T
    logits += intercept
    if response_method == "decision_function":
        return logits[:, 0] if logits.shape[1] == 1 else logits
    if logits.shape[1] == 1:  # binary: sigmoid
        p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.column_stack([1.0 - p1, p1])
    # Multinomial softmax, as LogisticRegression.predict_proba.
    if logits.shape[1] <= 32:  # row maxima column by column: same values, faster
        row_max = logits[:, 0].copy()
        for j in range(1, logits.shape[1]):
            np.maximum(row_max, logits[:, j], out=row_max)
        logits -= row_max[:, None]
    else:
        logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _response_chunks(model, pool, response_method, chunk_size, distributions=None):
    """Yield ``(slice, response)`` over the pool, chunk by chunk, without copying it.

    ``distributions``: the class distributions a transductive classifier
    computed for the pool it was fitted on, used as ``predict_proba``.
    """
    from sklearn.linear_model import LogisticRegression

    n = num_rows(pool)
    fast = (
        type(model) is LogisticRegression
        and isinstance(pool, np.ndarray)
        and pool.ndim == 2
        and pool.dtype.kind == "f"
    )
    if fast:
        coef = model.coef_.astype(pool.dtype, copy=False)
        intercept = np.asarray(model.intercept_, dtype=pool.dtype)
    transductive = (
        distributions is not None and response_method == "predict_proba"
        and len(distributions) >= n
    )
    for start in range(0, n, chunk_size):
        part = slice(start, min(start + chunk_size, n))
        if transductive:
            response = distributions[part]
        elif fast:
            response = _linear_response(model, pool[part], response_method, coef, intercept)
        else:
            response = getattr(model, response_method)(_safe_indexing(pool, part))
        yield part, response


def score_pool(scorer, model, pool, *, chunk_size=8192, random_state=None, distributions=None):
    """Scores and predicted class codes of every pool sample, one chunk at a time.

    Parameters
    ----------
    scorer : query scorer or callable
        From :func:`get_query_scorer`; a plain callable ``(model, X) ->
        scores`` is given the whole pool at once.
    model : fitted classifier
        Predicts integer codes ``0 .. n_classes - 1``.
    pool : array-like of shape (n_pool, n_features)
    chunk_size : int, default=8192
        Rows scored at a time; bounds the memory of a query.
    random_state : RandomState instance, default=None
        For scorers that draw (the random strategy).
    distributions : ndarray of shape (n_pool, n_classes), default=None
        A transductive classifier's class distributions of the pool, used
        instead of ``predict_proba``.

    Returns
    -------
    scores : ndarray of shape (n_pool,)
        Higher = ask first.
    predicted : ndarray of int, shape (n_pool,)
        The predicted class code of each sample.
    """
    n = num_rows(pool)
    predicted = np.empty(n, dtype=np.intp)
    if isinstance(scorer, _QueryScorer):
        scores = None
        for part, response in _response_chunks(
                model, pool, scorer.response_method, chunk_size, distributions):
            s = scorer.score_response(response, random_state=random_state)
            if scores is None:
                scores = np.empty(n, dtype=s.dtype if s.dtype.kind == "f" else np.float64)
            scores[part] = s
            response = np.asarray(response)
            predicted[part] = (
                (response > 0).astype(np.intp) if response.ndim == 1 else response.argmax(axis=1)
            )
        return scores, predicted
    scores = np.asarray(scorer(model, pool), dtype=np.float64).ravel()
    if scores.shape != (n,):
        raise ValueError(
            f"The query strategy returned {scores.shape[0]} scores for a pool of {n} "
            "samples; it must return one score per sample."
        )
    for part, response in _response_chunks(
            model, pool, "predict_proba", chunk_size, distributions):
        predicted[part] = np.asarray(response).argmax(axis=1)
    return scores, predicted
