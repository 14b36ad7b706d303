"""Tests of the stopping rules (skaloe.active._stopping)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import cohen_kappa_score

from skaloe.active import (
    ActiveLearner,
    PlateauStopping,
    StabilizingPredictions,
    stopping_hint,
)


class StandInLearner:
    """The public state of an ActiveLearner that a stopping rule may read, and no more.

    ``__slots__`` leaves no room for anything else: a rule that reads a
    private attribute of the learner (``_pool``, ``_final``, ``_val``...)
    fails on this object with an AttributeError.
    """

    __slots__ = (
        "validation_score_", "n_labels_", "n_pool_", "classes_", "estimator_", "predict_pool",
    )

    def __init__(self, *, n_labels, validation_score=None, pool_predictions=(0, 1),
                 classes=(0, 1), has_model=True, asked=None):
        pool_predictions = np.asarray(pool_predictions, dtype=object if any(
            isinstance(v, str) or v is None for v in pool_predictions) else None)
        self.validation_score_ = validation_score
        self.n_labels_ = n_labels
        self.n_pool_ = len(pool_predictions)
        self.classes_ = np.asarray(classes)
        self.estimator_ = "a fitted model" if has_model else None

        def predict_pool(indices):
            if asked is not None:
                asked.append(np.array(indices))
            return pool_predictions[indices]

        self.predict_pool = predict_pool


def scored(score, n_labels):
    """A learner whose latest model scored ``score`` on its validation set."""
    return StandInLearner(n_labels=n_labels, validation_score=score)


def predicting(pool_predictions, n_labels=0, **state):
    """A learner whose model predicts ``pool_predictions`` for its whole pool."""
    return StandInLearner(n_labels=n_labels, pool_predictions=pool_predictions, **state)


def test_stand_in_learner_exposes_public_state_only():
    learner = scored(0.5, 10)
    for private in ("_pool", "_final", "_val", "_extra_y", "_n_labels"):
        with pytest.raises(AttributeError):
            getattr(learner, private)
    assert not hasattr(learner, "__dict__")


# -- PlateauStopping ----------------------------------------------------------


def _feed(rule, scores, n_labels=None):
    """Update with every score; the n_labels of the updates that returned True.

    n_labels defaults to 10, 20, 30, ...
    """
    n_labels = n_labels or [10 * i for i in range(1, len(scores) + 1)]
    return [n for score, n in zip(scores, n_labels) if rule.update(scored(score, n))]


def test_plateau_stops_exactly_after_patience_flat_updates():
    rule = PlateauStopping(patience=3, min_delta=0.01)
    scores = [0.5, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8]
    said = _feed(rule, scores)
    # best at update 4 (40 labels); updates 5, 6, 7 bring nothing: stop at 70 labels
    assert said[0] == 70
    assert rule.stopped_at_ == 70
    assert rule.stop_ is True
    assert rule.best_score_ == 0.8
    assert rule.best_update_ == 4
    assert rule.best_n_labels_ == 40
    assert rule.n_updates_ == 8
    assert rule.wait_ == 4
    assert [h["improved"] for h in rule.history_] == [True] * 4 + [False] * 4
    assert [h["score"] for h in rule.history_] == scores
    assert [h["n_labels"] for h in rule.history_] == [10 * i for i in range(1, 9)]


def test_plateau_stopped_at_stays_after_a_later_improvement():
    rule = PlateauStopping(patience=2, min_delta=0.0)
    said = _feed(rule, [0.5, 0.7, 0.7, 0.65, 0.9], n_labels=[10, 20, 30, 40, 50])
    assert said == [40]
    assert rule.stopped_at_ == 40
    # a later improvement lifts stop_, but the first stop point stays recorded
    assert rule.stop_ is False
    assert rule.best_score_ == 0.9 and rule.best_n_labels_ == 50
    assert rule.stopped_at_ == 40


def test_plateau_noise_under_min_delta_is_no_improvement():
    rule = PlateauStopping(patience=4, min_delta=0.005)
    # wiggles of at most 0.004 above the best never count
    said = _feed(rule, [0.80, 0.804, 0.801, 0.803, 0.8049])
    assert said == [50]
    assert rule.best_score_ == 0.80
    # exactly min_delta is not "more than" min_delta
    rule = PlateauStopping(patience=1, min_delta=0.25)
    assert rule.update(scored(0.5, 1)) is False
    assert rule.update(scored(0.75, 2)) is True


def test_plateau_slow_drift_adds_up_to_an_improvement():
    rule = PlateauStopping(patience=2, min_delta=0.005)
    # +0.003 per update: the third one is 0.006 over the reference best
    said = _feed(rule, [0.800, 0.803, 0.806, 0.809, 0.812])
    assert said == []
    assert [h["improved"] for h in rule.history_] == [True, False, True, False, True]


def test_plateau_mode_min():
    rule = PlateauStopping(patience=2, min_delta=0.01, mode="min")
    said = _feed(rule, [1.0, 0.8, 0.6, 0.595, 0.61, 0.5])
    assert said == [50]
    assert rule.stopped_at_ == 50
    assert rule.best_score_ == 0.5  # the last update improved again
    assert rule.stop_ is False
    # rising scores never improve a loss
    rule = PlateauStopping(patience=2, min_delta=0.0, mode="min")
    assert _feed(rule, [0.1, 0.2, 0.3]) == [30]


def test_plateau_without_a_score_changes_nothing():
    # While the learner has no model (fewer than two classes) it has no score.
    rule = PlateauStopping(patience=1)
    no_model = StandInLearner(n_labels=1, validation_score=None, has_model=False)
    assert rule.update(no_model) is False
    assert rule.n_updates_ == 0 and rule.history_ == []
    _feed(rule, [0.5, 0.5])
    assert rule.update(no_model) is True  # the stop stands
    assert rule.n_updates_ == 2


def test_plateau_reset():
    rule = PlateauStopping(patience=1)
    _feed(rule, [0.5, 0.5], n_labels=[1, 2])
    assert rule.stop_
    assert rule.reset() is rule
    assert rule.n_updates_ == 0
    assert rule.best_score_ is None and rule.best_n_labels_ is None
    assert rule.stop_ is False and rule.stopped_at_ is None
    assert rule.history_ == [] and rule.wait_ == 0
    assert rule.update(scored(0.5, 3)) is False  # the first score after reset is the best


def test_plateau_accepts_numpy_scores():
    rule = PlateauStopping(patience=1)
    rule.update(scored(np.float32(0.5), np.int64(3)))
    assert type(rule.best_score_) is float
    assert type(rule.best_n_labels_) is int and rule.best_n_labels_ == 3


@pytest.mark.parametrize("score", [float("nan"), float("inf"), "0.5", [0.5]])
def test_plateau_bad_score(score):
    with pytest.raises(ValueError, match="validation_score_ is .*needs a finite number"):
        PlateauStopping().update(scored(score, 10))


def test_plateau_refuses_a_learner_with_a_model_and_no_validation_score():
    rule = PlateauStopping()
    with pytest.raises(ValueError, match="no validation score: pass X_val and y_val"):
        rule.update(StandInLearner(n_labels=10, validation_score=None, has_model=True))


def test_plateau_describe():
    rule = PlateauStopping(patience=5, min_delta=0.005, name="validation accuracy")
    assert rule.describe() == "no validation accuracy yet: keep labeling"
    rule.update(scored(0.842, 312))
    assert rule.describe() == (
        "validation accuracy improved in the last round (best 0.842 at 312 labels): "
        "keep labeling"
    )
    for n in range(4):
        rule.update(scored(0.84, 320 + n))
    assert rule.describe() == (
        "validation accuracy has not improved by more than 0.005 for 4 of 5 rounds "
        "(best 0.842 at 312 labels): keep labeling"
    )
    assert rule.update(scored(0.845, 330))
    assert rule.describe() == (
        "validation accuracy has not improved by more than 0.005 for 5 rounds "
        "(best 0.842 at 312 labels): you can stop"
    )


# -- the rules as scikit-learn estimators ---------------------------------------


def test_rules_repr_and_get_params_as_in_scikit_learn():
    rule = PlateauStopping(patience=3, mode="min")
    assert rule.get_params() == {
        "patience": 3, "min_delta": 0.005, "mode": "min", "name": "validation score"
    }
    assert repr(rule) == "PlateauStopping(mode='min', patience=3)"
    assert repr(StabilizingPredictions()) == "StabilizingPredictions()"
    assert repr(StabilizingPredictions(window=2, random_state=0)) == (
        "StabilizingPredictions(random_state=0, window=2)"
    )


def test_init_stores_parameters_untouched_and_sets_nothing_else():
    odd = object()
    rule = PlateauStopping(patience=0, min_delta=odd, mode="maximum", name=3)
    assert vars(rule) == {"patience": 0, "min_delta": odd, "mode": "maximum", "name": 3}
    rule = StabilizingPredictions(window=-1, threshold="high")
    assert set(vars(rule)) == {"window", "threshold", "stop_set_size", "aggregate",
                               "random_state"}


def test_clone_gives_an_unfitted_rule_with_the_same_parameters():
    rule = PlateauStopping(patience=1, min_delta=0.1, name="f1")
    _feed(rule, [0.5, 0.5])
    assert rule.stop_
    copy = clone(rule)
    assert copy is not rule
    assert copy.get_params() == rule.get_params()
    assert not hasattr(copy, "stop_") and not hasattr(copy, "history_")
    assert copy.describe() == "no f1 yet: keep labeling"
    stable = StabilizingPredictions(window=2, stop_set_size=3, random_state=5)
    stable.update(predicting(np.arange(20) % 3))
    copy = clone(stable)
    assert copy.get_params() == stable.get_params()
    assert not hasattr(copy, "stop_set_indices_")
    copy.update(predicting(np.arange(20) % 3))  # random_state=5: the same stop set
    np.testing.assert_array_equal(copy.stop_set_indices_, stable.stop_set_indices_)


def test_set_params_changes_the_rule():
    rule = PlateauStopping(patience=5).set_params(patience=1, min_delta=0.0)
    assert rule.get_params()["patience"] == 1
    assert _feed(rule, [0.5, 0.5]) == [20]  # patience 5 would not stop yet


@pytest.mark.parametrize(
    "rule, match",
    [
        (PlateauStopping(patience=0), r"'patience' parameter of PlateauStopping .* Got 0"),
        (PlateauStopping(patience=2.5), r"'patience' .* Got 2.5"),
        (PlateauStopping(min_delta=-0.1), r"'min_delta' .* Got -0.1"),
        (PlateauStopping(min_delta=float("nan")), r"'min_delta' .* Got nan"),
        (PlateauStopping(min_delta=float("inf")), r"'min_delta' .* Got inf"),
        (PlateauStopping(mode="maximum"), r"'mode' .*\{.*'max'.*\}. Got 'maximum'"),
        (PlateauStopping(name=3), r"'name' .* Got 3"),
        (StabilizingPredictions(window=0), r"'window' parameter of StabilizingPredictions"),
        (StabilizingPredictions(window=1.5), r"'window' .* Got 1.5"),
        (StabilizingPredictions(threshold=1.5), r"'threshold' .*\[-1.0, 1.0\]. Got 1.5"),
        (StabilizingPredictions(threshold="high"), r"'threshold' .* Got 'high'"),
        (StabilizingPredictions(stop_set_size=0), r"'stop_set_size' .* or None. Got 0"),
        (StabilizingPredictions(stop_set_size=0.5), r"'stop_set_size' .* Got 0.5"),
        (StabilizingPredictions(aggregate="median"), r"'aggregate' .* Got 'median'"),
        (StabilizingPredictions(random_state="seed"), r"'random_state' .* Got 'seed'"),
    ],
)
def test_bad_parameters_are_refused_at_use(rule, match):
    # Construction accepted them; the first update, reset() and the learner's fit refuse.
    learner = predicting([0, 1, 1, 0], validation_score=0.5)
    with pytest.raises(ValueError, match=match):
        rule.update(learner)
    with pytest.raises(ValueError, match=match):
        rule.reset()
    X, y = _easy_task()
    with pytest.raises(ValueError, match=match):
        ActiveLearner(stopping=rule).fit(X[:300], X_val=X[300:], y_val=y[300:])


def test_bad_parameter_set_after_construction():
    rule = PlateauStopping()
    rule.patience = -1
    with pytest.raises(ValueError, match="Got -1"):
        rule.update(scored(0.5, 10))
    rule = PlateauStopping().set_params(mode="up")
    with pytest.raises(ValueError, match="Got 'up'"):
        rule.update(scored(0.5, 10))


def test_rules_say_whether_they_need_a_validation_set():
    assert PlateauStopping.needs_validation is True
    assert PlateauStopping().needs_validation is True
    assert StabilizingPredictions.needs_validation is False


def test_rules_read_only_the_public_state_of_the_learner():
    # Both rules run a whole session on stand-ins that have nothing private.
    plateau = PlateauStopping(patience=2, min_delta=0.0)
    stable = StabilizingPredictions(window=2, stop_set_size=4, random_state=0)
    pool = np.array(["a", "b"] * 5)
    rounds = [
        StandInLearner(n_labels=0, pool_predictions=pool, classes=(), has_model=False),
        StandInLearner(n_labels=1, pool_predictions=pool, classes=("a",), has_model=False),
        predicting(pool, n_labels=2, validation_score=0.5, classes=("a", "b")),
        predicting(pool, n_labels=3, validation_score=0.5, classes=("a", "b")),
        predicting(pool, n_labels=4, validation_score=0.5, classes=("a", "b")),
    ]
    for learner in rounds:
        plateau.update(learner)
        stable.update(learner)
    assert plateau.stopped_at_ == 4 and stable.stopped_at_ == 4
    assert stable.agreements_ == [1.0, 1.0]


# -- StabilizingPredictions: hand-made predictions ----------------------------


def _feed_predictions(rule, rounds, n_labels=None):
    """Update with the whole pool's predictions of every round; the n_labels that said stop."""
    n_labels = n_labels or [10 * i for i in range(1, len(rounds) + 1)]
    return [n for p, n in zip(rounds, n_labels) if rule.update(predicting(p, n))]


