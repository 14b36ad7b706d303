"""ActiveLearner and seed_per_class: the behaviour users rely on.

The loop (fit -> query -> teach), cold start, class-aware / class-agnostic
selection against a hand-written ALOE loop, query strategies, label types, new
classes, edge cases and their errors, pipelines with a frozen encoder over file
paths, persistence across processes and reproducibility.
"""

import enum
import json
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ci_support import require
from skaloe import EncoderTransformer
from skaloe.active import (
    ActiveLearner,
    entropy_score,
    get_query_scorer,
    get_query_scorer_names,
    make_query_scorer,
    margin_score,
    seed_per_class,
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _data(n_samples=300, n_classes=3, n_features=8, seed=0):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=5,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=seed,
    )
    return X.astype(np.float32), y


def _taught(n_classes=4, n_samples=400, per_class=3, **params):
    """A learner past its cold start: ``per_class`` labels of every class."""
    X, y = _data(n_samples, n_classes, seed=2)
    params.setdefault("random_state", 0)
    learner = ActiveLearner(**params).fit(X)
    seed = seed_per_class(y, per_class, random_state=0)
    learner.teach(seed, y[seed])
    return learner, X, y


def _margin(response):
    top = np.sort(response, axis=1)
    return 1 - (top[:, -1] - top[:, -2])


def _unlabeled(learner):
    return np.flatnonzero(~learner.labeled_mask_)


def _check_batch(learner, batch, n):
    """Distinct, unlabeled, integer positions into the pool."""
    assert batch.dtype.kind == "i"
    assert len(batch) == n
    assert len(set(batch.tolist())) == n
    assert np.all((batch >= 0) & (batch < learner.n_pool_))
    assert not learner.labeled_mask_[batch].any()


# ---------------------------------------------------------------------------
# 1. The loop
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("no_labels", ["y=None", "y=-1"])
def test_loop_from_nothing_labeled(no_labels):
    X, y = _data()
    learner = ActiveLearner(random_state=0)
    if no_labels == "y=None":
        learner.fit(X)
    else:
        learner.fit(X, np.full(len(X), -1))

    assert learner.estimator_ is None
    assert learner.labeled_mask_.shape == (len(X),) and not learner.labeled_mask_.any()
    assert all(v == -1 for v in learner.y_pool_)
    assert len(learner.classes_) == 0
    assert learner.history_ == []
    assert learner.n_rounds_ == 0
    assert learner.n_pool_ == len(X)
    assert learner.n_features_in_ == X.shape[1]
    assert learner.query_scores() is None

    # Cold start: distinct, unlabeled picks, the same when asked again in a round.
    first = learner.query(3)
    _check_batch(learner, first, 3)
    assert_array_equal(learner.query(3), first)

    # One class labeled: still a cold start, labeled positions never returned again.
    one = first[:1]
    learner.teach(one, y[one])
    assert learner.estimator_ is None
    assert learner.n_rounds_ == 1
    assert_array_equal(learner.classes_, [y[one[0]]])
    cold = learner.query(5)
    _check_batch(learner, cold, 5)

    # A second class: queries now come from the model.
    other = np.flatnonzero(y != y[one[0]])[:2]
    learner.teach(other, y[other])
    assert learner.estimator_ is not None
    assert learner.n_rounds_ == 2
    scores = learner.query_scores()
    assert scores.shape == (len(X),)
    batch = learner.query(3)
    _check_batch(learner, batch, 3)
    # The most informative unlabeled sample is the first of the batch.
    cand = _unlabeled(learner)
    assert scores[batch[0]] == scores[cand].max()

    taught = [int(one[0])] + other.tolist()
    for round_ in range(3):
        batch = learner.query(3)
        _check_batch(learner, batch, 3)
        learner.teach(batch, y[batch])
        taught += batch.tolist()
        assert learner.n_rounds_ == 3 + round_
    assert learner.labeled_mask_.sum() == len(taught)
    assert_array_equal(np.flatnonzero(learner.labeled_mask_), np.sort(taught))
    assert all(learner.y_pool_[i] == y[i] for i in taught)
    assert all(learner.y_pool_[i] == -1 for i in _unlabeled(learner))
    assert [h["index"] for h in learner.history_] == taught
    assert [h["label"] for h in learner.history_] == y[taught].tolist()
    assert {h["source"] for h in learner.history_} == {"teach"}
    assert [h["round"] for h in learner.history_] == [1, 2, 2] + [3] * 3 + [4] * 3 + [5] * 3
    assert_array_equal(learner.classes_, np.unique(y[taught]))


@pytest.mark.parametrize("random_state", range(4))
def test_kmeans_cold_start_picks_one_per_blob(random_state):
    centers = np.array([[-10, -10], [10, 10], [-10, 10], [10, -10]], dtype=float)
    X, y = make_blobs(
        n_samples=[60, 30, 90, 45], centers=centers, cluster_std=0.8, random_state=0
    )
    X = X.astype(np.float32)
    learner = ActiveLearner(random_state=random_state).fit(X)
    picks = learner.query(4)
    _check_batch(learner, picks, 4)
    assert sorted(y[picks].tolist()) == [0, 1, 2, 3]
    # Representative picks: close to the centre of their blob.
    assert np.all(np.linalg.norm(X[picks] - centers[y[picks]], axis=1) < 2.5)


def test_kmeans_cold_start_skips_labeled_samples():
    X, y = make_blobs(n_samples=200, centers=4, cluster_std=0.5, random_state=3)
    y_partial = np.full(len(X), -1)
    labeled = np.flatnonzero(y == 0)
    y_partial[labeled] = 0
    learner = ActiveLearner(random_state=0).fit(X.astype(np.float32), y_partial)
    assert learner.estimator_ is None  # one class: still cold
    picks = learner.query(3)
    _check_batch(learner, picks, 3)
    # The three clusters left unlabeled get one pick each.
    assert sorted(y[picks].tolist()) == [1, 2, 3]


def test_random_cold_start_is_reproducible():
    X, _ = _data()
    a = ActiveLearner(cold_start="random", random_state=7).fit(X).query(6)
    b = ActiveLearner(cold_start="random", random_state=7).fit(X).query(6)
    c = ActiveLearner(cold_start="random", random_state=8).fit(X).query(6)
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(set(a.tolist())) == 6


# ---------------------------------------------------------------------------
# 2. Class-aware and class-agnostic selection
# ---------------------------------------------------------------------------


def test_class_aware_one_per_predicted_class_argmax_margin():
    learner, X, y = _taught()
    proba = learner.estimator_.predict_proba(X)
    manual = _margin(proba)
    scores = learner.query_scores()
    assert_allclose(scores, manual, atol=1e-5)

    predicted = learner.estimator_.predict(X)
    cand = _unlabeled(learner)
    assert len(np.unique(predicted[cand])) == 4  # every class is predicted somewhere

    batch = learner.query(4)
    _check_batch(learner, batch, 4)
    assert sorted(predicted[batch].tolist()) == [0, 1, 2, 3]
    for i in batch:
        members = cand[predicted[cand] == predicted[i]]
        assert manual[i] >= manual[members].max() - 1e-6
    # Most informative first.
    assert np.all(np.diff(scores[batch]) <= 0)


def test_class_aware_second_tier_and_order():
    learner, X, y = _taught()
    scores = learner.query_scores()
    predicted = learner.estimator_.predict(X)
    cand = _unlabeled(learner)

    batch = learner.query(8)
    _check_batch(learner, batch, 8)
    # The first tier is the n=4 batch of the same round.
    assert_array_equal(batch[:4], learner.query(4))
    first, second = batch[:4], batch[4:]
    assert sorted(predicted[second].tolist()) == [0, 1, 2, 3]
    for i in second:
        members = cand[predicted[cand] == predicted[i]]
        ranked = np.sort(scores[members])[::-1]
        assert scores[i] == ranked[1]
    # Order: by tier, then by score within the tier.
    assert np.all(np.diff(scores[first]) <= 0)
    assert np.all(np.diff(scores[second]) <= 0)


def test_class_agnostic_is_global_top_n():
    learner, X, y = _taught(selection="class-agnostic")
    scores = learner.query_scores()
    cand = _unlabeled(learner)
    batch = learner.query(6)
    _check_batch(learner, batch, 6)
    assert_array_equal(scores[batch], np.sort(scores[cand])[::-1][:6])
    # Unlike class-aware, it may take several samples of a predicted class.
    aware, _, _ = _taught(selection="class-aware")
    assert_allclose(aware.query_scores(), scores)


