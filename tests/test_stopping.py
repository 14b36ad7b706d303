"""Tests of the stopping rules (skaloe.active._stopping)."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skaloe.active import ActiveLearner
from skaloe.active import (
    PlateauStopping,
    StabilizingPredictions,
    stopping_hint,
)

# -- PlateauStopping ----------------------------------------------------------


def _feed(rule, scores, n_labels=None):
    """Update with every score; the 1-based update numbers that returned True."""
    said = []
    for i, score in enumerate(scores, start=1):
        n = None if n_labels is None else n_labels[i - 1]
        if rule.update(score, n_labels=n):
            said.append(i)
    return said


def test_plateau_stops_exactly_after_patience_flat_updates():
    rule = PlateauStopping(patience=3, min_delta=0.01)
    scores = [0.5, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8]
    said = _feed(rule, scores)
    # best at update 4; updates 5, 6, 7 bring nothing: stop at update 7
    assert said[0] == 7
    assert rule.stopped_at_ == 7
    assert rule.stop_ is True
    assert rule.best_score_ == 0.8
    assert rule.best_update_ == 4
    assert rule.best_n_labels_ is None
    assert rule.n_updates_ == 8
    assert rule.wait_ == 4
    assert [h["improved"] for h in rule.history_] == [True] * 4 + [False] * 4
    assert [h["score"] for h in rule.history_] == scores


def test_plateau_stopped_at_uses_n_labels():
    rule = PlateauStopping(patience=2, min_delta=0.0)
    labels = [10, 20, 30, 40, 50]
    said = _feed(rule, [0.5, 0.7, 0.7, 0.65, 0.9], n_labels=labels)
    assert said == [4]
    assert rule.stopped_at_ == 40
    # a later improvement lifts stop_, but the first stop point stays recorded
    assert rule.stop_ is False
    assert rule.best_score_ == 0.9 and rule.best_n_labels_ == 50
    assert rule.stopped_at_ == 40


def test_plateau_noise_under_min_delta_is_no_improvement():
    rule = PlateauStopping(patience=4, min_delta=0.005)
    # wiggles of at most 0.004 above the best never count
    said = _feed(rule, [0.80, 0.804, 0.801, 0.803, 0.8049])
    assert said == [5]
    assert rule.best_score_ == 0.80
    # exactly min_delta is not "more than" min_delta
    rule = PlateauStopping(patience=1, min_delta=0.25)
    assert rule.update(0.5) is False
    assert rule.update(0.75) is True


def test_plateau_slow_drift_adds_up_to_an_improvement():
    rule = PlateauStopping(patience=2, min_delta=0.005)
    # +0.003 per update: the third one is 0.006 over the reference best
    said = _feed(rule, [0.800, 0.803, 0.806, 0.809, 0.812])
    assert said == []
    assert [h["improved"] for h in rule.history_] == [True, False, True, False, True]


def test_plateau_mode_min():
    rule = PlateauStopping(patience=2, min_delta=0.01, mode="min")
    said = _feed(rule, [1.0, 0.8, 0.6, 0.595, 0.61, 0.5])
    assert said == [5]
    assert rule.stopped_at_ == 5
    assert rule.best_score_ == 0.5  # the last update improved again
    assert rule.stop_ is False
    # rising scores never improve a loss
    rule = PlateauStopping(patience=2, min_delta=0.0, mode="min")
    assert _feed(rule, [0.1, 0.2, 0.3]) == [3]


def test_plateau_reset():
    rule = PlateauStopping(patience=1)
    _feed(rule, [0.5, 0.5], n_labels=[1, 2])
    assert rule.stop_
    assert rule.reset() is rule
    assert rule.n_updates_ == 0
    assert rule.best_score_ is None and rule.best_n_labels_ is None
    assert rule.stop_ is False and rule.stopped_at_ is None
    assert rule.history_ == [] and rule.wait_ == 0
    assert rule.update(0.5) is False  # the first score after reset is the best


def test_plateau_accepts_numpy_scores():
    rule = PlateauStopping(patience=1)
    rule.update(np.float32(0.5), n_labels=np.int64(3))
    assert isinstance(rule.best_score_, float)
    assert rule.best_n_labels_ == 3


@pytest.mark.parametrize(
    "params, match",
    [
        ({"patience": 0}, "patience must be a positive integer, got 0"),
        ({"patience": 2.5}, "got 2.5"),
        ({"patience": True}, "got True"),
        ({"min_delta": -0.1}, "min_delta .* got -0.1"),
        ({"min_delta": float("nan")}, "min_delta .* got nan"),
        ({"mode": "maximum"}, "mode must be 'max' or 'min', got 'maximum'"),
        ({"name": 3}, "name must be a string, got 3"),
    ],
)
def test_plateau_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        PlateauStopping(**params)


def test_plateau_bad_parameter_set_after_construction():
    rule = PlateauStopping()
    rule.patience = -1
    with pytest.raises(ValueError, match="got -1"):
        rule.update(0.5)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), "0.5", None, [0.5]])
def test_plateau_bad_score(score):
    with pytest.raises(ValueError, match="score must be a finite number"):
        PlateauStopping().update(score)


@pytest.mark.parametrize("n_labels", [-1, 2.5, "10"])
def test_plateau_bad_n_labels(n_labels):
    with pytest.raises(ValueError, match="n_labels must be a non-negative integer"):
        PlateauStopping().update(0.5, n_labels=n_labels)


def test_plateau_describe():
    rule = PlateauStopping(patience=5, min_delta=0.005, name="validation accuracy")
    assert rule.describe() == "no validation accuracy yet: keep labeling"
    rule.update(0.842, n_labels=312)
    assert rule.describe() == (
        "validation accuracy improved in the last round (best 0.842 at 312 labels): "
        "keep labeling"
    )
    for n in range(4):
        rule.update(0.84, n_labels=320 + n)
    assert rule.describe() == (
        "validation accuracy has not improved by more than 0.005 for 4 of 5 rounds "
        "(best 0.842 at 312 labels): keep labeling"
    )
    assert rule.update(0.845, n_labels=330)
    assert rule.describe() == (
        "validation accuracy has not improved by more than 0.005 for 5 rounds "
        "(best 0.842 at 312 labels): you can stop"
    )
    # without n_labels, the update number
    rule = PlateauStopping(patience=1)
    rule.update(0.5)
    rule.update(0.5)
    assert rule.describe().endswith("(best 0.500 at update 1): you can stop")


def test_plateau_repr_and_get_params():
    rule = PlateauStopping(patience=3, mode="min")
    assert rule.get_params() == {
        "patience": 3, "min_delta": 0.005, "mode": "min", "name": "validation score"
    }
    assert repr(rule).startswith("PlateauStopping(patience=3, min_delta=0.005, mode='min'")


# -- StabilizingPredictions: hand-made predictions ----------------------------


def test_stabilizing_identical_predictions_stop_after_window():
    rule = StabilizingPredictions(window=3)
    preds = [0, 1, 2, 1, 0, 2]
    assert rule.update(preds, n_labels=10) is False  # nothing to compare yet
    assert rule.agreements_ == []
    said = [rule.update(preds, n_labels=10 + 5 * k) for k in range(1, 5)]
    assert said == [False, False, True, True]
    assert rule.agreements_ == [1.0] * 4
    assert rule.n_labels_ == [15, 20, 25, 30]
    assert rule.stopped_at_ == 25
    assert rule.n_stable_ == 4 and rule.n_updates_ == 5


def test_stabilizing_changing_predictions_never_stop():
    rule = StabilizingPredictions(window=2, threshold=0.9)
    rng = np.random.RandomState(0)
    for _ in range(10):
        assert rule.update(rng.randint(0, 3, size=50)) is False
    assert len(rule.agreements_) == 9
    assert max(rule.agreements_) < 0.9
    assert rule.stopped_at_ is None
    assert rule.describe().endswith("keep labeling")


def test_stabilizing_one_change_restarts_the_count():
    rule = StabilizingPredictions(window=2, threshold=0.99)
    a = np.array(["x", "y"] * 10)
    b = a.copy()
    b[0] = "y"
    said = [rule.update(p) for p in (a, a, b, b, b)]
    assert said == [False, False, False, False, True]
    assert rule.agreements_[0] == 1.0 and rule.agreements_[1] < 0.99
    assert rule.stopped_at_ == 5  # the update number, no n_labels given


def test_stabilizing_kappa_matches_sklearn():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.RandomState(1)
    a, b = rng.randint(0, 3, 40), rng.randint(0, 3, 40)
    rule = StabilizingPredictions()
    rule.update(a)
    rule.update(b)
    assert rule.agreements_[0] == pytest.approx(cohen_kappa_score(a, b))


def test_stabilizing_new_class_appearing():
    rule = StabilizingPredictions(window=1, threshold=0.5)
    rule.update(["cat", "dog", "dog", "cat"])
    # a class absent from the previous round: compared over the union of labels
    stop = rule.update(["cat", "dog", "bird", "cat"])
    assert 0 < rule.agreements_[-1] < 1
    assert stop is (rule.agreements_[-1] >= 0.5)
    # labels of types that do not sort together
    rule.update(np.array(["cat", 1, "bird", None], dtype=object))
    assert np.isfinite(rule.agreements_[-1])


def test_stabilizing_single_class_identical_counts_as_agreement():
    rule = StabilizingPredictions(window=1)
    rule.update([1, 1, 1])
    assert rule.update([1, 1, 1]) is True
    assert rule.agreements_ == [1.0]
    # both constant but different: no agreement beyond chance
    rule.update([2, 2, 2])
    assert rule.agreements_[-1] == 0.0
    assert rule.stop_ is False


def test_stabilizing_aggregate_mean():
    a = np.array([0, 1] * 50)
    b = a.copy()
    b[:2] = 1 - b[:2]  # kappa 0.96
    seq = [a, a, a, b]  # agreements 1, 1, 0.96
    strict = StabilizingPredictions(window=3, threshold=0.97)
    mean = StabilizingPredictions(window=3, threshold=0.97, aggregate="mean")
    assert [strict.update(p) for p in seq] == [False] * 4
    assert [mean.update(p) for p in seq] == [False, False, False, True]


def test_stabilizing_length_mismatch_and_bad_predictions():
    rule = StabilizingPredictions()
    rule.update([0, 1, 0])
    with pytest.raises(ValueError, match="predictions for 2 samples, but the previous round had 3"):
        rule.update([0, 1])
    with pytest.raises(ValueError, match="must be 1-D"):
        rule.update(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="empty"):
        rule.update([])
    with pytest.raises(ValueError, match="string"):
        rule.update("abc")


def test_stabilizing_reset():
    rule = StabilizingPredictions(window=1)
    rule.update([0, 1])
    rule.update([0, 1])
    assert rule.stop_
    assert rule.reset() is rule
    assert rule.agreements_ == [] and rule.n_labels_ == []
    assert rule.stop_ is False and rule.stopped_at_ is None
    assert rule.n_updates_ == 0 and rule.n_stable_ == 0
    assert rule.stop_set_indices_ is None
    rule.update([0, 1, 1])  # a different length is fine after reset
    assert rule.agreements_ == []


@pytest.mark.parametrize(
    "params, match",
    [
        ({"window": 0}, "window must be a positive integer, got 0"),
        ({"window": 1.5}, "got 1.5"),
        ({"threshold": 1.5}, r"threshold must be a number in \[-1, 1\].* got 1.5"),
        ({"threshold": "high"}, "got 'high'"),
        ({"stop_set_size": 0}, "stop_set_size must be a positive integer or None, got 0"),
        ({"stop_set_size": 0.5}, "got 0.5"),
        ({"aggregate": "median"}, "aggregate must be 'min' or 'mean', got 'median'"),
    ],
)
def test_stabilizing_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        StabilizingPredictions(**params)


def test_stabilizing_describe():
    rule = StabilizingPredictions(window=2, threshold=0.99)
    assert rule.describe().endswith("keep labeling")
    assert "two or more classes" in rule.describe()
    preds = [0, 1, 1, 0]
    rule.update(preds)
    rule.update(preds)
    assert rule.describe() == (
        "successive models' predictions on 4 stop-set samples: last kappa 1.000, "
        "1 of 2 rounds at or above 0.99: keep labeling"
    )
    rule.update(preds)
    assert rule.describe() == (
        "successive models' predictions on 4 stop-set samples agreed (kappa >= 0.99) "
        "over the last 2 rounds (last kappa 1.000): you can stop"
    )


def test_stopping_hint_combines_rules():
    plateau = PlateauStopping(name="validation accuracy")
    stable = StabilizingPredictions()
    hint = stopping_hint([plateau, stable])
    assert hint == plateau.describe() + "; " + stable.describe()
    assert stopping_hint(plateau) == plateau.describe()
    assert stopping_hint(rule for rule in [stable]) == stable.describe()
    with pytest.raises(ValueError, match="describe"):
        stopping_hint([plateau, 3])


# -- StabilizingPredictions with an ActiveLearner ------------------------------


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
        if rule.update_from_learner(learner):
            break
    return learner


def test_update_from_learner_stops_on_easy_task():
    rule = StabilizingPredictions(stop_set_size=150, random_state=0)
    learner = _run_loop(rule)
    assert rule.stop_ is True
    n_labels = int(learner.labeled_mask_.sum())
    assert rule.stopped_at_ == n_labels < 400
    assert rule.n_labels_[-1] == n_labels
    assert len(rule.stop_set_indices_) == 150
    assert all(-1 <= k <= 1 for k in rule.agreements_)
    assert min(rule.agreements_[-3:]) >= 0.99
    assert rule.describe().endswith("you can stop")


def test_update_from_learner_predicts_like_the_learner():
    X, y = _easy_task()
    learner = ActiveLearner(random_state=0).fit(X, np.where(np.arange(400) < 30, y, -1))
    rule = StabilizingPredictions(window=1, stop_set_size=50, random_state=0)
    rule.update_from_learner(learner)
    rule.update_from_learner(learner)  # same model twice: perfect agreement
    assert rule.agreements_ == [1.0]
    expected = learner.predict(X[rule.stop_set_indices_])
    assert list(rule._previous) == list(expected)


def test_stop_set_reproducible_with_random_state():
    X, _ = _easy_task()
    learner = ActiveLearner(random_state=0).fit(X)
    a = StabilizingPredictions(stop_set_size=100, random_state=42)
    b = StabilizingPredictions(stop_set_size=100, random_state=42)
    c = StabilizingPredictions(stop_set_size=100, random_state=7)
    for rule in (a, b, c):
        rule.update_from_learner(learner)
    np.testing.assert_array_equal(a.stop_set_indices_, b.stop_set_indices_)
    assert not np.array_equal(a.stop_set_indices_, c.stop_set_indices_)
    assert len(np.unique(a.stop_set_indices_)) == 100
    first = a.stop_set_indices_.copy()
    a.update_from_learner(learner)  # drawn once, kept
    np.testing.assert_array_equal(a.stop_set_indices_, first)
    # stop_set_size None or larger than the pool: the whole pool
    for size in (None, 10_000):
        rule = StabilizingPredictions(stop_set_size=size)
        rule.update_from_learner(learner)
        np.testing.assert_array_equal(rule.stop_set_indices_, np.arange(400))


def test_update_from_learner_cold_start_fewer_than_two_classes():
    X, y = _easy_task()
    learner = ActiveLearner(random_state=0).fit(X)
    rule = StabilizingPredictions(window=1, stop_set_size=50, random_state=0)
    assert rule.update_from_learner(learner) is False  # nothing labeled
    first = np.flatnonzero(y == 0)[:2]
    learner.teach(first, y[first])  # one class only
    assert rule.update_from_learner(learner) is False
    assert rule.agreements_ == []
    assert rule.n_updates_ == 2
    assert "keep labeling" in rule.describe()
    second = np.flatnonzero(y == 1)[:2]
    learner.teach(second, y[second])
    assert rule.update_from_learner(learner) is False  # first model: nothing to compare
    assert rule.agreements_ == []
    rule.update_from_learner(learner)
    assert rule.agreements_ == [1.0] and rule.stop_
    assert rule.stopped_at_ == 4


def test_update_from_learner_string_labels_and_new_class():
    X, y = _easy_task()
    names = np.array(["low", "mid", "high"])[y]
    learner = ActiveLearner(random_state=0).fit(X)
    rule = StabilizingPredictions(stop_set_size=60, random_state=0)
    seed = np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]])
    learner.teach(seed, names[seed])
    rule.update_from_learner(learner)
    third = np.flatnonzero(y == 2)[:3]
    learner.teach(third, names[third])  # a new class: codes shift, labels do not
    rule.update_from_learner(learner)
    assert len(rule.agreements_) == 1
    assert set(rule._previous) <= {"low", "mid", "high"}


def test_update_from_learner_errors():
    rule = StabilizingPredictions()
    with pytest.raises(ValueError, match="fitted on a pool"):
        rule.update_from_learner(ActiveLearner())
    X, _ = _easy_task()
    rule = StabilizingPredictions(stop_set_size=None)
    rule.update_from_learner(ActiveLearner(random_state=0).fit(X))
    with pytest.raises(ValueError, match="reset"):
        rule.update_from_learner(ActiveLearner(random_state=0).fit(X[:100]))


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
    assert fitted is not rule and rule.n_updates_ == 0  # the parameter is untouched
    assert fitted.n_updates_ == len(learner.validation_scores_)
    assert [h["score"] for h in fitted.history_] == [
        s["score"] for s in learner.validation_scores_
    ]
    assert fitted.stopped_at_ == learner._n_labels()
    hint = learner.stopping_hint()
    assert hint.startswith(f"{learner._n_labels()} labels; validation accuracy ")
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
    assert learner.stopping_hint().endswith("(1 of 2 rules say stop: keep labeling)")


def test_learner_stopping_rules_reset_on_refit_and_survive_pickle():
    import pickle

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


def test_learner_stopping_errors():
    X, y = _easy_task()
    X_pool, X_val, y_pool, y_val = _split(X, y)
    with pytest.raises(ValueError, match="validation set to fit"):
        ActiveLearner(stopping=PlateauStopping()).fit(X_pool)
    with pytest.raises(ValueError, match="stopping must hold stopping rules"):
        ActiveLearner(stopping=[PlateauStopping(), "plateau"]).fit(
            X_pool, X_val=X_val, y_val=y_val
        )
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
    rule = PlateauStopping()
    with pytest.raises(ValueError, match="no validation set"):
        rule.update_from_learner(ActiveLearner(random_state=0).fit(X_pool))
    with pytest.raises(ValueError, match="fitted on a pool"):
        rule.update_from_learner(ActiveLearner())
