"""Turning per-sample scores into a batch of pool positions to label.

All functions work on positions into the pool and never copy the pool's
features; ties are broken by a random permutation drawn once per round, so
results are reproducible through ``random_state``.
"""

from __future__ import annotations

import numpy as np


def select_class_agnostic(scores, candidates, n, tiebreak):
    """The ``n`` candidates with the highest scores, best first."""
    s = scores[candidates]
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
    t = tiebreak[candidates]
    order = np.lexsort((t, -s, c))
    c_sorted = c[order]
    starts = np.flatnonzero(np.r_[True, c_sorted[1:] != c_sorted[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, sizes)
    final = np.lexsort((t[order], -s[order], rank))
    return candidates[order[final[:n]]]


def cold_start_random(candidates, n, rng):
    """``n`` candidates drawn uniformly without replacement."""
    return candidates[rng.permutation(len(candidates))[:n]]


def cold_start_kmeans(features, candidates, n, rng, max_fit=20000):
    """``n`` diverse candidates: the one nearest to each k-means centroid.

    Clustering the pool and labeling one representative per cluster is the
    clustering-based initialization of AFTER (arXiv 2310.00283), which beat a
    random start for every strategy it was tried with.
    k-means runs on at most ``max_fit`` candidates (a random subset of a large
    pool); representatives are ordered by cluster size, largest first.
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = min(n, len(candidates))
    if len(candidates) > max_fit:
        subset = np.sort(rng.choice(candidates, max_fit, replace=False))
    else:
        subset = candidates
    X = np.asarray(features[subset], dtype=np.float64)
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
        + (X**2).sum(axis=1)[None, :]
    )
    picked, taken = [], np.zeros(len(subset), dtype=bool)
    for cluster in np.argsort(-sizes, kind="stable"):
        row = np.where(taken, np.inf, d[cluster])
        best = int(np.argmin(row))
        taken[best] = True
        picked.append(subset[best])
    return np.asarray(picked, dtype=np.intp)