@pytest.mark.parametrize("response_method", ["predict_proba", "decision_function"])
def test_aloe_run_matches_reference_loop(response_method):
    """Class-aware smallest margin, as HarlinLee/ALOE utils.py, round by round."""
    X, y = _data(400, 4, seed=1)
    strategy = get_query_scorer("margin", response_method=response_method)
    learner = ActiveLearner(
        LogisticRegression(max_iter=1000), query_strategy=strategy, random_state=0
    ).fit(X)
    train = seed_per_class(y, 5, random_state=1)
    learner.teach(train, y[train])
    for _ in range(6):
        train = np.sort(train)
        cand = np.setdiff1d(np.arange(len(X)), train)
        clf = LogisticRegression(max_iter=1000).fit(X[train], y[train])
        u = getattr(clf, response_method)(X[cand])
        pseudo = u.argmax(axis=1)
        vals = _margin(u)
        reference = {
            int(cand[pseudo == c][np.argmax(vals[pseudo == c])]) for c in np.unique(pseudo)
        }
        batch = learner.query(4)
        assert set(batch[: len(reference)].tolist()) == reference
        picks = np.array(sorted(reference))
        learner.teach(picks, y[picks])
        train = np.concatenate([train, picks])
    assert learner.labeled_mask_.sum() == len(train)


# ---------------------------------------------------------------------------
# 3. Query strategies
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", get_query_scorer_names())
@pytest.mark.parametrize("selection", ["class-aware", "class-agnostic"])
def test_every_builtin_strategy_works(name, selection):
    learner, X, y = _taught(query_strategy=name, selection=selection)
    scores = learner.query_scores()
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    for _ in range(2):
        batch = learner.query(5)
        _check_batch(learner, batch, 5)
        learner.teach(batch, y[batch])


@pytest.mark.parametrize(
    "strategy",
    [
        make_query_scorer(margin_score, response_method="decision_function"),
        get_query_scorer("margin", response_method="decision_function"),
    ],
    ids=["make_query_scorer", "get_query_scorer"],
)
def test_logit_margin_strategy(strategy):
    learner, X, y = _taught(query_strategy=strategy)
    logits = learner.estimator_.decision_function(X)
    assert_allclose(learner.query_scores(), _margin(logits), rtol=1e-4, atol=1e-4)
    batch = learner.query(4)
    _check_batch(learner, batch, 4)


def test_entropy_on_logits_uses_softmax():
    strategy = make_query_scorer(entropy_score, response_method="decision_function")
    learner, X, y = _taught(query_strategy=strategy)
    p = learner.estimator_.predict_proba(X)  # multinomial: the softmax of the logits
    expected = -(p * np.log(p)).sum(axis=1)
    assert_allclose(learner.query_scores(), expected, rtol=1e-4, atol=1e-5)


def _minus_first_feature(estimator, X):
    assert hasattr(estimator, "predict_proba")
    return -np.asarray(X)[:, 0]


def test_custom_callable_strategy():
    learner, X, y = _taught(query_strategy=_minus_first_feature, selection="class-agnostic")
    assert_allclose(learner.query_scores(), -X[:, 0])
    cand = _unlabeled(learner)
    batch = learner.query(3)
    assert_array_equal(batch, cand[np.argsort(X[cand, 0], kind="stable")[:3]])
    # Class-aware with a custom callable: one per predicted class.
    aware, X, _ = _taught(query_strategy=_minus_first_feature)
    predicted = aware.estimator_.predict(X)
    assert sorted(predicted[aware.query(4)].tolist()) == [0, 1, 2, 3]


def test_custom_callable_wrong_length_raises():
    learner, X, y = _taught(query_strategy=lambda est, X: np.zeros(3))
    with pytest.raises(ValueError, match=rf"returned 3 scores for a pool of {len(X)}"):
        learner.query(2)
    with pytest.raises(ValueError, match="one score per sample"):
        learner.query_scores()


def test_unknown_strategy_name_raises_in_fit():
    X, _ = _data()
    with pytest.raises(ValueError, match="query_strategy"):
        ActiveLearner(query_strategy="smallest").fit(X)


# ---------------------------------------------------------------------------
# 4. New classes, label types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names", [None, np.array(["dog", "cat", "bird"])], ids=["int", "str"]
)
def test_new_class_appears_in_round_three(names):
    X, y = _data(300, 3)
    labels = y if names is None else names[y]
    learner = ActiveLearner(random_state=0).fit(X)
    rounds = [np.flatnonzero(y == c)[:4] for c in range(3)]
    learner.teach(rounds[0], labels[rounds[0]])
    assert learner.estimator_ is None
    learner.teach(rounds[1], labels[rounds[1]])
    assert_array_equal(learner.classes_, np.unique(labels[np.r_[rounds[0], rounds[1]]]))
    assert learner.predict_proba(X).shape == (len(X), 2)
    learner.query(2)
    learner.teach(rounds[2], labels[rounds[2]])  # round 3: a third class
    assert_array_equal(learner.classes_, np.unique(labels))
    proba = learner.predict_proba(X)
    assert proba.shape == (len(X), 3)
    pred = learner.predict(X)
    assert_array_equal(pred, learner.classes_[proba.argmax(axis=1)])
    assert set(pred.tolist()) <= set(labels.tolist())
    assert np.mean(pred == labels) > 0.7
    # The classifier learned the new class: its labeled samples are predicted as it.
    assert np.mean(learner.predict(X[rounds[2]]) == labels[rounds[2]]) >= 0.75
    batch = learner.query(3)
    _check_batch(learner, batch, 3)


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"
    BLUE = "b"


class Level(enum.IntEnum):
    LOW = 1
    MID = 2
    HIGH = 3


LABEL_SETS = {
    "str": ["alpha", "beta", "gamma"],
    "int": [7, -3, 42],
    "mixed-str-int": ["a", 1, "b"],
    "tuple": [("a", 1), ("b", 2), ("c", 3)],
    "enum": list(Color),
    "intenum": list(Level),
    "float": [0.5, 1.5, 2.5],
}


def _same_kind(value, expected):
    if isinstance(expected, enum.Enum):
        return type(value) is type(expected)
    if isinstance(expected, str):
        return isinstance(value, str)
    if isinstance(expected, int):
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if isinstance(expected, float):
        return isinstance(value, (float, np.floating))
    return isinstance(value, type(expected))


@pytest.mark.parametrize("kind", list(LABEL_SETS))
def test_labels_of_any_hashable_type(kind):
    mapping = LABEL_SETS[kind]
    X, y = _data(300, 3)
    learner = ActiveLearner(random_state=0).fit(X)
    seed = seed_per_class(y, 4, random_state=0)
    learner.teach(seed, [mapping[c] for c in y[seed]])
    assert len(learner.classes_) == 3
    assert all(any(c == v and _same_kind(c, v) for v in mapping) for c in learner.classes_)
    for _ in range(2):
        batch = learner.query(3)
        learner.teach(batch, [mapping[c] for c in y[batch]])
    pred = learner.predict(X)
    assert len(pred) == len(X)
    truth = [mapping[c] for c in y]
    assert np.mean([p == t for p, t in zip(pred, truth)]) > 0.7
    for p in pred:
        matches = [v for v in mapping if v == p]
        assert matches and _same_kind(p, matches[0]), (p, type(p))
    assert all(learner.y_pool_[i] == mapping[y[i]] for i in seed)


def test_bool_labels_come_back_as_bool():
    X, y = _data(200, 2)
    learner = ActiveLearner(random_state=0).fit(X)
    seed = seed_per_class(y, 4, random_state=0)
    learner.teach(seed, y[seed].astype(bool))
    assert learner.classes_.tolist() == [False, True]
    pred = learner.predict(X)
    assert all(isinstance(p, (bool, np.bool_)) for p in pred)
    assert np.mean(pred == y.astype(bool)) > 0.8


@pytest.mark.parametrize("container", ["object-array", "list"])
def test_fit_with_object_y_minus_one_and_strings(container):
    X, y = _data(300, 3)
    names = np.array(["low", "mid", "high"])
    seed = seed_per_class(y, 5, random_state=0)
    y_obj = np.full(len(X), -1, dtype=object)
    y_obj[seed] = names[y[seed]]
    if container == "list":
        y_obj = y_obj.tolist()
    learner = ActiveLearner(random_state=0).fit(X, y_obj)
    assert learner.labeled_mask_.sum() == len(seed)
    assert_array_equal(np.flatnonzero(learner.labeled_mask_), np.sort(seed))
    assert_array_equal(learner.classes_, ["high", "low", "mid"])
    assert {h["source"] for h in learner.history_} == {"fit"}
    assert {h["round"] for h in learner.history_} == {0}
    pred = learner.predict(X)
    assert all(isinstance(p, str) for p in pred)
    assert np.mean(pred == names[y]) > 0.7
    batch = learner.query(3)
    _check_batch(learner, batch, 3)


