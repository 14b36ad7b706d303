"""save_state / load_state: a learner saved without its pool and restored without replay."""

import io
import json

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skaloe.active import (
    ActiveLearner,
    PlateauStopping,
    StabilizingPredictions,
    aloe_learner,
    load_state,
    save_state,
)


def _task(n=300, seed=0):
    X, y = make_classification(n, n_features=8, n_informative=5, n_classes=3,
                               random_state=seed)
    names = np.array(["cat", "dog", "eel"])[y]
    return X.astype(np.float32), names


def _run(learner, y, rounds, n=3):
    for _ in range(rounds):
        batch = learner.query(n)
        learner.teach(batch, y[batch])
    return learner


LEARNERS = {
    "default": lambda: ActiveLearner(random_state=0),
    "random strategy": lambda: ActiveLearner(query_strategy="random", random_state=1),
    "agnostic, kmeans++": lambda: ActiveLearner(
        selection="class-agnostic", batch_diversity="kmeans++", random_state=2),
    "cluster-margin": lambda: ActiveLearner(batch_diversity="cluster-margin", random_state=3),
    "stopping rules": lambda: ActiveLearner(
        stopping=[StabilizingPredictions(window=2, stop_set_size=50, random_state=0)],
        random_state=4),
    "ALOE preset": lambda: aloe_learner(random_state=5),
    "ties to the first, one per class": lambda: ActiveLearner(
        query_strategy="random", selection="one-per-class", tie_break="first",
        random_state=6),
}


@pytest.mark.parametrize("make", LEARNERS.values(), ids=LEARNERS.keys())
def test_a_restored_learner_goes_on_exactly_as_the_saved_one(make):
    X, y = _task()
    saved = _run(make().fit(X), y, 4)
    saved.query(3)  # this round's scores and tie-breaks are part of the state
    data = save_state(saved)
    restored = load_state(make().fit(X), data)
    for _ in range(4):  # the same picks, models and stopping state, round after round
        a, b = saved.query(3), restored.query(3)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(saved.estimator_.coef_, restored.estimator_.coef_)
        saved.teach(a, y[a])
        restored.teach(b, y[b])
    assert restored.history_ == saved.history_
    assert restored.stopping_hint() == saved.stopping_hint()
    np.testing.assert_array_equal(restored.predict(X), saved.predict(X))


def test_cold_start_state_is_restored_without_running_kmeans_again(monkeypatch):
    from skaloe.active import _selection

    X, y = _task()
    saved = ActiveLearner(random_state=0).fit(X)
    first = saved.query(1)
    saved.teach(first, y[first])  # one class: still cold
    data = save_state(saved)
    calls = []
    original = _selection._kmeans_representatives
    monkeypatch.setattr(_selection, "_kmeans_representatives",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    restored = load_state(ActiveLearner(random_state=0).fit(X), data)
    np.testing.assert_array_equal(restored.query(5), saved.query(5))
    assert calls == []


def test_validation_scores_and_plateau_state_are_restored():
    X, y = _task()
    make = lambda: ActiveLearner(stopping=PlateauStopping(patience=2), random_state=0)  # noqa: E731
    saved = _run(make().fit(X[:250], X_val=X[250:], y_val=y[250:]), y, 5)
    restored = load_state(make().fit(X[:250], X_val=X[250:], y_val=y[250:]), save_state(saved))
    assert restored.validation_scores_ == saved.validation_scores_
    assert restored.stopping_[0].best_score_ == saved.stopping_[0].best_score_
    assert restored.should_stop_ == saved.should_stop_


def test_a_frozen_prefix_is_rebuilt_by_fit_not_stored():
    X, y = _task()
    pipe = make_pipeline(FunctionTransformer(np.tanh), StandardScaler(), LogisticRegression())
    make = lambda: ActiveLearner(pipe, random_state=0)  # noqa: E731
    saved = _run(make().fit(X), y, 3)
    restored = load_state(make().fit(X), save_state(saved))
    np.testing.assert_allclose(restored.predict_proba(X), saved.predict_proba(X))


def test_the_saved_state_is_arrays_and_json_without_the_pool():
    X, y = _task(n=2000)
    data = save_state(_run(ActiveLearner(random_state=0).fit(X), y, 3))
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:  # no pickle anywhere
        arrays = {name: archive[name] for name in archive.files}
    assert all(a.dtype != object for a in arrays.values())
    document = json.loads(arrays["__document__"].tobytes())
    assert document["format"] == "skaloe-learner-state/1"
    assert max(a.nbytes for a in arrays.values()) < X.nbytes / 4  # the pool is not in it


def test_wrong_learner_or_damaged_data_is_refused_with_a_reason():
    X, y = _task()
    data = save_state(_run(ActiveLearner(random_state=0).fit(X), y, 2))
    with pytest.raises(ValueError, match="pool of 300 samples.*this learner has 200"):
        load_state(ActiveLearner(random_state=0).fit(X[:200]), data)
    with pytest.raises(ValueError, match="1 stopping rules, the learner 0"):
        load_state(ActiveLearner(random_state=0).fit(X), save_state(_run(
            ActiveLearner(stopping=StabilizingPredictions(), random_state=0).fit(X), y, 1)))
    with pytest.raises(ValueError, match="not a usable saved learner state"):
        load_state(ActiveLearner(random_state=0).fit(X), b"\x00" * 64)
    plain = io.BytesIO()
    np.save(plain, np.arange(5))  # an .npy, not an archive
    with pytest.raises(ValueError, match="not a usable saved learner state"):
        load_state(ActiveLearner(random_state=0).fit(X), plain.getvalue())
    hostile = io.BytesIO()
    np.save(hostile, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a usable saved learner state"):
        load_state(ActiveLearner(random_state=0).fit(X), hostile.getvalue())


def test_state_that_is_not_plain_data_is_not_saved():
    X, y = _task()

    class Holder(LogisticRegression):
        def fit(self, X, y):
            super().fit(X, y)
            self.helper_ = object()  # e.g. a fitted attribute holding a callable
            return self

    learner = _run(ActiveLearner(Holder(), random_state=0).fit(X), y, 1)
    with pytest.raises(TypeError, match="classifier\\['helper_'\\] holds a object"):
        save_state(learner)
