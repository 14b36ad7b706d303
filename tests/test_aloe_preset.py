"""The ALOE preset selects as ALOE's published code does, round after round.

ALOE's loop is rewritten below, statement by statement, from the logic of
``al.py`` and ``utils.py`` in github.com/HarlinLee/ALOE (summarized in
``shared/reference/encoders-and-aloe.md``, sections 1.2-1.3), and skaloe's
preset is held against it. ALOE's classifier is a Keras layer trained from an
unseeded random start, so two runs of ALOE itself differ; here both sides use
the same deterministic scikit-learn classifier, fitted anew every round.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skaloe.active import (
    ActiveLearner,
    aloe_learner,
    get_query_scorer,
    load_state,
    save_state,
    seed_per_class,
)
from skaloe.experiment import simulate


def _classifier():
    # The stand-in for ALOE's Keras model, on both sides. The two sides see
    # the labeled rows in different orders (ALOE in labeling order, skaloe in
    # pool order; ALOE's Keras fit shuffles them anyway), which changes L-BFGS's
    # floating-point sums: a tight tolerance keeps both at the same optimum
    # (they agree at the default tolerance too, on this data).
    return LogisticRegression(tol=1e-10, max_iter=10000)


def _aloe_reference(X, labels, n_train, *, num_per_class, num_iter, seed, by_class=True):
    """ALOE's al.py + utils.active_learning_loop, with _classifier() for Keras.

    ``X`` is the train split followed by the validation split, as al.py
    concatenates them. Returns the seed set, the picks of every round (in
    ALOE's order) and the validation accuracy after every fit.
    """
    train_idx_all = np.arange(n_train)
    validation_mask = np.zeros(len(X), dtype=bool)
    validation_mask[n_train:] = True
    # al.py: the initial set, with a generator re-created for every class.
    train_ind = np.array([], dtype=np.int16)
    for c in np.sort(np.unique(labels)):
        c_ind = np.intersect1d(np.where(labels == c)[0], train_idx_all)
        rng = np.random.default_rng(seed)
        train_ind = np.append(train_ind, rng.choice(c_ind, num_per_class, replace=False))
    seed_set = train_ind.copy()
    # utils.active_learning_loop, method="uncertainty".
    picks, accuracy = [], []
    u = pred_labels = None  # the previous iteration's model output, as in utils.py
    for i in range(num_iter + 1):
        if i > 0:
            candidate_inds = np.setdiff1d(train_idx_all, train_ind)
            u_sort = np.sort(u[candidate_inds])
            obj_vals = 1.0 - (u_sort[:, -1] - u_sort[:, -2])
            if by_class:
                pseudo_labels = pred_labels[candidate_inds]
                new_train_inds = np.array([], dtype=int)
                for c in np.unique(pseudo_labels):
                    c_mask = pseudo_labels == c
                    new_train_inds = np.append(
                        new_train_inds, (candidate_inds[c_mask])[np.argmax(obj_vals[c_mask])])
            else:
                new_train_inds = np.array([candidate_inds[np.argmax(obj_vals)]])
            picks.append(new_train_inds)
            train_ind = np.append(train_ind, new_train_inds)
        model = _classifier().fit(X[train_ind, :], labels[train_ind])
        u = model.decision_function(X)
        pred_labels = np.argmax(u, axis=1)
        accuracy.append(np.mean(labels[validation_mask] == pred_labels[validation_mask]))
    return seed_set, picks, accuracy


def _task(n_train=300, n_val=100, n_classes=5, seed=0):
    X, y = make_classification(
        n_train + n_val, n_features=8, n_informative=6, n_redundant=0,
        n_classes=n_classes, n_clusters_per_class=1, class_sep=0.7, random_state=seed)
    return X, y, n_train


@pytest.mark.parametrize("by_class", [True, False], ids=["class-aware", "class-agnostic"])
def test_the_preset_picks_what_aloe_picks_for_30_rounds(by_class):
    X, y, n_train = _task()
    n_classes, rounds, seed = 5, 30, 1
    seed_set, reference, accuracy = _aloe_reference(
        X, y, n_train, num_per_class=5, num_iter=rounds, seed=seed, by_class=by_class)

    start = seed_per_class(y[:n_train], 5, random_state=seed, method="aloe")
    np.testing.assert_array_equal(start, seed_set)  # the same seed set, in the same order

    learner = aloe_learner(_classifier(), selection="class-aware" if by_class
                           else "class-agnostic")
    learner.fit(X[:n_train], X_val=X[n_train:], y_val=y[n_train:])
    learner.teach(start, y[start])
    for rnd, expected in enumerate(reference, start=1):
        batch = learner.query(n_classes if by_class else 1)
        # Every pick of ALOE and no other; skaloe orders a batch best first,
        # ALOE by class (the order only changes the row order of the next fit).
        assert sorted(batch.tolist()) == sorted(expected.tolist()), f"round {rnd}"
        learner.teach(batch, y[batch])
    assert [s["score"] for s in learner.validation_scores_] == pytest.approx(accuracy)
    assert learner.n_labels_ == len(seed_set) + sum(map(len, reference))
    if by_class:  # the rounds are ALOE's, not a fixed batch size
        assert len(reference) == rounds and all(1 <= len(p) <= n_classes for p in reference)


def test_each_class_is_visited_at_the_same_places_and_seed_is_aloes_seed():
    y = np.repeat([2, 0, 1], 40)  # equal class sizes, not in sorted order
    start = seed_per_class(y, 4, random_state=7, method="aloe")
    assert y[start].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    places = [np.searchsorted(np.flatnonzero(y == c), start[y[start] == c]) for c in range(3)]
    assert all(p.tolist() == places[0].tolist() for p in places)  # default_rng(seed) per class
    expected = np.random.default_rng(7).choice(np.flatnonzero(y == 0), 4, replace=False)
    np.testing.assert_array_equal(start[:4], expected)
    # the sequential draw differs, and ALOE's needs an int seed
    assert start.tolist() != seed_per_class(y, 4, random_state=7).tolist()
    for bad in (None, -1, np.random.RandomState(0), 1.5):
        with pytest.raises(ValueError, match="random_state must be a non-negative int"):
            seed_per_class(y, 4, random_state=bad, method="aloe")
    with pytest.raises(ValueError, match="method must be 'sequential' or 'aloe', got 'ALOE'"):
        seed_per_class(y, 4, random_state=7, method="ALOE")


def test_ties_go_to_the_lowest_position():
    X, y, n_train = _task(n_train=200, n_val=0, n_classes=3)
    X, y = X[:200], y[:200]
    # Each unlabeled row three times: every score is tied with two others.
    X3, y3 = np.concatenate([X, X, X]), np.concatenate([y, y, y])
    start = seed_per_class(y3[:200], 3, random_state=0, method="aloe")
    for selection in ("class-aware", "class-agnostic"):
        learner = aloe_learner(selection=selection).fit(X3)
        learner.teach(start, y3[start])
        scores = learner.query_scores()
        batch = learner.query(3 if selection == "class-aware" else 1)
        assert batch.max() < 200  # never a copy at 200 + i or 400 + i
        predicted = learner.predict_pool()
        for i in batch:
            same = (~learner.labeled_mask_) & (predicted == predicted[i] if
                                                selection == "class-aware" else True)
            best = np.flatnonzero(same & (scores == scores[same].max()))
            assert i == best[0] and len(best) >= 3
    # tie_break="random" (the default) takes any of the copies, by random_state.
    taken = set()
    for random_state in range(6):
        learner = ActiveLearner(_classifier(), selection="class-agnostic",
                                random_state=random_state).fit(X3)
        learner.teach(start, y3[start])
        taken.add(int(learner.query(1)[0]) // 200)
    assert len(taken) > 1


def test_a_class_predicted_nowhere_gets_no_label_that_round():
    # Class 3 is a far-away blob of 3 samples, all in the seed set: no
    # unlabeled sample is predicted 3, so ALOE's round asks 3 labels, not 4.
    X, y = make_blobs([100, 100, 100, 3], centers=[[0, 0], [3, 0], [0, 3], [30, 30]],
                      random_state=0)
    start = seed_per_class(y, 3, random_state=0, method="aloe")
    learner = aloe_learner().fit(X)
    learner.teach(start, y[start])
    predicted = learner.predict_pool()
    assert 3 not in predicted[~learner.labeled_mask_]
    batch = learner.query(4)
    assert sorted(predicted[batch].tolist()) == [0, 1, 2]
    # skaloe's usual class-aware selection fills the batch with a second best
    usual = clone(learner).set_params(selection="class-aware").fit(X)
    usual.teach(start, y[start])
    filled = usual.query(4)
    assert len(filled) == 4 and set(batch.tolist()) < set(filled.tolist())


def test_one_per_class_with_fewer_asked_takes_the_best_classes():
    X, y, _ = _task(n_train=300, n_val=0, n_classes=5)
    start = seed_per_class(y, 5, random_state=3, method="aloe")
    learner = aloe_learner().fit(X)
    learner.teach(start, y[start])
    full = learner.query(5)
    scores = learner.query_scores()
    assert np.all(np.diff(scores[full]) <= 0)  # best first
    np.testing.assert_array_equal(learner.query(2), full[:2])
    np.testing.assert_array_equal(learner.query(50), full)  # never two of a class


def test_the_preset_is_a_plain_learner_that_clones_and_checkpoints():
    learner = aloe_learner(random_state=3)
    params = learner.get_params(deep=False)
    assert params["selection"] == "one-per-class" and params["tie_break"] == "first"
    assert params["query_strategy"].response_method == "decision_function"
    assert params["estimator"].get_params()["warm_start"] is False
    fresh = clone(learner)
    assert fresh.get_params(deep=False)["tie_break"] == "first"
    assert repr(fresh.query_strategy) == repr(learner.query_strategy)
    # a checkpoint restores it mid-run: the same picks afterwards
    X, y, _ = _task(n_train=300, n_val=0)
    start = seed_per_class(y, 3, random_state=0, method="aloe")
    learner.fit(X).teach(start, y[start])
    for _ in range(3):
        batch = learner.query(5)
        learner.teach(batch, y[batch])
    restored = load_state(clone(learner).fit(X), save_state(learner))
    for _ in range(3):
        a, b = learner.query(5), restored.query(5)
        np.testing.assert_array_equal(a, b)
        learner.teach(a, y[a])
        restored.teach(b, y[b])


def test_the_preset_refuses_what_contradicts_aloe():
    with pytest.raises(ValueError, match="LogisticRegression has warm_start=True"):
        aloe_learner(LogisticRegression(warm_start=True))
    with pytest.raises(ValueError, match="selection must be 'class-aware'.*got 'one'"):
        aloe_learner(selection="one")
    with pytest.raises(ValueError, match="cannot be applied to the custom callable"):
        aloe_learner(query_strategy=lambda est, X: np.zeros(len(X)))
    X, y, _ = _task(n_train=100, n_val=0)
    with pytest.raises(ValueError, match="'tie_break' parameter .* Got 'lowest'"):
        ActiveLearner(tie_break="lowest").fit(X)
    with pytest.raises(ValueError, match="cannot be combined with selection='one-per-class'"):
        ActiveLearner(selection="one-per-class", batch_diversity="kmeans++").fit(X)
    kwargs = dict(X_pool=X[:80], y_pool=y[:80], X_val=X[80:], y_val=y[80:], n_rounds=1,
                  n_runs=1, preset="aloe")
    with pytest.raises(ValueError, match="batch_size must be None, got 3"):
        simulate(**kwargs, batch_size=3)
    with pytest.raises(ValueError, match="response_method='predict_proba' contradicts"):
        simulate(**kwargs, response_method="predict_proba")
    with pytest.raises(ValueError, match="simulate.preset='aloe'. refits .* warm_start=True"):
        simulate(**kwargs, estimator=LogisticRegression(warm_start=True))
    with pytest.raises(ValueError, match="ALOE's --seed of the first run.*got -2"):
        simulate(**kwargs, random_state=-2)
    with pytest.raises(ValueError, match="preset must be None or one of \\['aloe'\\], got 'ALOE'"):
        simulate(**{**kwargs, "preset": "ALOE"})


def _learner_curve(X_pool, y_pool, X_val, y_val, *, seed, strategy, rounds, n_classes):
    """What simulate(preset="aloe") must record for one run, from the learner itself."""
    start = seed_per_class(y_pool, 2, random_state=seed, method="aloe")
    learner = aloe_learner(query_strategy=strategy, random_state=seed)
    learner.fit(X_pool, X_val=X_val, y_val=y_val).teach(start, y_pool[start])
    for _ in range(rounds):
        batch = learner.query(n_classes)
        learner.teach(batch, y_pool[batch])
    return [s["n_labels"] for s in learner.validation_scores_], [
        s["score"] for s in learner.validation_scores_]


def test_simulate_with_the_preset_runs_the_preset_learner():
    X, y, n_train = _task(n_train=240, n_val=80, n_classes=4)
    X_pool, y_pool, X_val, y_val = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    results = simulate(X_pool, y_pool, X_val, y_val, preset="aloe", n_rounds=6,
                       n_per_class=2, n_runs=2, random_state=11)
    assert results.params["preset"] == "aloe"
    assert results.params["response_method"] == "decision_function"
    for run in range(2):  # run r is ALOE's --seed=11 + r
        for strategy in ("margin", "random"):
            records = [r for r in results.records
                       if r["run"] == run and r["strategy"] == strategy]
            n_labels, scores = _learner_curve(X_pool, y_pool, X_val, y_val, seed=11 + run,
                                              strategy=strategy, rounds=6, n_classes=4)
            assert [r["n_labels"] for r in records] == n_labels
            assert [r["val_score"] for r in records] == scores


def test_simulate_can_score_logits_without_the_preset():
    X, y, n_train = _task(n_train=240, n_val=80, n_classes=4)
    args = (X[:n_train], y[:n_train], X[n_train:], y[n_train:])
    logits = simulate(*args, strategies=("margin",), response_method="decision_function",
                      n_rounds=5, n_per_class=2, n_runs=1, random_state=0)
    same = simulate(*args, strategies=(get_query_scorer(
        "margin", response_method="decision_function"),), n_rounds=5, n_per_class=2,
        n_runs=1, random_state=0)
    assert [r["val_score"] for r in logits.records] == [r["val_score"] for r in same.records]
    assert logits.params["strategies"] == ["margin"]
    with pytest.raises(ValueError, match="cannot be applied to the custom callable"):
        simulate(*args, strategies=(lambda est, X: np.zeros(len(X)),),
                 response_method="decision_function", n_rounds=1, n_runs=1)


def test_skaloe_simulate_preset_aloe_gives_the_simulate_results(tmp_path, capsys):
    from skaloe.cli import main
    from skaloe.datasets import load_embeddings, save_embeddings
    from skaloe.experiment import SimulationResults

    X, y, _ = _task(n_train=240, n_val=160, n_classes=4)
    names = ["a", "b", "c", "d"]
    files = {}
    for part, rows in (("pool", slice(0, 240)), ("val", slice(240, 320)),
                       ("test", slice(320, 400))):
        files[part] = tmp_path / f"{part}.npz"
        save_embeddings(files[part], X[rows], labels=y[rows], label_names=names)
    out = tmp_path / "out"
    assert main(["simulate", str(files["pool"]), "--val-input", str(files["val"]),
                 "--test-input", str(files["test"]), "--preset", "aloe", "--rounds", "5",
                 "--runs", "2", "--n-per-class", "2", "--random-state", "4",
                 "--out", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "preset aloe (ALOE's seed draws, margins of logits" in said
    cli = SimulationResults.from_json(out / "results.json")
    # The command, spelled out: the three files, standardized on the pool.
    data = {part: load_embeddings(path) for part, path in files.items()}
    scaler = StandardScaler().fit(data["pool"].embeddings)
    arrays = []
    for part in ("pool", "val", "test"):
        arrays += [scaler.transform(data[part].embeddings), data[part].labels]
    X_pool, y_pool, X_val, y_val, X_test, y_test = arrays
    direct = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test, preset="aloe",
                      n_rounds=5, n_runs=2, n_per_class=2, random_state=4)
    assert cli.params["preset"] == "aloe"
    key = [(r["run"], r["strategy"], r["round"], r["n_labels"], r["val_score"])
           for r in direct.records]
    assert [(r["run"], r["strategy"], r["round"], r["n_labels"], r["val_score"])
            for r in cli.records] == key
    assert [r["test_score"] for r in cli.final] == [r["test_score"] for r in direct.final]
    # and the first run is the preset learner from ALOE's --seed=4
    n_labels, scores = _learner_curve(X_pool, y_pool, X_val, y_val, seed=4,
                                      strategy="margin", rounds=5, n_classes=4)
    run0 = [r for r in cli.records if r["run"] == 0 and r["strategy"] == "margin"]
    assert [r["n_labels"] for r in run0] == n_labels
    assert [r["val_score"] for r in run0] == scores


def test_skaloe_simulate_preset_errors_are_one_line(tmp_path, capsys):
    from skaloe.cli import main
    from skaloe.datasets import save_embeddings

    X, y, _ = _task(n_train=200, n_val=0, n_classes=3)
    path = tmp_path / "e.npz"
    save_embeddings(path, X[:200], labels=y[:200], label_names=["a", "b", "c"])
    for extra, message in ((["--batch-size", "3"], "drop --batch-size"),
                           (["--response-method", "predict_proba"], "contradicts it")):
        assert main(["simulate", str(path), "--preset", "aloe", *extra]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", str(path), "--preset", "keras"])
    assert "invalid choice: 'keras'" in capsys.readouterr().err


def test_response_method_option_scores_logits(tmp_path, capsys):
    from skaloe.cli import main
    from skaloe.datasets import save_embeddings
    from skaloe.experiment import SimulationResults

    X, y, _ = _task(n_train=300, n_val=0, n_classes=3)
    path = tmp_path / "e.npz"
    save_embeddings(path, X[:300], labels=y[:300], label_names=["a", "b", "c"])
    main(["simulate", str(path), "--response-method", "decision_function", "--rounds", "2",
          "--runs", "1", "--n-per-class", "2", "--strategies", "margin",
          "--out", str(tmp_path / "o")])
    capsys.readouterr()
    results = SimulationResults.from_json(tmp_path / "o" / "results.json")
    assert results.params["response_method"] == "decision_function"
    assert results.params["preset"] is None