def test_fit_with_int_y_and_minus_one_marker():
    X, y = _data(300, 3)
    y_partial = np.full(len(y), -1)
    seed = seed_per_class(y, 3, random_state=0)
    y_partial[seed] = y[seed]
    learner = ActiveLearner(random_state=0).fit(X, y_partial)
    assert_array_equal(learner.classes_, [0, 1, 2])
    assert learner.classes_.dtype.kind == "i"
    assert learner.predict(X).dtype.kind == "i"


# ---------------------------------------------------------------------------
# 5. Cold start never raises
# ---------------------------------------------------------------------------


def test_cold_start_with_one_class_labeled():
    X, y = _data()
    y_one = np.full(len(y), -1, dtype=object)
    y_one[:5] = "only"
    for cold_start in ("kmeans", "random"):
        learner = ActiveLearner(cold_start=cold_start, random_state=0).fit(X, y_one)
        assert learner.estimator_ is None
        assert learner.query_scores() is None
        picks = learner.query(4)
        _check_batch(learner, picks, 4)
        assert_array_equal(learner.predict(X[:7]), ["only"] * 7)
        assert_array_equal(learner.predict_proba(X[:7]), np.ones((7, 1)))
        with pytest.raises(ValueError, match="two labeled classes"):
            learner.decision_function(X[:3])


def test_cold_start_pool_smaller_than_n():
    X, _ = _data(5)
    for cold_start in ("kmeans", "random"):
        picks = ActiveLearner(cold_start=cold_start, random_state=0).fit(X).query(10)
        assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]


def test_non_numeric_pool_falls_back_to_random_cold_start():
    docs = np.array(["good film", "bad movie", "great film", "awful movie", "fine show"] * 12)
    y = np.array(["pos", "neg", "pos", "neg", "pos"] * 12)
    make = lambda cold: ActiveLearner(  # noqa: E731
        make_pipeline(CountVectorizer(), LogisticRegression()), cold_start=cold, random_state=3
    ).fit(docs.tolist())
    kmeans, random = make("kmeans"), make("random")
    picks = kmeans.query(4)
    assert_array_equal(picks, random.query(4))
    _check_batch(kmeans, picks, 4)
    first = np.arange(5)  # each distinct text once
    kmeans.teach(first, y[first])
    for _ in range(2):
        batch = kmeans.query(3)
        _check_batch(kmeans, batch, 3)
        kmeans.teach(batch, y[batch])
    assert_array_equal(kmeans.predict(["great film", "awful movie"]), ["pos", "neg"])


def test_sparse_pool_cold_start_and_loop():
    X, y = _data()
    Xs = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0))
    learner = ActiveLearner(random_state=0).fit(Xs)
    picks = learner.query(3)
    assert_array_equal(picks, ActiveLearner(cold_start="random", random_state=0).fit(Xs).query(3))
    seed = seed_per_class(y, 3, random_state=0)
    learner.teach(seed, y[seed])
    _check_batch(learner, learner.query(3), 3)


def test_cold_start_with_nan_in_pool_does_not_raise():
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _data(200)
    X[::7, 0] = np.nan
    learner = ActiveLearner(
        HistGradientBoostingClassifier(max_iter=10), random_state=0
    ).fit(X)
    picks = learner.query(3)
    _check_batch(learner, picks, 3)
    seed = seed_per_class(y, 4, random_state=0)
    learner.teach(seed, y[seed])
    _check_batch(learner, learner.query(3), 3)


# ---------------------------------------------------------------------------
# 6. seed_per_class
# ---------------------------------------------------------------------------


def test_seed_per_class():
    _, y = _data(300, 4)
    seed = seed_per_class(y, 5, random_state=0)
    assert seed.dtype.kind == "i"
    assert len(seed) == 20 and len(set(seed.tolist())) == 20
    assert_array_equal(np.bincount(y[seed]), [5, 5, 5, 5])
    # Grouped by class, in sorted class order.
    assert_array_equal(y[seed], np.repeat([0, 1, 2, 3], 5))
    assert_array_equal(seed, seed_per_class(y, 5, random_state=0))
    assert not np.array_equal(seed, seed_per_class(y, 5, random_state=1))
    rng_a, rng_b = np.random.RandomState(4), np.random.RandomState(4)
    assert_array_equal(
        seed_per_class(y, 3, random_state=rng_a), seed_per_class(y, 3, random_state=rng_b)
    )


def test_seed_per_class_string_labels_and_small_class():
    y = np.array(["b"] * 10 + ["a"] * 10 + ["rare"] * 2)
    with pytest.warns(UserWarning, match=r"'rare' has only 2 samples"):
        seed = seed_per_class(y, 5, random_state=0)
    assert_array_equal(y[seed], ["a"] * 5 + ["b"] * 5 + ["rare"] * 2)
    with pytest.raises(ValueError, match="n_per_class must be a positive integer, got 0"):
        seed_per_class(y, 0)


def test_aloe_style_simulation():
    X, y = _data(400, 4)
    seed = seed_per_class(y, 5, random_state=1)
    learner = ActiveLearner(random_state=1).fit(X)
    learner.teach(seed, y[seed])
    assert_array_equal(learner.classes_, [0, 1, 2, 3])
    assert learner.labeled_mask_.sum() == 20
    accuracies = []
    for _ in range(5):
        batch = learner.query(len(learner.classes_))
        assert len(batch) == 4
        learner.teach(batch, y[batch])
        accuracies.append(learner.score(X, y))
    assert learner.labeled_mask_.sum() == 40
    assert accuracies[-1] > 0.8


# ---------------------------------------------------------------------------
# 7. Reproducibility, ties included
# ---------------------------------------------------------------------------


def _query_sequence(case, random_state, rounds=5):
    X, y = _data(200, 3)
    strategy = "random" if case == "random" else "margin"
    if case == "constant":
        X = np.zeros_like(X)
    learner = ActiveLearner(query_strategy=strategy, random_state=random_state).fit(X)
    sequence = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # k-means on duplicate points
        for _ in range(rounds):
            batch = learner.query(4)
            sequence.append(batch.tolist())
            learner.teach(batch, y[batch])
    return sequence


@pytest.mark.parametrize("case", ["margin", "random", "constant"])
def test_same_seed_same_queries(case):
    assert _query_sequence(case, 0) == _query_sequence(case, 0)
    if case in ("random", "constant"):
        # Random scores, or all scores tied: the seed decides.
        assert _query_sequence(case, 0) != _query_sequence(case, 1)


def test_constant_features_ties_are_broken_at_random_but_stably():
    X, y = _data(200, 3)
    X = np.zeros_like(X)
    learner = ActiveLearner(random_state=0, selection="class-agnostic").fit(X)
    seed = seed_per_class(y, 2, random_state=0)
    learner.teach(seed, y[seed])
    scores = learner.query_scores()
    assert np.ptp(scores[_unlabeled(learner)]) == 0  # every score tied
    batch = learner.query(5)
    _check_batch(learner, batch, 5)
    assert_array_equal(learner.query(5), batch)  # stable within the round
    assert_array_equal(learner.query(3), batch[:3])


# ---------------------------------------------------------------------------
# 8. Edge cases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("selection", ["class-aware", "class-agnostic"])
def test_n_larger_than_what_is_left(selection):
    X, y = _data(30, 2)
    y_partial = y.copy()
    left = np.array([3, 11, 17, 29])
    y_partial[left] = -1
    learner = ActiveLearner(selection=selection, random_state=0).fit(X, y_partial)
    batch = learner.query(10)
    assert sorted(batch.tolist()) == left.tolist()
    if selection == "class-agnostic":
        assert np.all(np.diff(learner.query_scores()[batch]) <= 0)


def test_exhausted_pool():
    X, y = _data(30, 2)
    learner = ActiveLearner(random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="exhausted"):
        batch = learner.query(3)
    assert batch.shape == (0,) and batch.dtype.kind == "i"
    # Exhausted by teaching, too.
    learner = ActiveLearner(random_state=0).fit(X)
    learner.teach(np.arange(30), y)
    with pytest.warns(UserWarning, match="exhausted"):
        assert len(learner.query(1)) == 0


