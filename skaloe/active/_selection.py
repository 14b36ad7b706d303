"""Turning per-sample scores into a batch of pool positions to label.

All functions work on positions into the pool and never copy the pool's
features. Ties are broken by ``tiebreak``, one rank per pool position (lower
goes first): a random permutation drawn once per round, reproducible through
``random_state``, or the positions themselves, so that the lowest position
wins as with ``np.argmax`` (ALOE).
"""

from __future__ import annotations

import numpy as np


def _best_per_group(s, groups, n):
    """Positions into ``s`` of a subset holding each group's ``n`` best scores.

    Every candidate left out has at least ``n`` candidates of its group
    scoring at least as high, so a ranking by ``(group rank, -score, tie-break)``
    or by ``(-score, tie-break)`` takes the same first ``n`` from the subset as
    from all candidates: the exact result without sorting the whole pool. None
    when no cheap subset applies (few candidates, NaN or non-float scores,
    group codes that are not small non-negative integers).
    """
    if len(s) <= 4 * n or s.dtype.kind != "f" or np.isnan(s).any():
        return None
    if groups is None:
        threshold = np.partition(s, len(s) - n)[len(s) - n]
        return np.flatnonzero(s >= threshold)
    if groups.dtype.kind not in "iu" or groups.min() < 0 or groups.max() >= 2**15:
        return None
    codes = groups.astype(np.int16)
    order = np.argsort(codes, kind="stable")  # radix sort: O(n)
    bounds = np.r_[0, np.cumsum(np.bincount(codes))]
    keep = np.zeros(len(s), dtype=bool)
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        members = order[start:stop]
        if stop - start <= n:
            keep[members] = True
        else:
            s_members = s[members]
            threshold = np.partition(s_members, stop - start - n)[stop - start - n]
            keep[members[s_members >= threshold]] = True
    return np.flatnonzero(keep)


def select_class_agnostic(scores, candidates, n, tiebreak):
    """The ``n`` candidates with the highest scores, best first."""
    s = scores[candidates]
    subset = _best_per_group(s, None, n)
    if subset is not None:
        candidates, s = candidates[subset], s[subset]
    order = np.lexsort((tiebreak[candidates], -s))
    return candidates[order[:n]]