def test_stabilizing_identical_predictions_stop_after_window():
    rule = StabilizingPredictions(window=3)
    preds = [0, 1, 2, 1, 0, 2]
    assert rule.update(predicting(preds, 10)) is False  # nothing to compare yet
    assert rule.agreements_ == []
    said = [rule.update(predicting(preds, 10 + 5 * k)) for k in range(1, 5)]
    assert said == [False, False, True, True]
    assert rule.agreements_ == [1.0] * 4
    assert rule.n_labels_ == [15, 20, 25, 30]
    assert rule.stopped_at_ == 25
    assert rule.n_stable_ == 4 and rule.n_updates_ == 5


def test_stabilizing_changing_predictions_never_stop():
    rule = StabilizingPredictions(window=2, threshold=0.9)
    rng = np.random.RandomState(0)
    assert _feed_predictions(rule, [rng.randint(0, 3, size=50) for _ in range(10)]) == []
    assert len(rule.agreements_) == 9
    assert max(rule.agreements_) < 0.9
    assert rule.stopped_at_ is None
    assert rule.describe().endswith("keep labeling")


def test_stabilizing_one_change_restarts_the_count():
    rule = StabilizingPredictions(window=2, threshold=0.99)
    a = np.array(["x", "y"] * 10)
    b = a.copy()
    b[0] = "y"
    said = _feed_predictions(rule, [a, a, b, b, b])
    assert said == [50]
    assert rule.agreements_[0] == 1.0 and rule.agreements_[1] < 0.99
    assert rule.stopped_at_ == 50