def test_relabel_across_calls_warns_and_keeps_history():
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    learner.teach([5, 6], ["a", "b"])
    with pytest.warns(UserWarning, match=r"Pool position 5 was already labeled 'a'"):
        learner.teach([5], ["b"])
    assert learner.y_pool_[5] == "b"
    entries = [(h["label"], h["round"]) for h in learner.history_ if h["index"] == 5]
    assert entries == [("a", 1), ("b", 2)]
    # Relabeling can take a class away: one class left, back to a cold start.
    assert learner.estimator_ is None
    assert_array_equal(learner.classes_, ["b"])


def test_same_position_twice_in_one_call_raises_and_records_nothing():
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(ValueError, match="Position 3 appears more than once"):
        learner.teach([3, 4, 3], [0, 1, 0])
    assert not learner.labeled_mask_.any()
    assert learner.history_ == [] and learner.n_rounds_ == 0


@pytest.mark.parametrize("position", [300, 1000, -1, -300])
def test_out_of_range_positions_raise_index_error(position):
    X, y = _data(300)
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(IndexError, match=rf"Position {position} .*valid: 0 to 299"):
        learner.teach([0, position], [0, 1])
    assert not learner.labeled_mask_.any()


def test_float_positions():
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    # Whole numbers as floats are accepted (as from a float array of positions).
    learner.teach(np.array([3.0, 8.0]), [0, 1])
    assert_array_equal(np.flatnonzero(learner.labeled_mask_), [3, 8])
    for bad in (2.5, np.nan, np.inf):
        with pytest.raises(ValueError, match=rf"{bad}"):
            learner.teach(np.array([4.0, bad]), [0, 1])
    with pytest.raises(ValueError, match="integer positions"):
        learner.teach(["4"], [0])
    with pytest.raises(ValueError, match="integer positions"):
        learner.teach(np.zeros(len(X), dtype=bool), [0] * len(X))
    assert_array_equal(np.flatnonzero(learner.labeled_mask_), [3, 8])


def test_labels_and_positions_of_different_lengths():
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(ValueError, match="Got 2 positions .* but 3 labels"):
        learner.teach([1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="Got 3 positions .* but 1 labels"):
        learner.teach([1, 2, 3], "a")
    # A scalar position with a scalar label is one pair.
    learner.teach(4, "a")
    assert learner.y_pool_[4] == "a"


@pytest.mark.parametrize("marker", [-1, -1.0, np.int64(-1)])
def test_label_equal_to_the_unlabeled_marker_raises(marker):
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"labels\[1\] is -1"):
        learner.teach([1, 2], np.array([0, marker], dtype=object))
    assert not learner.labeled_mask_.any()
    # "-1" as a string is an ordinary label.
    learner.teach([1, 2], ["-1", "x"])
    assert_array_equal(learner.classes_, ["-1", "x"])


@pytest.mark.parametrize(
    "label", [[1, 2], {"a": 1}, np.array([1, 2])], ids=["list", "dict", "array"]
)
def test_unhashable_label_raises(label):
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    labels = np.empty(2, dtype=object)
    labels[0], labels[1] = "x", label
    with pytest.raises(TypeError, match=r"labels\[1\] = .* is not hashable"):
        learner.teach([1, 2], labels)
    with pytest.raises(TypeError, match="not hashable"):
        learner.teach([1, 2], ["x", label])
    assert not learner.labeled_mask_.any()


@pytest.mark.parametrize("n", [0, -2, 2.0, 1.5, "3", None, True])
def test_query_n_must_be_a_positive_integer(n):
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(ValueError, match=rf"n must be a positive integer, got {n!r}"):
        learner.query(n)


def test_query_accepts_numpy_integers():
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    assert len(learner.query(np.int64(3))) == 3


def test_methods_before_fit_raise_not_fitted():
    X, y = _data()
    learner = ActiveLearner()
    for call in (
        lambda: learner.query(2),
        lambda: learner.teach([0], [1]),
        lambda: learner.query_scores(),
        lambda: learner.add_labeled(X[:2], [0, 1]),
        lambda: learner.predict(X),
        lambda: learner.predict_proba(X),
    ):
        with pytest.raises(NotFittedError):
            call()


def test_predict_with_no_labels_says_to_label_first():
    X, y = _data()
    learner = ActiveLearner(random_state=0).fit(X)
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(ValueError, match="label some with query\\(\\) and teach\\(\\) first"):
            getattr(learner, method)(X)


def test_fit_y_of_wrong_length_raises():
    X, y = _data()
    with pytest.raises(ValueError, match=f"X has {len(X)} samples but y has 10"):
        ActiveLearner().fit(X, y[:10])


# ---------------------------------------------------------------------------
# 9. A failing refit loses no label
# ---------------------------------------------------------------------------

_FIT_CALLS = {"n": 0}


class FailsOnSecondFit(ClassifierMixin, BaseEstimator):
    """A logistic regression whose second fit (process-wide) raises."""

    def fit(self, X, y):
        _FIT_CALLS["n"] += 1
        if _FIT_CALLS["n"] == 2:
            raise RuntimeError("solver exploded")
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_labels_survive_a_failing_fit():
    _FIT_CALLS["n"] = 0
    X, y = _data(300, 3)
    names = np.array(["a", "b", "c"])
    learner = ActiveLearner(FailsOnSecondFit(), random_state=0).fit(X)
    first = np.r_[np.flatnonzero(y == 1)[:3], np.flatnonzero(y == 2)[:3]]
    learner.teach(first, names[y[first]])  # fit #1
    assert_array_equal(learner.classes_, ["b", "c"])
    second = np.flatnonzero(y == 0)[:3]
    with pytest.raises(RuntimeError, match="solver exploded"):
        learner.teach(second, names[y[second]])  # fit #2, a new class
    taught = np.r_[first, second]
    assert learner.labeled_mask_.sum() == 9
    assert all(learner.y_pool_[i] == names[y[i]] for i in taught)
    assert [h["index"] for h in learner.history_] == taught.tolist()
    assert [h["label"] for h in learner.history_] == names[y[taught]].tolist()
    # The model left in place still answers in its own classes.
    assert set(learner.predict(X).tolist()) <= {"b", "c"}
    assert learner.predict_proba(X).shape[1] == len(learner.classes_)
    # The next teach refits on everything taught so far.
    batch = learner.query(2)
    learner.teach(batch, names[y[batch]])  # fit #3
    assert_array_equal(learner.classes_, ["a", "b", "c"])
    assert learner.predict_proba(X).shape == (len(X), 3)
    assert learner.labeled_mask_.sum() == 11


# ---------------------------------------------------------------------------
# 10. add_labeled
# ---------------------------------------------------------------------------


def test_add_labeled_trains_but_is_never_queried():
    X, y = _data(400, 3)
    pool, extra = X[:300], X[300:]
    y_pool, y_extra = y[:300], y[300:]
    learner = ActiveLearner(LogisticRegression(max_iter=1000), random_state=0).fit(pool)
    seed = seed_per_class(y_pool, 2, random_state=0)
    learner.teach(seed, y_pool[seed])
    coef_before = learner.estimator_.coef_.copy()
    learner.add_labeled(extra, y_extra)
    assert not np.allclose(learner.estimator_.coef_, coef_before)
    # The model is the one fitted on pool labels + the extra samples.
    expected = LogisticRegression(max_iter=1000).fit(
        np.concatenate([pool[np.sort(seed)], extra]),
        np.concatenate([y_pool[np.sort(seed)], y_extra]),
    )
    assert_allclose(learner.estimator_.coef_, expected.coef_, rtol=1e-5, atol=1e-6)
    assert learner.n_pool_ == 300
    assert learner.labeled_mask_.sum() == len(seed)
    added = [h for h in learner.history_ if h["source"] == "add"]
    assert len(added) == 100
    assert all(h["index"] is None and h["round"] == 2 for h in added)
    assert [h["label"] for h in added] == y_extra.tolist()
    assert learner.n_rounds_ == 2
    for _ in range(3):
        batch = learner.query(5)
        _check_batch(learner, batch, 5)
        learner.teach(batch, y_pool[batch])
    learner.teach(_unlabeled(learner), y_pool[_unlabeled(learner)])
    with pytest.warns(UserWarning, match="exhausted"):
        assert len(learner.query(5)) == 0


