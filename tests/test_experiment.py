"""Tests of skaloe.experiment: simulated active learning with an oracle."""

import json

import numpy as np
import pytest

from ci_support import require
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, get_scorer, make_scorer

from skaloe.experiment import SimulationResults, simulate

N_CLASSES = 3


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        400, n_features=8, n_informative=5, n_classes=N_CLASSES, n_clusters_per_class=1,
        random_state=0,
    )
    return X[:240], y[:240], X[240:320], y[240:320], X[320:], y[320:]


@pytest.fixture(scope="module")
def results(data):
    X_pool, y_pool, X_val, y_val, X_test, y_test = data
    return simulate(
        X_pool, y_pool, X_val, y_val, X_test, y_test,
        strategies=("margin", "random", "entropy"),
        selections=("class-aware", "class-agnostic"),
        n_rounds=3, n_runs=3, random_state=0,
    )


def _key(r):
    return {k: v for k, v in r.items() if not k.endswith("_time")}


def test_shapes(results):
    assert len(results.records) == 3 * 3 * 2 * (3 + 1)
    assert len(results.final) == 3 * 3 * 2
    for rec in results.records:
        assert set(rec) == {"run", "strategy", "selection", "round", "n_labels",
                            "val_score", "fit_time", "query_time"}
        assert rec["fit_time"] >= 0 and rec["query_time"] >= 0
    assert {r["strategy"] for r in results.records} == {"margin", "random", "entropy"}
    assert results.params["strategies"] == ["margin", "random", "entropy"]
    assert results.params["n_runs"] == 3


def test_seed_set_shared_within_run_and_new_across_runs(results):
    round0 = [r for r in results.records if r["round"] == 0]
    assert all(r["n_labels"] == 5 * N_CLASSES for r in round0)
    by_run = {}
    for r in round0:
        by_run.setdefault(r["run"], set()).add(r["val_score"])
    # Same seed set + deterministic classifier -> identical round-0 scores.
    for scores in by_run.values():
        assert len(scores) == 1
    # Different seed sets across runs (scores differ for at least one pair).
    assert len({s for scores in by_run.values() for s in scores}) > 1


def test_seed_sets_really_differ_across_runs(data, monkeypatch):
    import skaloe.active as active

    seen = []
    original = active.seed_per_class

    def spy(*args, **kwargs):
        idx = original(*args, **kwargs)
        seen.append(tuple(sorted(idx.tolist())))
        return idx

    monkeypatch.setattr(active, "seed_per_class", spy)
    X_pool, y_pool, X_val, y_val, _, _ = data
    simulate(X_pool, y_pool, X_val, y_val, n_rounds=0, n_runs=3, random_state=1)
    assert len(seen) == 3 and len(set(seen)) == 3


def test_labels_per_round(data):
    X_pool, y_pool, X_val, y_val, _, _ = data
    res = simulate(X_pool, y_pool, X_val, y_val, strategies=("margin",),
                   selections=("class-aware", "class-agnostic"),
                   n_rounds=4, n_runs=1, random_state=0)
    for selection, step in (("class-aware", N_CLASSES), ("class-agnostic", 1)):
        n = [r["n_labels"] for r in res.records if r["selection"] == selection]
        assert n == [15 + k * step for k in range(5)]
    res = simulate(X_pool, y_pool, X_val, y_val, strategies=("margin",),
                   selections=("class-aware", "class-agnostic"), batch_size=4,
                   n_rounds=2, n_runs=1, random_state=0)
    for selection in ("class-aware", "class-agnostic"):
        n = [r["n_labels"] for r in res.records if r["selection"] == selection]
        assert n == [15, 19, 23]


def test_early_stop_when_pool_exhausted():
    X, y = make_blobs(60, centers=3, random_state=0)
    with pytest.warns(UserWarning, match=r"The pool of 24 samples ran out after 4 of the 50 "
                                         r"rounds asked \(margin/class-aware: 4 rounds\)"):
        res = simulate(X[:24], y[:24], X[24:], y[24:], X[24:], y[24:],
                       strategies=("margin",), n_per_class=2, batch_size=5,
                       n_rounds=50, n_runs=2, random_state=0)
    for run in (0, 1):
        n = [r["n_labels"] for r in res.records if r["run"] == run]
        # 6 seeds, then 5 per round: 11, 16, 21, then the last 3.
        assert n == [6, 11, 16, 21, 24]
    assert all(f["n_rounds"] == 4 and f["n_labels"] == 24 for f in res.final)
    n_labels, mean, _ = res.curves()["margin", "class-aware"]
    assert n_labels.tolist() == [6, 11, 16, 21, 24]