def test_stabilizing_kappa_matches_sklearn():
    rng = np.random.RandomState(1)
    a, b = rng.randint(0, 3, 40), rng.randint(0, 3, 40)
    rule = StabilizingPredictions(stop_set_size=None)
    _feed_predictions(rule, [a, b])
    assert rule.agreements_[0] == pytest.approx(cohen_kappa_score(a, b))


def test_stabilizing_new_class_appearing():
    rule = StabilizingPredictions(window=1, threshold=0.5)
    rule.update(predicting(["cat", "dog", "dog", "cat"]))
    # a class absent from the previous round: compared over the union of labels
    stop = rule.update(predicting(["cat", "dog", "bird", "cat"]))
    assert 0 < rule.agreements_[-1] < 1
    assert stop is (rule.agreements_[-1] >= 0.5)
    # labels of types that do not sort together
    rule.update(predicting(np.array(["cat", 1, "bird", None], dtype=object)))
    assert np.isfinite(rule.agreements_[-1])


def test_stabilizing_single_class_identical_counts_as_agreement():
    rule = StabilizingPredictions(window=1)
    rule.update(predicting([1, 1, 1], classes=(1, 2)))
    assert rule.update(predicting([1, 1, 1], classes=(1, 2))) is True
    assert rule.agreements_ == [1.0]
    # both constant but different: no agreement beyond chance
    rule.update(predicting([2, 2, 2], classes=(1, 2)))
    assert rule.agreements_[-1] == 0.0
    assert rule.stop_ is False