def test_add_labeled_ends_the_cold_start():
    X, y = _data(300, 3)
    learner = ActiveLearner(random_state=0).fit(X[:200])
    learner.add_labeled(X[200:220], y[200:220].astype(str))
    assert learner.estimator_ is not None
    assert not learner.labeled_mask_.any()
    assert_array_equal(learner.classes_, np.unique(y[200:220]).astype(str))
    _check_batch(learner, learner.query(3), 3)
    with pytest.raises(ValueError, match="features"):
        learner.add_labeled(X[:2, :3], ["0", "1"])


# ---------------------------------------------------------------------------
# 11. Pipelines, a frozen encoder over file paths
# ---------------------------------------------------------------------------


def test_pipeline_estimator():
    X, y = _data(300, 3)
    learner = ActiveLearner(
        make_pipeline(StandardScaler(), LogisticRegression()), random_state=0
    ).fit(X * 100 + 5)
    seed = seed_per_class(y, 3, random_state=0)
    learner.teach(seed, y[seed])
    for _ in range(3):
        batch = learner.query(3)
        _check_batch(learner, batch, 3)
        learner.teach(batch, y[batch])
    assert isinstance(learner.estimator_, Pipeline)
    assert learner.score(X * 100 + 5, y) > 0.8
    assert learner.n_features_in_ == X.shape[1]


_ENCODER_CALLS = {"n": 0}


def counting_encoder(waveform):
    """A tiny 'encoder': loudness statistics of a 16 kHz waveform."""
    _ENCODER_CALLS["n"] += 1
    w = np.asarray(waveform, dtype=np.float32)
    return np.array([w.std(), np.abs(w).max(), np.abs(np.diff(w)).mean()], dtype=np.float32)


@pytest.fixture(scope="module")
def wav_files(tmp_path_factory):
    import soundfile

    folder = tmp_path_factory.mktemp("wavs")
    rng = np.random.default_rng(0)
    amplitude = {"quiet": 0.01, "medium": 0.1, "loud": 0.5}
    paths, labels = [], []
    for i in range(45):
        label = list(amplitude)[i % 3]
        wave = np.clip(rng.normal(0, amplitude[label], 4000), -1, 1).astype(np.float32)
        path = folder / f"clip_{i:02d}.wav"
        soundfile.write(path, wave, 16000)
        paths.append(str(path))
        labels.append(label)
    return paths, np.array(labels)


def test_encoder_pipeline_over_file_paths_runs_encoder_once(wav_files):
    paths, labels = wav_files
    pool, new = paths[:36], paths[36:]
    y_pool, y_new = labels[:36], labels[36:]
    pipe = make_pipeline(
        EncoderTransformer(model=counting_encoder), StandardScaler(), LogisticRegression()
    )
    _ENCODER_CALLS["n"] = 0
    learner = ActiveLearner(pipe, random_state=0).fit(pool)
    assert _ENCODER_CALLS["n"] == len(pool)
    picks = learner.query(3)  # cold start on the embeddings
    _check_batch(learner, picks, 3)
    learner.teach(picks, y_pool[picks])
    seed = seed_per_class(y_pool, 2, random_state=0)
    seed = seed[~learner.labeled_mask_[seed]]
    learner.teach(seed, y_pool[seed])
    for _ in range(3):
        batch = learner.query(3)
        _check_batch(learner, batch, 3)
        learner.teach(batch, y_pool[batch])
        learner.query_scores()
    assert _ENCODER_CALLS["n"] == len(pool)  # never re-run over the pool

    assert isinstance(learner.estimator_, Pipeline)
    assert isinstance(learner.estimator_.steps[0][1], EncoderTransformer)
    pred = learner.predict(new)
    assert _ENCODER_CALLS["n"] == len(pool) + len(new)
    assert np.mean(pred == y_new) >= 0.8
    assert learner.predict_proba(new).shape == (len(new), 3)
    # The learner takes file paths: it has no number of input features.
    assert not hasattr(learner, "n_features_in_")
    # add_labeled takes file paths too; only the new clips are embedded.
    before = _ENCODER_CALLS["n"]
    learner.add_labeled(new[:3], y_new[:3])
    assert _ENCODER_CALLS["n"] == before + 3
    _check_batch(learner, learner.query(3), 3)
    assert _ENCODER_CALLS["n"] == before + 3


def test_two_step_frozen_prefix(wav_files):
    paths, labels = wav_files
    encoder = EncoderTransformer(model=counting_encoder).fit(paths)
    scaler = FrozenEstimator(StandardScaler().fit(encoder.transform(paths)))
    _ENCODER_CALLS["n"] = 0
    learner = ActiveLearner(
        make_pipeline(encoder, scaler, LogisticRegression()), random_state=0
    ).fit(paths)
    assert _ENCODER_CALLS["n"] == len(paths)
    seed = seed_per_class(labels, 3, random_state=0)
    learner.teach(seed, labels[seed])
    batch = learner.query(3)
    learner.teach(batch, labels[batch])
    assert _ENCODER_CALLS["n"] == len(paths)
    assert learner.estimator_.steps[1][1] is scaler
    assert np.mean(learner.predict(paths) == labels) >= 0.8


def test_frozen_estimator_prefix_is_not_refit():
    X, y = _data(300, 3)
    calls = {"rows": 0}

    def count_rows(Z):
        calls["rows"] += len(Z)
        return Z * 2.0

    frozen = FrozenEstimator(FunctionTransformer(count_rows).fit(X))
    learner = ActiveLearner(make_pipeline(frozen, LogisticRegression()), random_state=0).fit(X)
    assert calls["rows"] == len(X)
    seed = seed_per_class(y, 3, random_state=0)
    learner.teach(seed, y[seed])
    for _ in range(3):
        batch = learner.query(3)
        learner.teach(batch, y[batch])
    assert calls["rows"] == len(X)
    assert learner.estimator_.steps[0][1] is frozen
    assert learner.score(X, y) > 0.8
    assert learner.n_features_in_ == X.shape[1]


def test_active_learner_as_last_pipeline_step():
    X, y = _data(300, 3)
    pipe = make_pipeline(StandardScaler(), ActiveLearner(random_state=0))
    pipe.fit(X * 10 + 3)
    learner = pipe[-1]
    picks = learner.query(3)
    _check_batch(learner, picks, 3)
    seed = seed_per_class(y, 3, random_state=0)
    learner.teach(seed, y[seed])
    batch = learner.query(3)
    _check_batch(learner, batch, 3)
    learner.teach(batch, y[batch])
    # Positions index the X given to the pipeline.
    Xt = pipe[0].transform(X * 10 + 3)
    expected = _margin(learner.estimator_.predict_proba(Xt))
    assert_allclose(learner.query_scores(), expected, atol=1e-5)
    assert_array_equal(learner.labeled_mask_.nonzero()[0], np.sort(np.r_[seed, batch]))
    assert pipe.score(X * 10 + 3, y) > 0.6
    assert_array_equal(pipe.predict(X * 10 + 3), learner.predict(Xt))


# ---------------------------------------------------------------------------
# 12. clone / get_params / set_params
# ---------------------------------------------------------------------------


def test_params_and_clone():
    learner = ActiveLearner(LogisticRegression(C=2.0), query_strategy="entropy", random_state=3)
    params = learner.get_params(deep=False)
    assert params["query_strategy"] == "entropy" and params["random_state"] == 3
    assert set(params) == {
        "estimator", "query_strategy", "selection", "batch_diversity", "cold_start",
        "chunk_size", "tie_break", "random_state",
        "stopping", "scoring",
    }
    assert learner.get_params()["estimator__C"] == 2.0
    learner.set_params(estimator__C=0.5, selection="class-agnostic", chunk_size=17)
    assert learner.estimator.C == 0.5 and learner.selection == "class-agnostic"

    X, y = _data()
    learner.fit(X)
    seed = seed_per_class(y, 3, random_state=0)
    learner.teach(seed, y[seed])
    assert learner.estimator_.C == 0.5
    assert learner.estimator_ is not learner.estimator  # the given estimator is cloned
    assert not hasattr(learner.estimator, "coef_")

    fresh = clone(learner)
    assert fresh.get_params(deep=False).keys() == learner.get_params(deep=False).keys()
    assert fresh.estimator.C == 0.5 and fresh.chunk_size == 17
    for attr in ("labeled_mask_", "y_pool_", "classes_", "estimator_", "history_"):
        assert not hasattr(fresh, attr)
    with pytest.raises(NotFittedError):
        fresh.query(1)


