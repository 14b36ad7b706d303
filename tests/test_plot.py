"""Tests of skaloe.experiment._plot: learning curve and strategy comparison plots."""

import sys

import matplotlib  # a dependency of skaloe: imported directly, never skipped
import numpy as np
import pytest
from sklearn.datasets import make_classification

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skaloe.experiment import SimulationResults, simulate  # noqa: E402
from skaloe.experiment._plot import (  # noqa: E402
    ActiveLearningCurveDisplay,
    StrategyComparisonDisplay,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        300, n_features=6, n_informative=4, n_classes=3, n_clusters_per_class=1,
        random_state=0,
    )
    return X[:180], y[:180], X[180:240], y[180:240], X[240:], y[240:]


@pytest.fixture(scope="module")
def results(data):
    return simulate(
        *data, strategies=("margin", "random"),
        selections=("class-aware", "class-agnostic"),
        n_rounds=3, n_runs=2, random_state=0,
    )


@pytest.fixture(scope="module")
def results_no_test(data):
    X_pool, y_pool, X_val, y_val, _, _ = data
    return simulate(X_pool, y_pool, X_val, y_val, strategies=("margin", "random"),
                    n_rounds=3, n_runs=2, random_state=0)


def _summary_rows(results):
    table = results.summary()
    rows = table.rows if hasattr(table, "rows") and not hasattr(table, "to_dict") \
        else table.to_dict("records")
    return {(r["strategy"], r["selection"]): r for r in rows}


# -- ActiveLearningCurveDisplay ---------------------------------------------------


def test_curve_lines_match_curves(results):
    display = ActiveLearningCurveDisplay.from_results(results)
    curves = results.curves()
    assert set(display.lines_) == set(curves)
    for key, (n_labels, mean, std) in curves.items():
        line = display.lines_[key]
        np.testing.assert_allclose(line.get_xdata(), n_labels)
        np.testing.assert_allclose(line.get_ydata(), mean)
    assert display.ax_.get_xlabel() == "labels"
    assert display.ax_.get_ylabel() == "validation accuracy"
    assert display.figure_ is display.ax_.figure
    assert display.errorbar_ is None


def test_curve_bands(results):
    display = ActiveLearningCurveDisplay.from_results(results)
    curves = results.curves()
    assert set(display.fill_between_) == set(curves)
    for key, (n_labels, mean, std) in curves.items():
        band = display.fill_between_[key]
        assert band in display.ax_.collections
        vertices = np.concatenate([p.vertices for p in band.get_paths()])
        # The polygon spans mean - std .. mean + std.
        np.testing.assert_allclose(vertices[:, 1].min(), (mean - std).min())
        np.testing.assert_allclose(vertices[:, 1].max(), (mean + std).max())
        np.testing.assert_allclose(vertices[:, 0].min(), n_labels.min())
        np.testing.assert_allclose(vertices[:, 0].max(), n_labels.max())
        # Same colour as the line.
        np.testing.assert_allclose(
            band.get_facecolor()[0][:3],
            matplotlib.colors.to_rgb(display.lines_[key].get_color()),
        )


def test_curve_upper_bound_line(results):
    display = ActiveLearningCurveDisplay.from_results(results)
    line = display.upper_bound_line_
    np.testing.assert_allclose(line.get_ydata(), [results.upper_bound["val_score"]] * 2)
    assert line.get_linestyle() == "--"

    display = ActiveLearningCurveDisplay.from_results(results, upper_bound=False)
    assert display.upper_bound_line_ is None


def test_curve_legend_labels(results):
    display = ActiveLearningCurveDisplay.from_results(results)
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == [
        "margin (class-aware)", "margin (class-agnostic)",
        "random (class-aware)", "random (class-agnostic)",
        "all labels (reference)",
    ]


def test_curve_existing_ax(results):
    fig, (ax1, ax2) = plt.subplots(1, 2)
    display = ActiveLearningCurveDisplay.from_results(results, ax=ax2)
    assert display.ax_ is ax2
    assert display.figure_ is fig
    assert len(ax2.lines) == len(results.curves()) + 1
    assert not ax1.lines


def test_curve_errorbar_and_none_styles(results):
    curves = results.curves()
    display = ActiveLearningCurveDisplay.from_results(results, std_display_style="errorbar")
    assert display.fill_between_ is None
    assert set(display.errorbar_) == set(curves)
    for key, (n_labels, mean, _) in curves.items():
        np.testing.assert_allclose(display.lines_[key].get_ydata(), mean)

    display = ActiveLearningCurveDisplay.from_results(results, std_display_style=None)
    assert display.fill_between_ is None and display.errorbar_ is None
    assert not display.ax_.collections

    with pytest.raises(ValueError, match="std_display_style"):
        ActiveLearningCurveDisplay.from_results(results, std_display_style="band")


