"""k-nearest-neighbour similarity graphs and the sparse solvers run on them.

The weights follow GraphLearning (jwcalder/GraphLearning,
``graphlearning/weightmatrix.py``, function ``knn``): a self-tuning Gaussian
kernel ``w_ij = exp(-4 |x_i - x_j|^2 / d_k(x_i)^2)``, where ``d_k(x_i)`` is the
distance from ``x_i`` to its k-th nearest neighbour (Zelnik-Manor & Perona,
"Self-tuning spectral clustering", NIPS 2004), symmetrized as ``(W + W^T) / 2``.
"""

# Authors: The skaloe developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["knn_graph"]


def _kernel_weights(distances, kernel):
    """Edge weights of each row of ``distances`` (n, k), sorted in increasing order."""
    distances = np.asarray(distances, dtype=np.float64)
    if kernel == "uniform":
        return np.ones_like(distances)
    # Self-tuning Gaussian: the scale of a point is its distance to its k-th
    # neighbour, so the farthest neighbour weighs exp(-4) ~ 0.018.
    scale = distances[:, -1:] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(scale > 0, distances**2 / scale, 0.0)
    return np.exp(-4.0 * ratio)


def _nearest_neighbors(n_neighbors, metric, n_jobs):
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=n_neighbors, metric=metric, n_jobs=n_jobs)


def knn_graph(X, n_neighbors=10, *, kernel="gaussian", metric="euclidean", n_jobs=None):
    """Symmetric k-nearest-neighbour weight matrix of the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The points; float32 stays float32 during the neighbour search.
    n_neighbors : int, default=10
        Neighbours of each point, the point itself not counted; must be
        smaller than ``n_samples``.
    kernel : {"gaussian", "uniform"}, default="gaussian"
        ``"gaussian"``: self-tuning weights ``exp(-4 d_ij^2 / d_k(x_i)^2)``
        (GraphLearning's ``weightmatrix.knn`` default); ``"uniform"``: 1 per edge.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance of the neighbour search (scikit-learn ``NearestNeighbors``,
        exact).
    n_jobs : int, default=None
        Threads of the neighbour search.

    Returns
    -------
    W : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Symmetric, float64, zero diagonal: ``(W_knn + W_knn.T) / 2``.
    nn : sklearn.neighbors.NearestNeighbors
        The fitted neighbour index (used to place new points).

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.graph import knn_graph
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0]])
    >>> W, _ = knn_graph(X, n_neighbors=1, kernel="uniform")
    >>> W.toarray()
    array([[0. , 1. , 0. , 0. ],
           [1. , 0. , 0.5, 0. ],
           [0. , 0.5, 0. , 0.5],
           [0. , 0. , 0.5, 0. ]])
    """
    n_samples = X.shape[0]
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be smaller than n_samples={n_samples}; "
            "use fewer neighbours or a larger pool."
        )
    nn = _nearest_neighbors(n_neighbors, metric, n_jobs).fit(X)
    # X=None: each point's neighbours, the point itself excluded (even if duplicated).
    distances, indices = nn.kneighbors(None, n_neighbors=n_neighbors)
    weights = _kernel_weights(distances, kernel)
    rows = np.repeat(np.arange(n_samples), n_neighbors)
    W = sp.csr_matrix(
        (weights.ravel(), (rows, indices.ravel())), shape=(n_samples, n_samples)
    )
    W = ((W + W.T) * 0.5).tocsr()
    W.setdiag(0.0)
    W.eliminate_zeros()
    W.sort_indices()
    return W, nn


def _laplacian(W):
    """Combinatorial Laplacian ``D - W`` (CSR) and the degrees."""
    degree = np.asarray(W.sum(axis=1)).ravel()
    L = (sp.diags(degree) - W).tocsr()
    return L, degree


def _block_pcg(A, B, X0, inv_diag, tol, max_iter):
    """Jacobi-preconditioned conjugate gradient, one independent solve per column.

    Solves ``A X = B`` for symmetric positive (semi-)definite ``A``; the columns
    share each sparse product, which costs little more than one. Stops when
    every column's residual ``|b - A x| / |b|`` is at most ``tol``.

    Returns ``X, n_iter, relative_residuals``.
    """
    X = np.array(X0, dtype=np.float64, copy=True)
    R = B - A @ X
    b_norm = np.linalg.norm(B, axis=0)
    b_norm[b_norm == 0] = 1.0
    inv_diag = inv_diag[:, None]
    Z = R * inv_diag
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    n_iter = 0
    residual = np.linalg.norm(R, axis=0) / b_norm
    while n_iter < max_iter and np.any(residual > tol):
        AP = A @ P
        pap = np.einsum("ij,ij->j", P, AP)
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=pap > 0)
        X += alpha * P
        R -= alpha * AP
        np.multiply(R, inv_diag, out=Z)
        rz_new = np.einsum("ij,ij->j", R, Z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        P *= beta
        P += Z
        rz = rz_new
        n_iter += 1
        residual = np.linalg.norm(R, axis=0) / b_norm
    return X, n_iter, residual