@pytest.mark.parametrize("pipeline", [False, True])
def test_refit_starts_over(pipeline):
    X, y = _data()
    estimator = make_pipeline(StandardScaler(), LogisticRegression()) if pipeline else None
    learner = ActiveLearner(estimator, random_state=0).fit(X)
    learner.teach([0, 1, 2, 3], [0, 1, 0, 1])
    assert learner.n_features_in_ == X.shape[1]
    learner.fit(X[:, :5])
    assert not learner.labeled_mask_.any() and learner.history_ == []
    assert learner.n_rounds_ == 0 and learner.estimator_ is None
    if pipeline:  # known once the pipeline is fitted
        learner.teach([0, 1], [0, 1])
    assert learner.n_features_in_ == 5


def test_chunk_size_does_not_change_results():
    a, X, y = _taught(chunk_size=7)
    b, _, _ = _taught()
    assert_allclose(a.query_scores(), b.query_scores(), rtol=1e-6)
    assert_array_equal(a.query(6), b.query(6))


# ---------------------------------------------------------------------------
# 13. Persistence across processes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["margin", "random"])
def test_persistence_across_processes(tmp_path, strategy):
    X, y = _data(300, 3)
    learner = ActiveLearner(query_strategy=strategy, random_state=0).fit(X)
    seed = seed_per_class(y, 2, random_state=0)
    learner.teach(seed, y[seed])
    for _ in range(2):
        batch = learner.query(3)
        learner.teach(batch, y[batch])
    path = tmp_path / "learner.joblib"
    joblib.dump(learner, path)
    np.save(tmp_path / "y.npy", y)

    script = textwrap.dedent(
        f"""
        import json, joblib, numpy as np
        learner = joblib.load({str(path)!r})
        y = np.load({str(tmp_path / "y.npy")!r})
        first = learner.query(3)
        learner.teach(first, y[first])
        second = learner.query(3)
        print(json.dumps([first.tolist(), second.tolist()]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    other_first, other_second = json.loads(result.stdout.strip().splitlines()[-1])

    first = learner.query(3)
    assert first.tolist() == other_first
    learner.teach(first, y[first])
    assert learner.query(3).tolist() == other_second


# ---------------------------------------------------------------------------
# 14. Delegation to the fitted classifier
# ---------------------------------------------------------------------------


def test_prediction_methods_delegate_to_estimator():
    X, y = _data(300, 3)
    names = np.array(["x", "y", "z"])
    learner = ActiveLearner(random_state=0).fit(X)
    seed = seed_per_class(y, 4, random_state=0)
    learner.teach(seed, names[y[seed]])
    est = learner.estimator_
    assert_array_equal(learner.predict(X), learner.classes_[est.predict(X)])
    assert_array_equal(learner.predict(X), names[est.predict(X)])
    assert_allclose(learner.predict_proba(X), est.predict_proba(X))
    assert_allclose(learner.predict_log_proba(X), est.predict_log_proba(X))
    assert_allclose(learner.decision_function(X), est.decision_function(X))
    assert learner.score(X, names[y]) == np.mean(learner.predict(X) == names[y])


def test_binary_logit_margin_with_default_estimator():
    X, y = _data(300, 2)
    strategy = get_query_scorer("margin", response_method="decision_function")
    learner = ActiveLearner(query_strategy=strategy, random_state=0).fit(X)
    seed = seed_per_class(y, 3, random_state=0)
    learner.teach(seed, y[seed])
    d = learner.estimator_.decision_function(X)
    assert d.ndim == 1
    assert_allclose(learner.query_scores(), 1 - np.abs(d), rtol=1e-4, atol=1e-4)
    assert_allclose(learner.decision_function(X), d)
    batch = learner.query(2)
    cand = _unlabeled(learner)
    predicted = learner.estimator_.predict(X)
    for i in batch:
        members = cand[predicted[cand] == predicted[i]]
        assert np.abs(d[i]) <= np.abs(d[members]).min() + 1e-5


def test_strategy_needing_a_missing_method_fails_at_fit():
    from sklearn.ensemble import RandomForestClassifier

    from skaloe.active import get_query_scorer

    learner = ActiveLearner(
        RandomForestClassifier(n_estimators=5),
        query_strategy=get_query_scorer("margin", response_method="decision_function"),
    )
    with pytest.raises(ValueError, match="RandomForestClassifier has no decision_function"):
        learner.fit(np.zeros((6, 2)))


def test_seed_per_class_with_labels_that_do_not_compare():
    y = np.array(["a", 1, "a", 1, "b", "b"], dtype=object)
    idx = seed_per_class(y, 1, random_state=0)
    assert sorted(map(str, y[idx])) == ["1", "a", "b"]


def test_encoder_pipeline_validation_set_of_file_paths_is_embedded_once(wav_files):
    paths, labels = wav_files
    pool, val = paths[:30], paths[30:]
    pipe = make_pipeline(
        EncoderTransformer(model=counting_encoder), StandardScaler(), LogisticRegression()
    )
    _ENCODER_CALLS["n"] = 0
    learner = ActiveLearner(pipe, random_state=0).fit(pool, X_val=val, y_val=labels[30:])
    assert _ENCODER_CALLS["n"] == len(pool) + len(val)
    seed = seed_per_class(labels[:30], 2, random_state=0)
    learner.teach(seed, labels[seed])
    for _ in range(3):
        batch = learner.query(3)
        learner.teach(batch, labels[batch])
    assert _ENCODER_CALLS["n"] == len(pool) + len(val)  # scored every round, embedded once
    assert len(learner.validation_scores_) == 4
    assert learner.validation_score_ == pytest.approx(learner.score(val, labels[30:]))


# -- diverse batches -------------------------------------------------------------


def _pool_with_copies():
    """1200 samples in 40 groups (4 classes), then 6 near copies of one sample per group."""
    from sklearn.datasets import make_blobs

    X, group = make_blobs(1200, n_features=6, centers=40, cluster_std=1.0,
                          center_box=(-40, 40), random_state=0)
    y = group % 4
    sources = np.array([np.flatnonzero(group == g)[0] for g in range(40)])
    copies = np.repeat(X[sources], 6, axis=0) + 1e-4 * np.arange(240)[:, None]
    _pool_with_copies.sources = sources
    return np.concatenate([X, copies]), np.concatenate([y, np.repeat(y[sources], 6)])


def _closest_pair(X, batch):
    d = np.sqrt(((X[batch][:, None] - X[batch][None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return d.min()


@pytest.mark.parametrize("selection", ["class-aware", "class-agnostic"])
@pytest.mark.parametrize("diversity", ["kmeans++", "cluster-margin"])
def test_batch_diversity_keeps_copies_out_of_a_batch(diversity, selection):
    X, y = _pool_with_copies()
    # The originals of the copies are labeled: the batch is to be chosen among
    # the copies (scored highest below) and the rest of the pool.
    sources = _pool_with_copies.sources
    seed = np.union1d(seed_per_class(y, 2, random_state=0), sources)

    def batch_of(batch_diversity):
        learner = ActiveLearner(
            query_strategy="margin", selection=selection, batch_diversity=batch_diversity,
            random_state=0,
        ).fit(X)
        learner.teach(seed, y[seed])
        # Make the copies the most uncertain samples: score them highest.
        scores = np.zeros(len(X))
        scores[1200:] = 1.0
        learner._round_state()
        learner._query_cache[1][0][:] = scores
        return learner, learner.query(24)

    _, plain = batch_of(None)
    assert _closest_pair(X, plain) < 0.1  # top-k: copies of the same sample
    learner, diverse = batch_of(diversity)
    assert len(diverse) == 24 and len(np.unique(diverse)) == 24
    assert not learner.labeled_mask_[diverse].any()
    assert _closest_pair(X, diverse) > 0.1
    np.testing.assert_array_equal(learner.query(24), diverse)  # repeated: same batch


@pytest.mark.parametrize("diversity", ["kmeans++", "cluster-margin"])
def test_batch_diversity_reproducible_and_resumable(diversity):
    import pickle

    X, y = _pool_with_copies()
    seed = seed_per_class(y, 2, random_state=0)

    def run(random_state, rounds=3):
        learner = ActiveLearner(batch_diversity=diversity, random_state=random_state).fit(X)
        learner.teach(seed, y[seed])
        batches = []
        for _ in range(rounds):
            batch = learner.query(8)
            batches.append(batch)
            learner.teach(batch, y[batch])
        return learner, batches

    a, batches_a = run(0)
    _, batches_b = run(0)
    for ba, bb in zip(batches_a, batches_b):
        np.testing.assert_array_equal(ba, bb)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.query(8), a.query(8))


def test_batch_diversity_needs_a_numeric_pool():
    with pytest.raises(ValueError, match="dense numeric 2-D pool"):
        ActiveLearner(batch_diversity="kmeans++").fit(np.array([["a", "b"], ["c", "d"]]))
    import scipy.sparse as sp

    with pytest.raises(ValueError, match="dense numeric 2-D pool; got a csr_matrix"):
        ActiveLearner(batch_diversity="cluster-margin").fit(sp.random(20, 4, format="csr"))
    with pytest.raises(ValueError, match="batch_diversity"):
        ActiveLearner(batch_diversity="coreset").fit(np.zeros((5, 2)))


# -- semi-supervised (graph) classifiers -------------------------------------------


def _graph_task():
    from sklearn.datasets import make_blobs

    return make_blobs(400, n_features=5, centers=4, cluster_std=1.5, random_state=3)


def test_graph_classifier_is_fitted_on_the_whole_pool_and_reuses_its_graph(monkeypatch):
    import weakref

    from skaloe.graph import GraphClassifier, _classifier, knn_graph

    builds = []

    def counting_knn_graph(X, *args, **kwargs):
        builds.append(X.shape)
        return knn_graph(X, *args, **kwargs)

    monkeypatch.setattr(_classifier, "knn_graph", counting_knn_graph)
    monkeypatch.setattr(_classifier, "_GRAPHS", weakref.WeakValueDictionary())

    X, y = _graph_task()
    estimator = GraphClassifier("poisson", n_neighbors=8)
    params = estimator.get_params()
    learner = ActiveLearner(estimator, random_state=0).fit(X)
    seed = seed_per_class(y, 1, random_state=0)
    learner.teach(seed, y[seed])
    model = learner.estimator_
    # Fitted transductively: the pool with -1 for the unlabeled samples.
    assert model.label_distributions_.shape == (400, 4)
    assert model.transduction_.shape == (400,)
    # The pool's scores are the classifier's own distributions.
    p = np.sort(model.label_distributions_, axis=1)
    np.testing.assert_allclose(learner.query_scores(), 1 - (p[:, -1] - p[:, -2]), atol=1e-6)
    for _ in range(3):
        batch = learner.query(4)
        _check_batch(learner, batch, 4)
        learner.teach(batch, y[batch])
    # One graph for the whole run; the estimator's parameters untouched.
    assert builds == [X.shape]
    assert learner.estimator.get_params() == params
    assert learner.estimator_.get_params() == params
    # Each round gives what a fresh classifier fitted on the same labels gives.
    y_all = np.where(learner.labeled_mask_, learner.y_pool_, -1).astype(int)
    with monkeypatch.context() as patch:
        patch.setattr(_classifier, "_GRAPHS", weakref.WeakValueDictionary())
        direct = GraphClassifier("poisson", n_neighbors=8).fit(X, y_all)
    assert len(builds) == 2
    np.testing.assert_array_equal(
        learner.estimator_.label_distributions_, direct.label_distributions_
    )
    np.testing.assert_array_equal(learner.predict_proba(X), direct.label_distributions_)
    assert learner.score(X, y) > 0.9


def test_graph_classifier_model_change_strategy_and_errors():
    from skaloe.graph import GraphClassifier, model_change_scores

    X, y = _graph_task()
    learner = ActiveLearner(
        GraphClassifier(n_neighbors=8), query_strategy=model_change_scores, random_state=0
    ).fit(X)
    seed = seed_per_class(y, 1, random_state=0)
    learner.teach(seed, y[seed])
    expected = model_change_scores(learner.estimator_, X)
    np.testing.assert_allclose(learner.query_scores(), expected)
    batch = learner.query(4)
    _check_batch(learner, batch, 4)
    # Another estimator: the strategy itself says so, at the first scored query.
    learner = ActiveLearner(query_strategy=model_change_scores, random_state=0).fit(X)
    learner.teach(seed, y[seed])
    with pytest.raises(ValueError, match=r"graph classifier.*got LogisticRegression"):
        learner.query(4)


def test_graph_classifier_with_added_samples_and_sklearn_label_spreading():
    from sklearn.semi_supervised import LabelSpreading

    from skaloe.graph import GraphClassifier

    X, y = _graph_task()
    pool, extra = X[:360], X[360:]
    learner = ActiveLearner(GraphClassifier(n_neighbors=8), random_state=0).fit(pool)
    seed = seed_per_class(y[:360], 1, random_state=0)
    learner.teach(seed, y[seed])
    learner.add_labeled(extra[:8], y[360:368])
    assert learner.estimator_.label_distributions_.shape == (368, 4)
    _check_batch(learner, learner.query(4), 4)
    assert learner.score(extra[8:], y[368:]) > 0.8

    spreading = ActiveLearner(LabelSpreading(kernel="knn", n_neighbors=8), random_state=0)
    spreading.fit(pool)
    spreading.teach(seed, y[seed])
    model = spreading.estimator_
    assert model.transduction_.shape == (360,)  # fitted on the whole pool
    p = np.sort(model.label_distributions_, axis=1)
    np.testing.assert_allclose(spreading.query_scores(), 1 - (p[:, -1] - p[:, -2]), atol=1e-6)


def test_no_regression_hint_warning_on_tiny_label_sets():
    # One label per class is the normal start of active learning; scikit-learn's
    # "could represent a regression problem" hint is not shown for it.
    X, y = make_classification(200, n_classes=3, n_informative=4, random_state=0)
    learner = ActiveLearner(random_state=0).fit(X)
    first = [int(np.flatnonzero(y == c)[0]) for c in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner.teach(first, y[first])
    assert len(learner.classes_) == 3


# ---------------------------------------------------------------------------
# teach(X, y) with samples, as modAL-style code writes it
# ---------------------------------------------------------------------------


def _two_learners(X, **params):
    return (ActiveLearner(random_state=0, **params).fit(X),
            ActiveLearner(random_state=0, **params).fit(X))


@pytest.mark.parametrize("selection", ["class-aware", "class-agnostic"])
def test_teach_samples_gives_the_learner_teach_positions_gives(selection):
    X, y = _data(300)
    by_position, by_sample = _two_learners(X, selection=selection)
    for _ in range(6):
        idx = by_position.query(3)
        idx_s, X_new = by_sample.query(3, return_X=True)
        assert_array_equal(idx, idx_s)
        assert_array_equal(X_new, X[idx])
        by_position.teach(idx, y[idx])
        by_sample.teach(X_new, y[idx])
        assert_array_equal(by_sample.taught_positions_, idx)
    assert_array_equal(by_position.labeled_mask_, by_sample.labeled_mask_)
    assert by_position.history_ == by_sample.history_
    assert_array_equal(by_position.query(5), by_sample.query(5))
    assert_allclose(by_position.predict_proba(X), by_sample.predict_proba(X))
    # Rows taught as samples are labeled in the pool, never queried again.
    labeled = np.flatnonzero(by_sample.labeled_mask_)
    assert len(labeled) == 18 and not np.isin(by_sample.query(50), labeled).any()


def test_teach_samples_not_in_the_pool_are_added_outside_it():
    X, y = _data(320)
    pool, outside = X[:300], X[300:]
    learner = ActiveLearner(random_state=0).fit(pool)
    mixed = np.vstack([pool[[5, 17]], outside[:3]])
    learner.teach(mixed, np.concatenate([y[[5, 17]], y[300:303]]))
    assert learner.taught_positions_.tolist() == [5, 17, -1, -1, -1]
    assert np.flatnonzero(learner.labeled_mask_).tolist() == [5, 17]
    assert [h["source"] for h in learner.history_] == ["teach", "teach", "add", "add", "add"]
    assert [h["index"] for h in learner.history_] == [5, 17, None, None, None]
    assert learner.n_pool_ == 300
    # They are trained on: a learner given them with add_labeled is the same.
    other = ActiveLearner(random_state=0).fit(pool)
    other.teach([5, 17], y[[5, 17]]).add_labeled(outside[:3], y[300:303])
    assert_allclose(learner.predict_proba(pool), other.predict_proba(pool))


def test_teach_samples_finds_rows_whatever_their_container():
    X, y = _data(200)
    idx = np.array([3, 50, 120])
    # float64 copies of a float32 pool, a DataFrame, a sparse pool, a list of rows
    learner = ActiveLearner(random_state=0).fit(X)
    learner.teach(X[idx].astype(np.float64), y[idx])
    assert learner.taught_positions_.tolist() == idx.tolist()
    pd = require("pandas")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    learner = ActiveLearner(random_state=0).fit(frame)
    learner.teach(frame.iloc[idx], y[idx])
    assert learner.taught_positions_.tolist() == idx.tolist()
    sparse = sp.csr_matrix(X)
    learner = ActiveLearner(random_state=0).fit(sparse)
    learner.teach(sparse[idx], y[idx])
    assert learner.taught_positions_.tolist() == idx.tolist()
    learner = ActiveLearner(random_state=0).fit(X)
    learner.teach([list(row) for row in X[idx]], y[idx])
    assert learner.taught_positions_.tolist() == idx.tolist()


def test_teach_samples_with_copies_in_the_pool():
    X, y = _data(100)
    X[40] = X[10]  # the same sample twice in the pool
    learner = ActiveLearner(random_state=0).fit(X)
    learner.teach(X[[10]], [y[10]])
    assert learner.taught_positions_.tolist() == [10]
    learner.teach(X[[10]], [y[10]])  # the copy not labeled yet is taken next
    assert learner.taught_positions_.tolist() == [40]
    with pytest.warns(UserWarning, match="already labeled"):
        learner.teach(X[[10]], [y[10]])  # both labeled: relabels the first
    learner = ActiveLearner(random_state=0).fit(X)
    learner.teach(X[[10, 10]], [y[10], y[10]])  # one call, two copies: both positions
    assert learner.taught_positions_.tolist() == [10, 40]
    with pytest.raises(ValueError, match="Sample 1 is pool position 3, which another sample"):
        learner.teach(X[[3, 3]], [0, 0])


def test_teach_ambiguous_input_says_how_to_pass_it():
    X, y = _data(100)
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"1-D float array.*reshape\(1, -1\)"):
        learner.teach(X[7], [y[7]])  # one sample as a 1-D row
    assert not learner.labeled_mask_.any()
    with pytest.raises(ValueError, match="give exactly one label each"):
        learner.teach(X[[1, 2]], [0])


def test_teach_samples_does_not_scan_the_pool_per_row(monkeypatch):
    """The pool is fingerprinted once, chunk by chunk, then each teach costs a lookup."""
    from skaloe.active import _matching

    calls = []
    original = _matching.fingerprints

    def counting(rows):
        calls.append(len(rows))
        return original(rows)

    monkeypatch.setattr(_matching, "fingerprints", counting)
    X, y = _data(10000, n_features=16)
    learner = ActiveLearner(random_state=0).fit(X)
    learner.teach(X[[1, 2, 3]], y[[1, 2, 3]])
    assert calls == [4096, 4096, 1808, 3]  # the pool in 3 chunks, then the 3 samples
    learner.teach(X[[4, 5]], y[[4, 5]])
    assert calls[4:] == [2]  # the index is kept: only the taught samples
    assert learner.taught_positions_.tolist() == [4, 5]


def test_teach_file_paths_and_query_return_them(wav_files):
    paths, labels = wav_files
    pool, new = paths[:36], paths[36:]
    pipe = make_pipeline(EncoderTransformer(model=counting_encoder), StandardScaler(),
                         LogisticRegression())
    learner = ActiveLearner(pipe, random_state=0).fit(pool)
    idx, X_new = learner.query(3, return_X=True)
    assert X_new == [pool[i] for i in idx]
    learner.teach(X_new, labels[idx])
    assert learner.taught_positions_.tolist() == idx.tolist()
    _ENCODER_CALLS["n"] = 0
    learner.teach([pool[20], new[0]], [labels[20], labels[36]])  # a pool clip and a new one
    assert learner.taught_positions_.tolist() == [20, -1]
    assert _ENCODER_CALLS["n"] == 1  # only the new clip is embedded
    assert learner.history_[-1]["source"] == "add"
    # Waveforms of a pool given as waveforms are found by their embeddings.
    import soundfile

    waves = [soundfile.read(p, dtype="float32")[0] for p in pool]
    learner = ActiveLearner(clone(pipe), random_state=0).fit(waves)
    learner.teach([waves[4], waves[9]], labels[[4, 9]])
    assert learner.taught_positions_.tolist() == [4, 9]
    _ENCODER_CALLS["n"] = 0
    new_wave = soundfile.read(new[1], dtype="float32")[0]
    learner.teach([waves[11], new_wave], labels[[11, 37]])
    assert learner.taught_positions_.tolist() == [11, -1]
    assert _ENCODER_CALLS["n"] == 2  # each sample embedded once, to look it up


def test_kmeans_cold_start_is_computed_once_and_consumed_in_order(monkeypatch):
    """No k-means per label: one clustering per pool, its order consumed as labels come."""
    import sklearn.cluster

    fits = []
    original = sklearn.cluster.KMeans.fit

    def counting(self, *args, **kwargs):
        fits.append(self.n_clusters)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sklearn.cluster.KMeans, "fit", counting)
    X, y = make_blobs(n_samples=2000, centers=4, n_features=2, cluster_std=1.0,
                      random_state=0)
    learner = ActiveLearner(random_state=0).fit(X.astype(np.float32))
    batch = learner.query(4)
    assert sorted(y[batch].tolist()) == [0, 1, 2, 3]  # the four coarsest regions
    taught = []
    for _ in range(3):  # one class only: still cold, one clip at a time
        first = learner.query(1)
        assert first[0] not in taught
        taught.append(int(first[0]))
        learner.teach(first, [0])
    assert taught == batch[:3].tolist()  # the same order, consumed label by label
    assert len(fits) == 1


# -- hostile input (issue 12, item 8) -------------------------------------------------


def test_non_finite_pool_rows_are_refused_at_fit_naming_the_row():
    X, _ = make_classification(60, n_features=5, random_state=0)
    for bad in (np.nan, np.inf):
        X_bad = X.copy()
        X_bad[17, 2] = bad
        with pytest.raises(ValueError, match=r"X\[17\] holds NaN or infinite values \(1 such"):
            ActiveLearner(random_state=0).fit(X_bad)
    sparse_bad = sp.csr_matrix(X)
    sparse_bad.data[np.flatnonzero(sparse_bad.indices == 4)[9]] = np.nan
    with pytest.raises(ValueError, match=r"X\[9\] holds NaN"):
        ActiveLearner(random_state=0).fit(sparse_bad)
    # A huge but finite float32 row is not flagged (row sums are taken in float64).
    X_big = X.astype(np.float32)
    X_big[3] = np.finfo(np.float32).max
    ActiveLearner(random_state=0).fit(X_big)
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"X_val\[1\] holds NaN"):
        ActiveLearner(random_state=0).fit(X, X_val=np.vstack([X[:1], X_bad[17:18]]),
                                          y_val=[0, 1])
    with pytest.raises(ValueError, match=r"X\[0\] holds NaN"):
        learner.add_labeled(np.full((1, 5), np.nan), ["a"])


def test_an_estimator_that_takes_missing_values_gets_them():
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = make_classification(80, n_features=5, random_state=0)
    X[5, 1] = np.nan
    learner = ActiveLearner(HistGradientBoostingClassifier(max_iter=5), random_state=0).fit(X)
    first = learner.query(4)
    learner.teach(first, y[first])
    batch = learner.query(4)
    learner.teach(batch, y[batch])
    assert learner.n_labels_ == 8


def test_nan_labels_are_refused_wherever_they_come_in():
    X, _ = make_classification(40, n_features=5, random_state=0)
    y = np.full(40, -1, dtype=object)
    y[[0, 3]] = [float("nan"), "a"]
    with pytest.raises(ValueError, match=r"y\[0\] is nan, which cannot be a class label"):
        ActiveLearner().fit(X, y)
    y_float = np.full(40, -1.0)
    y_float[[2, 5]] = [np.nan, 1.0]
    with pytest.raises(ValueError, match=r"y\[2\] is nan"):
        ActiveLearner().fit(X, y_float)
    learner = ActiveLearner(random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"labels\[1\] is nan"):
        learner.teach([0, 1], ["a", float("nan")])
    with pytest.raises(ValueError, match=r"y_val\[0\] is nan"):
        ActiveLearner().fit(X[:30], X_val=X[30:32], y_val=[np.nan, 1.0])
    assert learner.n_labels_ == 0


@pytest.mark.parametrize("call", ["query", "teach", "query_scores", "stopping_hint"])
def test_using_a_learner_before_fit_says_to_call_fit_first(call):
    from sklearn.exceptions import NotFittedError

    learner = ActiveLearner()
    args = {"query": (2,), "teach": ([0], ["a"])}.get(call, ())
    with pytest.raises(NotFittedError, match=r"call fit\(X_pool\) first .* then query\(\)"):
        getattr(learner, call)(*args)