def test_curve_style_kwargs_and_constructor():
    curves = {("margin", "class-aware"): ([15, 18], [0.5, 0.6], [0.1, 0.0])}
    display = ActiveLearningCurveDisplay(curves, upper_bound=0.9, score_name="f1")
    out = display.plot(line_kw={"color": "red"}, fill_between_kw={"alpha": 0.5},
                       upper_bound_kw={"color": "green"})
    assert out is display
    line = display.lines_["margin", "class-aware"]
    assert matplotlib.colors.to_rgb(line.get_color()) == (1.0, 0.0, 0.0)
    assert display.fill_between_["margin", "class-aware"].get_alpha() == 0.5
    assert display.upper_bound_line_.get_color() == "green"
    assert display.ax_.get_ylabel() == "validation f1"

    display = ActiveLearningCurveDisplay(curves).plot()
    assert display.upper_bound_line_ is None


def test_curve_score_name_from_params(data):
    res = simulate(*data, strategies=("margin",), n_rounds=1, n_runs=1,
                   scoring="f1_macro", random_state=0)
    display = ActiveLearningCurveDisplay.from_results(res)
    assert display.ax_.get_ylabel() == "validation f1_macro"
    display = ActiveLearningCurveDisplay.from_results(res, score_name="macro F1")
    assert display.ax_.get_ylabel() == "validation macro F1"


def test_from_results_type_check():
    with pytest.raises(TypeError, match="SimulationResults"):
        ActiveLearningCurveDisplay.from_results({"records": []})
    with pytest.raises(TypeError, match="SimulationResults"):
        StrategyComparisonDisplay.from_results([])


# -- StrategyComparisonDisplay -------------------------------------------------


def _errorbar_sizes(container):
    """Half lengths of the vertical error bars of an ErrorbarContainer."""
    (barcols,) = container.lines[2]
    segs = barcols.get_segments()
    return np.array([(s[1][1] - s[0][1]) / 2 for s in segs])


def test_comparison_bars_match_summary(results):
    display = StrategyComparisonDisplay.from_results(results)
    summary = _summary_rows(results)
    keys = set(results.curves())
    assert set(display.bars_) == keys
    for key in keys:
        np.testing.assert_allclose(display.bars_[key].get_height(),
                                   summary[key]["test_mean"])
    for selection, container in display.errorbar_.items():
        strategies = ["margin", "random"]
        expected = [summary[s, selection]["test_std"] for s in strategies]
        np.testing.assert_allclose(_errorbar_sizes(container), expected, atol=1e-12)
        centers = [display.bars_[s, selection].get_x()
                   + display.bars_[s, selection].get_width() / 2 for s in strategies]
        (barcols,) = container.lines[2]
        np.testing.assert_allclose([seg[0][0] for seg in barcols.get_segments()], centers)
    assert display.ax_.get_ylabel() == "test accuracy"
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["margin", "random"]
    np.testing.assert_allclose(display.upper_bound_line_.get_ydata(),
                               [results.upper_bound["test_score"]] * 2)
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    # matplotlib lists lines before bars in a legend.
    assert sorted(labels) == ["all labels (reference)", "class-agnostic", "class-aware"]


def test_comparison_val_score(results, results_no_test):
    display = StrategyComparisonDisplay.from_results(results, score="val")
    summary = _summary_rows(results)
    for key, bar in display.bars_.items():
        np.testing.assert_allclose(bar.get_height(), summary[key]["val_mean"])
    np.testing.assert_allclose(display.upper_bound_line_.get_ydata(),
                               [results.upper_bound["val_score"]] * 2)
    assert display.ax_.get_ylabel() == "validation accuracy"

    # Without a test set the default falls back on the validation scores.
    summary = _summary_rows(results_no_test)
    for score in (None, "val"):
        display = StrategyComparisonDisplay.from_results(results_no_test, score=score)
        assert display.ax_.get_ylabel() == "validation accuracy"
        for key, bar in display.bars_.items():
            np.testing.assert_allclose(bar.get_height(), summary[key]["val_mean"])
        (container,) = display.errorbar_.values()
        np.testing.assert_allclose(
            _errorbar_sizes(container),
            [summary[s, "class-aware"]["val_std"] for s in ("margin", "random")],
            atol=1e-12,
        )
    with pytest.raises(ValueError, match="no test set"):
        StrategyComparisonDisplay.from_results(results_no_test, score="test")
    with pytest.raises(ValueError, match="score must be"):
        StrategyComparisonDisplay.from_results(results, score="train")