def test_stabilizing_aggregate_mean():
    a = np.array([0, 1] * 50)
    b = a.copy()
    b[:2] = 1 - b[:2]  # kappa 0.96
    rounds = [a, a, a, b]  # agreements 1, 1, 0.96
    strict = StabilizingPredictions(window=3, threshold=0.97)
    mean = StabilizingPredictions(window=3, threshold=0.97, aggregate="mean")
    assert _feed_predictions(strict, rounds) == []
    assert _feed_predictions(mean, rounds) == [40]


def test_stabilizing_without_a_model_breaks_the_chain():
    # Fewer than two classes labeled: no model, nothing compared, and the next
    # comparison starts a new chain of agreements.
    rule = StabilizingPredictions(window=2)
    preds = [0, 1, 1, 0]
    rule.update(predicting(preds, 10))
    rule.update(predicting(preds, 11))
    assert rule.n_stable_ == 1
    assert rule.update(predicting(preds, 12, classes=(0,))) is False
    assert rule.update(predicting(preds, 13, has_model=False)) is False
    assert rule.n_stable_ == 0 and rule.agreements_ == [1.0] and rule.n_updates_ == 4
    assert rule.update(predicting(preds, 14)) is False  # first model of the new chain
    assert rule.update(predicting(preds, 15)) is False  # one agreement in this chain
    assert rule.update(predicting(preds, 16)) is True
    assert rule.agreements_ == [1.0] * 3 and rule.stopped_at_ == 16