def test_reproducible(data):
    X_pool, y_pool, X_val, y_val, X_test, y_test = data
    kwargs = dict(strategies=("margin", "random"), selections=("class-aware", "class-agnostic"),
                  n_rounds=3, n_runs=2, random_state=7)
    a = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test, **kwargs)
    b = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test, **kwargs)
    assert [_key(r) for r in a.records] == [_key(r) for r in b.records]
    assert a.final == b.final
    assert _key(a.upper_bound) == _key(b.upper_bound)
    c = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test,
                 **{**kwargs, "random_state": 8})
    assert [_key(r) for r in a.records] != [_key(r) for r in c.records]


def test_scoring_by_name_and_callable(data):
    X_pool, y_pool, X_val, y_val, X_test, y_test = data
    kwargs = dict(strategies=("margin",), n_rounds=2, n_runs=1, random_state=0)
    acc = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test, **kwargs)
    f1 = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test,
                  scoring="f1_macro", **kwargs)
    custom = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test,
                      scoring=make_scorer(f1_score, average="macro"), **kwargs)
    assert [r["val_score"] for r in f1.records] == [r["val_score"] for r in custom.records]
    assert f1.params["scoring"] == "f1_macro"
    assert [r["n_labels"] for r in acc.records] == [r["n_labels"] for r in f1.records]

    def error_count(estimator, X, y):
        return -float(np.sum(estimator.predict(X) != y))

    err = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test, scoring=error_count,
                   **kwargs)
    assert err.params["scoring"] == "error_count"
    for a, e in zip(acc.records, err.records):
        assert e["val_score"] == pytest.approx(-(1 - a["val_score"]) * len(y_val))


def test_upper_bound_equals_direct_fit(data):
    X_pool, y_pool, X_val, y_val, X_test, y_test = data
    res = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test,
                   strategies=("margin",), n_rounds=0, n_runs=1, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X_pool, y_pool)
    assert res.upper_bound["val_score"] == accuracy_score(y_val, model.predict(X_val))
    assert res.upper_bound["test_score"] == accuracy_score(y_test, model.predict(X_test))
    assert res.upper_bound["n_labels"] == len(y_pool)

    est = LogisticRegression(C=0.01, max_iter=500)
    res = simulate(X_pool, y_pool, X_val, y_val, estimator=est, strategies=("margin",),
                   n_rounds=1, n_runs=1, scoring="neg_log_loss", random_state=0)
    direct = clone(est).fit(X_pool, y_pool)
    assert res.upper_bound["val_score"] == get_scorer("neg_log_loss")(direct, X_val, y_val)
    assert res.upper_bound["test_score"] is None
    assert all(f["test_score"] is None for f in res.final)


def test_curves_against_records(results):
    curves = results.curves()
    assert list(curves) == [(s, sel) for s in ("margin", "random", "entropy")
                            for sel in ("class-aware", "class-agnostic")]
    for (strategy, selection), (n_labels, mean, std) in curves.items():
        assert n_labels.shape == mean.shape == std.shape == (4,)
        for rnd in range(4):
            rows = [r for r in results.records if r["strategy"] == strategy
                    and r["selection"] == selection and r["round"] == rnd]
            assert len(rows) == 3
            scores = [r["val_score"] for r in rows]
            assert mean[rnd] == pytest.approx(np.mean(scores))
            assert std[rnd] == pytest.approx(np.std(scores))
            assert n_labels[rnd] == pytest.approx(np.mean([r["n_labels"] for r in rows]))


