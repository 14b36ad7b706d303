"""Query scorers: hand-computed values, response handling, factory and registry."""

import pickle
import warnings
from functools import partial

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression

from skaloe.active import (
    entropy_score,
    get_query_scorer,
    get_query_scorer_names,
    largest_margin_score,
    least_confidence_score,
    make_query_scorer,
    margin_score,
    norm_score,
    random_score,
)

# Three rows: confident, hesitant, uniform.
P = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [1 / 3, 1 / 3, 1 / 3]])

# Expected values on P, by hand:
EXPECTED_ON_P = {
    # 1 - (0.7 - 0.2), 1 - (0.4 - 0.35), 1 - (1/3 - 1/3)
    "margin": [0.5, 0.95, 1.0],
    # 1 - (0.7 - 0.1), 1 - (0.4 - 0.25), 1 - 0
    "largest_margin": [0.4, 0.85, 1.0],
    # 1 - 0.7, 1 - 0.4, 1 - 1/3
    "least_confidence": [0.3, 0.6, 2 / 3],
    # -(0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1) = 0.249672 + 0.321888 + 0.230259
    # -(0.4 ln 0.4 + 0.35 ln 0.35 + 0.25 ln 0.25) = 0.366516 + 0.367438 + 0.346574
    # ln 3
    "entropy": [0.801819, 1.080528, 1.098612],
    # sqrt(0.3^2 + 0.2^2 + 0.1^2) = sqrt(0.14)
    # sqrt(0.6^2 + 0.35^2 + 0.25^2) = sqrt(0.545)
    # sqrt((2/3)^2 + 2 (1/3)^2) = sqrt(2/3)
    "norm": [0.374166, 0.738241, 0.816497],
}

SCORE_FUNCTIONS = {
    "margin": margin_score,
    "largest_margin": largest_margin_score,
    "least_confidence": least_confidence_score,
    "entropy": entropy_score,
    "norm": norm_score,
}


@pytest.fixture(scope="module")
def multiclass_data():
    X, y = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def multiclass_logreg(multiclass_data):
    X, y = multiclass_data
    return LogisticRegression().fit(X, y)


@pytest.fixture(scope="module")
def binary_data():
    X, y = make_blobs(n_samples=40, centers=2, n_features=3, cluster_std=4.0, random_state=1)
    return X, y


@pytest.fixture(scope="module")
def binary_logreg(binary_data):
    X, y = binary_data
    return LogisticRegression().fit(X, y)


# --- Score functions on probabilities ------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCORE_FUNCTIONS))
def test_score_functions_hand_computed(name):
    assert_allclose(SCORE_FUNCTIONS[name](P), EXPECTED_ON_P[name], atol=1e-6)


@pytest.mark.parametrize("name", sorted(SCORE_FUNCTIONS))
def test_registered_scorer_scores_probabilities_with_its_function(name):
    scorer = get_query_scorer(name)
    assert scorer.response_method == "predict_proba"
    assert scorer.score_func is SCORE_FUNCTIONS[name]
    assert_allclose(scorer.score_response(P), EXPECTED_ON_P[name], atol=1e-6)


def test_most_uncertain_row_ranks_first():
    for name in SCORE_FUNCTIONS:
        scores = get_query_scorer(name).score_response(P)
        assert np.argmax(scores) == 2, name
        assert np.argmin(scores) == 0, name


def test_two_classes_margin_and_least_confidence_agree():
    p1 = np.array([0.55, 0.9, 0.7, 0.51, 0.99, 0.6])
    p = np.column_stack([p1, 1 - p1])
    # margin = 1 - (p1 - (1 - p1)) = 2 (1 - p1) = 2 * least confidence
    assert_allclose(margin_score(p), 2 * least_confidence_score(p))
    assert_allclose(largest_margin_score(p), margin_score(p))
    order = np.argsort(-margin_score(p))
    for func in (least_confidence_score, entropy_score, norm_score):
        assert_array_equal(np.argsort(-func(p)), order)


