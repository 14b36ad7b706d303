"""Graph-based semi-supervised classification: Laplace and Poisson learning.

References
----------
- X. Zhu, Z. Ghahramani, J. Lafferty, "Semi-supervised learning using Gaussian
  fields and harmonic functions", ICML 2003 (Laplace learning).
- J. Calder, B. Cook, M. Thorpe, D. Slepcev, "Poisson learning: graph based
  semi-supervised learning at very low label rates", ICML 2020, PMLR 119:1306-1316
  (Poisson learning; reference code jwcalder/GraphLearning ``graphlearning/ssl.py``,
  classes ``laplace`` and ``poisson``).
"""

# Authors: The skaloe developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import copy
import hashlib
import numbers
import threading
import warnings
import weakref
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._fingerprints import fingerprints
from ..base import TransductiveMixin
from ._graph import (
    _block_pcg,
    _kernel_weights,
    _laplacian,
    _nearest_neighbors,
    knn_graph,
)

__all__ = ["GraphClassifier"]

#: Graphs held by fitted GraphClassifiers, by graph parameters and pool
#: content; an entry goes when no classifier holds its graph any more.
_GRAPHS = weakref.WeakValueDictionary()
_GRAPHS_LOCK = threading.Lock()
#: Places of a block's first row tried before matching its rows one by one.
_MAX_BLOCK_STARTS = 8


def _unlabeled_mask(y):
    """``-1`` marks an unlabeled sample (also inside object arrays); strings never do."""
    if y.dtype.kind in "iuf":
        return y == -1
    if y.dtype.kind == "O":
        return np.fromiter(
            (
                isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and v == -1
                for v in y
            ),
            dtype=bool,
            count=len(y),
        )
    return np.zeros(len(y), dtype=bool)


def _content_digest(X):
    """SHA-256 of an array's shape, dtype and bytes (in C order)."""
    digest = hashlib.sha256(f"{X.shape}{X.dtype.str}".encode())
    digest.update(memoryview(np.ascontiguousarray(X)).cast("B"))
    return digest.digest()


def _bits(X):
    """The array's elements as unsigned integers of the same size: equal bits, equal bytes."""
    return X.view(f"u{X.dtype.itemsize}")


class _Graph:
    """What a fit computes from X alone, shared by every fit on the same content.

    ``X`` and ``nn`` are the array a fit was given and a neighbour index over
    it; a fit on an equal array gets a copy with its own (see ``on``).
    """

    def __init__(self, X, W, nn):
        self.X = X
        self.W = W
        self.nn = nn
        self.L, self.degree = _laplacian(W)
        self.n_components, self.component = connected_components(W, directed=False)
        # The pool's rows by content, to recognise them at predict time.
        self.row_keys = fingerprints(X)
        self.key_order = np.argsort(self.row_keys, kind="stable")
        self.sorted_keys = self.row_keys[self.key_order]
        self.spectra = {}  # eigenpairs by (n_eigenvectors, seed), see _acquisition

    def on(self, X, nn):
        """This graph for an array of the same content, with its neighbour index."""
        graph = copy.copy(self)  # shares W, L, the row keys and the eigenpair cache
        graph.X, graph.nn = X, nn
        return graph

    def rows_with_key(self, key):
        """Pool positions whose row fingerprint is ``key``, in increasing order."""
        lo = np.searchsorted(self.sorted_keys, key, side="left")
        hi = np.searchsorted(self.sorted_keys, key, side="right")
        return self.key_order[lo:hi]  # a stable sort keeps equal keys in pool order