def test_comparison_existing_ax_and_constructor(results):
    fig, ax = plt.subplots()
    display = StrategyComparisonDisplay.from_results(results, ax=ax, upper_bound=False)
    assert display.ax_ is ax and display.figure_ is fig
    assert display.upper_bound_line_ is None
    assert len(ax.patches) == 4

    scores = {("a", "class-aware"): (0.8, 0.05), ("b", "class-aware"): (0.7, float("nan"))}
    display = StrategyComparisonDisplay(scores, upper_bound=0.9).plot()
    assert display.bars_["a", "class-aware"].get_height() == pytest.approx(0.8)
    np.testing.assert_allclose(_errorbar_sizes(display.errorbar_["class-aware"]),
                               [0.05, 0.0])
    assert display.ax_.get_ylabel() == "test accuracy"


def test_hand_built_results():
    records = [
        {"run": run, "strategy": "margin", "selection": "class-aware", "round": rnd,
         "n_labels": 10 + 2 * rnd, "val_score": 0.5 + 0.1 * rnd + 0.02 * run,
         "fit_time": 0.0, "query_time": 0.0}
        for run in range(2) for rnd in range(3)
    ]
    final = [
        {"run": run, "strategy": "margin", "selection": "class-aware", "n_rounds": 2,
         "n_labels": 14, "val_score": 0.7 + 0.02 * run, "test_score": 0.6 + 0.04 * run}
        for run in range(2)
    ]
    upper = {"n_labels": 50, "val_score": 0.9, "test_score": 0.85, "fit_time": 0.0}
    res = SimulationResults(records, final, upper, {"scoring": "accuracy"})
    curve = ActiveLearningCurveDisplay.from_results(res)
    line = curve.lines_["margin", "class-aware"]
    np.testing.assert_allclose(line.get_xdata(), [10, 12, 14])
    np.testing.assert_allclose(line.get_ydata(), [0.51, 0.61, 0.71])
    np.testing.assert_allclose(curve.upper_bound_line_.get_ydata(), [0.9, 0.9])
    bars = StrategyComparisonDisplay.from_results(res)
    assert bars.bars_["margin", "class-aware"].get_height() == pytest.approx(0.62)
    np.testing.assert_allclose(_errorbar_sizes(bars.errorbar_["class-aware"]), [0.02])
    np.testing.assert_allclose(bars.upper_bound_line_.get_ydata(), [0.85, 0.85])


def test_savefig(results, tmp_path):
    for i, display in enumerate([
        ActiveLearningCurveDisplay.from_results(results),
        StrategyComparisonDisplay.from_results(results),
    ]):
        path = tmp_path / f"plot{i}.png"
        display.figure_.savefig(path)
        assert path.stat().st_size > 0
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_matplotlib(results, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    curves = results.curves()
    with pytest.raises(ImportError, match="pip install matplotlib"):
        ActiveLearningCurveDisplay.from_results(results)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        ActiveLearningCurveDisplay(curves).plot()
    with pytest.raises(ImportError, match="pip install matplotlib"):
        StrategyComparisonDisplay.from_results(results)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        StrategyComparisonDisplay({("a", "class-aware"): (0.5, 0.1)}).plot()


def test_curve_marks_stop_points(data):
    from skaloe.active import PlateauStopping

    results = simulate(
        *data, strategies=("margin", "random"), n_rounds=4, n_runs=2, n_per_class=2,
        stopping=[PlateauStopping(patience=1, min_delta=0.5)], random_state=0,
    )
    display = ActiveLearningCurveDisplay.from_results(results)
    points = results.stop_points()
    assert set(display.stop_markers_) == {(key, "PlateauStopping") for key in points}
    labels = display.ax_.get_legend_handles_labels()[1]
    assert labels.count("PlateauStopping stops (mean)") == 1
    for (key, rule), marker in display.stop_markers_.items():
        n_labels, mean, _ = results.curves()[key]
        x, y = marker.get_xdata()[0], marker.get_ydata()[0]
        assert x == pytest.approx(points[key][rule]["n_labels"])
        assert y == pytest.approx(np.interp(x, n_labels, mean))
        assert marker.get_markerfacecolor() == display.lines_[key].get_color()
    off = ActiveLearningCurveDisplay.from_results(results, stop_points=False)
    assert off.stop_markers_ == {}
    # Hand-built: plain numbers per rule; a NaN stop point is not drawn.
    curves = {("a", "b"): (np.array([1.0, 3.0]), np.array([0.2, 0.6]), np.zeros(2))}
    shown = ActiveLearningCurveDisplay(
        curves, stop_points={("a", "b"): {"R": 2.0, "S": float("nan")}}
    ).plot(stop_kw={"marker": "o"})
    assert list(shown.stop_markers_) == [(("a", "b"), "R")]
    marker = shown.stop_markers_[("a", "b"), "R"]
    assert marker.get_ydata()[0] == pytest.approx(0.4) and marker.get_marker() == "o"