def test_stabilizing_stop_set_drawn_once_with_random_state():
    pool = np.arange(50) % 4
    asked = []
    a = StabilizingPredictions(stop_set_size=10, random_state=42)
    b = StabilizingPredictions(stop_set_size=10, random_state=42)
    c = StabilizingPredictions(stop_set_size=10, random_state=7)
    for rule in (a, b, c):
        rule.update(predicting(pool, asked=asked))
    np.testing.assert_array_equal(a.stop_set_indices_, b.stop_set_indices_)
    assert not np.array_equal(a.stop_set_indices_, c.stop_set_indices_)
    assert len(np.unique(a.stop_set_indices_)) == 10
    np.testing.assert_array_equal(asked[0], a.stop_set_indices_)  # what was predicted
    first = a.stop_set_indices_.copy()
    a.update(predicting(pool, asked=asked))  # drawn once, kept
    np.testing.assert_array_equal(a.stop_set_indices_, first)
    np.testing.assert_array_equal(asked[-1], first)
    # stop_set_size None or larger than the pool: the whole pool
    for size in (None, 10_000):
        rule = StabilizingPredictions(stop_set_size=size)
        rule.update(predicting(pool))
        np.testing.assert_array_equal(rule.stop_set_indices_, np.arange(50))


def test_stabilizing_bad_predictions_and_smaller_pool():
    def wrong_shape(indices):
        return np.zeros((len(indices), 2))

    learner = predicting([0, 1, 0])
    learner.predict_pool = wrong_shape
    with pytest.raises(ValueError, match=r"shape \(3, 2\) for 3 stop-set positions"):
        StabilizingPredictions().update(learner)
    rule = StabilizingPredictions(stop_set_size=None)
    rule.update(predicting([0, 1, 0]))
    with pytest.raises(ValueError, match="pool of more than 2 samples.*reset"):
        rule.update(predicting([0, 1]))


def test_stabilizing_reset():
    rule = StabilizingPredictions(window=1)
    _feed_predictions(rule, [[0, 1], [0, 1]])
    assert rule.stop_
    assert rule.reset() is rule
    assert rule.agreements_ == [] and rule.n_labels_ == []
    assert rule.stop_ is False and rule.stopped_at_ is None
    assert rule.n_updates_ == 0 and rule.n_stable_ == 0
    assert rule.stop_set_indices_ is None
    rule.update(predicting([0, 1, 1]))  # another pool is fine after reset
    assert rule.agreements_ == [] and len(rule.stop_set_indices_) == 3


def test_stabilizing_describe():
    rule = StabilizingPredictions(window=2, threshold=0.99)
    assert rule.describe().endswith("keep labeling")
    assert "two or more classes" in rule.describe()
    preds = [0, 1, 1, 0]
    _feed_predictions(rule, [preds, preds])
    assert rule.describe() == (
        "successive models' predictions on 4 stop-set samples: last kappa 1.000, "
        "1 of 2 rounds at or above 0.99: keep labeling"
    )
    rule.update(predicting(preds))
    assert rule.describe() == (
        "successive models' predictions on 4 stop-set samples agreed (kappa >= 0.99) "
        "over the last 2 rounds (last kappa 1.000): you can stop"
    )
    rule = StabilizingPredictions(window=1, threshold=0.5, aggregate="mean")
    _feed_predictions(rule, [preds, preds])
    assert "agreed (mean kappa >= 0.5) over the last 1 rounds" in rule.describe()


