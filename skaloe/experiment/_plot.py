"""Plots of :class:`~skaloe.experiment.SimulationResults`, scikit-learn Display style.

matplotlib (a dependency of skaloe) is imported inside the methods that draw,
never at module import, so ``import skaloe`` stays light.
"""

from __future__ import annotations

import math

import numpy as np

from ._results import _UPPER_SELECTION, _UPPER_STRATEGY, SummaryTable

_STD_DISPLAY_STYLES = ("fill_between", "errorbar", None)
_SCORES = ("test", "val")
_SCORE_WORDS = {"test": "test", "val": "validation"}


def _require_matplotlib(what):
    """Import and return ``matplotlib.pyplot``, with a clear error when missing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{what} requires matplotlib; install it with `pip install matplotlib`."
        ) from exc
    return plt


def _missing(value):
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _label(key):
    strategy, selection = key
    return f"{strategy} ({selection})"


def _score_name_of(results, score_name):
    if score_name is not None:
        return score_name
    scoring = getattr(results, "params", {}).get("scoring")
    return scoring if isinstance(scoring, str) else "score"


def _check_results(results, caller):
    if not hasattr(results, "curves") or not hasattr(results, "summary"):
        raise TypeError(
            f"{caller} expects a SimulationResults (from skaloe.experiment.simulate), "
            f"got {type(results).__name__}."
        )


_STOP_MARKERS = ("v", "s", "D", "^", "P", "X")


def _merge(defaults, user):
    """Style kwargs: the user's over the defaults (no alias handling needed here)."""
    out = dict(defaults)
    if user:
        out.update(user)
    return out


