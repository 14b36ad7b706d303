"""Diverse batches: uncertain samples that are not near copies of one another.

Top-k selection on an uncertainty score asks for many near duplicates when a
region of the pool is uncertain as a whole (one speaker, one recording
session, a clip cut into many overlapping windows). Two ways to spread a batch,
both cheap enough for a 100k x 1024 float32 pool:

``"cluster-margin"``
    Cluster-Margin (Citovsky et al., "Batch Active Learning at Scale",
    NeurIPS 2021, arXiv:2107.14263, section 3): cluster the pool once, then
    each round take the ``k_m`` highest-scored candidates, group them by
    cluster, visit the clusters from the smallest to the largest and take one
    member of each, round after round, until the batch is full. The paper
    takes a random member; given the features, skaloe takes the member
    farthest from the samples picked so far (random among equals, so the
    first visit of an isolated cluster is still a random member), because at
    a coarse clustering one cluster can hold many near copies of one clip.
    The paper clusters with hierarchical agglomerative clustering (HAC,
    average linkage), whose cost is quadratic in the pool;
    :func:`fit_pool_clusters` runs HAC on a k-means summary of the pool
    instead (see there). Per round the cost is one partial sort of the
    scores plus one distance pass over the ``k_m`` candidate rows per pick.
``"kmeans++"``
    A diverse top-k: take the ``factor * n`` highest-scored candidates and
    choose ``n`` of them by k-means++ seeding (Arthur & Vassilvitskii,
    "k-means++: The Advantages of Careful Seeding", SODA 2007): the first is
    the top-scored candidate, each next one is drawn with probability
    proportional to its squared distance to the nearest one chosen so far,
    optionally times a weight that falls with its score rank. Only the
    ``factor * n`` candidate rows are gathered, and distances are kept as one
    float32 vector updated after each pick: no ``m x m`` or pool-sized
    distance matrix is ever built.

Both work in the two selection modes of :mod:`skaloe.active._selection`:

- class-agnostic: the diverse choice runs over all candidates;
- class-aware: :func:`~skaloe.active._selection.select_class_aware` first
  fixes how many samples each predicted class gets (its quota ``q_c``); the
  diverse choice then runs within each predicted class, over that class's
  candidates, for its quota (``k_m`` or ``m`` scaled to ``factor * q_c``),
  class after class from the class with the best candidate. Each class's
  choice counts the picks already made for other classes as chosen, so near
  copies of a clip that are predicted as two different classes do not both
  enter the batch: for k-means++, the first class starts from its best
  candidate and every later pick, in any class, is drawn by its squared
  distance to all picks so far. The batch is ordered as class-aware batches
  are: every class's first pick (by score), then every class's second pick,
  and so on.

Conventions shared with :mod:`skaloe.active._selection`: scores are higher =
ask first; NaN scores rank last; ties are broken by a permutation of the pool
(``tiebreak``) drawn once per round; results are positions into the pool.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ._selection import select_class_agnostic, select_class_aware

DIVERSITY_METHODS = ("cluster-margin", "kmeans++")


# -- validation ----------------------------------------------------------------


def _check_features(X, name="X"):
    """``X`` as a dense 2-D real array, without copying; clear errors otherwise."""
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(
            f"Diverse batch selection needs dense features; {name} is a sparse matrix "
            f"({type(X).__name__}). Pass a dense array (e.g. the embeddings), or use "
            "batch diversity with a dense embedding of the pool."
        )
    if not hasattr(X, "dtype") or not hasattr(X, "shape"):
        try:
            X = np.asarray(X)
        except Exception as exc:  # ragged lists, file paths, ...
            raise TypeError(
                f"Diverse batch selection needs a numeric feature matrix; {name} of type "
                f"{type(X).__name__} could not be turned into one ({exc})."
            ) from None
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"Diverse batch selection needs numeric features; {name} has dtype "
            f"{X.dtype} (e.g. file paths or objects). Compute distances on embeddings: "
            "pass the output of the encoder, not the raw inputs."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Diverse batch selection needs a 2-D feature matrix; {name} has shape {X.shape}."
        )
    return X


def _rows_float32(X, rows, name="X"):
    """Rows ``rows`` of ``X`` as a float32 array; error if any value is not finite."""
    out = np.asarray(X[rows], dtype=np.float32)
    if not np.isfinite(out).all():
        bad = rows[np.flatnonzero(~np.isfinite(out).all(axis=1))[:5]]
        raise ValueError(
            f"{name} holds NaN or infinite values (rows {bad.tolist()} among others); "
            "distances between such rows are undefined."
        )
    return out


def _check_round(scores, candidates, n, tiebreak, rng):
    """Validated ``scores``, ``candidates``, ``n``, ``tiebreak`` and ``rng`` of one round."""
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (one per pool sample); got shape {scores.shape}.")
    if scores.dtype.kind not in "biuf":
        raise TypeError(f"scores must be numeric; got dtype {scores.dtype}.")
    candidates = np.asarray(candidates)
    if candidates.dtype.kind == "b":
        if candidates.shape != scores.shape:
            raise ValueError("A boolean candidates mask must have one value per pool sample.")
        candidates = np.flatnonzero(candidates)
    if candidates.ndim != 1 or (candidates.size and candidates.dtype.kind not in "iu"):
        raise ValueError("candidates must be a 1-D array of integer positions into the pool.")
    candidates = candidates.astype(np.intp, copy=False)
    if candidates.size and (candidates.min() < 0 or candidates.max() >= len(scores)):
        raise ValueError(
            f"candidates must be positions in [0, {len(scores)}); got values from "
            f"{candidates.min()} to {candidates.max()}."
        )
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative integer; got {n!r}.")
    rng = check_random_state(rng)
    if tiebreak is None:
        tiebreak = rng.permutation(len(scores))
    else:
        tiebreak = np.asarray(tiebreak)
        if tiebreak.shape != scores.shape:
            raise ValueError(
                f"tiebreak must have one value per pool sample ({len(scores)}); "
                f"got shape {tiebreak.shape}."
            )
    return scores, candidates, int(n), tiebreak, rng


def _check_factor(factor, name="factor"):
    if (
        not isinstance(factor, numbers.Real)
        or isinstance(factor, bool)
        or not np.isfinite(factor)
        or factor < 1
    ):
        raise ValueError(f"{name} must be a real number >= 1; got {factor!r}.")
    return float(factor)


def _check_cluster_labels(cluster_labels, n_pool):
    if cluster_labels is None:
        raise ValueError(
            "Cluster-margin selection needs the pool's cluster labels: compute them once "
            "with fit_pool_clusters(X_pool) and pass them as cluster_labels."
        )
    cluster_labels = np.asarray(cluster_labels)
    if cluster_labels.shape != (n_pool,):
        raise ValueError(
            f"cluster_labels must hold one label per pool sample ({n_pool}); got shape "
            f"{cluster_labels.shape}. Recompute them with fit_pool_clusters when the pool "
            "changes."
        )
    return cluster_labels


# -- clustering the pool once ------------------------------------------------------


def _assign_cells(X, centers, chunk_size=8192):
    """Nearest center of every row of ``X`` and each cell's size, mean and spread.

    One pass over ``X`` in float32 chunks. Returns ``(cell, counts, means,
    spread)``: ``cell[i]`` the nearest center of row ``i``; per cell the
    number of rows, their mean (float64) and their mean squared distance to
    that mean.
    """
    import scipy.sparse as sp

    centers = np.asarray(centers, dtype=np.float32)
    k = len(centers)
    half_sq = 0.5 * np.einsum("ij,ij->i", centers, centers)
    cell = np.empty(len(X), dtype=np.intp)
    sums = np.zeros((k, X.shape[1]), dtype=np.float64)
    sq_sums = np.zeros(k, dtype=np.float64)
    for start in range(0, len(X), chunk_size):
        part = np.asarray(X[start : start + chunk_size], dtype=np.float32)
        # argmin ||x - c||^2 = argmin (|c|^2 / 2 - x.c); |x|^2 is the same for all c.
        nearest = np.argmin(half_sq - part @ centers.T, axis=1)
        cell[start : start + len(part)] = nearest
        onehot = sp.csr_matrix(
            (np.ones(len(part), dtype=np.float32), (nearest, np.arange(len(part)))),
            shape=(k, len(part)),
        )
        sums += onehot @ part
        sq_sums += np.bincount(
            nearest, weights=np.einsum("ij,ij->i", part, part), minlength=k
        )
    counts = np.bincount(cell, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[:, None]
        spread = np.maximum(sq_sums / counts - np.einsum("ij,ij->i", means, means), 0)
    return cell, counts, means, spread


def _average_linkage(means, spread, counts, n_clusters):
    """HAC with average linkage on squared Euclidean distances between cells.

    The mean squared distance between the members of two cells A and B is
    ``|mean_A - mean_B|^2 + spread_A + spread_B``, and the size-weighted
    Lance-Williams update of average linkage (UPGMA) keeps it exact for
    unions of cells: the result is average-linkage HAC of the samples
    themselves, restricted to merging whole cells. ``O(k^2)`` memory and
    ``O(k^3)`` time for ``k`` cells (a few hundred to a thousand).
    Returns the cluster of every cell.
    """
    k = len(means)
    label = np.arange(k, dtype=np.intp)
    if n_clusters >= k:
        return label
    sq = np.einsum("ij,ij->i", means, means)
    D = np.maximum(sq[:, None] + sq[None, :] - 2 * means @ means.T, 0)
    D += spread[:, None] + spread[None, :]
    np.fill_diagonal(D, np.inf)
    size = counts.astype(np.float64)
    for _ in range(k - n_clusters):
        i, j = divmod(int(np.argmin(D)), k)
        merged = (size[i] * D[i] + size[j] * D[j]) / (size[i] + size[j])
        D[i, :] = merged
        D[:, i] = merged
        D[i, i] = np.inf
        D[j, :] = np.inf
        D[:, j] = np.inf
        size[i] += size[j]
        label[label == j] = i
    return label


def fit_pool_clusters(
    X, n_clusters=None, *, n_summary=None, max_fit=20000, random_state=None, chunk_size=8192
):
    """Cluster a pool once for cluster-margin selection.

    HAC with average linkage, as in Cluster-Margin (Citovsky et al., NeurIPS
    2021, arXiv:2107.14263), needs all pairwise distances: 40 GB of float32
    for 100k samples. On a pool larger than ``n_summary`` samples this
    function therefore clusters a summary of the pool instead:

    1. MiniBatchKMeans (random init, at most 20 passes) with ``n_summary``
       clusters on at most ``max_fit`` samples drawn at random (float32);
    2. one pass over the pool in float32 chunks of ``chunk_size`` rows:
       every sample joins the cell of its nearest centroid, and each cell's
       size, mean and spread (mean squared distance to its mean) are summed;
    3. HAC with average linkage on squared Euclidean distances over the
       cells, cut at ``n_clusters`` clusters. Cell sizes and spreads make it
       exact: the mean squared distance between the samples of two cells is
       ``|mean_A - mean_B|^2 + spread_A + spread_B``, and the size-weighted
       average-linkage update keeps it exact for unions of cells, so this is
       average-linkage HAC of the samples restricted to merging whole cells;
    4. every sample takes the HAC cluster of its cell.

    A pool of at most ``n_summary`` samples is its own summary (one cell
    per sample): exact average-linkage HAC on squared Euclidean distances.
    The labels depend only on the pool and ``random_state``: compute them
    once and reuse them every round (labeled samples keep their labels and
    are simply never candidates).

    Parameters
    ----------
    X : array-like of shape (n_pool, n_features)
        Dense numeric features of the whole pool (e.g. embeddings).
    n_clusters : int, default=None
        Number of clusters. Default: ``round(sqrt(n_pool))`` (316 for 100k),
        between 1 and ``n_pool``.
    n_summary : int, default=None
        Number of k-means centroids HAC runs on. Default:
        ``min(n_pool, max(2 * n_clusters, 256), 1024)``; raised to
        ``n_clusters`` if smaller.
    max_fit : int, default=20000
        At most this many samples (a random subset) are used to fit k-means.
    random_state : int, RandomState instance or None, default=None
        Seeds the subset and k-means.
    chunk_size : int, default=8192
        Rows per chunk when assigning the pool to centroids.

    Returns
    -------
    labels : ndarray of shape (n_pool,), dtype intp
        Cluster of every pool sample, numbered ``0 .. n_found - 1``.
    """
    X = _check_features(X)
    n_pool = X.shape[0]
    if n_pool == 0:
        return np.empty(0, dtype=np.intp)
    rng = check_random_state(random_state)
    if n_clusters is None:
        n_clusters = int(round(np.sqrt(n_pool)))
    if (
        not isinstance(n_clusters, numbers.Integral)
        or isinstance(n_clusters, bool)
        or n_clusters < 1
    ):
        raise ValueError(f"n_clusters must be a positive integer; got {n_clusters!r}.")
    n_clusters = min(int(n_clusters), n_pool)
    if n_summary is None:
        n_summary = min(n_pool, max(2 * n_clusters, 256), 1024)
    if not isinstance(n_summary, numbers.Integral) or isinstance(n_summary, bool) or n_summary < 1:
        raise ValueError(f"n_summary must be a positive integer; got {n_summary!r}.")
    n_summary = min(max(int(n_summary), n_clusters), n_pool)

    if n_pool <= n_summary:
        # Every sample is a cell of its own: exact average-linkage HAC.
        centers = _rows_float32(X, np.arange(n_pool))
    else:
        from sklearn.cluster import MiniBatchKMeans

        if n_pool > max_fit:
            subset = np.sort(rng.choice(n_pool, max(max_fit, n_summary), replace=False))
        else:
            subset = np.arange(n_pool)
        points = _rows_float32(X, subset)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        # init="random" (centroids drawn from the samples): sklearn's k-means++
        # init costs minutes here for hundreds of clusters in 1024 dimensions,
        # and the summary only needs to cover the pool finely; HAC merges it.
        kmeans = MiniBatchKMeans(
            n_clusters=n_summary,
            init="random",
            batch_size=4096,
            n_init=1,
            max_iter=20,
            random_state=seed,
        ).fit(points)
        centers = kmeans.cluster_centers_
    cell, counts, means, spread = _assign_cells(X, centers, chunk_size)
    used = np.flatnonzero(counts)  # drop cells no sample is nearest to
    cell_labels = np.empty(len(counts), dtype=np.intp)
    cell_labels[used] = _average_linkage(
        means[used], spread[used], counts[used], min(n_clusters, len(used))
    )
    labels = cell_labels[cell]
    _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.intp).ravel()


# -- one round: cluster-margin -------------------------------------------------------


def _cluster_visit_order(ranked, cluster_labels):
    """The clusters of ``ranked`` (best first) and the order cluster-margin visits them.

    Returns ``(labels, inverse, sizes, rank)``: the distinct cluster labels,
    the cluster (an index into ``labels``) of each member of ``ranked``, the
    members per cluster, and each cluster's place in the visit order:
    smallest first, ties by the cluster's best member in ``ranked``.
    """
    labels, first, inverse, sizes = np.unique(
        cluster_labels[ranked], return_index=True, return_inverse=True, return_counts=True
    )
    rank = np.empty(len(labels), dtype=np.intp)
    rank[np.lexsort((first, sizes))] = np.arange(len(labels))
    return labels, inverse.ravel(), sizes, rank


def _round_robin(ranked, n, cluster_labels, rng):
    """Cluster-margin's round-robin over the clusters of ``ranked`` (best first).

    Clusters are visited from the smallest (fewest members in ``ranked``) to
    the largest, ties broken by the cluster's best rank in ``ranked``; each
    visit takes a random member not taken yet. Returns positions, pick order.
    """
    if n == 0 or len(ranked) == 0:
        return ranked[:0]
    _, inverse, _, cluster_rank = _cluster_visit_order(ranked, cluster_labels)
    # Group members by cluster, in random order within each cluster.
    order = np.lexsort((rng.permutation(len(ranked)), inverse))
    g = inverse[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    turn = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    final = np.lexsort((cluster_rank[g], turn))
    return ranked[order[final[:n]]]


def _round_robin_spread(ranked, n, cluster_labels, rng, rows, previous=(), previous_rows=None):
    """:func:`_round_robin` with features: each visit takes the farthest member.

    Clusters are visited in the same order, round after round; a visit takes,
    among the cluster's members not taken yet, the one farthest from every
    sample picked so far (random among equals). ``previous`` are pool
    positions already picked for other classes of the same batch, with their
    features ``previous_rows``: their clusters count as visited once per such
    pick, and distances to them count, so near copies of a clip predicted as
    two classes do not both enter the batch. A cluster whose members left
    are all near copies of picks (closer than 1/100 of the typical distance
    between candidates) is passed over while other clusters offer more. The
    first visit of an isolated cluster takes a random member, as in the
    paper; later visits of a crowded cluster do not take near copies of what
    it already gave.
    """
    if n == 0 or len(ranked) == 0:
        return ranked[:0]
    labels, inverse, sizes, rank = _cluster_visit_order(ranked, cluster_labels)
    visits = np.zeros(len(labels), dtype=np.intp)
    if len(previous):
        earlier = cluster_labels[np.asarray(previous, dtype=np.intp)]
        where = np.searchsorted(labels, earlier)
        seen = (where < len(labels)) & (labels[np.minimum(where, len(labels) - 1)] == earlier)
        np.add.at(visits, where[seen], 1)
    members = [np.flatnonzero(inverse == k) for k in range(len(labels))]
    free_count = sizes.copy()
    sq = np.einsum("ij,ij->i", rows, rows)
    d2 = np.full(len(ranked), np.inf, dtype=np.float64)
    for other in previous_rows if previous_rows is not None else ():
        diff = rows - other
        np.minimum(d2, np.einsum("ij,ij->i", diff, diff), out=d2)
    # A member within 1/100 of the typical distance between candidates of a
    # pick is a near copy of it. The typical squared distance between two
    # rows is twice their mean squared distance to the centroid.
    centred = rows - rows.mean(axis=0)
    copy_d2 = 1e-4 * 2.0 * float(np.einsum("ij,ij->", centred, centred)) / len(rows)
    taken = np.zeros(len(ranked), dtype=bool)
    chosen = []
    for _ in range(min(n, len(ranked))):
        # The least visited cluster with members left (among equals, the visit
        # order), passing over clusters that have nothing but near copies of
        # picks to offer while another cluster has more.
        open_ = np.flatnonzero(free_count > 0)
        offers = np.array([d2[members[k][~taken[members[k]]]].max() for k in open_])
        if (offers > copy_d2).any():
            open_ = open_[offers > copy_d2]
        k = open_[np.lexsort((rank[open_], visits[open_]))[0]]
        group = members[k]
        free = group[~taken[group]]
        far = free[d2[free] == d2[free].max()]
        j = int(far[rng.randint(len(far))]) if far.size > 1 else int(far[0])
        taken[j] = True
        free_count[k] -= 1
        visits[k] += 1
        chosen.append(j)
        np.minimum(d2, _squared_distances(rows, sq, j), out=d2)
    return ranked[np.asarray(chosen, dtype=np.intp)]


def _cluster_margin(scores, candidates, n, cluster_labels, rng, tiebreak, factor,
                    X=None, previous=()):
    if n == 0 or len(candidates) == 0:
        return candidates[:0]
    k_m = max(n, int(np.ceil(factor * n)))
    ranked = select_class_agnostic(scores, candidates, k_m, tiebreak)
    if X is None:
        return _round_robin(ranked, n, cluster_labels, rng)
    rows = _rows_float32(X, ranked)
    previous_rows = _rows_float32(X, np.asarray(previous, dtype=np.intp)) if len(previous) \
        else None
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # small products, as in k-means++
        return _round_robin_spread(ranked, n, cluster_labels, rng, rows, previous,
                                   previous_rows)


def cluster_margin_select(
    scores,
    candidates,
    n,
    cluster_labels,
    rng=None,
    *,
    n_candidates=None,
    predicted=None,
    class_aware=False,
    tiebreak=None,
    X=None,
):
    """Cluster-margin batch: top-scored candidates spread round-robin over clusters.

    Takes the ``n_candidates`` (``k_m``) highest-scored candidates, groups them
    by ``cluster_labels``, sorts the clusters by their number of such
    candidates, smallest first, and takes one random member of each cluster
    in that order, round after round, until ``n`` are chosen (Citovsky et
    al., "Batch Active Learning at Scale", NeurIPS 2021, arXiv:2107.14263,
    Algorithm "Cluster-Margin"). With fewer clusters than ``n`` a round takes
    several members of a cluster.

    Parameters
    ----------
    scores : ndarray of shape (n_pool,)
        Query scores, higher = ask first; NaN ranks last.
    candidates : ndarray of int
        Positions (into the pool) that may be chosen.
    n : int
        Batch size; at most ``len(candidates)`` are returned.
    cluster_labels : ndarray of shape (n_pool,)
        Cluster of every pool sample, from :func:`fit_pool_clusters`.
    rng : int, RandomState instance or None, default=None
        Draws the member taken from a cluster (and ``tiebreak`` if None).
    n_candidates : int, default=None
        ``k_m``, the number of top-scored candidates considered. Default
        ``10 * n``; with ``class_aware``, a class with quota ``q_c`` considers
        ``n_candidates * q_c / n`` of its own.
    predicted : ndarray of shape (n_pool,), default=None
        Predicted class of every pool sample; needed with ``class_aware``.
    class_aware : bool, default=False
        Spread the batch over predicted classes first (see the module
        docstring), then over clusters within each class.
    tiebreak : ndarray of shape (n_pool,), default=None
        Permutation breaking score ties, as in ``_selection``; drawn from
        ``rng`` if None.
    X : array-like of shape (n_pool, n_features), default=None
        Dense features of the pool. None follows the paper: a visit takes a
        random member of the cluster. With features, a visit takes the member
        farthest from every sample picked so far (random among equals), so a
        cluster crowded with near copies gives one copy, not several; only
        the ``k_m`` candidate rows are read.

    Returns
    -------
    positions : ndarray of intp
        Chosen positions, in pick order (the first visit of every cluster
        before the second visit of any).
    """
    scores, candidates, n, tiebreak, rng = _check_round(scores, candidates, n, tiebreak, rng)
    cluster_labels = _check_cluster_labels(cluster_labels, len(scores))
    if n_candidates is None:
        factor = 10.0
    else:
        if not isinstance(n_candidates, numbers.Integral) or n_candidates < 1:
            raise ValueError(f"n_candidates must be a positive integer; got {n_candidates!r}.")
        factor = max(1.0, n_candidates / max(n, 1))

    if X is not None:
        X = _check_features(X)

    def within(group, quota, previous=()):
        return _cluster_margin(scores, group, quota, cluster_labels, rng, tiebreak, factor,
                               X, previous)

    return _dispatch(scores, predicted, candidates, n, tiebreak, class_aware, within)


# -- one round: k-means++ diverse top-k --------------------------------------------


def _squared_distances(rows, sq, j):
    """Squared distances (float32) of every row of ``rows`` to row ``j``.

    ``|a|^2 - 2 a.b + |b|^2`` is one matrix-vector product, but in float32 it
    loses the small distances that matter most here (near duplicates) to
    cancellation; rows closer than 1% of that scale are recomputed as
    ``|a - b|^2`` directly, so exact duplicates get exactly 0.
    """
    d2 = sq - 2 * (rows @ rows[j]) + sq[j]
    close = np.flatnonzero(d2 <= 1e-2 * (sq + sq[j]))
    if close.size:
        diff = rows[close] - rows[j]
        d2[close] = np.einsum("ij,ij->i", diff, diff)
    return np.maximum(d2, 0, out=d2)


def _kmeanspp_order(rows, n, rng, weights=None, previous_rows=None):
    """Indices into ``rows`` (float32, best-scored first) chosen by k-means++ seeding.

    The first is row 0; each next one is drawn with probability proportional
    to ``weights * D^2``, ``D`` the distance to the nearest row chosen so far.
    Once every remaining row duplicates a chosen one (``D = 0``), the rest
    follow in row order. Memory: a few vectors of ``len(rows)`` floats.
    """
    m = len(rows)
    n = min(n, m)
    if n == 0:
        return np.empty(0, dtype=np.intp)
    chosen = np.empty(n, dtype=np.intp)
    taken = np.zeros(m, dtype=bool)
    sq = np.einsum("ij,ij->i", rows, rows)
    if previous_rows is None or not len(previous_rows):
        chosen[0] = 0
        taken[0] = True
        d2 = _squared_distances(rows, sq, 0)
        start = 1
    else:  # picks made for other classes of the batch count as chosen
        d2 = np.full(m, np.inf, dtype=np.float32)
        for other in previous_rows:
            diff = rows - other
            np.minimum(d2, np.einsum("ij,ij->i", diff, diff), out=d2)
        start = 0
    for k in range(start, n):
        p = d2 * weights if weights is not None else d2.copy()
        p[taken] = 0
        cumulative = np.cumsum(p, dtype=np.float64)
        total = cumulative[-1]
        if total > 0:
            j = int(np.searchsorted(cumulative, rng.random_sample() * total, side="right"))
            if j >= m or p[j] <= 0:  # rounding at the very end of the cumulative sum
                j = int(np.flatnonzero(p > 0)[-1])
        else:
            j = int(np.flatnonzero(~taken)[0])
        chosen[k] = j
        taken[j] = True
        np.minimum(d2, _squared_distances(rows, sq, j), out=d2)
    return chosen


def _kmeanspp(X, scores, candidates, n, rng, tiebreak, factor, weight_by_score, previous=()):
    if n == 0 or len(candidates) == 0:
        return candidates[:0]
    m = max(n, int(np.ceil(factor * n)))
    ranked = select_class_agnostic(scores, candidates, m, tiebreak)
    rows = _rows_float32(X, ranked)
    weights = None
    if weight_by_score:
        # Rank weights (1, (m-1)/m, ..., 1/m): scale-free, defined for any scorer.
        weights = ((len(ranked) - np.arange(len(ranked))) / len(ranked)).astype(np.float32)
    # One thread for the n small matrix-vector products: threaded BLAS spins
    # and, on a busy machine, makes each of them ten times slower.
    from threadpoolctl import threadpool_limits

    previous_rows = _rows_float32(X, np.asarray(previous, dtype=np.intp)) if len(previous) \
        else None
    with threadpool_limits(limits=1, user_api="blas"):
        return ranked[_kmeanspp_order(rows, n, rng, weights, previous_rows)]


def kmeanspp_select(
    X,
    scores,
    candidates,
    n,
    rng=None,
    *,
    factor=10,
    weight_by_score=False,
    predicted=None,
    class_aware=False,
    tiebreak=None,
):
    """Diverse top-k: k-means++ seeding among the ``factor * n`` top-scored candidates.

    Parameters
    ----------
    X : array-like of shape (n_pool, n_features)
        Dense numeric features of the pool; only the ``factor * n`` rows
        considered are read (and converted to float32).
    scores : ndarray of shape (n_pool,)
        Query scores, higher = ask first; NaN ranks last.
    candidates : ndarray of int
        Positions (into the pool) that may be chosen.
    n : int
        Batch size; at most ``len(candidates)`` are returned.
    rng : int, RandomState instance or None, default=None
        Draws the k-means++ picks (and ``tiebreak`` if None).
    factor : float >= 1, default=10
        How many candidates per batch slot are considered (``m = factor * n``).
        ``factor=1`` is plain top-k.
    weight_by_score : bool, default=False
        Multiply the ``D^2`` probabilities by a weight that falls linearly with
        the score rank among the ``m`` (1 for the best, ``1/m`` for the last),
        to lean towards higher scores.
    predicted : ndarray of shape (n_pool,), default=None
        Predicted class of every pool sample; needed with ``class_aware``.
    class_aware : bool, default=False
        Spread the batch over predicted classes first (see the module
        docstring), then k-means++ within each class.
    tiebreak : ndarray of shape (n_pool,), default=None
        Permutation breaking score ties, as in ``_selection``.

    Returns
    -------
    positions : ndarray of intp
        Chosen positions in pick order; the first is the top-scored candidate.
    """
    X = _check_features(X)
    scores, candidates, n, tiebreak, rng = _check_round(scores, candidates, n, tiebreak, rng)
    if X.shape[0] != len(scores):
        raise ValueError(
            f"X has {X.shape[0]} rows but there are {len(scores)} scores; both must "
            "cover the same pool."
        )
    factor = _check_factor(factor)

    def within(group, quota, previous=()):
        return _kmeanspp(X, scores, group, quota, rng, tiebreak, factor, weight_by_score,
                         previous)

    return _dispatch(scores, predicted, candidates, n, tiebreak, class_aware, within)


# -- class-aware / class-agnostic ------------------------------------------------------


def _dispatch(scores, predicted, candidates, n, tiebreak, class_aware, within):
    """Run ``within(group, quota)`` on all candidates, or per predicted class."""
    n = min(n, len(candidates))
    if not class_aware:
        return within(candidates, n)
    if predicted is None:
        raise ValueError("Class-aware diverse selection needs the predicted class of the pool.")
    predicted = np.asarray(predicted)
    if predicted.shape != scores.shape:
        raise ValueError(
            f"predicted must hold one class per pool sample ({len(scores)}); got shape "
            f"{predicted.shape}."
        )
    if n == 0:
        return candidates[:0]
    # The quota of every class: how many a class-aware batch of n takes from it.
    plain = select_class_aware(scores, predicted, candidates, n, tiebreak)
    classes, quotas = np.unique(predicted[plain], return_counts=True)
    c = predicted[candidates]
    order = np.argsort(c, kind="stable")
    c_sorted = c[order]
    lo = np.searchsorted(c_sorted, classes, side="left")
    hi = np.searchsorted(c_sorted, classes, side="right")
    # Classes in the order of their best candidate; each class's choice sees
    # the picks already made for the classes before it, so near copies that
    # are predicted as different classes do not both enter the batch.
    finite = np.where(np.isnan(scores), -np.inf, scores)
    best_first = np.argsort(-np.array([
        finite[candidates[order[a:b]]].max() if b > a else -np.inf
        for a, b in zip(lo.tolist(), hi.tolist())
    ]), kind="stable")
    picks, turns = [], []
    for k in best_first.tolist():
        start, stop, quota = int(lo[k]), int(hi[k]), int(quotas[k])
        previous = np.concatenate(picks) if picks else np.empty(0, dtype=np.intp)
        chosen = within(candidates[order[start:stop]], quota, previous)
        picks.append(chosen)
        turns.append(np.arange(len(chosen)))
    picks = np.concatenate(picks)
    turns = np.concatenate(turns)
    # As in class-aware selection: every class's first pick (best score first),
    # then every class's second pick, ...
    final = np.lexsort((tiebreak[picks], -scores[picks], turns))
    return picks[final]


def select_diverse(
    X,
    scores,
    predicted,
    candidates,
    n,
    *,
    method="kmeans++",
    class_aware=False,
    rng=None,
    tiebreak=None,
    cluster_labels=None,
    factor=10,
    weight_by_score=False,
):
    """A diverse batch of ``n`` candidates: the single entry point.

    Parameters
    ----------
    X : array-like of shape (n_pool, n_features) or None
        Dense numeric features of the pool. Needed by ``"kmeans++"``;
        ``"cluster-margin"`` clusters with ``cluster_labels`` and, given
        features, takes within a cluster the member farthest from the picks
        so far (None: a random member, as in the paper).
    scores : ndarray of shape (n_pool,)
        Query scores, higher = ask first; NaN ranks last.
    predicted : ndarray of shape (n_pool,) or None
        Predicted class of every pool sample; needed with ``class_aware``.
    candidates : ndarray of int
        Positions (into the pool) that may be chosen, e.g. the unlabeled ones.
    n : int
        Batch size; at most ``len(candidates)`` are returned.
    method : {"kmeans++", "cluster-margin"}, default="kmeans++"
        ``"kmeans++"``: :func:`kmeanspp_select`; ``"cluster-margin"``:
        :func:`cluster_margin_select`.
    class_aware : bool, default=False
        Spread the batch over predicted classes with the quotas of
        ``select_class_aware``, diverse within each class; the batch is
        ordered as a class-aware batch (see the module docstring).
    rng : int, RandomState instance or None, default=None
        Source of the random choices; same ``rng`` state, same batch.
    tiebreak : ndarray of shape (n_pool,), default=None
        Permutation breaking score ties (the one ``ActiveLearner`` draws per
        round); drawn from ``rng`` if None.
    cluster_labels : ndarray of shape (n_pool,), default=None
        Cluster of every pool sample, from :func:`fit_pool_clusters`
        (computed once per pool). Required by ``"cluster-margin"``.
    factor : float >= 1, default=10
        Candidates considered per batch slot: ``m = factor * n`` for k-means++,
        ``k_m = factor * n`` for cluster-margin.
    weight_by_score : bool, default=False
        k-means++ only: lean the draws towards higher score ranks.

    Returns
    -------
    positions : ndarray of intp
        Chosen positions into the pool, in pick order (best first for
        k-means++ and class-aware batches; round-robin order for
        cluster-margin).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)   # 3 points, 4 copies each
    >>> scores = np.linspace(1, 0, 12)                        # copies of point 0 score best
    >>> batch = select_diverse(X, scores, None, np.arange(12), 3, rng=0)
    >>> sorted((batch // 4).tolist())                         # one copy of each point
    [0, 1, 2]
    >>> labels = fit_pool_clusters(X, n_clusters=3, random_state=0)
    >>> batch = select_diverse(None, scores, None, np.arange(12), 3,
    ...                        method="cluster-margin", cluster_labels=labels, rng=0)
    >>> sorted(labels[batch].tolist())
    [0, 1, 2]
    """
    if method == "kmeans++":
        return kmeanspp_select(
            X, scores, candidates, n, rng,
            factor=factor, weight_by_score=weight_by_score,
            predicted=predicted, class_aware=class_aware, tiebreak=tiebreak,
        )
    if method == "cluster-margin":
        scores_, candidates_, n_, tiebreak_, rng_ = _check_round(
            scores, candidates, n, tiebreak, rng
        )
        factor = _check_factor(factor)
        cluster_labels = _check_cluster_labels(cluster_labels, len(scores_))

        features = None if X is None else _check_features(X)

        def within(group, quota, previous=()):
            return _cluster_margin(scores_, group, quota, cluster_labels, rng_, tiebreak_,
                                   factor, features, previous)

        return _dispatch(scores_, predicted, candidates_, n_, tiebreak_, class_aware, within)
    raise ValueError(
        f"Unknown batch diversity method {method!r}; expected one of {list(DIVERSITY_METHODS)}."
    )