def test_summary_against_final(results):
    table = results.summary()
    assert list(table.columns) == ["strategy", "selection", "n_runs", "n_labels",
                                   "val_mean", "val_std", "test_mean", "test_std"]
    assert len(table) == 3 * 2 + 1
    for row in table.to_dict("records")[:-1]:
        ends = [f for f in results.final if f["strategy"] == row["strategy"]
                and f["selection"] == row["selection"]]
        test = [f["test_score"] for f in ends]
        val = [f["val_score"] for f in ends]
        assert row["n_runs"] == 3
        assert row["test_mean"] == pytest.approx(np.mean(test))
        assert row["test_std"] == pytest.approx(np.std(test))
        assert row["val_mean"] == pytest.approx(np.mean(val))
        assert row["val_std"] == pytest.approx(np.std(val))
    upper = table.to_dict("records")[-1]
    assert upper["strategy"] == "all labels"
    assert upper["test_mean"] == results.upper_bound["test_score"]
    assert np.isnan(upper["test_std"])

    text = table.to_text()
    assert str(table) == text
    first = table.to_dict("records")[0]
    cell = f"{100 * first['test_mean']:.1f} \u00b1 {100 * first['test_std']:.1f}"
    assert cell in text.splitlines()[2]
    assert "all labels" in text.splitlines()[-1]
    assert f"{100 * results.upper_bound['test_score']:.1f}" in text.splitlines()[-1]
    assert "\u00b1" not in text.splitlines()[-1]


def test_summary_at_labels(results):
    table = results.summary(at_labels=16)
    assert "test_mean" not in table.columns
    rows = table.to_dict("records")
    for row in rows[:-1]:
        # 16 labels: round 0 (15) for class-aware, round 1 (16) for agnostic.
        rnd = 0 if row["selection"] == "class-aware" else 1
        scores = [r["val_score"] for r in results.records if r["strategy"] == row["strategy"]
                  and r["selection"] == row["selection"] and r["round"] == rnd]
        assert row["val_mean"] == pytest.approx(np.mean(scores))
        assert row["val_std"] == pytest.approx(np.std(scores))
    with pytest.raises(ValueError, match="below the seed set"):
        results.summary(at_labels=3)


def test_json_round_trip(results, tmp_path):
    path = tmp_path / "results.json"
    results.to_json(path)
    json.loads(path.read_text())  # valid JSON
    back = SimulationResults.from_json(path)
    assert back.records == results.records
    assert back.final == results.final
    assert back.upper_bound == results.upper_bound
    assert back.params == results.params
    assert str(back.summary()) == str(results.summary())
    assert isinstance(results.to_json(), str)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="to_json"):
        SimulationResults.from_json(bad)


def test_frames_and_csv(results, tmp_path):
    pd = require("pandas")
    frame = results.to_frame()
    assert list(frame.columns) == ["run", "strategy", "selection", "round", "n_labels",
                                   "val_score", "fit_time", "query_time"]
    assert len(frame) == len(results.records)
    final = results.final_frame()
    assert list(final.columns) == ["run", "strategy", "selection", "n_rounds", "n_labels",
                                   "val_score", "test_score"]
    path = tmp_path / "records.csv"
    results.to_csv(path)
    back = pd.read_csv(path)
    assert list(back.columns) == list(frame.columns)
    np.testing.assert_allclose(back["val_score"], frame["val_score"])


def test_callable_strategy_and_errors(data):
    X_pool, y_pool, X_val, y_val, X_test, y_test = data

    def first_feature(estimator, X):
        return X[:, 0]

    res = simulate(X_pool, y_pool, X_val, y_val, strategies=(first_feature, "margin"),
                   n_rounds=1, n_runs=1, random_state=0)
    assert res.params["strategies"] == ["first_feature", "margin"]
    with pytest.raises(ValueError, match="selections"):
        simulate(X_pool, y_pool, X_val, y_val, selections=("nope",), n_runs=1)
    with pytest.raises(ValueError, match="X_test"):
        simulate(X_pool, y_pool, X_val, y_val, X_test, None, n_runs=1)
    with pytest.raises(ValueError, match="n_runs"):
        simulate(X_pool, y_pool, X_val, y_val, n_runs=0)


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, skaloe.experiment; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_without_pandas(results, monkeypatch):
    import sys

    from skaloe.experiment import SummaryTable, _results

    _results._summary_frame_class.cache_clear()
    monkeypatch.setitem(sys.modules, "pandas", None)
    try:
        with pytest.raises(ImportError, match="needs pandas"):
            results.to_frame()
        table = results.summary()
        assert isinstance(table, SummaryTable)
        assert len(table) == 3 * 2 + 1
        assert str(table) == table.to_text()
        assert table.to_text().splitlines()[0].split()[:2] == ["strategy", "selection"]
    finally:
        _results._summary_frame_class.cache_clear()