class ActiveLearningCurveDisplay:
    """Active learning curves: validation score against the number of labels.

    One line per query strategy and selection rule, the mean over runs of
    the validation score after each round, with a band of plus or minus one
    standard deviation over runs; the classifier trained on the whole
    labeled pool (the all-labels reference) as a horizontal dashed line (ALOE, Fig. 2).

    Build it with :meth:`from_results`; the constructor only stores the data.

    Parameters
    ----------
    curves : dict
        ``(strategy, selection) -> (n_labels, mean, std)``, three arrays of
        the same length, as returned by
        :meth:`SimulationResults.curves <skaloe.experiment.SimulationResults.curves>`.
    upper_bound : float, default=None
        Validation score of the all-labels reference; None draws no line.
    score_name : str, default="accuracy"
        Name of the score, shown in the y label as ``"validation <score_name>"``.
    stop_points : dict, default=None
        ``(strategy, selection) -> {rule: n_labels}``: where stopping rules
        would have stopped (the mean over runs), marked on each curve; a
        ``{rule: {"n_labels": ...}}`` dict as returned by
        :meth:`SimulationResults.stop_points
        <skaloe.experiment.SimulationResults.stop_points>` works too. None
        marks nothing.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.
    lines_ : dict of matplotlib Line2D
        ``(strategy, selection) -> line`` of the mean scores.
    fill_between_ : dict of matplotlib PolyCollection or None
        ``(strategy, selection) -> band`` of the standard deviations, when
        ``std_display_style="fill_between"``; None otherwise.
    errorbar_ : dict of matplotlib ErrorbarContainer or None
        ``(strategy, selection) -> error bars``, when
        ``std_display_style="errorbar"``; None otherwise.
    upper_bound_line_ : matplotlib Line2D or None
        The horizontal line of the all-labels reference; None without one.
    stop_markers_ : dict of matplotlib Line2D
        ``((strategy, selection), rule) -> marker`` at the mean stop point
        of each rule on each curve (empty without ``stop_points``).

    See Also
    --------
    StrategyComparisonDisplay : Final scores per strategy and selection.
    skaloe.experiment.simulate : Run the simulation these curves come from.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.experiment import simulate
    >>> from skaloe.experiment import ActiveLearningCurveDisplay
    >>> X, y = make_classification(300, n_classes=3, n_informative=4, random_state=0)
    >>> results = simulate(X[:200], y[:200], X[200:250], y[200:250],
    ...                    n_rounds=2, n_runs=2, random_state=0)
    >>> display = ActiveLearningCurveDisplay(
    ...     results.curves(), upper_bound=results.upper_bound["val_score"])
    >>> sorted(display.curves)
    [('margin', 'class-aware'), ('random', 'class-aware')]
    >>> display.plot()                                    # doctest: +SKIP
    >>> display = ActiveLearningCurveDisplay.from_results(results)   # doctest: +SKIP
    >>> display.figure_.savefig("curves.png")             # doctest: +SKIP
    """

    def __init__(self, curves, upper_bound=None, score_name="accuracy", stop_points=None):
        self.curves = dict(curves)
        self.upper_bound = upper_bound
        self.score_name = score_name
        self.stop_points = stop_points

    def plot(
        self,
        ax=None,
        *,
        std_display_style="fill_between",
        line_kw=None,
        fill_between_kw=None,
        errorbar_kw=None,
        upper_bound_kw=None,
        stop_kw=None,
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new figure and axes.
        std_display_style : {"fill_between", "errorbar"} or None, \
                default="fill_between"
            How to show the standard deviation over runs: a shaded band,
            error bars, or nothing.
        line_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for every
            mean line.
        fill_between_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.fill_between`
            for the bands.
        errorbar_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.errorbar`.
        upper_bound_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.axhline` for the
            all-labels line.
        stop_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for the
            stop point markers.

        Returns
        -------
        display : ActiveLearningCurveDisplay
            The object, with ``ax_``, ``figure_``, ``lines_``,
            ``fill_between_``, ``errorbar_``, ``upper_bound_line_`` and
            ``stop_markers_`` set.
        """
        plt = _require_matplotlib(f"{type(self).__name__}.plot")
        if std_display_style not in _STD_DISPLAY_STYLES:
            raise ValueError(
                f"std_display_style must be one of {_STD_DISPLAY_STYLES}, "
                f"got {std_display_style!r}."
            )
        if ax is None:
            _, ax = plt.subplots()

        self.lines_ = {}
        self.fill_between_ = {} if std_display_style == "fill_between" else None
        self.errorbar_ = {} if std_display_style == "errorbar" else None
        for key, (n_labels, mean, std) in self.curves.items():
            n_labels = np.asarray(n_labels, dtype=np.float64)
            mean = np.asarray(mean, dtype=np.float64)
            std = np.asarray(std, dtype=np.float64)
            label = _label(key)
            if std_display_style == "errorbar":
                kw = _merge({"label": label, "capsize": 3}, errorbar_kw)
                container = ax.errorbar(n_labels, mean, yerr=std, **_merge(kw, line_kw))
                self.errorbar_[key] = container
                self.lines_[key] = container.lines[0]
            else:
                (line,) = ax.plot(n_labels, mean, **_merge({"label": label}, line_kw))
                self.lines_[key] = line
                if std_display_style == "fill_between":
                    kw = _merge({"alpha": 0.2, "color": line.get_color(), "linewidth": 0},
                                fill_between_kw)
                    self.fill_between_[key] = ax.fill_between(
                        n_labels, mean - std, mean + std, **kw
                    )

        self.stop_markers_ = {}
        rules = list(dict.fromkeys(
            rule for points in (self.stop_points or {}).values() for rule in points
        ))
        for key, (n_labels, mean, _) in self.curves.items():
            points = (self.stop_points or {}).get(key, {})
            for rule, point in points.items():
                n = point.get("n_labels") if isinstance(point, dict) else point
                if _missing(n) or key not in self.lines_:
                    continue
                n = float(n)
                y = float(np.interp(n, np.asarray(n_labels, float), np.asarray(mean, float)))
                first = not any(r == rule for (_, r) in self.stop_markers_)
                kw = _merge({
                    "marker": _STOP_MARKERS[rules.index(rule) % len(_STOP_MARKERS)],
                    "markersize": 9,
                    "linestyle": "none",
                    "markerfacecolor": self.lines_[key].get_color(),
                    "markeredgecolor": "black",
                    "label": f"{rule} stops (mean)" if first else "_nolegend_",
                    "zorder": 3,
                }, stop_kw)
                (marker,) = ax.plot([n], [y], **kw)
                self.stop_markers_[key, rule] = marker

        self.upper_bound_line_ = None
        if not _missing(self.upper_bound):
            kw = _merge(
                {"linestyle": "--", "color": "black", "label": "all labels (reference)"},
                upper_bound_kw,
            )
            self.upper_bound_line_ = ax.axhline(float(self.upper_bound), **kw)

        ax.set_xlabel("labels")
        ax.set_ylabel(f"validation {self.score_name}")
        if self.lines_ or self.upper_bound_line_ is not None:
            ax.legend(loc="best")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_results(
        cls,
        results,
        *,
        ax=None,
        score_name=None,
        upper_bound=True,
        stop_points=True,
        std_display_style="fill_between",
        line_kw=None,
        fill_between_kw=None,
        errorbar_kw=None,
        upper_bound_kw=None,
        stop_kw=None,
    ):
        """Plot the learning curves of a simulation.

        Parameters
        ----------
        results : SimulationResults
            What :func:`~skaloe.experiment.simulate` returned.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new figure and axes.
        score_name : str, default=None
            Name of the score in the y label; None means the ``scoring`` of
            the simulation when it is a string, else ``"score"``.
        upper_bound : bool, default=True
            Draw the validation score of the all-labels reference.
        stop_points : bool, default=True
            Mark where each stopping rule of the simulation would have
            stopped (mean over the runs where it did).
        std_display_style : {"fill_between", "errorbar"} or None, \
                default="fill_between"
            How to show the standard deviation over runs.
        line_kw, fill_between_kw, errorbar_kw, upper_bound_kw, stop_kw : \
                dict, default=None
            Style keyword arguments, see :meth:`plot`.

        Returns
        -------
        display : ActiveLearningCurveDisplay
        """
        _require_matplotlib(f"{cls.__name__}.from_results")
        _check_results(results, f"{cls.__name__}.from_results")
        ub = results.upper_bound.get("val_score") if upper_bound else None
        display = cls(
            results.curves(),
            upper_bound=ub,
            score_name=_score_name_of(results, score_name),
            stop_points=results.stop_points() if stop_points else None,
        )
        return display.plot(
            ax=ax,
            std_display_style=std_display_style,
            line_kw=line_kw,
            fill_between_kw=fill_between_kw,
            errorbar_kw=errorbar_kw,
            upper_bound_kw=upper_bound_kw,
            stop_kw=stop_kw,
        )


def _summary_rows(results):
    table = results.summary()
    if isinstance(table, SummaryTable):
        return list(table.rows)
    return table.to_dict("records")


class StrategyComparisonDisplay:
    """Final scores per query strategy and selection rule, as bars.

    One bar per strategy and selection, the mean over runs of the score at
    the end of the runs, with an error bar of plus or minus one standard
    deviation; strategies side by side, the selections of a strategy
    grouped; the all-labels reference as a horizontal dashed line (ALOE, Fig. 3 and
    Table 2).

    Build it with :meth:`from_results`; the constructor only stores the data.

    Parameters
    ----------
    scores : dict
        ``(strategy, selection) -> (mean, std)``.
    upper_bound : float, default=None
        Score of the all-labels reference; None draws no line.
    score_name : str, default="test accuracy"
        The y label.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the bars.
    figure_ : matplotlib Figure
        Figure containing the bars.
    bars_ : dict of matplotlib Rectangle
        ``(strategy, selection) -> bar``; its height is the mean score.
    errorbar_ : dict of matplotlib ErrorbarContainer
        ``selection -> error bars`` of the bars of that selection (in the
        order of the strategies).
    upper_bound_line_ : matplotlib Line2D or None
        The horizontal line of the all-labels reference; None without one.

    See Also
    --------
    ActiveLearningCurveDisplay : Score against the number of labels.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.experiment import simulate
    >>> from skaloe.experiment import StrategyComparisonDisplay
    >>> X, y = make_classification(300, n_classes=3, n_informative=4, random_state=0)
    >>> results = simulate(X[:200], y[:200], X[200:250], y[200:250], X[250:], y[250:],
    ...                    n_rounds=2, n_runs=2, random_state=0)
    >>> display = StrategyComparisonDisplay.from_results(results)   # doctest: +SKIP
    >>> sorted(display.bars_)                                       # doctest: +SKIP
    [('margin', 'class-aware'), ('random', 'class-aware')]
    >>> display.figure_.savefig("strategies.png")                   # doctest: +SKIP
    >>> final = {(r["strategy"], r["selection"]) for r in results.final}
    >>> display = StrategyComparisonDisplay(
    ...     {key: (0.9, 0.01) for key in final}, upper_bound=0.95)
    >>> display.score_name
    'test accuracy'
    """

    def __init__(self, scores, upper_bound=None, score_name="test accuracy"):
        self.scores = dict(scores)
        self.upper_bound = upper_bound
        self.score_name = score_name

    def plot(self, ax=None, *, bar_kw=None, errorbar_kw=None, upper_bound_kw=None,
             width=0.8):
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new figure and axes.
        bar_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.bar`.
        errorbar_kw : dict, default=None
            Keyword arguments of the error bars (``error_kw`` of
            :meth:`matplotlib.axes.Axes.bar`).
        upper_bound_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.axhline` for the
            all-labels line.
        width : float, default=0.8
            Width of the group of bars of one strategy.

        Returns
        -------
        display : StrategyComparisonDisplay
            The object, with ``ax_``, ``figure_``, ``bars_``, ``errorbar_``
            and ``upper_bound_line_`` set.
        """
        plt = _require_matplotlib(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()

        strategies = list(dict.fromkeys(s for s, _ in self.scores))
        selections = list(dict.fromkeys(sel for _, sel in self.scores))
        bar_width = width / max(len(selections), 1)
        self.bars_ = {}
        self.errorbar_ = {}
        for j, selection in enumerate(selections):
            present = [s for s in strategies if (s, selection) in self.scores]
            x = np.array([strategies.index(s) for s in present], dtype=np.float64)
            x += (j - (len(selections) - 1) / 2) * bar_width
            means = np.array([self.scores[s, selection][0] for s in present],
                             dtype=np.float64)
            stds = np.array([self.scores[s, selection][1] for s in present],
                            dtype=np.float64)
            stds = np.where(np.isnan(stds), 0.0, stds)
            kw = _merge({"label": selection}, bar_kw)
            container = ax.bar(
                x, means, bar_width, yerr=stds,
                error_kw=_merge({"capsize": 3}, errorbar_kw), **kw,
            )
            for strategy, patch in zip(present, container.patches):
                self.bars_[strategy, selection] = patch
            self.errorbar_[selection] = container.errorbar

        self.upper_bound_line_ = None
        if not _missing(self.upper_bound):
            kw = _merge(
                {"linestyle": "--", "color": "black", "label": "all labels (reference)"},
                upper_bound_kw,
            )
            self.upper_bound_line_ = ax.axhline(float(self.upper_bound), **kw)

        ax.set_xticks(np.arange(len(strategies)))
        ax.set_xticklabels(strategies)
        ax.set_xlabel("query strategy")
        ax.set_ylabel(self.score_name)
        if self.bars_ or self.upper_bound_line_ is not None:
            ax.legend(loc="best")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_results(
        cls,
        results,
        *,
        ax=None,
        score=None,
        score_name=None,
        upper_bound=True,
        bar_kw=None,
        errorbar_kw=None,
        upper_bound_kw=None,
        width=0.8,
    ):
        """Plot the final scores of a simulation.

        Parameters
        ----------
        results : SimulationResults
            What :func:`~skaloe.experiment.simulate` returned.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a new figure and axes.
        score : {"test", "val"}, default=None
            Which final score: on the test set, or on the validation set
            after the last round. None means ``"test"`` when the simulation
            had a test set, else ``"val"``.
        score_name : str, default=None
            Name of the score in the y label (after ``"test"`` or
            ``"validation"``); None means the ``scoring`` of the simulation
            when it is a string, else ``"score"``.
        upper_bound : bool, default=True
            Draw the score of the all-labels reference.
        bar_kw, errorbar_kw, upper_bound_kw : dict, default=None
            Style keyword arguments, see :meth:`plot`.
        width : float, default=0.8
            Width of the group of bars of one strategy.

        Returns
        -------
        display : StrategyComparisonDisplay
        """
        _require_matplotlib(f"{cls.__name__}.from_results")
        _check_results(results, f"{cls.__name__}.from_results")
        rows = _summary_rows(results)
        is_upper = [
            (r["strategy"], r["selection"]) == (_UPPER_STRATEGY, _UPPER_SELECTION)
            for r in rows
        ]
        upper = [r for r, u in zip(rows, is_upper) if u]
        rows = [r for r, u in zip(rows, is_upper) if not u]
        has_test = any(not _missing(r.get("test_mean")) for r in rows)
        if score is None:
            score = "test" if has_test else "val"
        if score not in _SCORES:
            raise ValueError(f"score must be one of {_SCORES} or None, got {score!r}.")
        if score == "test" and not has_test:
            raise ValueError(
                "The simulation had no test set; use score='val' for the final "
                "validation scores."
            )
        scores = {
            (r["strategy"], r["selection"]): (r[f"{score}_mean"], r[f"{score}_std"])
            for r in rows
        }
        ub = upper[0].get(f"{score}_mean") if (upper and upper_bound) else None
        name = f"{_SCORE_WORDS[score]} {_score_name_of(results, score_name)}"
        display = cls(scores, upper_bound=ub, score_name=name)
        return display.plot(
            ax=ax, bar_kw=bar_kw, errorbar_kw=errorbar_kw,
            upper_bound_kw=upper_bound_kw, width=width,
        )