def test_stopping_hint_combines_rules():
    plateau = PlateauStopping(name="validation accuracy")
    stable = StabilizingPredictions()
    hint = stopping_hint([plateau, stable])
    assert hint == plateau.describe() + "; " + stable.describe()
    assert stopping_hint(plateau) == plateau.describe()
    assert stopping_hint(rule for rule in [stable]) == stable.describe()
    with pytest.raises(ValueError, match="describe"):
        stopping_hint([plateau, 3])


# -- the rules with a real ActiveLearner --------------------------------------


def _easy_task():
    return make_classification(
        400, n_features=8, n_classes=3, n_informative=4, class_sep=2.0, random_state=0
    )


def _run_loop(rule, rounds=40, batch=3):
    X, y = _easy_task()
    learner = ActiveLearner(random_state=0).fit(X)
    for _ in range(rounds):
        positions = learner.query(batch)
        learner.teach(positions, y[positions])
        if rule.update(learner):
            break
    return learner


def test_stabilizing_stops_on_easy_task():
    rule = StabilizingPredictions(stop_set_size=150, random_state=0)
    learner = _run_loop(rule)
    assert rule.stop_ is True
    assert rule.stopped_at_ == learner.n_labels_ < 400
    assert rule.n_labels_[-1] == learner.n_labels_
    assert len(rule.stop_set_indices_) == 150
    assert all(-1 <= k <= 1 for k in rule.agreements_)
    assert min(rule.agreements_[-3:]) >= 0.99
    assert rule.describe().endswith("you can stop")


def test_stabilizing_predicts_like_the_learner():
    X, y = _easy_task()
    learner = ActiveLearner(random_state=0).fit(X, np.where(np.arange(400) < 30, y, -1))
    rule = StabilizingPredictions(window=1, stop_set_size=50, random_state=0)
    rule.update(learner)
    # The learner's own predict on the whole pool agrees perfectly on the stop set;
    # one changed label among the stop set's does not.
    predicted = learner.predict(X)
    assert rule.update(predicting(predicted, 30)) is True
    changed = predicted.copy()
    changed[rule.stop_set_indices_[0]] = (changed[rule.stop_set_indices_[0]] + 1) % 3
    rule.update(predicting(changed, 30))
    assert rule.agreements_[0] == 1.0 and rule.agreements_[1] < 1.0


def test_stabilizing_cold_start_fewer_than_two_classes():
    X, y = _easy_task()
    learner = ActiveLearner(random_state=0).fit(X)
    rule = StabilizingPredictions(window=1, stop_set_size=50, random_state=0)
    assert rule.update(learner) is False  # nothing labeled
    first = np.flatnonzero(y == 0)[:2]
    learner.teach(first, y[first])  # one class only
    assert rule.update(learner) is False
    assert rule.agreements_ == []
    assert rule.n_updates_ == 2
    assert "keep labeling" in rule.describe()
    second = np.flatnonzero(y == 1)[:2]
    learner.teach(second, y[second])
    assert rule.update(learner) is False  # first model: nothing to compare
    assert rule.agreements_ == []
    rule.update(learner)
    assert rule.agreements_ == [1.0] and rule.stop_
    assert rule.stopped_at_ == 4


def test_stabilizing_string_labels_and_new_class():
    X, y = _easy_task()
    names = np.array(["low", "mid", "high"])[y]
    learner = ActiveLearner(random_state=0).fit(X)
    rule = StabilizingPredictions(stop_set_size=60, random_state=0)
    seed = np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]])
    learner.teach(seed, names[seed])
    rule.update(learner)
    third = np.flatnonzero(y == 2)[:3]
    learner.teach(third, names[third])  # a new class: codes shift, labels do not
    rule.update(learner)
    assert len(rule.agreements_) == 1
    # The same predictions, as labels, agree perfectly with the last round.
    rule.update(predicting(learner.predict(X), learner.n_labels_))
    assert rule.agreements_[-1] == 1.0


def test_rules_refuse_a_learner_that_is_not_fitted():
    for rule in (StabilizingPredictions(), PlateauStopping()):
        with pytest.raises(ValueError, match="fitted on a pool"):
            rule.update(ActiveLearner())
        with pytest.raises(ValueError, match="fitted on a pool"):
            rule.update(object())