def test_stopping_rules_report_where_they_would_stop(data):
    from skaloe.active import PlateauStopping, StabilizingPredictions

    X_pool, y_pool, X_val, y_val = data[:4]
    plateau = PlateauStopping(patience=2, min_delta=0.5)  # never improves by 0.5
    results = simulate(
        X_pool, y_pool, X_val, y_val, strategies=("margin",), n_rounds=4, n_runs=2,
        n_per_class=2, stopping=[plateau, StabilizingPredictions(window=2, threshold=-1.0)],
        random_state=0,
    )
    for row in results.final:
        rounds = [r for r in results.records if r["run"] == row["run"]]
        # The plateau rule sees no improvement after round 0, so it says stop at
        # the third update (round 2), i.e. at round 2's number of labels.
        assert row["stop_PlateauStopping"] == rounds[2]["n_labels"]
        # A threshold of -1 is always met: stop after two compared rounds.
        assert row["stop_StabilizingPredictions"] == rounds[2]["n_labels"]
    # The templates given are not modified: each learner updated clones of them.
    assert not hasattr(plateau, "n_updates_")
    assert plateau.get_params() == PlateauStopping(patience=2, min_delta=0.5).get_params()
    with pytest.raises(TypeError, match="stopping rules"):
        simulate(X_pool, y_pool, X_val, y_val, n_rounds=1, n_runs=1, stopping=[object()])


def test_summary_and_stop_points_show_where_rules_stop(data):
    from skaloe.active import PlateauStopping, StabilizingPredictions

    X_pool, y_pool, X_val, y_val = data[:4]
    results = simulate(
        X_pool, y_pool, X_val, y_val, strategies=("margin", "random"), n_rounds=4,
        n_runs=3, n_per_class=2,
        stopping=[PlateauStopping(patience=2, min_delta=0.5),
                  StabilizingPredictions(window=2, threshold=1.0)],
        random_state=0,
    )
    # Make one run of margin never stop, to check the counts and the mean.
    for row in results.final:
        if row["strategy"] == "margin" and row["run"] == 1:
            row["stop_PlateauStopping"] = None
    points = results.stop_points()
    assert set(points) == {("margin", "class-aware"), ("random", "class-aware")}
    for (strategy, selection), by_rule in points.items():
        ends = [f for f in results.final if f["strategy"] == strategy]
        assert set(by_rule) == {"PlateauStopping", "StabilizingPredictions"}
        for rule, point in by_rule.items():
            stops = [f[f"stop_{rule}"] for f in ends if f[f"stop_{rule}"] is not None]
            assert point["n_stopped"] == len(stops) and point["n_runs"] == 3
            if stops:
                assert point["n_labels"] == pytest.approx(np.mean(stops))
                assert point["n_labels_std"] == pytest.approx(np.std(stops))
                at = [r["val_score"] for f in ends for r in results.records
                      if r["strategy"] == strategy and r["run"] == f["run"]
                      and r["n_labels"] == f[f"stop_{rule}"]]
                assert point["val_score"] == pytest.approx(np.mean(at))
            else:
                assert np.isnan(point["n_labels"]) and np.isnan(point["val_score"])
    assert points["margin", "class-aware"]["PlateauStopping"]["n_stopped"] == 2

    table = results.summary()
    rows = table.to_dict("records")
    assert rows[0]["stop_PlateauStopping_runs"] == 2
    assert rows[0]["stop_PlateauStopping"] == points["margin", "class-aware"][
        "PlateauStopping"]["n_labels"]
    text = table.to_text()
    header = text.splitlines()[0]
    assert "PlateauStopping stops at" in header and "StabilizingPredictions val" in header
    assert "(2/3 runs)" in text.splitlines()[2]
    assert text.splitlines()[-1].rstrip().endswith("-")  # upper bound: no stop point
    # at_labels tables and simulations without rules have no stop columns
    assert not any(c.startswith("stop_") for c in results.summary(at_labels=10).columns)
    plain = simulate(X_pool, y_pool, X_val, y_val, n_rounds=1, n_runs=1, random_state=0)
    assert plain.stop_points() == {
        ("margin", "class-aware"): {}, ("random", "class-aware"): {}
    }
    assert not any(c.startswith("stop_") for c in plain.summary().columns)


def _hand_scores(proba, strategy):
    """Query scores written out from their definitions (higher = ask first)."""
    top2 = np.sort(proba, axis=1)[:, -2:]
    if strategy == "margin":  # smallest gap between the two most probable classes
        return -(top2[:, 1] - top2[:, 0])
    if strategy == "least_confidence":
        return 1.0 - top2[:, 1]
    raise ValueError(strategy)