class GraphClassifier(TransductiveMixin, ClassifierMixin, BaseEstimator):
    r"""Graph-based semi-supervised classifier: Laplace or Poisson learning on a k-NN graph.

    ``fit(X, y)`` takes a pool ``X`` in which unlabeled samples have the label
    ``-1`` (as in :mod:`sklearn.semi_supervised`), builds a k-nearest-neighbour
    graph over the whole pool and propagates the labels along it by solving a
    sparse linear system (conjugate gradient, one right-hand side per class).

    Parameters
    ----------
    method : {"laplace", "poisson"}, default="laplace"
        ``"laplace"``: Laplace learning / harmonic extension (Zhu, Ghahramani &
        Lafferty, ICML 2003): with the graph Laplacian :math:`L = D - W`, solve
        :math:`L_{UU} u_U = W_{UL} Y_L` on the unlabeled nodes :math:`U`, the
        labeled nodes :math:`L` keeping their one-hot labels :math:`Y_L`.
        ``"poisson"``: Poisson learning (Calder, Cook, Thorpe & Slepcev, ICML
        2020): solve :math:`L u = \sum_j (y_j - \bar y)\,\delta_{x_j}` with
        :math:`\sum_i d_i u_i = 0`, better than Laplace learning at very low
        label rates, where the harmonic extension degenerates to a constant.
    n_neighbors : int, default=10
        Neighbours of each node (the node itself not counted); must be smaller
        than the number of samples.
    kernel : {"gaussian", "uniform"}, default="gaussian"
        Edge weights. ``"gaussian"``: self-tuning
        :math:`w_{ij} = \exp(-4 |x_i - x_j|^2 / d_k(x_i)^2)` with
        :math:`d_k(x_i)` the distance to the k-th neighbour, symmetrized
        :math:`(W + W^T)/2` (GraphLearning's ``weightmatrix.knn`` default).
        ``"uniform"``: every edge weighs 1 before symmetrization.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance of the exact neighbour search (scikit-learn
        :class:`~sklearn.neighbors.NearestNeighbors`).
    tol : float, default=1e-5
        Relative residual :math:`|b - A u| / |b|` at which the conjugate
        gradient stops, for every class.
    max_iter : int, default=2000
        Most conjugate-gradient iterations per fit; a
        :class:`~sklearn.exceptions.ConvergenceWarning` says when they ran out.
    warm_start : bool, default=False
        When True and ``fit`` runs on the same graph as this classifier's
        previous fit, the conjugate gradient starts from the previous
        solution (its columns matched to the classes) instead of from zero:
        fewer iterations when the labels change little, the same solution up
        to ``tol``. Whether the graph is built again does not depend on it
        (see Notes).
    n_jobs : int, default=None
        Threads of the neighbour search.
    random_state : int, RandomState instance or None, default=None
        Seeds the start vector of the sparse eigensolver used by
        :func:`~skaloe.graph.model_change_scores` (a RandomState instance is
        drawn from through a copy, so it is not advanced); fitting itself is
        deterministic.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``y`` (``-1`` excluded), sorted.
    label_distributions_ : ndarray of shape (n_samples, n_classes)
        Class distribution of every pool sample; rows are non-negative and sum
        to 1. Labeled samples keep their given label (one-hot). Nodes in a
        connected component of the graph without any label get the uniform
        distribution. See Notes for how Poisson scores become distributions.
    transduction_ : ndarray of shape (n_samples,)
        Label of every pool sample: ``classes_[label_distributions_.argmax(1)]``.
    graph_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The symmetric weight matrix.
    n_connected_components_ : int
        Connected components of the graph.
    n_iter_ : int
        Conjugate-gradient iterations of the last fit.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.semi_supervised.LabelSpreading : Label spreading with a dense or
        k-NN kernel, iterated to convergence, rebuilt on every fit.
    skaloe.graph.model_change_scores : Model-change acquisition on this model.

    Notes
    -----
    *Poisson scores to probabilities.* Poisson learning returns scores
    :math:`u(x) \in \mathbb{R}^C` whose rows sum to zero (the source terms of
    the classes sum to zero at every labeled node), like centred logits; they
    are not probabilities. They are mapped by the affine map

    .. math::

        p_c(x) = \frac{1}{C} + \frac{u_c(x)}{C\,m}, \qquad
        m = \max\Big(-\min_{i, c} u_c(x_i),\ \varepsilon\Big),

    i.e. GraphLearning's own label decision (``ssl.predict``: shift the scores
    by their global minimum, ``scores - min(scores)``) followed by row
    normalisation, whose row sums are then all equal to :math:`C m`. It is the
    affine map with rows summing to 1 that keeps every entry in
    :math:`[0, 1]` and spreads them most. Being affine and the same for every
    node, it keeps the argmax and orders margins exactly as the raw Poisson
    scores do, so margin-based uncertainty sampling on ``predict_proba``
    queries the same samples as GraphLearning's ``unc_sampling`` on the raw
    scores. The values are not calibrated probabilities.

    *Disconnected graphs.* Each connected component is solved on its own;
    for Poisson learning the mean label :math:`\bar y` is taken over the
    labeled nodes of the component (on a connected graph, this is the method
    of the paper); a component whose labels are all of one class takes that
    class, since its sources would all be zero. Components without labels get
    uniform distributions.

    *One graph per pool.* The graph depends only on ``X`` and on
    ``n_neighbors``, ``kernel`` and ``metric``, so ``fit`` looks it up by
    them (and ``n_jobs``), ``X`` by its shape, dtype and SHA-256 digest
    (after validation). If a fitted GraphClassifier holds that graph (this
    one from its previous fit, or another one, such as the clone that
    :class:`~skaloe.active.ActiveLearner` fitted the round before), it is
    reused: the graph is the one a new build would give, and so are the
    results. Otherwise it is built. A labelling run, in which the learner
    fits a fresh clone on the same pool every round, thus builds one graph;
    a pool changed in place, another pool or other graph parameters build
    another. The check reads ``X`` once per fit: for a pool of
    100 000 x 1024 float32 (410 MB), 0.25 s of one CPU core (0.23 s of it
    the digest), against minutes to build its graph and seconds to solve on
    it. A graph is freed with the last classifier that holds it; classifiers
    that share it share its cached eigenvectors (see
    :func:`~skaloe.graph.model_change_scores`).

    *Pool rows and new points.* ``predict_proba`` finds the rows of ``X``
    that are pool samples by content (a 64-bit fingerprint of each row's
    bytes finds a candidate, equal bytes decide) and gives each its row of
    ``label_distributions_``, with no neighbour search, whatever array holds
    them: the pool, a slice ``pool[a:b]``, a copy, a selection. Rows that are
    a run of consecutive pool rows (the pool, a block of it) keep their own
    places even where the pool holds the same clip twice; a single row that
    the pool holds more than once gets the first. Finding the whole
    100 000 x 1024 pool takes 0.12 s of one core, a block of 10 000 rows
    0.015 s, 10 000 rows picked at random 0.035 s. Other rows (*new
    points*) get the weighted average of the distributions of their
    ``n_neighbors`` nearest pool samples, with the kernel weights a pool
    node would give them; a row equal in value to a pool sample (in another
    dtype, say) gets that sample's distribution.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.graph import GraphClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 0.3, (20, 2)), rng.normal(3, 0.3, (20, 2))])
    >>> y = np.full(40, -1)
    >>> y[0], y[20] = 0, 1
    >>> clf = GraphClassifier(n_neighbors=5).fit(X, y)
    >>> clf.transduction_[[5, 25]]
    array([0, 1])
    >>> clf.label_distributions_.shape
    (40, 2)
    >>> clf.predict([[0.1, 0.0], [2.9, 3.1]])
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"laplace", "poisson"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "kernel": [StrOptions({"gaussian", "uniform"})],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="laplace",
        *,
        n_neighbors=10,
        kernel="gaussian",
        metric="euclidean",
        tol=1e-5,
        max_iter=2000,
        warm_start=False,
        n_jobs=None,
        random_state=None,
    ):
        self.method = method
        self.n_neighbors = n_neighbors
        self.kernel = kernel
        self.metric = metric
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------

    def _graph_for(self, X):
        """The graph of ``X``: taken from a fitted classifier that holds it, or built.

        Looked up by what it depends on (see Notes, *One graph per pool*).
        """
        key = (
            self.n_neighbors, self.kernel, self.metric, self.n_jobs,
            X.shape, X.dtype.str, _content_digest(X),
        )
        with _GRAPHS_LOCK:
            graph = _GRAPHS.get(key)
        if graph is None:
            W, nn = knn_graph(
                X, self.n_neighbors, kernel=self.kernel, metric=self.metric,
                n_jobs=self.n_jobs,
            )
            graph = _Graph(X, W, nn)
        elif graph.X is not X:
            # Equal content in another array: the graph is the same, but the
            # neighbour index (for new points) reads this array, not the one
            # the graph was built from, which may change later.
            nn = _nearest_neighbors(self.n_neighbors, self.metric, self.n_jobs).fit(X)
            graph = graph.on(X, nn)
        with _GRAPHS_LOCK:
            _GRAPHS[key] = graph
        return graph

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Build the graph (or reuse it, see Notes) and propagate the labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool: labeled and unlabeled samples.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabeled samples (use an object array to mix
            ``-1`` with string labels).

        Returns
        -------
        self : GraphClassifier
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        n_samples = X.shape[0]
        if self.n_neighbors >= n_samples:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} must be smaller than "
                f"n_samples={n_samples}; use fewer neighbours or a larger pool."
            )
        unlabeled = _unlabeled_mask(y)
        labeled = ~unlabeled
        # -1 may sit among string labels in an object array: check the labels only.
        check_classification_targets(y[labeled])
        if not labeled.any():
            raise ValueError(
                f"y has no labeled sample: all {n_samples} entries are -1. Label at "
                "least one sample (GraphClassifier propagates given labels)."
            )
        classes, codes = np.unique(y[labeled], return_inverse=True)

        graph = self._graph_for(X)
        previous = None
        last = getattr(self, "_graph", None)
        if self.warm_start and last is not None and last.W is graph.W:  # the same graph
            previous = (self.classes_, self._scores)

        x0 = self._initial_guess(previous, classes, n_samples)
        if self.method == "laplace":
            scores, n_iter, residual = self._solve_laplace(graph, labeled, codes, len(classes), x0)
        else:
            scores, n_iter, residual = self._solve_poisson(graph, labeled, codes, len(classes), x0)
        if np.any(residual > self.tol):
            warnings.warn(
                f"The conjugate gradient stopped after max_iter={self.max_iter} iterations "
                f"with a relative residual of {residual.max():.3g} > tol={self.tol}; "
                "increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )

        self._graph = graph
        self._scores = scores
        self._labeled_mask = labeled
        distributions = self._to_distributions(scores, graph, labeled)
        if self.method == "poisson":
            self._single_class_components(distributions, graph, labeled, codes)
        distributions[labeled] = 0.0
        distributions[np.flatnonzero(labeled), codes] = 1.0
        self.classes_ = classes
        self.label_distributions_ = distributions
        self.transduction_ = classes[distributions.argmax(axis=1)]
        self.graph_ = graph.W
        self.n_connected_components_ = int(graph.n_components)
        self.n_iter_ = int(n_iter)
        return self

    @staticmethod
    def _initial_guess(previous, classes, n_samples):
        """The previous solution, its columns matched to the new classes (0 for new ones)."""
        x0 = np.zeros((n_samples, len(classes)))
        if previous is None:
            return x0
        old_classes, old_scores = previous
        for j, label in enumerate(classes):
            match = np.flatnonzero(old_classes == label)
            if match.size:
                x0[:, j] = old_scores[:, match[0]]
        return x0

    def _solve_laplace(self, graph, labeled, codes, n_classes, x0):
        unlabeled_idx = np.flatnonzero(~labeled)
        F = np.zeros((len(labeled), n_classes))
        F[np.flatnonzero(labeled), codes] = 1.0
        if unlabeled_idx.size == 0:
            return F, 0, np.zeros(n_classes)
        # The right-hand side W_UL Y_L is -(L F)_U, as F is zero on U.
        W_u = graph.W[unlabeled_idx]
        rhs = np.asarray(W_u @ F)
        A = graph.L[unlabeled_idx][:, unlabeled_idx]
        u, n_iter, residual = _block_pcg(
            A, rhs, x0[unlabeled_idx], 1.0 / graph.degree[unlabeled_idx], self.tol, self.max_iter
        )
        F[unlabeled_idx] = u
        return F, n_iter, residual

    def _solve_poisson(self, graph, labeled, codes, n_classes, x0):
        n_samples = len(labeled)
        labeled_idx = np.flatnonzero(labeled)
        onehot = np.zeros((labeled_idx.size, n_classes))
        onehot[np.arange(labeled_idx.size), codes] = 1.0
        # Source y_j - mean label, the mean taken within each connected component
        # so that every component's system is consistent (sums to zero).
        comp = graph.component[labeled_idx]
        comp_sums = np.zeros((graph.n_components, n_classes))
        np.add.at(comp_sums, comp, onehot)
        comp_counts = np.bincount(comp, minlength=graph.n_components)
        source = np.zeros((n_samples, n_classes))
        source[labeled_idx] = onehot - comp_sums[comp] / comp_counts[comp, None]
        u, n_iter, residual = _block_pcg(
            graph.L, source, x0, 1.0 / graph.degree, self.tol, self.max_iter
        )
        # L is singular (constants per component): fix the free constant by
        # sum_i d_i u_i = 0 in each component, as the paper does.
        d = graph.degree
        mass = np.zeros((graph.n_components, n_classes))
        np.add.at(mass, graph.component, d[:, None] * u)
        volume = np.bincount(graph.component, weights=d, minlength=graph.n_components)
        u -= (mass / volume[:, None])[graph.component]
        return u, n_iter, residual

    @staticmethod
    def _single_class_components(distributions, graph, labeled, codes):
        """Components whose labels are all of one class take that class.

        Poisson learning's sources are the labels minus their mean within the
        component: all zero when every label of a component has the same
        class, which would leave the component uniform. Every path in such a
        component leads to that class only, so it gets it (as Laplace learning
        gives it there).
        """
        comp = graph.component[np.flatnonzero(labeled)]
        first = np.full(graph.n_components, -1)
        first[comp[::-1]] = codes[::-1]  # a label of each labeled component
        mixed = np.zeros(graph.n_components, dtype=bool)
        mixed[comp[codes != first[comp]]] = True
        single = (first >= 0) & ~mixed
        rows = np.flatnonzero(single[graph.component])
        if rows.size:
            distributions[rows] = 0.0
            distributions[rows, first[graph.component[rows]]] = 1.0

    def _to_distributions(self, scores, graph, labeled):
        n_classes = scores.shape[1]
        if self.method == "laplace":
            p = np.clip(scores, 0.0, None)
        else:
            # Affine map of the zero-sum Poisson scores (see Notes).
            m = max(-scores.min(), np.finfo(np.float64).tiny) if n_classes > 1 else 1.0
            p = np.clip(1.0 / n_classes + scores / (n_classes * m), 0.0, None)
        total = p.sum(axis=1, keepdims=True)
        empty = (total[:, 0] <= 1e-12) | ~np.isfinite(total[:, 0])
        # Unlabeled components (all-zero scores) get the uniform distribution.
        p[empty] = 1.0 / n_classes
        total[empty] = 1.0
        p /= total
        return p

    # -- prediction --------------------------------------------------------

    def _pool_positions(self, X):
        """Where the rows of ``X`` (validated) are in the fitted pool, found by content.

        A slice when ``X`` is a run of consecutive pool rows (the pool, a block
        ``pool[a:b]``, or a copy of one): a row the pool holds twice keeps its
        own place. Otherwise one position per row, -1 for a row that is not a
        pool row; a row the pool holds more than once gets its first place.
        Fingerprints find the candidates; equal bytes decide.
        """
        graph = self._graph
        pool = graph.X
        n, m = pool.shape[0], X.shape[0]
        if X.dtype != pool.dtype:
            # Not the pool's bytes; the neighbour search finds rows equal in value.
            return np.full(m, -1, dtype=np.intp)
        keys = fingerprints(X)
        starts = graph.rows_with_key(keys[0])
        starts = starts[starts + m <= n]
        starts = starts[graph.row_keys[starts + m - 1] == keys[-1]]
        for start in starts[:_MAX_BLOCK_STARTS]:
            block = slice(start, start + m)
            if np.array_equal(graph.row_keys[block], keys) and np.array_equal(
                _bits(pool[block]), _bits(X)
            ):
                return block
        at = np.minimum(np.searchsorted(graph.sorted_keys, keys), n - 1)
        candidates = graph.key_order[at]
        found = np.flatnonzero(graph.sorted_keys[at] == keys)
        same = np.all(_bits(X[found]) == _bits(pool[candidates[found]]), axis=1)
        positions = np.full(m, -1, dtype=np.intp)
        positions[found[same]] = candidates[found[same]]
        return positions

    def _pool_map(self, X):
        """How each row of ``X`` (validated) reads per-sample values of the pool.

        Returns a slice of pool rows (see ``_pool_positions``), or a
        row-stochastic sparse matrix of shape (n_rows, n_pool): a pool row
        reads its own value, any other row the kernel-weighted average over its
        ``n_neighbors`` nearest pool samples, or the value of a pool sample it
        equals.
        """
        positions = self._pool_positions(X)
        if isinstance(positions, slice):
            return positions
        graph = self._graph
        n_pool = graph.X.shape[0]
        inside = np.flatnonzero(positions >= 0)
        rows, columns, weights = [inside], [positions[inside]], [np.ones(inside.size)]
        new = np.flatnonzero(positions < 0)
        if new.size:
            X_new = X[new]
            distances, indices = graph.nn.kneighbors(X_new, n_neighbors=self.n_neighbors)
            w = _kernel_weights(distances, self.kernel)
            # Equal in value though not in bytes (another dtype, -0.0).
            exact = np.all(X_new == graph.X[indices[:, 0]], axis=1)
            w[exact] = 0.0
            w[exact, 0] = 1.0
            w /= w.sum(axis=1, keepdims=True)
            rows.append(np.repeat(new, self.n_neighbors))
            columns.append(indices.ravel())
            weights.append(w.ravel())
        return sp.csr_matrix(
            (np.concatenate(weights), (np.concatenate(rows), np.concatenate(columns))),
            shape=(X.shape[0], n_pool),
        )

    @staticmethod
    def _read_pool(pool_map, values):
        """``values`` (one row per pool sample) as the rows of ``_pool_map`` read them."""
        if isinstance(pool_map, slice):
            return values[pool_map].copy()
        return np.asarray(pool_map @ values)

    def predict_proba(self, X):
        """Class distributions: the pool's for pool rows, neighbour averages for others.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pool rows in any array (the pool, a slice ``pool[a:b]``, a copy
            of some rows: their rows of ``label_distributions_``, no neighbour
            search), new points, or both.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._read_pool(self._pool_map(X), self.label_distributions_)

    def predict(self, X):
        """Most likely class of each sample (``transduction_`` for pool rows).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pool rows in any array, new points, or both.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # checks that the model is fitted
        return self.classes_[proba.argmax(axis=1)]