@pytest.mark.parametrize("n_classes", [2, 3, 5, 12])
def test_uniform_maximises_entropy_and_norm(n_classes):
    uniform = np.full((1, n_classes), 1 / n_classes)
    assert_allclose(entropy_score(uniform), [np.log(n_classes)])
    assert_allclose(norm_score(uniform), [np.sqrt((n_classes - 1) / n_classes)])
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(n_classes), size=200)
    assert np.all(entropy_score(p) <= np.log(n_classes) + 1e-12)
    assert np.all(norm_score(p) <= np.sqrt((n_classes - 1) / n_classes) + 1e-12)


def test_one_hot_rows_score_zero_without_warnings():
    one_hot = np.eye(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            entropy = entropy_score(one_hot)
            norm = norm_score(one_hot)
    assert_array_equal(entropy, np.zeros(4))
    assert not np.any(np.signbit(entropy))  # +0.0, not -0.0
    assert_array_equal(norm, np.zeros(4))
    assert_allclose(margin_score(one_hot), np.zeros(4))
    assert_allclose(least_confidence_score(one_hot), np.zeros(4))


def test_zero_probabilities_contribute_nothing_to_entropy():
    # -(0.5 ln 0.5 + 0.5 ln 0.5 + 0) = ln 2 = 0.693147
    with np.errstate(all="raise"):
        assert_allclose(entropy_score([[0.5, 0.5, 0.0]]), [0.693147], atol=1e-6)


def test_ties_give_finite_scores():
    tied = np.array([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5], [0.0, 0.0, 0.0]])
    for name, func in SCORE_FUNCTIONS.items():
        scores = func(tied)
        assert np.all(np.isfinite(scores)), name
    # 1 - (0.5 - 0.5), 1 - (0.5 - 0.25), 1 - (0 - 0)
    assert_allclose(margin_score(tied), [1.0, 0.75, 1.0])


@pytest.mark.parametrize("name", sorted(SCORE_FUNCTIONS))
def test_one_column_scores_zero(name):
    one_class = np.ones((3, 1))
    assert_array_equal(SCORE_FUNCTIONS[name](one_class), np.zeros(3))
    for response_method in ("predict_proba", "decision_function"):
        scorer = get_query_scorer(name, response_method=response_method)
        assert_array_equal(scorer.score_response(one_class), np.zeros(3))


def test_score_functions_reject_1d_input_and_nan():
    with pytest.raises(ValueError, match=r"2-D array of shape \(n_samples, n_classes\)"):
        margin_score(np.array([0.1, 0.9]))
    with pytest.raises(ValueError, match="NaN"):
        entropy_score(np.array([[np.nan, 1.0]]))


def test_empty_response_gives_empty_scores():
    for name in get_query_scorer_names():
        scores = get_query_scorer(name).score_response(np.empty((0, 3)), random_state=0)
        assert scores.shape == (0,)


def test_input_is_not_modified():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]], dtype=np.float32)
    before = logits.copy()
    for name in get_query_scorer_names():
        get_query_scorer(name, response_method="decision_function").score_response(logits)
    assert_array_equal(logits, before)


# --- Decision function (logits) --------------------------------------------------------

LOGITS = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])

# Expected on LOGITS, by hand. Margins and confidence use the raw values:
EXPECTED_ON_LOGITS = {
    "margin": [0.0, -2.0],  # 1 - (2 - 1), 1 - (3 - 0)
    "largest_margin": [-1.0, -2.0],  # 1 - (2 - 0), 1 - (3 - 0)
    "least_confidence": [-1.0, -2.0],  # 1 - 2, 1 - 3
    # Entropy and norm after softmax:
    # row 0: S = e^2 + e + 1 = 11.107338, p = [0.665241, 0.244728, 0.090031],
    #   H = ln S - sum p z = 2.407606 - (2 * 0.665241 + 0.244728) = 0.832396
    #   norm^2 = 0.334759^2 + 0.244728^2 + 0.090031^2 = 0.180062 -> 0.424337
    # row 1: S = 2 + e^3 = 22.085537, p = [0.045278, 0.045278, 0.909443],
    #   H = ln S - 3 * 0.909443 = 3.094993 - 2.728329 = 0.366664 (to ~1e-4)
    #   norm^2 = 2 * 0.045278^2 + 0.090557^2 = 0.012301 -> 0.110909
    "entropy": [0.832396, 0.366594],
    "norm": [0.424336, 0.110909],
}


