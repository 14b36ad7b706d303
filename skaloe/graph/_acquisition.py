"""Graph-aware acquisition: model change (MC) with a spectral truncation.

Reference: K. Miller and A. L. Bertozzi, "Model-change active learning in
graph-based semi-supervised learning", arXiv:2110.07739 (2021); published with
the same title in Communications on Applied Mathematics and Computation (2023).
The reference implementation is jwcalder/GraphLearning
``graphlearning/active_learning.py``, class ``model_change`` (spectral
truncation ``C = diag(1 / lambda)`` on the eigenvectors of the normalized
Laplacian, rank-one covariance updates with noise ``gamma2 = 0.1**2``).
"""

# Authors: The skaloe developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import copy
import hashlib
import numbers
import pickle

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from ._classifier import GraphClassifier

__all__ = ["model_change_scores"]

#: Below this many nodes the spectrum is computed densely (exact and fast).
_DENSE_EIGEN_MAX_NODES = 500
#: Added to the eigenvalues before inverting them (GraphLearning uses 1e-11).
_EIGENVALUE_FLOOR = 1e-11


def _normalized_adjacency(graph):
    inv_sqrt = 1.0 / np.sqrt(graph.degree)
    return (sp.diags(inv_sqrt) @ graph.W @ sp.diags(inv_sqrt)).tocsr()


def _seed(random_state):
    """What the eigensolver's start vector depends on: the seed, or a RandomState's state."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return random_state
    return hashlib.sha256(pickle.dumps(random_state.get_state())).hexdigest()


def _spectrum(estimator, n_eigenvectors):
    """The smallest eigenpairs of the normalized Laplacian ``I - D^-1/2 W D^-1/2``, cached.

    The cache is the graph's, which every classifier fitted on the same pool
    shares; the sparse solver's result depends on its start vector, so its
    eigenpairs are cached per seed.
    """
    graph = estimator._graph
    n = graph.W.shape[0]
    k = min(n_eigenvectors, n)
    dense = n <= _DENSE_EIGEN_MAX_NODES or k >= n - 1
    key = (k, None if dense else _seed(estimator.random_state))
    cached = graph.spectra.get(key)
    if cached is not None:
        return cached
    A = _normalized_adjacency(graph)
    if dense:
        mu, vectors = np.linalg.eigh(A.toarray())
        mu, vectors = mu[::-1][:k], vectors[:, ::-1][:, :k]
    else:
        # Largest eigenvalues of the normalized adjacency = smallest of the
        # normalized Laplacian; Lanczos on a sparse matrix, never n x n. tol=1e-3
        # (relative residual) is 2-4x faster than 1e-6 and plenty for a ranking.
        # A RandomState is read through a copy, so that its state stays the key.
        random_state = estimator.random_state
        if isinstance(random_state, np.random.RandomState):
            random_state = copy.deepcopy(random_state)
        v0 = check_random_state(random_state).uniform(-1.0, 1.0, n)
        mu, vectors = eigsh(A, k=k, which="LA", v0=v0, tol=1e-3)
        order = np.argsort(mu)[::-1]
        mu, vectors = mu[order], vectors[:, order]
    eigenvalues = np.clip(1.0 - mu, 0.0, None)
    graph.spectra[key] = (eigenvalues, vectors)
    return eigenvalues, vectors


def _smallest_margin(proba):
    if proba.shape[1] < 2:
        return np.zeros(proba.shape[0])
    top = np.partition(proba, proba.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top[:, 1] - top[:, 0])


def _graph_classifier(estimator, X):
    """The fitted GraphClassifier that ``estimator`` is or ends in, and ``X`` as it sees it."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(final, GraphClassifier):
        got = f"a Pipeline ending in {final!r}" if final is not estimator else repr(estimator)
        raise ValueError(
            "model_change_scores scores samples with a fitted graph classifier "
            "(skaloe.graph.GraphClassifier, or a Pipeline ending in one); got "
            f"{got}. Use ActiveLearner(estimator=skaloe.graph.GraphClassifier(...), "
            "query_strategy=model_change_scores), or another query strategy, such as "
            "'margin', for this estimator."
        )
    check_is_fitted(final)
    if final is not estimator and len(estimator.steps) > 1:
        X = estimator[:-1].transform(X)
    return final, X