def test_stabilizing_refuses_a_smaller_pool():
    X, _ = _easy_task()
    rule = StabilizingPredictions(stop_set_size=None)
    rule.update(ActiveLearner(random_state=0).fit(X))
    with pytest.raises(ValueError, match="reset"):
        rule.update(ActiveLearner(random_state=0).fit(X[:100]))


def test_plateau_reads_the_learners_validation_score():
    X, y = _easy_task()
    learner = ActiveLearner(random_state=0).fit(
        X[:300], np.where(np.arange(300) < 30, y[:300], -1), X_val=X[300:], y_val=y[300:]
    )
    rule = PlateauStopping()
    rule.update(learner)
    assert rule.history_ == [{"update": 1, "n_labels": 30, "improved": True,
                              "score": learner.score(X[300:], y[300:])}]
    with pytest.raises(ValueError, match="no validation score"):
        PlateauStopping().update(ActiveLearner(random_state=0).fit(X[:30], y[:30]))


# -- the interactive learner's own stopping report --------------------------


def _split(X, y, n_pool=300):
    return X[:n_pool], X[n_pool:], y[:n_pool], y[n_pool:]


def test_learner_validation_scores_follow_each_refit():
    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    learner = ActiveLearner(random_state=0).fit(X_pool, X_val=X_val, y_val=y_val)
    assert learner.validation_score_ is None and learner.validation_scores_ == []
    for _ in range(5):
        batch = learner.query(3)
        learner.teach(batch, y_pool[batch])
    # The first rounds are cold start until two classes are labeled; every
    # later refit adds one entry, equal to the learner's own accuracy.
    assert learner.validation_scores_, "no validation score was recorded"
    last = learner.validation_scores_[-1]
    assert last["round"] == learner.n_rounds_ == 5
    assert last["n_labels"] == 15
    assert last["score"] == pytest.approx(learner.score(X_val, y_val))
    assert learner.validation_score_ == last["score"]
    rounds = [entry["round"] for entry in learner.validation_scores_]
    assert rounds == sorted(rounds) and rounds[-1] - rounds[0] == len(rounds) - 1


def test_learner_scoring_name_and_callable():
    from sklearn.metrics import balanced_accuracy_score

    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    names = np.array(["low", "mid", "high"])
    seed = np.concatenate([np.flatnonzero(y_pool == k)[:4] for k in range(3)])
    y_init = np.full(len(y_pool), -1, dtype=object)
    y_init[seed] = names[y_pool[seed]]
    by_name = ActiveLearner(scoring="balanced_accuracy", random_state=0).fit(
        X_pool, y_init, X_val=X_val, y_val=names[y_val]
    )
    expected = balanced_accuracy_score(names[y_val], by_name.predict(X_val))
    assert by_name.validation_score_ == pytest.approx(expected)

    def half_errors(estimator, X, y):
        return -0.5 * float(np.mean(estimator.predict(X) != y))

    by_callable = ActiveLearner(scoring=half_errors, random_state=0).fit(
        X_pool, y_init, X_val=X_val, y_val=names[y_val]
    )
    wrong = np.mean(by_callable.predict(X_val) != names[y_val])
    assert by_callable.validation_score_ == pytest.approx(-0.5 * wrong)
    assert "validation score" in by_callable.stopping_hint()


def test_learner_plateau_rule_stops_the_loop_and_says_so():
    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    rule = PlateauStopping(patience=3, min_delta=0.01)
    learner = ActiveLearner(stopping=rule, random_state=0).fit(
        X_pool, X_val=X_val, y_val=y_val
    )
    rounds = 0
    while not learner.should_stop_ and rounds < 60:
        batch = learner.query(3)
        learner.teach(batch, y_pool[batch])
        rounds += 1
    assert learner.should_stop_, "the plateau rule never said stop on an easy task"
    fitted = learner.stopping_[0]
    assert fitted is not rule and not hasattr(rule, "n_updates_")  # the parameter is untouched
    assert fitted.get_params() == rule.get_params()
    assert fitted.n_updates_ == len(learner.validation_scores_)
    assert [h["score"] for h in fitted.history_] == [
        s["score"] for s in learner.validation_scores_
    ]
    assert fitted.stopped_at_ == learner.n_labels_
    hint = learner.stopping_hint()
    assert hint.startswith(f"{learner.n_labels_} labels; validation accuracy ")
    assert hint.endswith("you can stop")