def select_class_aware(scores, predicted, candidates, n, tiebreak):
    """Spread the batch over predicted classes, best of each class first.

    Candidates are ranked within their predicted class by score; the batch
    takes every class's best candidate (ordered by score), then every class's
    second best, and so on. With ``n`` equal to the number of predicted
    classes this is ALOE's class-aware round: one label per predicted class
    (Lee et al., 2023, section 3; ``utils.py`` of HarlinLee/ALOE picks the
    argmax of the acquisition within each pseudo-label).
    """
    s = scores[candidates]
    c = predicted[candidates]
    subset = _best_per_group(s, c, n)
    if subset is not None:
        candidates, s, c = candidates[subset], s[subset], c[subset]
    t = tiebreak[candidates]
    order = np.lexsort((t, -s, c))
    c_sorted = c[order]
    starts = np.flatnonzero(np.r_[True, c_sorted[1:] != c_sorted[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, sizes)
    final = np.lexsort((t[order], -s[order], rank))
    return candidates[order[final[:n]]]


def select_one_per_class(scores, predicted, candidates, n, tiebreak):
    """At most one candidate per predicted class: each class's best, best first.

    ALOE's class-aware round (HarlinLee/ALOE ``utils.py``): for every class
    predicted among the candidates, the candidate of highest score predicted
    as that class. Unlike :func:`select_class_aware`, a class predicted
    nowhere leaves its place empty, so the batch holds
    ``min(n, number of predicted classes)`` positions; the ``n`` classes whose
    best scores are highest when ``n`` is smaller.
    """
    s = scores[candidates]
    c = predicted[candidates]
    subset = _best_per_group(s, c, 1)
    if subset is not None:
        candidates, s, c = candidates[subset], s[subset], c[subset]
    t = tiebreak[candidates]
    order = np.lexsort((t, -s, c))
    c_sorted = c[order]
    best = order[np.r_[True, c_sorted[1:] != c_sorted[:-1]]]
    ranked = best[np.lexsort((t[best], -s[best]))]
    return candidates[ranked[:n]]


def cold_start_random(candidates, n, rng):
    """``n`` candidates drawn uniformly without replacement."""
    return candidates[rng.permutation(len(candidates))[:n]]


def cold_start_picks(order, labeled_mask, candidates, n, rng):
    """The next ``n`` cold-start picks: unlabeled samples of ``order`` first, then random ones.

    ``order`` comes from :func:`cold_start_order` (None: all at random), so a
    person who labels one clip at a time meets a new region of the pool with
    each label, and no k-means runs per label.
    """
    if order is None:
        return cold_start_random(candidates, n, rng)
    picks = order[~labeled_mask[order]][:n]
    if len(picks) < n:  # more asked than representatives left: random others
        rest = np.setdiff1d(candidates, picks, assume_unique=True)
        picks = np.concatenate([picks, cold_start_random(rest, n - len(picks), rng)])
    return picks


def cold_start_order(features, candidates, n, rng, max_fit=20000, n_clusters=32):
    """Candidates to label first, ordered from coarse to fine coverage of the pool.

    Computed once per pool and then consumed in order, so that a person who
    labels one clip at a time meets a new region of the pool with each label
    (and no k-means runs per label):

    1. k-means with ``max(n, n_clusters)`` clusters (at most one per
       candidate); each cluster is represented by its member nearest to its
       centroid (the clustering-based start of AFTER, arXiv 2310.00283);
    2. Ward's hierarchical clustering of the centroids; its splits, read
       from the root down, give the order: the first representative is that
       of the largest cluster, and each split adds the representative of the
       largest cluster on the side that had none yet.

    k-means runs on at most ``max_fit`` candidates (a random subset of a large
    pool). Returns all the representatives, in that order; None when the pool
    is not a finite numeric 2-D array (k-means cannot run on it).
    """
    numeric = (isinstance(features, np.ndarray) and features.ndim == 2
               and features.dtype.kind in "iuf")
    # k-means refuses NaN / inf (an estimator such as HistGradientBoosting
    # takes them). One pass, no copy of the pool.
    if not numeric or not np.isfinite(features.sum(dtype=np.float64)):
        return None
    from scipy.cluster.hierarchy import linkage

    reps, sizes, centers = _kmeans_representatives(
        features, candidates, max(n, n_clusters), rng, max_fit)
    k = len(reps)
    if k < 3:
        return reps[np.argsort(-sizes, kind="stable")]
    tree = linkage(centers.astype(np.float64), method="ward")
    # Node ids: leaves 0..k-1, merge i creates node k + i. Members of each node.
    members = [[leaf] for leaf in range(k)]
    for a, b, _, _ in tree:
        members.append(members[int(a)] + members[int(b)])

    def largest(node):
        leaves = members[node]
        return leaves[int(np.argmax(sizes[leaves]))]

    order = [largest(2 * k - 2)]  # the root
    for i in range(k - 2, -1, -1):  # splits, from the root down
        a, b = int(tree[i, 0]), int(tree[i, 1])
        represented = set(order)
        for child in (a, b):
            if not represented.intersection(members[child]):
                order.append(largest(child))
    return reps[np.asarray(order, dtype=np.intp)]


def _kmeans_representatives(features, candidates, k, rng, max_fit):
    """k-means on the candidates: each cluster's member nearest its centroid, sizes, centroids."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = min(k, len(candidates))
    if len(candidates) > max_fit:
        subset = np.sort(rng.choice(candidates, max_fit, replace=False))
    else:
        subset = candidates
    # float32 pools (embeddings) stay float32: half the memory of a float64
    # copy (80 MB for 20 000 x 1024); other dtypes are clustered in float64.
    dtype = np.float32 if getattr(features, "dtype", None) == np.float32 else np.float64
    X = np.asarray(features[subset], dtype=dtype)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    if len(subset) > 5000:
        km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048)
    else:
        km = KMeans(n_clusters=k, random_state=seed, n_init=3)
    labels = km.fit_predict(X)
    sizes = np.bincount(labels, minlength=k)
    # Squared distances of every subset point to every centroid, (k, m).
    d = (
        (km.cluster_centers_**2).sum(axis=1)[:, None]
        - 2 * km.cluster_centers_ @ X.T
        + np.einsum("ij,ij->i", X, X)[None, :]  # row norms without an (m, d) temporary
    )
    reps, taken = np.empty(k, dtype=np.intp), np.zeros(len(subset), dtype=bool)
    for cluster in np.argsort(-sizes, kind="stable"):
        row = np.where(taken, np.inf, d[cluster])
        best = int(np.argmin(row))
        taken[best] = True
        reps[cluster] = subset[best]
    return reps, sizes, km.cluster_centers_