def model_change_scores(estimator, X, *, n_eigenvectors=50, gamma=0.1):
    r"""Model-change acquisition of graph-based active learning, higher = ask first.

    For each sample :math:`k`, how much labelling it would move the Gaussian
    model of the graph classifier, weighted by how uncertain the classifier is
    there (Miller & Bertozzi, arXiv:2110.07739, 2021; GraphLearning
    ``active_learning.model_change``):

    .. math::

        s(k) = \bigl(1 - (p_{(1)}(k) - p_{(2)}(k))\bigr)\,
               \frac{\lVert C v_k \rVert_2}{\gamma^2 + v_k^\top C v_k},
        \qquad
        C = \Bigl(\Lambda + \tfrac{1}{\gamma^2} V_L^\top V_L\Bigr)^{-1},

    where :math:`V` holds the ``n_eigenvectors`` eigenvectors of the smallest
    eigenvalues :math:`\Lambda` of the normalized graph Laplacian
    :math:`I - D^{-1/2} W D^{-1/2}` (spectral truncation, never an
    :math:`n \times n` matrix), :math:`v_k` is row :math:`k` of :math:`V`,
    :math:`V_L` its rows at the labeled samples (the covariance after one
    rank-one update per label), and :math:`p_{(1)} \ge p_{(2)}` the two
    largest entries of the sample's class distribution (smallest margin).

    Parameters
    ----------
    estimator : GraphClassifier or Pipeline
        A fitted :class:`~skaloe.graph.GraphClassifier`, or a fitted Pipeline
        whose last step is one (``X`` then goes through the steps before it).
    X : array-like of shape (n_samples, n_features)
        Pool rows, in any array (the pool, a slice or a copy: found by
        content, no neighbour search), or new points, which take the
        neighbour-weighted average of their pool neighbours' eigenvector rows
        and distributions, as in ``GraphClassifier.predict_proba``.
    n_eigenvectors : int, default=50
        Eigenvectors of the truncation; computed once per graph with
        :func:`scipy.sparse.linalg.eigsh` (``random_state`` seeds its start
        vector) and cached with the graph, which every classifier fitted on
        the same pool shares.
    gamma : float, default=0.1
        Label noise standard deviation of the Gaussian model.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Non-negative; 0 for labeled samples (their margin is 1).

    Raises
    ------
    ValueError
        If ``estimator`` is not a fitted GraphClassifier or a Pipeline ending
        in one, for instance the default ``LogisticRegression`` of an
        :class:`~skaloe.active.ActiveLearner`.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.graph import GraphClassifier, model_change_scores
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 0.3, (20, 2)), rng.normal(3, 0.3, (20, 2))])
    >>> y = np.full(40, -1)
    >>> y[0], y[20] = 0, 1
    >>> clf = GraphClassifier(n_neighbors=5).fit(X, y)
    >>> scores = model_change_scores(clf, X, n_eigenvectors=10)
    >>> scores.shape, float(scores[0]), float(scores[20])
    ((40,), 0.0, 0.0)
    """
    estimator, X = _graph_classifier(estimator, X)
    if not (isinstance(n_eigenvectors, (int, np.integer)) and n_eigenvectors >= 1):
        raise ValueError(f"n_eigenvectors must be a positive integer; got {n_eigenvectors!r}.")
    if not gamma > 0:
        raise ValueError(f"gamma must be positive; got {gamma!r}.")
    eigenvalues, V = _spectrum(estimator, int(n_eigenvectors))
    V_labeled = V[estimator._labeled_mask]
    gamma2 = float(gamma) ** 2
    precision = np.diag(eigenvalues + _EIGENVALUE_FLOOR) + (V_labeled.T @ V_labeled) / gamma2
    C = np.linalg.inv(precision)
    C = (C + C.T) / 2

    X = validate_data(estimator, X, dtype=[np.float64, np.float32], reset=False)
    pool_map = estimator._pool_map(X)
    V_x = estimator._read_pool(pool_map, V)
    proba = estimator._read_pool(pool_map, estimator.label_distributions_)
    CV = V_x @ C
    change = np.linalg.norm(CV, axis=1) / (gamma2 + np.einsum("ij,ij->i", V_x, CV))
    return _smallest_margin(proba) * change