def test_learner_two_rules_need_both_to_stop():
    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    learner = ActiveLearner(
        stopping=[PlateauStopping(patience=1, min_delta=1.0),  # says stop at once
                  StabilizingPredictions(window=50, stop_set_size=100, random_state=0)],
        random_state=0,
    ).fit(X_pool, X_val=X_val, y_val=y_val)
    for _ in range(4):
        batch = learner.query(3)
        learner.teach(batch, y_pool[batch])
    plateau, stabilizing = learner.stopping_
    assert plateau.stop_ and not stabilizing.stop_
    assert learner.should_stop_ is False
    assert learner.stopping_hint() == (
        f"{learner.n_labels_} labels; validation accuracy {learner.validation_score_:.3f}; "
        f"{plateau.describe()}; {stabilizing.describe()} (1 of 2 rules say stop: keep labeling)"
    )


def test_learner_stopping_rules_reset_on_refit_and_survive_pickle():
    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    learner = ActiveLearner(
        stopping=StabilizingPredictions(stop_set_size=80, random_state=1), random_state=0
    ).fit(X_pool)  # needs no validation set
    for _ in range(6):
        batch = learner.query(3)
        learner.teach(batch, y_pool[batch])
    rule = learner.stopping_[0]
    assert rule.agreements_ and rule.n_labels_[-1] == 18
    restored = pickle.loads(pickle.dumps(learner))
    assert restored.stopping_hint() == learner.stopping_hint()
    batch = learner.query(3)
    np.testing.assert_array_equal(restored.query(3), batch)
    learner.teach(batch, y_pool[batch])
    restored.teach(batch, y_pool[batch])
    assert restored.stopping_[0].agreements_ == learner.stopping_[0].agreements_
    learner.fit(X_pool)  # a new session starts the rules afresh
    assert learner.stopping_[0].agreements_ == [] and learner.stopping_[0].n_updates_ == 1


def test_learner_without_rules_hint_and_should_stop():
    X, y = _easy_task()
    learner = ActiveLearner(random_state=0).fit(X)
    assert learner.should_stop_ is False
    assert learner.stopping_hint() == (
        "0 labels; no stopping rule set (pass stopping=... to ActiveLearner)"
    )


class CountingRule:
    """A stopping rule of one's own, not a scikit-learn estimator: it counts its updates."""

    def __init__(self, needs_validation=False):
        self.needs_validation = needs_validation
        self.seen = []

    def update(self, learner):
        self.seen.append((learner.n_labels_, learner.validation_score_))
        self.stop_ = len(self.seen) >= 3
        return self.stop_

    def describe(self):
        return f"{len(self.seen)} updates"


def test_learner_takes_a_rule_of_ones_own():
    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    template = CountingRule()
    learner = ActiveLearner(stopping=template, random_state=0).fit(X_pool)
    for _ in range(2):
        batch = learner.query(3)
        learner.teach(batch, y_pool[batch])
    rule = learner.stopping_[0]
    assert rule is not template and template.seen == []  # a copy is updated
    assert rule.seen == [(0, None), (3, None), (6, None)]
    assert learner.should_stop_ is True
    assert learner.stopping_hint() == "6 labels; 3 updates"
    # A rule that says it needs a validation set is refused without one.
    with pytest.raises(ValueError, match="validation set to fit"):
        ActiveLearner(stopping=CountingRule(needs_validation=True)).fit(X_pool)
    learner = ActiveLearner(stopping=CountingRule(needs_validation=True), random_state=0)
    learner.fit(X_pool, X_val=X_val, y_val=y_val)
    assert learner.stopping_[0].seen == [(0, None)]


def test_learner_stopping_errors():
    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    with pytest.raises(ValueError, match="validation set to fit"):
        ActiveLearner(stopping=PlateauStopping()).fit(X_pool)
    for not_a_rule in ([PlateauStopping(), "plateau"], PlateauStopping):
        with pytest.raises((ValueError, TypeError), match="stopping must hold stopping rules"):
            ActiveLearner(stopping=not_a_rule).fit(X_pool, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        ActiveLearner().fit(X_pool, X_val=X_val)
    with pytest.raises(ValueError, match="X_val has 100 samples but y_val has 99"):
        ActiveLearner().fit(X_pool, X_val=X_val, y_val=y_val[:-1])
    y_bad = y_val.copy()
    y_bad[7] = -1
    with pytest.raises(ValueError, match=r"y_val\[7\] is -1"):
        ActiveLearner().fit(X_pool, X_val=X_val, y_val=y_bad)
    with pytest.raises(ValueError, match="features"):
        ActiveLearner().fit(X_pool, X_val=X_val[:, :3], y_val=y_val)