@pytest.mark.parametrize("name", sorted(SCORE_FUNCTIONS))
def test_decision_function_scores_hand_computed(name):
    scorer = get_query_scorer(name, response_method="decision_function")
    assert scorer.response_method == "decision_function"
    assert_allclose(scorer.score_response(LOGITS), EXPECTED_ON_LOGITS[name], atol=1e-5)


def test_entropy_and_norm_on_logits_equal_those_on_their_probabilities():
    # logits = ln P + 5: the softmax gives P back; margins see ln-differences.
    logits = np.log(P) + 5.0
    for name in ("entropy", "norm"):
        scorer = get_query_scorer(name, response_method="decision_function")
        assert_allclose(scorer.score_response(logits), EXPECTED_ON_P[name], atol=1e-6)
    # 1 - ln(0.7 / 0.2) = 1 - ln 3.5 = -0.252763; 1 - ln(0.4 / 0.35) = 0.866469; 1 - 0
    margin = get_query_scorer("margin", response_method="decision_function")
    assert_allclose(margin.score_response(logits), [-0.252763, 0.866469, 1.0], atol=1e-6)


def test_softmax_is_stable_for_large_logits():
    logits = np.array([[1000.0, 999.0, -1000.0], [-1e4, -1e4, -1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("entropy", "norm"):
            scorer = get_query_scorer(name, response_method="decision_function")
            scores = scorer.score_response(logits)
            assert np.all(np.isfinite(scores)), name
    entropy = get_query_scorer("entropy", response_method="decision_function")
    assert_allclose(entropy.score_response(logits)[1], np.log(3))


# Binary decision_function output d of shape (n,), scored as [-d/2, d/2].
D = np.array([2.0, -0.5, 0.0])

EXPECTED_ON_BINARY_D = {
    "margin": [-1.0, 0.5, 1.0],  # 1 - |d|
    "largest_margin": [-1.0, 0.5, 1.0],  # 1 - |d|
    "least_confidence": [0.0, 0.75, 1.0],  # 1 - |d|/2
    # softmax([-d/2, d/2]) = [1 - s, s], s = sigmoid(d)
    # d = 2: s = 0.880797, H = 0.880797 * 0.126928 + 0.119203 * 2.126928 = 0.365334
    # d = -0.5: s = 0.377541, H = 0.622459 * 0.474077 + 0.377541 * 0.974077 = 0.662847
    # d = 0: ln 2
    "entropy": [0.365334, 0.662847, 0.693147],
    # sqrt(2) * (1 - max(s, 1 - s)): sqrt(2) * 0.119203, sqrt(2) * 0.377541, sqrt(1/2)
    "norm": [0.168579, 0.533923, 0.707107],
}


@pytest.mark.parametrize("name", sorted(SCORE_FUNCTIONS))
def test_binary_1d_decision_function(name):
    scorer = get_query_scorer(name, response_method="decision_function")
    assert_allclose(scorer.score_response(D), EXPECTED_ON_BINARY_D[name], atol=1e-6)


def test_1d_probabilities_are_rejected():
    with pytest.raises(ValueError, match="predict_proba returned an array of shape"):
        get_query_scorer("margin").score_response(np.array([0.2, 0.9]))


# --- dtype ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["entropy", "largest_margin", "least_confidence",
                                  "margin", "norm", "random"])
@pytest.mark.parametrize("response_method", ["predict_proba", "decision_function"])
def test_float32_in_float32_out(name, response_method):
    scorer = get_query_scorer(name, response_method=response_method)
    scores = scorer.score_response(P.astype(np.float32), random_state=0)
    assert scores.dtype == np.float32
    assert scores.shape == (3,)
    if response_method == "decision_function":
        binary = scorer.score_response(D.astype(np.float32), random_state=0)
        assert binary.dtype == np.float32
    if name != "random" and response_method == "predict_proba":
        assert_allclose(scores, EXPECTED_ON_P[name], atol=1e-6)


def test_integer_and_list_input_become_float64():
    scores = margin_score([[1, 0], [0, 1]])
    assert scores.dtype == np.float64
    assert_array_equal(scores, [0.0, 0.0])


def test_large_float32_chunk():
    # The size of a chunk the learner scores: 100k candidates, 12 classes.
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((100_000, 12), dtype=np.float32)
    for name in get_query_scorer_names():
        scorer = get_query_scorer(name, response_method="decision_function")
        scores = scorer.score_response(logits, random_state=0)
        assert scores.shape == (logits.shape[0],)
        assert scores.dtype == np.float32
        assert np.all(np.isfinite(scores))
    # Same values as a sort-based computation.
    u_sort = np.sort(logits, axis=1)
    assert_array_equal(margin_score(logits), 1 - (u_sort[:, -1] - u_sort[:, -2]))


# --- random ---------------------------------------------------------------------------


def test_random_score_reproducible_by_random_state():
    p = np.full((50, 3), 1 / 3)
    first = random_score(p, random_state=0)
    assert first.shape == (50,)
    assert np.all((first >= 0) & (first < 1))
    assert_array_equal(first, random_score(p, random_state=0))
    assert not np.array_equal(first, random_score(p, random_state=1))
    # Same seed through a RandomState gives the same draws as the int.
    assert_array_equal(first, random_score(p, random_state=np.random.RandomState(0)))
    generator_draws = random_score(p, random_state=np.random.default_rng(0))
    assert_array_equal(generator_draws, random_score(p, random_state=np.random.default_rng(0)))
    assert not np.array_equal(
        generator_draws, random_score(p, random_state=np.random.default_rng(1))
    )
    # A RandomState or Generator instance is advanced: successive calls differ.
    rng = np.random.default_rng(0)
    assert not np.array_equal(random_score(p, random_state=rng), random_score(p, random_state=rng))


def test_random_scorer_passes_random_state():
    scorer = get_query_scorer("random")
    p = np.full((20, 2), 0.5)
    assert_array_equal(
        scorer.score_response(p, random_state=3), random_score(p, random_state=3)
    )
    assert not np.array_equal(
        scorer.score_response(p, random_state=3), scorer.score_response(p, random_state=4)
    )
    # A random_state fixed at construction is used unless one is given at call time.
    fixed = make_query_scorer(random_score, random_state=7)
    assert_array_equal(fixed.score_response(p), random_score(p, random_state=7))
    assert_array_equal(fixed.score_response(p, random_state=3), random_score(p, random_state=3))


def test_random_state_not_passed_to_functions_without_it():
    # margin_score has no random_state parameter: passing one must not fail.
    assert_allclose(
        get_query_scorer("margin").score_response(P, random_state=0), EXPECTED_ON_P["margin"]
    )


# --- make_query_scorer --------------------------------------------------------------


def top_k_gap(y_response, k=2):
    """1 - (largest - k-th largest): a custom score function with a keyword."""
    top = -np.sort(-np.asarray(y_response), axis=1)
    return 1 - (top[:, 0] - top[:, k - 1])


def noisy_margin(y_response, *, random_state=None):
    rng = np.random.RandomState(random_state)
    return margin_score(y_response) + 1e-3 * rng.random_sample(len(y_response))


def test_make_query_scorer_with_custom_function_and_kwargs():
    scorer = make_query_scorer(top_k_gap, k=3)
    assert scorer.score_func is top_k_gap
    assert scorer.response_method == "predict_proba"
    # same as largest margin for 3 classes
    assert_allclose(scorer.score_response(P), EXPECTED_ON_P["largest_margin"])
    assert_allclose(make_query_scorer(top_k_gap).score_response(P), EXPECTED_ON_P["margin"])


def test_custom_function_receives_random_state():
    scorer = make_query_scorer(noisy_margin)
    assert_array_equal(
        scorer.score_response(P, random_state=5), noisy_margin(P, random_state=5)
    )


def test_partial_of_entropy_gets_probabilities_on_decision_function():
    scorer = make_query_scorer(partial(entropy_score), response_method="decision_function")
    assert_allclose(scorer.score_response(LOGITS), EXPECTED_ON_LOGITS["entropy"], atol=1e-5)
    assert repr(scorer).startswith("make_query_scorer(functools.partial(<function entropy_score")


class UnhashableScore:
    __hash__ = None

    def __call__(self, y_response):
        return margin_score(y_response)


def test_unhashable_callable_score_function():
    scorer = make_query_scorer(UnhashableScore(), response_method="decision_function")
    assert_allclose(scorer.score_response(LOGITS), EXPECTED_ON_LOGITS["margin"])


def test_repr_echoes_the_factory_call():
    assert repr(get_query_scorer("margin")) == (
        "make_query_scorer(margin_score, response_method='predict_proba')"
    )
    assert repr(get_query_scorer("entropy", response_method="decision_function")) == (
        "make_query_scorer(entropy_score, response_method='decision_function')"
    )
    assert repr(make_query_scorer(top_k_gap, response_method="decision_function", k=3)) == (
        "make_query_scorer(top_k_gap, response_method='decision_function', k=3)"
    )


@pytest.mark.parametrize("response_method", ["predict", "transform", None, "PREDICT_PROBA"])
def test_make_query_scorer_rejects_bad_response_method(response_method):
    with pytest.raises(ValueError, match="response_method must be one of"):
        make_query_scorer(margin_score, response_method=response_method)
    with pytest.raises(ValueError, match="response_method must be one of"):
        get_query_scorer("margin").with_response_method(response_method)


def test_make_query_scorer_rejects_non_callable():
    with pytest.raises(TypeError, match="score_func must be a callable"):
        make_query_scorer("margin")


def test_with_response_method_returns_a_copy():
    scorer = make_query_scorer(top_k_gap, k=3)
    other = scorer.with_response_method("decision_function")
    assert other is not scorer
    assert other.response_method == "decision_function"
    assert scorer.response_method == "predict_proba"
    assert repr(other) == "make_query_scorer(top_k_gap, response_method='decision_function', k=3)"


# --- get_query_scorer / get_query_scorer_names --------------------------------------


def test_get_query_scorer_names():
    names = get_query_scorer_names()
    assert names == ["entropy", "largest_margin", "least_confidence", "margin", "norm", "random"]
    assert names == sorted(names)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'smallest_margin' is not a query scorer name") as info:
        get_query_scorer("smallest_margin")
    for name in get_query_scorer_names():
        assert repr(name) in str(info.value)


def test_get_query_scorer_returns_copies():
    first = get_query_scorer("margin")
    second = get_query_scorer("margin")
    assert first is not second
    first._kwargs["k"] = 3
    first._response_method = "decision_function"
    fresh = get_query_scorer("margin")
    assert fresh._kwargs == {}
    assert fresh.response_method == "predict_proba"


def test_get_query_scorer_with_a_scorer():
    scorer = make_query_scorer(top_k_gap, k=3)
    assert get_query_scorer(scorer) is scorer
    overridden = get_query_scorer(scorer, response_method="decision_function")
    assert overridden is not scorer
    assert overridden.response_method == "decision_function"
    assert scorer.response_method == "predict_proba"


def custom_query_scorer(estimator, X):
    return -estimator.predict_proba(X).max(axis=1)


def test_custom_callable_passes_through(multiclass_logreg, multiclass_data):
    assert get_query_scorer(custom_query_scorer) is custom_query_scorer
    X, _ = multiclass_data
    assert get_query_scorer(custom_query_scorer)(multiclass_logreg, X).shape == (len(X),)
    with pytest.raises(ValueError, match="cannot be applied to the custom callable"):
        get_query_scorer(custom_query_scorer, response_method="decision_function")


@pytest.mark.parametrize("scoring", [None, 3, ["margin"]])
def test_get_query_scorer_rejects_other_types(scoring):
    with pytest.raises(TypeError, match="scoring must be a query scorer name"):
        get_query_scorer(scoring)


@pytest.mark.parametrize("name", get_query_scorer_names())
@pytest.mark.parametrize("response_method", ["predict_proba", "decision_function"])
def test_pickle_round_trip(name, response_method):
    scorer = get_query_scorer(name, response_method=response_method)
    restored = pickle.loads(pickle.dumps(scorer))
    assert repr(restored) == repr(scorer)
    assert restored.score_func is scorer.score_func
    assert_array_equal(
        restored.score_response(LOGITS, random_state=0),
        scorer.score_response(LOGITS, random_state=0),
    )


def test_pickle_custom_scorer_with_kwargs():
    scorer = make_query_scorer(top_k_gap, k=3)
    restored = pickle.loads(pickle.dumps(scorer))
    assert repr(restored) == repr(scorer)
    assert_allclose(restored.score_response(P), EXPECTED_ON_P["largest_margin"])


# --- On a fitted LogisticRegression -------------------------------------------------


@pytest.mark.parametrize("name", get_query_scorer_names())
@pytest.mark.parametrize("response_method", ["predict_proba", "decision_function"])
@pytest.mark.parametrize("task", ["multiclass", "binary"])
def test_scorer_on_fitted_logistic_regression(
    name, response_method, task, multiclass_logreg, multiclass_data, binary_logreg, binary_data
):
    estimator, (X, _) = {
        "multiclass": (multiclass_logreg, multiclass_data),
        "binary": (binary_logreg, binary_data),
    }[task]
    scorer = get_query_scorer(name, response_method=response_method)
    scores = scorer(estimator, X, random_state=0)
    assert scores.shape == (X.shape[0],)
    assert np.all(np.isfinite(scores))
    if response_method == "predict_proba" or name in ("entropy", "norm"):
        # on probabilities (or their softmax), both methods agree for entropy/norm
        assert_allclose(
            scores, get_query_scorer(name)(estimator, X, random_state=0), atol=1e-10
        )


def test_binary_decision_margin_is_absolute_decision_value(binary_logreg, binary_data):
    X, _ = binary_data
    decision = binary_logreg.decision_function(X)
    assert decision.ndim == 1
    scorer = get_query_scorer("margin", response_method="decision_function")
    assert_allclose(scorer(binary_logreg, X), 1 - np.abs(decision))


def test_aloe_acquisition_equals_margin_on_decision_function(multiclass_logreg, multiclass_data):
    X, _ = multiclass_data
    # ALOE utils.py: u = model.predict(X) (logits); u_sort = np.sort(u);
    # vals = 1. - (u_sort[:,-1] - u_sort[:,-2]); query argmax(vals)
    u = multiclass_logreg.decision_function(X)
    u_sort = np.sort(u)
    aloe_vals = 1.0 - (u_sort[:, -1] - u_sort[:, -2])
    scorer = get_query_scorer("margin", response_method="decision_function")
    scores = scorer(multiclass_logreg, X)
    assert_allclose(scores, aloe_vals, rtol=0, atol=1e-12)
    assert np.argmax(scores) == np.argmax(aloe_vals)


def test_missing_response_method_says_what_to_do(binary_data):
    from sklearn.svm import LinearSVC

    X, y = binary_data
    svc = LinearSVC().fit(X, y)
    with pytest.raises(AttributeError, match="response_method='decision_function'"):
        get_query_scorer("margin")(svc, X)
    assert get_query_scorer("margin", response_method="decision_function")(svc, X).shape == (
        len(X),
    )
