"""Diverse batch selection: k-means++ top-k and cluster-margin (skaloe.active._diversity)."""

import numpy as np
import pytest
import scipy.sparse as sp

from skaloe.active._diversity import (
    _round_robin,
    cluster_margin_select,
    fit_pool_clusters,
    kmeanspp_select,
    select_diverse,
)
from skaloe.active._selection import select_class_agnostic, select_class_aware

METHODS = ["kmeans++", "cluster-margin"]


def _min_pairwise_distance(X, batch):
    rows = X[batch].astype(np.float64)
    d = np.sqrt(((rows[:, None, :] - rows[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return d.min()


@pytest.fixture(scope="module")
def duplicated_pool():
    """20 distinct uncertain points, each with 15 near copies, plus 400 certain ones.

    The 300 most uncertain samples are copies of 20 points (within 1e-3 of
    each other); the rest of the pool is far less uncertain.
    """
    rng = np.random.RandomState(0)
    prototypes = rng.standard_normal((20, 16)).astype(np.float32) * 5
    copies = np.repeat(prototypes, 15, axis=0)
    copies += 1e-4 * rng.standard_normal(copies.shape).astype(np.float32)
    others = rng.standard_normal((400, 16)).astype(np.float32) * 5
    X = np.concatenate([copies, others])
    scores = np.concatenate([0.9 + 0.01 * rng.rand(300), 0.5 * rng.rand(400)])
    predicted = np.concatenate([np.repeat(np.arange(20) % 4, 15), rng.randint(4, size=400)])
    return X, scores, predicted


@pytest.fixture(scope="module")
def duplicated_clusters(duplicated_pool):
    X, _, _ = duplicated_pool
    return fit_pool_clusters(X, n_clusters=40, random_state=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("class_aware", [False, True])
def test_diverse_batch_avoids_near_duplicates(duplicated_pool, duplicated_clusters, method,
                                              class_aware):
    X, scores, predicted = duplicated_pool
    candidates = np.arange(len(X))
    tiebreak = np.random.RandomState(1).permutation(len(X))
    n = 8
    if class_aware:
        plain = select_class_aware(scores, predicted, candidates, n, tiebreak)
    else:
        plain = select_class_agnostic(scores, candidates, n, tiebreak)
    assert _min_pairwise_distance(X, plain) < 0.01  # top-k asks for copies
    batch = select_diverse(X, scores, predicted, candidates, n, method=method,
                           class_aware=class_aware, rng=0, tiebreak=tiebreak,
                           cluster_labels=duplicated_clusters, factor=10)
    assert len(batch) == n and len(np.unique(batch)) == n
    assert _min_pairwise_distance(X, batch) > 1.0
    # Diversity is bought within the uncertain region: all still among the top 300.
    assert np.all(batch < 300)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("class_aware", [False, True])
def test_reproducible_by_rng(duplicated_pool, duplicated_clusters, method, class_aware):
    X, scores, predicted = duplicated_pool
    candidates = np.arange(0, len(X), 2)

    def run(seed):
        return select_diverse(X, scores, predicted, candidates, 10, method=method,
                              class_aware=class_aware, rng=seed,
                              cluster_labels=duplicated_clusters)

    np.testing.assert_array_equal(run(3), run(3))
    np.testing.assert_array_equal(
        run(np.random.RandomState(5)), run(np.random.RandomState(5))
    )
    assert any(not np.array_equal(run(0), run(seed)) for seed in range(1, 6))
    assert np.isin(run(0), candidates).all()


def test_fit_pool_clusters_reproducible_and_finds_blobs():
    rng = np.random.RandomState(0)
    centers = rng.standard_normal((5, 8)) * 20
    X = (np.repeat(centers, 120, axis=0) + rng.standard_normal((600, 8))).astype(np.float32)
    truth = np.repeat(np.arange(5), 120)
    # k-means summary of 256 (default) or 40 cells fitted on 300 samples, then HAC.
    for kwargs in ({}, {"n_summary": 40}):
        labels = fit_pool_clusters(X, n_clusters=5, random_state=0, max_fit=300, **kwargs)
        assert labels.shape == (600,) and labels.dtype == np.intp
        if not kwargs:
            np.testing.assert_array_equal(
                labels, fit_pool_clusters(X, n_clusters=5, random_state=0, max_fit=300)
            )
        # Every blob is one cluster.
        assert len(np.unique(labels)) == 5
        for k in range(5):
            assert len(np.unique(labels[truth == k])) == 1
    # Small pool: exact average-linkage HAC on the samples.
    small = fit_pool_clusters(X[::12], n_clusters=5)
    for k in range(5):
        assert len(np.unique(small[truth[::12] == k])) == 1
    # Default number of clusters: about sqrt(n_pool) (fewer if cells stay empty).
    assert 5 <= len(np.unique(fit_pool_clusters(X, n_summary=40, random_state=0))) <= 24


def test_cluster_margin_round_robin_order_and_cluster_sizes():
    # Pool positions 0..11 ranked by score 0 best; clusters by hand:
    # cluster 7: 5 members, cluster 3: 1 member, cluster 5: 3 members, cluster 9: 3 members.
    cluster_labels = np.array([7, 7, 5, 3, 9, 7, 5, 9, 7, 5, 9, 7])
    scores = np.linspace(1, 0, 12)
    candidates = np.arange(12)
    batch = cluster_margin_select(scores, candidates, 12, cluster_labels, rng=0,
                                  n_candidates=12)
    visited = cluster_labels[batch].tolist()
    # Smallest cluster first; clusters of equal size by their best-scored member
    # (cluster 5's best is position 2, cluster 9's is position 4); then round after round.
    assert visited == [3, 5, 9, 7, 5, 9, 7, 5, 9, 7, 7, 7]
    assert sorted(batch.tolist()) == list(range(12))
    # A batch of 4 takes one of each cluster.
    assert cluster_labels[cluster_margin_select(
        scores, candidates, 4, cluster_labels, rng=1, n_candidates=12)].tolist() == [3, 5, 9, 7]
    # Only the top n_candidates are considered: the 4 best are in clusters 7, 7, 5, 3,
    # so clusters 5 and 3 have one member each (5 has the better one), 7 has two.
    top4 = cluster_margin_select(scores, candidates, 3, cluster_labels, rng=0, n_candidates=4)
    assert cluster_labels[top4].tolist() == [5, 3, 7]
    assert set(top4.tolist()) <= {0, 1, 2, 3}
    # Fewer clusters than n: several per cluster, still round-robin.
    two = np.array([0, 1] * 6)
    order = cluster_margin_select(scores, candidates, 6, two, rng=0, n_candidates=12)
    assert two[order].tolist() == [0, 1, 0, 1, 0, 1]


def test_cluster_margin_random_within_cluster():
    cluster_labels = np.zeros(50, dtype=int)
    scores = np.linspace(1, 0, 50)
    firsts = {
        int(cluster_margin_select(scores, np.arange(50), 1, cluster_labels, rng=seed,
                                  n_candidates=50)[0])
        for seed in range(10)
    }
    assert len(firsts) > 1


def test_kmeanspp_first_is_top_scored_and_factor_one_is_top_k(duplicated_pool):
    X, scores, _ = duplicated_pool
    candidates = np.arange(len(X))
    tiebreak = np.random.RandomState(0).permutation(len(X))
    top = select_class_agnostic(scores, candidates, 10, tiebreak)
    batch = kmeanspp_select(X, scores, candidates, 10, rng=0, tiebreak=tiebreak)
    assert batch[0] == top[0]
    same = kmeanspp_select(X, scores, candidates, 10, rng=0, tiebreak=tiebreak, factor=1)
    assert sorted(same.tolist()) == sorted(top.tolist())
    weighted = kmeanspp_select(X, scores, candidates, 10, rng=0, tiebreak=tiebreak,
                               weight_by_score=True)
    assert _min_pairwise_distance(X, weighted) > 1.0


@pytest.mark.parametrize("method", METHODS)
def test_class_aware_spread_and_order(duplicated_pool, duplicated_clusters, method):
    X, scores, predicted = duplicated_pool
    candidates = np.arange(len(X))
    tiebreak = np.random.RandomState(2).permutation(len(X))
    n = 10
    plain = select_class_aware(scores, predicted, candidates, n, tiebreak)
    batch = select_diverse(X, scores, predicted, candidates, n, method=method,
                           class_aware=True, rng=0, tiebreak=tiebreak,
                           cluster_labels=duplicated_clusters)
    # The same number per predicted class as a class-aware batch.
    np.testing.assert_array_equal(np.bincount(predicted[batch], minlength=4),
                                  np.bincount(predicted[plain], minlength=4))
    # Every class's first pick before any class's second pick, each round by score.
    classes = predicted[batch]
    first_round = [i for i, c in enumerate(classes) if c not in classes[:i]]
    assert first_round == list(range(len(np.unique(classes))))
    assert np.all(np.diff(scores[batch[first_round]]) <= 0)
    # One per class (ALOE's round): one per predicted class, and for k-means++
    # the batch starts with the best candidate of all, as class-aware does.
    n_classes = len(np.unique(predicted))
    one_each = select_diverse(X, scores, predicted, candidates, n_classes, method=method,
                              class_aware=True, rng=0, tiebreak=tiebreak,
                              cluster_labels=duplicated_clusters)
    assert sorted(predicted[one_each].tolist()) == list(range(n_classes))
    if method == "kmeans++":
        assert one_each[0] == select_class_aware(
            scores, predicted, candidates, n_classes, tiebreak)[0]


@pytest.mark.parametrize("method", METHODS)
def test_class_aware_keeps_copies_predicted_as_different_classes_apart(method):
    # 12 distinct uncertain clips, 6 near copies each; the copies of one clip
    # are predicted as two different classes (a clip on a decision boundary).
    rng = np.random.RandomState(0)
    prototypes = rng.standard_normal((12, 8)).astype(np.float32) * 5
    copies = np.repeat(prototypes, 6, axis=0)
    copies += 1e-4 * rng.standard_normal(copies.shape).astype(np.float32)
    X = np.concatenate([copies, rng.standard_normal((200, 8)).astype(np.float32) * 5])
    # The copies of clip k score about 0.99 - 0.01 k: class-aware top-k takes a
    # copy of clip 0 in class 0 and another in class 1.
    scores = np.concatenate([
        np.repeat(0.99 - 0.01 * np.arange(12), 6) + 1e-4 * rng.rand(72), 0.3 * rng.rand(200)
    ])
    predicted = np.concatenate([np.tile([0, 1], 36), rng.randint(2, size=200)])
    candidates = np.arange(len(X))
    tiebreak = rng.permutation(len(X))
    plain = select_class_aware(scores, predicted, candidates, 8, tiebreak)
    assert _min_pairwise_distance(X, plain) < 0.01
    clusters = fit_pool_clusters(X, n_clusters=6, random_state=0)  # coarse: 2 clips a cluster
    for seed in range(5):
        batch = select_diverse(X, scores, predicted, candidates, 8, method=method,
                               class_aware=True, rng=seed, tiebreak=tiebreak,
                               cluster_labels=clusters)
        assert np.bincount(predicted[batch]).tolist() == [4, 4]
        assert _min_pairwise_distance(X, batch) > 1.0


def test_cluster_margin_with_features_takes_far_members_of_a_crowded_cluster():
    # One cluster holding 3 clips with 10 near copies each: without features a
    # batch of 3 from it takes random members (often copies of one clip); with
    # features it takes one copy of each clip.
    rng = np.random.RandomState(0)
    X = np.repeat(np.eye(3, dtype=np.float32) * 10, 10, axis=0)
    X += 1e-4 * rng.standard_normal(X.shape).astype(np.float32)
    labels = np.zeros(30, dtype=np.intp)
    scores = rng.rand(30)
    with_features = [cluster_margin_select(scores, np.arange(30), 3, labels, rng=seed,
                                           n_candidates=30, X=X) for seed in range(10)]
    assert all(sorted((b // 10).tolist()) == [0, 1, 2] for b in with_features)
    without = [cluster_margin_select(scores, np.arange(30), 3, labels, rng=seed,
                                     n_candidates=30) for seed in range(10)]
    assert any(len(set((b // 10).tolist())) < 3 for b in without)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("class_aware", [False, True])
def test_edge_cases(method, class_aware):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30, 4))
    labels = fit_pool_clusters(X, n_clusters=3, random_state=0)
    predicted = np.arange(30) % 3

    def select(scores, candidates, n, **kwargs):
        return select_diverse(X, scores, predicted, candidates, n, method=method,
                              class_aware=class_aware, rng=0, cluster_labels=labels, **kwargs)

    scores = rng.rand(30)
    candidates = np.array([3, 7, 11, 20])
    # n larger than the candidates: all of them, once.
    assert sorted(select(scores, candidates, 10).tolist()) == candidates.tolist()
    assert select(scores, candidates, 0).shape == (0,)
    assert select(scores, candidates[:0], 5).shape == (0,)
    # A boolean mask works as candidates.
    mask = np.zeros(30, dtype=bool)
    mask[candidates] = True
    assert sorted(select(scores, mask, 10).tolist()) == candidates.tolist()
    # Constant scores: a valid batch, decided by the tie-break permutation.
    const = np.ones(30)
    b1 = select(const, np.arange(30), 5, tiebreak=np.arange(30))
    assert len(np.unique(b1)) == 5
    np.testing.assert_array_equal(b1, select(const, np.arange(30), 5, tiebreak=np.arange(30)))
    # NaN scores rank last: taken only when nothing else is left.
    nan_scores = scores.copy()
    nan_scores[:25] = np.nan
    batch = select(nan_scores, np.arange(30), 5, factor=1)
    assert sorted(batch.tolist()) == [25, 26, 27, 28, 29]
    assert len(select(nan_scores, np.arange(30), 8, factor=1)) == 8
    # Integer features and integer scores are fine.
    batch = select_diverse(np.round(X * 10).astype(np.int32), rng.randint(5, size=30),
                           predicted, np.arange(30), 4, method=method, class_aware=class_aware,
                           rng=0, cluster_labels=labels)
    assert len(np.unique(batch)) == 4


def test_all_duplicates_and_fewer_clusters_than_n():
    X = np.ones((20, 3), dtype=np.float32)  # every row the same point
    scores = np.linspace(1, 0, 20)
    batch = kmeanspp_select(X, scores, np.arange(20), 5, rng=0)
    assert batch.tolist() == [0, 1, 2, 3, 4]  # no distance left: score order
    one_cluster = np.zeros(20, dtype=np.intp)
    batch = cluster_margin_select(scores, np.arange(20), 5, one_cluster, rng=0)
    assert len(np.unique(batch)) == 5
    assert fit_pool_clusters(X, n_clusters=4).shape == (20,)


def test_round_robin_helper_empty():
    assert _round_robin(np.arange(0), 3, np.arange(5), np.random.RandomState(0)).shape == (0,)


def test_errors():
    X = np.random.RandomState(0).standard_normal((10, 3))
    scores = np.linspace(1, 0, 10)
    cand = np.arange(10)
    with pytest.raises(TypeError, match="sparse"):
        select_diverse(sp.csr_matrix(X), scores, None, cand, 3)
    with pytest.raises(TypeError, match="sparse"):
        fit_pool_clusters(sp.csr_matrix(X))
    with pytest.raises(TypeError, match="dtype <U"):
        select_diverse(np.array([["a.wav"]] * 10), scores, None, cand, 3)
    with pytest.raises(TypeError, match="numeric"):
        fit_pool_clusters(np.array([["a.wav", "b"]] * 10, dtype=object))
    with pytest.raises(ValueError, match="2-D"):
        select_diverse(X[:, 0], scores, None, cand, 3)
    with pytest.raises(ValueError, match="10 scores"):
        select_diverse(X[:5], scores, None, cand, 3)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        select_diverse(bad, scores, None, cand, 3)
    with pytest.raises(ValueError, match="fit_pool_clusters"):
        select_diverse(X, scores, None, cand, 3, method="cluster-margin")
    with pytest.raises(ValueError, match="one label per pool sample"):
        select_diverse(X, scores, None, cand, 3, method="cluster-margin",
                       cluster_labels=np.zeros(4))
    with pytest.raises(ValueError, match="Unknown batch diversity method 'coreset'"):
        select_diverse(X, scores, None, cand, 3, method="coreset")
    with pytest.raises(ValueError, match="predicted class"):
        select_diverse(X, scores, None, cand, 3, class_aware=True)
    with pytest.raises(ValueError, match="factor"):
        select_diverse(X, scores, None, cand, 3, factor=0.5)
    with pytest.raises(ValueError, match="non-negative integer"):
        select_diverse(X, scores, None, cand, -1)
    with pytest.raises(ValueError, match="positions"):
        select_diverse(X, scores, None, np.array([0, 12]), 1)
    with pytest.raises(ValueError, match="n_clusters"):
        fit_pool_clusters(X, n_clusters=0)
    with pytest.raises(ValueError, match="n_candidates"):
        cluster_margin_select(scores, cand, 3, np.zeros(10), n_candidates=0)