def _recorded_simulation(**params):
    """simulate on a 3-class problem, with the training set of every fit recorded.

    Returns the results, the pool positions and labels of every fit (the
    seed set, then one fit per round, then the upper bound on the whole pool)
    and the data.
    """
    X, y = make_classification(
        260, n_features=6, n_informative=4, n_classes=3, n_clusters_per_class=1,
        class_sep=0.8, random_state=3,
    )
    X_pool, y_pool, X_val, y_val = X[:200], y[:200], X[200:], y[200:]
    fitted_on = []

    class RecordingLogisticRegression(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            fitted_on.append((np.array(X, copy=True), np.array(y, copy=True)))
            return super().fit(X, y, sample_weight=sample_weight)

    results = simulate(X_pool, y_pool, X_val, y_val,
                       estimator=RecordingLogisticRegression(max_iter=1000),
                       n_per_class=2, n_runs=1, random_state=0, **params)
    position_of = {row.tobytes(): i for i, row in enumerate(X_pool)}
    fits = [(sorted(position_of[row.tobytes()] for row in X_fit), y_fit)
            for X_fit, y_fit in fitted_on]
    return results, fits, (X_pool, y_pool, X_val, y_val)


@pytest.mark.parametrize("strategy", ["margin", "least_confidence"])
def test_simulate_round_by_round_matches_a_loop_written_here(strategy):
    """Every round of simulate is the strategy and selection it is labelled with.

    A classifier that records what it is fitted on shows the labeled set of
    each round; the next round's picks must be the batch that this test's own
    model and scores choose (class-agnostic: the top scores), and the recorded
    validation score must be that model's accuracy.
    """
    n_rounds, batch = 5, 4
    results, fits, (X_pool, y_pool, X_val, y_val) = _recorded_simulation(
        strategies=(strategy,), selections=("class-agnostic",), n_rounds=n_rounds,
        batch_size=batch)
    # the seed set, one fit per round, then the upper bound on the whole pool
    assert len(fits) == n_rounds + 2
    assert fits[-1][0] == list(range(len(X_pool)))
    labeled = fits[0][0]
    assert sorted(np.bincount(y_pool[labeled]).tolist()) == [2, 2, 2]
    assert [r["round"] for r in results.records] == list(range(n_rounds + 1))
    for rnd, record in enumerate(results.records):
        positions, y_train = fits[rnd]
        assert positions == labeled
        np.testing.assert_array_equal(np.sort(y_train), np.sort(y_pool[labeled]))
        assert record["n_labels"] == len(labeled)
        model = LogisticRegression(max_iter=1000).fit(X_pool[labeled], y_pool[labeled])
        assert record["val_score"] == pytest.approx(accuracy_score(y_val, model.predict(X_val)))
        if rnd == n_rounds:
            break
        scores = _hand_scores(model.predict_proba(X_pool), strategy)
        scores[labeled] = -np.inf
        expected = set(np.argsort(-scores, kind="stable")[:batch].tolist())
        picked = set(fits[rnd + 1][0]) - set(labeled)
        assert picked == expected, f"round {rnd + 1}"
        labeled = sorted(set(labeled) | picked)


def test_simulate_class_aware_rounds_spread_over_predicted_classes():
    """With class-aware selection each round asks one clip per predicted class."""
    _, fits, (X_pool, y_pool, _, _) = _recorded_simulation(
        strategies=("margin",), selections=("class-aware",), n_rounds=4)
    for (labeled, _), (after, _) in zip(fits[:4], fits[1:5]):
        picked = sorted(set(after) - set(labeled))
        model = LogisticRegression(max_iter=1000).fit(X_pool[labeled], y_pool[labeled])
        predicted = model.predict(X_pool)
        assert len(picked) == 3  # batch = number of classes
        # one pick per predicted class, each the smallest margin within its class
        assert sorted(predicted[picked].tolist()) == [0, 1, 2]
        scores = _hand_scores(model.predict_proba(X_pool), "margin")
        scores[labeled] = -np.inf
        for position in picked:
            same = predicted == predicted[position]
            assert scores[position] == np.max(scores[same])


def test_no_warning_when_the_pool_lasts(data, recwarn):
    X_pool, y_pool, X_val, y_val, _, _ = data
    simulate(X_pool, y_pool, X_val, y_val, strategies=("margin",), n_rounds=2, n_runs=1,
             random_state=0)
    assert not [w for w in recwarn if "ran out" in str(w.message)]


def _reach_by_hand(records, key, target, n_pool):
    """Labels of the first round at or above ``target`` in each run, the full pool excluded."""
    needed = {}
    for r in sorted(records, key=lambda r: (r["run"], r["round"])):
        if (r["strategy"], r["selection"]) != key or r["n_labels"] >= n_pool:
            continue
        needed.setdefault(r["run"], None)
        if needed[r["run"]] is None and r["val_score"] >= target:
            needed[r["run"]] = r["n_labels"]
    return [needed[run] for run in sorted(needed)]


@pytest.mark.parametrize("fraction", [0.8, 0.95, 0.98, 1.0])
def test_labels_to_reach_against_the_records(results, fraction):
    target = fraction * results.upper_bound["val_score"]
    reach = results.labels_to_reach(fraction)
    assert sorted(reach) == sorted(results.curves())
    for key, r in reach.items():
        assert r["target"] == pytest.approx(target)
        per_run = _reach_by_hand(results.records, key, target, results.params["n_pool"])
        assert r["per_run"] == per_run
        got = [n for n in per_run if n is not None]
        assert r["n_reached"] == len(got) and r["n_runs"] == 3
        if got:
            assert r["n_labels"] == pytest.approx(np.mean(got))
            assert r["n_labels_std"] == pytest.approx(np.std(got))
        else:
            assert np.isnan(r["n_labels"])


def test_labels_to_reach_ignores_rounds_with_the_whole_pool():
    """Labeling everything reaches any target: such rounds save nothing and do not count."""
    records = [
        {"run": 0, "strategy": s, "selection": "class-aware", "round": k, "n_labels": n,
         "val_score": v}
        for s, scores in (("margin", (0.5, 0.96, 0.99)), ("random", (0.5, 0.7, 0.99)))
        for k, (n, v) in enumerate(zip((10, 20, 30), scores))
    ]
    results = SimulationResults(records, [], {"val_score": 1.0}, {"n_pool": 30})
    reach = results.labels_to_reach(0.95)
    assert reach["margin", "class-aware"]["per_run"] == [20]
    assert reach["random", "class-aware"]["per_run"] == [None]
    assert reach["random", "class-aware"]["max_labels"] == [20]
    # random needed more than 20 labels: margin's 20 save at least 0%.
    assert results.labels_saved(0.95) == {("margin", "class-aware"): (0.0, True)}


def test_labels_saved_is_the_share_of_random_labels_spared():
    records = [
        {"run": run, "strategy": s, "selection": "class-aware", "round": k, "n_labels": n,
         "val_score": v}
        for run in (0, 1)
        for s, first in (("margin", 1), ("random", 3 + run))
        for k, n in enumerate((10, 20, 30, 40, 50))
        for v in [0.99 if k >= first else 0.5]
    ]
    results = SimulationResults(records, [], {"val_score": 1.0}, {"n_pool": 1000})
    # margin needs 20 labels in both runs; random 40 and 50.
    saving, lower = results.labels_saved(0.95)["margin", "class-aware"]
    assert saving == pytest.approx(1 - 20 / 45) and lower is False
    assert ("random", "class-aware") not in results.labels_saved(0.95)
    # Against margin as the baseline, random needs more: a negative saving.
    saving, _ = results.labels_saved(0.95, baseline="margin")["random", "class-aware"]
    assert saving == pytest.approx(1 - 45 / 20)


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5, "0.9", True, None])
def test_labels_to_reach_rejects_bad_fractions(results, fraction):
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\]"):
        results.labels_to_reach(fraction)


def test_all_labels_reference_is_the_classifier_fitted_from_scratch(data):
    """The reference row is the learners' classifier on every pool label, not warm started."""
    X_pool, y_pool, X_val, y_val, X_test, y_test = data
    res = simulate(X_pool, y_pool, X_val, y_val, X_test, y_test, strategies=("margin",),
                   n_rounds=1, n_runs=1, random_state=0)
    full = LogisticRegression(max_iter=1000).fit(X_pool, y_pool)
    assert res.upper_bound["val_score"] == full.score(X_val, y_val)
    assert res.upper_bound["test_score"] == full.score(X_test, y_test)
    row = res.summary().to_text().splitlines()[-1]
    assert row.startswith("all labels") and "every pool label" in row
