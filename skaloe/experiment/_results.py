"""The results of :func:`~skaloe.experiment.simulate`: records, curves, tables."""

from __future__ import annotations

import csv
import functools
import json
import math
import os

import numpy as np

_FORMAT = "skaloe.experiment.SimulationResults"
_FORMAT_VERSION = 1
# The summary row of the all-labels reference (``upper_bound``): a reference,
# not a ceiling, so it is named for what it is.
_UPPER_STRATEGY = "all labels"
_UPPER_SELECTION = "every pool label"
_SUMMARY_COLUMNS = (
    "strategy", "selection", "n_runs", "n_labels",
    "val_mean", "val_std", "test_mean", "test_std",
)


def _require_pandas(what):
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is installed in the tests
        raise ImportError(
            f"{what} needs pandas; install it with `pip install pandas` (or use the "
            "`records` / `final` lists of dicts directly)."
        ) from exc
    return pd


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def _mean_std(values):
    """Mean and (population, ddof=0) standard deviation; NaN for no values."""
    values = [v for v in values if not _missing(v)]
    if not values:
        return float("nan"), float("nan")
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std())


def _format_cell(mean, std, scale, digits):
    if _missing(mean):
        return "-"
    text = f"{mean * scale:.{digits}f}"
    if not _missing(std):
        text += f" \u00b1 {std * scale:.{digits}f}"
    return text


def _render_summary(rows, columns, *, percent=None, digits=1):
    """Plain-text table of summary rows: ``"93.0 \u00b1 0.4"`` cells."""
    rows = list(rows)
    scores = [
        r[c] for r in rows for c in ("val_mean", "test_mean")
        if c in columns and not _missing(r.get(c))
    ]
    if percent is None:
        percent = bool(scores) and all(0.0 <= s <= 1.0 for s in scores)
    scale = 100.0 if percent else 1.0
    header = [c for c in ("strategy", "selection") if c in columns]
    if "n_labels" in columns:
        header.append("labels")
    metrics = [m for m in ("val", "test") if f"{m}_mean" in columns]
    header += metrics
    stops = [c[len("stop_"):-len("_runs")] for c in columns
             if c.startswith("stop_") and c.endswith("_runs")]
    for key in stops:
        header += [f"{key} stops at", f"{key} val"]
    table = [header]
    for r in rows:
        line = [str(r.get(c, "")) for c in ("strategy", "selection") if c in columns]
        if "n_labels" in columns:
            n = r.get("n_labels")
            line.append("-" if _missing(n) else f"{n:g}")
        for m in metrics:
            line.append(_format_cell(r.get(f"{m}_mean"), r.get(f"{m}_std"), scale, digits))
        for key in stops:
            runs = r.get(f"stop_{key}_runs")
            if _missing(runs):  # the all-labels row
                line += ["-", "-"]
                continue
            n_runs = r.get("n_runs")
            cell = _format_cell(r.get(f"stop_{key}"), r.get(f"stop_{key}_std"), 1.0, 0)
            line.append(f"{cell} ({int(runs)}/{int(n_runs)} runs)")
            line.append(_format_cell(r.get(f"stop_{key}_val"), None, scale, digits))
        table.append(line)
    widths = [max(len(line[j]) for line in table) for j in range(len(header))]
    out = []
    for i, line in enumerate(table):
        cells = [
            cell.ljust(w) if j < 2 and header[j] in ("strategy", "selection") else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(line, widths))
        ]
        out.append("  ".join(cells).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


class SummaryTable:
    """The summary table without pandas: rows of dicts with a text rendering.

    Parameters
    ----------
    rows : list of dict
    columns : sequence of str
    """

    def __init__(self, rows, columns):
        self.rows = list(rows)
        self.columns = list(columns)

    def to_text(self, percent=None, digits=1):
        """Plain text, ALOE-style cells ``"mean \u00b1 std"``.

        Parameters
        ----------
        percent : bool, default=None
            Show scores x 100; None means when every score lies in [0, 1].
        digits : int, default=1
            Decimals.

        Returns
        -------
        text : str
        """
        return _render_summary(self.rows, self.columns, percent=percent, digits=digits)

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        return self.to_text()

    def __len__(self):
        return len(self.rows)


@functools.lru_cache(maxsize=1)
def _summary_frame_class():
    pd = _require_pandas("SimulationResults.summary")

    class SummaryFrame(pd.DataFrame):
        """A pandas DataFrame of the summary with :meth:`to_text`."""

        @property
        def _constructor(self):
            return SummaryFrame

        def to_text(self, percent=None, digits=1):
            """Plain text, ALOE-style cells ``"mean \u00b1 std"``.

            Parameters
            ----------
            percent : bool, default=None
                Show scores x 100; None means when every score lies in [0, 1].
            digits : int, default=1
                Decimals.

            Returns
            -------
            text : str
            """
            return _render_summary(
                self.to_dict("records"), list(self.columns), percent=percent, digits=digits
            )

        def __str__(self):
            return self.to_text()

    SummaryFrame.__module__ = __name__
    SummaryFrame.__qualname__ = "SummaryFrame"
    return SummaryFrame


class SimulationResults:
    """What :func:`~skaloe.experiment.simulate` measured.

    Parameters
    ----------
    records : list of dict
        One per run, strategy, selection and round (round 0 = after the seed
        set): ``run``, ``strategy``, ``selection``, ``round``, ``n_labels``,
        ``val_score``, ``fit_time``, ``query_time`` (seconds).
    final : list of dict
        One per run, strategy and selection: ``run``, ``strategy``,
        ``selection``, ``n_rounds``, ``n_labels``, ``val_score`` (last round),
        ``test_score`` (None without a test set).
    upper_bound : dict
        The all-labels reference, the classifier trained once from scratch
        on every label of the pool: ``n_labels``, ``val_score``,
        ``test_score``, ``fit_time``. It is what labeling everything gives,
        not a ceiling: a learner can score above it.
    params : dict
        The settings of the simulation (JSON-friendly).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.experiment import simulate
    >>> X, y = make_classification(300, n_classes=3, n_informative=4, random_state=0)
    >>> results = simulate(X[:200], y[:200], X[200:250], y[200:250], X[250:], y[250:],
    ...                    n_rounds=2, n_runs=2, random_state=0)
    >>> table = results.summary()          # rows: strategies x selections + all labels
    >>> list(table["strategy"])
    ['margin', 'random', 'all labels']
    >>> n_labels, mean, std = results.curves()["margin", "class-aware"]
    >>> n_labels.tolist()
    [15.0, 18.0, 21.0]
    """

    def __init__(self, records, final, upper_bound, params):
        self.records = list(records)
        self.final = list(final)
        self.upper_bound = dict(upper_bound)
        self.params = dict(params)

    def __repr__(self):
        keys = self._keys()
        runs = len({r["run"] for r in self.final})
        return (
            f"SimulationResults({len(keys)} strategy x selection, {runs} runs, "
            f"{len(self.records)} records)"
        )

    def _keys(self):
        """(strategy, selection) pairs in the order they were run."""
        return list(dict.fromkeys((r["strategy"], r["selection"]) for r in self.records))

    # -- tables ------------------------------------------------------------

    def to_frame(self):
        """The per-round records as a pandas DataFrame.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``run``, ``strategy``, ``selection``, ``round``,
            ``n_labels``, ``val_score``, ``fit_time``, ``query_time``.
        """
        pd = _require_pandas("SimulationResults.to_frame")
        columns = ["run", "strategy", "selection", "round", "n_labels",
                   "val_score", "fit_time", "query_time"]
        return pd.DataFrame.from_records(self.records, columns=columns)

    def final_frame(self):
        """The end of every run as a pandas DataFrame.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``run``, ``strategy``, ``selection``, ``n_rounds``,
            ``n_labels``, ``val_score``, ``test_score``.
        """
        pd = _require_pandas("SimulationResults.final_frame")
        columns = ["run", "strategy", "selection", "n_rounds", "n_labels",
                   "val_score", "test_score"]
        return pd.DataFrame.from_records(self.final, columns=columns)

    def curves(self):
        """Learning curves: mean and std over runs of the validation score.

        Runs are aligned on rounds; when runs stopped early (pool exhausted)
        the curve stops at the shortest run.

        Returns
        -------
        curves : dict
            ``(strategy, selection) -> (n_labels, mean, std)``, three float
            arrays of shape (n_rounds + 1,): the mean number of labels at each
            round, and the mean and standard deviation (``ddof=0``) of the
            validation score over runs.
        """
        out = {}
        for key in self._keys():
            runs = list(self._runs(key).values())
            length = min(len(rs) for rs in runs)
            n_labels = np.array([[r["n_labels"] for r in rs[:length]] for rs in runs],
                                dtype=np.float64)
            scores = np.array([[r["val_score"] for r in rs[:length]] for rs in runs],
                              dtype=np.float64)
            out[key] = (n_labels.mean(axis=0), scores.mean(axis=0), scores.std(axis=0))
        return out

    def _stop_keys(self):
        """Names of the stopping rules recorded in ``final`` (``stop_<Key>``)."""
        return list(dict.fromkeys(
            k[len("stop_"):] for f in self.final for k in f if k.startswith("stop_")
        ))

    def stop_points(self):
        """Where each stopping rule would have stopped, over runs.

        Returns
        -------
        points : dict
            ``(strategy, selection) -> {rule: point}`` with, per rule given
            to :func:`~skaloe.experiment.simulate` as ``stopping``, a dict:
            ``n_labels`` (mean over the runs where the rule said stop, NaN
            if it never did), ``n_labels_std``, ``n_stopped`` (runs where it
            said stop), ``n_runs`` and ``val_score`` (mean validation score
            at the stop point: what stopping there would have given).
            Empty dicts without stopping rules.
        """
        keys = self._stop_keys()
        out = {}
        for strategy, selection in self._keys():
            ends = [f for f in self.final
                    if (f["strategy"], f["selection"]) == (strategy, selection)]
            points = {}
            for key in keys:
                stops = {f["run"]: f.get(f"stop_{key}") for f in ends}
                stopped = {run: n for run, n in stops.items() if not _missing(n)}
                at_stop = [
                    r["val_score"] for r in self.records
                    if (r["strategy"], r["selection"]) == (strategy, selection)
                    and r["run"] in stopped and r["n_labels"] == stopped[r["run"]]
                ]
                mean, std = _mean_std(list(stopped.values()))
                points[key] = {
                    "n_labels": mean,
                    "n_labels_std": std,
                    "n_stopped": len(stopped),
                    "n_runs": len(ends),
                    "val_score": _mean_std(at_stop)[0],
                }
            out[strategy, selection] = points
        return out

    def _runs(self, key):
        """The records of ``key`` as one round-ordered list per run."""
        by_run = {}
        for r in self.records:
            if (r["strategy"], r["selection"]) == key:
                by_run.setdefault(r["run"], []).append(r)
        return {run: sorted(rs, key=lambda r: r["round"]) for run, rs in by_run.items()}

    def labels_to_reach(self, fraction=0.95):
        """How many labels each strategy needed to come within ``fraction`` of all labels.

        The target is ``fraction`` times the validation score of the
        all-labels reference (``upper_bound["val_score"]``: the classifier
        trained on every label of the pool). In each run, the labels needed
        are those of the first round whose validation score reaches the
        target. Rounds in which every sample of the pool is labeled do not
        count: with every label, reaching the target saves nothing.

        Parameters
        ----------
        fraction : float in (0, 1], default=0.95
            The share of the all-labels score to reach.

        Returns
        -------
        reach : dict
            ``(strategy, selection) -> dict`` with ``target`` (the score to
            reach), ``per_run`` (labels needed in each run, None where the
            run never reached the target), ``n_reached`` and ``n_runs``,
            ``n_labels`` and ``n_labels_std`` (mean and ``ddof=0`` standard
            deviation over the runs that reached it; NaN if none did) and
            ``max_labels`` (per run, the most labels counted: a run that
            did not reach the target needs more than that).

        Examples
        --------
        >>> from skaloe.experiment import SimulationResults
        >>> records = [
        ...     {"run": 0, "strategy": "margin", "selection": "class-aware",
        ...      "round": k, "n_labels": n, "val_score": s}
        ...     for k, (n, s) in enumerate([(10, 0.5), (20, 0.86), (30, 0.9)])]
        >>> results = SimulationResults(records, [], {"val_score": 0.9}, {"n_pool": 100})
        >>> reach = results.labels_to_reach(0.95)["margin", "class-aware"]
        >>> round(reach["target"], 3), reach["per_run"]
        (0.855, [20])
        """
        if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                or not 0 < fraction <= 1):
            raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}.")
        reference = self.upper_bound.get("val_score")
        if _missing(reference):
            raise ValueError("These results have no all-labels validation score to compare "
                             "with (upper_bound['val_score'] is missing).")
        target = fraction * float(reference)
        n_pool = self.params.get("n_pool")
        out = {}
        for key in self._keys():
            per_run, max_labels = [], []
            for rs in self._runs(key).values():
                counted = [r for r in rs if n_pool is None or r["n_labels"] < n_pool]
                hit = next((r["n_labels"] for r in counted if r["val_score"] >= target), None)
                per_run.append(hit)
                max_labels.append(max((r["n_labels"] for r in counted), default=0))
            mean, std = _mean_std(per_run)
            out[key] = {
                "target": target,
                "per_run": per_run,
                "n_reached": sum(n is not None for n in per_run),
                "n_runs": len(per_run),
                "n_labels": mean,
                "n_labels_std": std,
                "max_labels": max_labels,
            }
        return out

    def labels_saved(self, fraction=0.95, baseline="random"):
        """The share of labels each strategy saved against ``baseline``.

        The saving is ``1 - needed / needed_by_baseline``, from the mean
        labels of :meth:`labels_to_reach` (same selection rule). When the
        baseline did not reach the target in some runs, it needed more
        labels than it was given there, so the saving is a lower bound
        (counting those runs at the labels they had).

        Parameters
        ----------
        fraction : float in (0, 1], default=0.95
            The share of the all-labels score to reach.
        baseline : str, default="random"
            The strategy to compare with.

        Returns
        -------
        saved : dict
            ``(strategy, selection) -> (saving, is_lower_bound)`` for every
            strategy other than the baseline whose runs all reached the
            target, with a baseline of the same selection; ``saving`` is a
            fraction (0.4 means 40% fewer labels, negative means more).
        """
        reach = self.labels_to_reach(fraction)
        out = {}
        for (strategy, selection), mine in reach.items():
            base = reach.get((baseline, selection))
            if strategy == baseline or base is None or mine["n_reached"] < mine["n_runs"]:
                continue
            if base["n_reached"] == 0 and not any(base["max_labels"]):
                continue
            needed = [n if n is not None else m
                      for n, m in zip(base["per_run"], base["max_labels"])]
            lower = base["n_reached"] < base["n_runs"]
            out[strategy, selection] = (1.0 - mine["n_labels"] / float(np.mean(needed)), lower)
        return out

    def summary(self, at_labels=None):
        """A table in the form of ALOE's: mean \u00b1 std over runs.

        Parameters
        ----------
        at_labels : int, default=None
            None: the final validation and test scores. An int: the
            validation score of each run at its last round with at most
            ``at_labels`` labels (no test column: the test set is scored at
            the end only).

        Returns
        -------
        table : pandas.DataFrame or SummaryTable
            One row per strategy and selection, then the all-labels row
            (std NaN: one fit). Columns ``strategy``, ``selection``,
            ``n_runs``, ``n_labels`` (mean), ``val_mean``, ``val_std`` and,
            without ``at_labels``, ``test_mean``, ``test_std`` (NaN without a
            test set). A pandas DataFrame when pandas is installed, else a
            :class:`SummaryTable`; both have ``to_text()``, which ``str()``
            returns, with cells like ``"93.0 \u00b1 0.4"``. With stopping
            rules in the simulation, the final table also has, per rule,
            ``stop_<Rule>`` and ``stop_<Rule>_std`` (labels at the stop
            point, over the runs where the rule said stop),
            ``stop_<Rule>_runs`` (how many runs it stopped in) and
            ``stop_<Rule>_val`` (mean validation score at the stop point);
            see :meth:`stop_points`.
        """
        stop_points = self.stop_points() if at_labels is None else {}
        rows = []
        for strategy, selection in self._keys():
            row = {"strategy": strategy, "selection": selection}
            if at_labels is None:
                ends = [f for f in self.final
                        if (f["strategy"], f["selection"]) == (strategy, selection)]
                row["n_runs"] = len(ends)
                row["n_labels"] = float(np.mean([f["n_labels"] for f in ends]))
                row["val_mean"], row["val_std"] = _mean_std([f["val_score"] for f in ends])
                row["test_mean"], row["test_std"] = _mean_std([f["test_score"] for f in ends])
                for key, point in stop_points[strategy, selection].items():
                    row[f"stop_{key}"] = point["n_labels"]
                    row[f"stop_{key}_std"] = point["n_labels_std"]
                    row[f"stop_{key}_runs"] = point["n_stopped"]
                    row[f"stop_{key}_val"] = point["val_score"]
            else:
                picked = []
                for run, rs in self._runs((strategy, selection)).items():
                    within = [r for r in rs if r["n_labels"] <= at_labels]
                    if not within:
                        smallest = min(r["n_labels"] for r in rs)
                        raise ValueError(
                            f"at_labels={at_labels} is below the seed set of run {run} "
                            f"({smallest} labels)."
                        )
                    picked.append(max(within, key=lambda r: r["round"]))
                row["n_runs"] = len(picked)
                row["n_labels"] = float(np.mean([r["n_labels"] for r in picked]))
                row["val_mean"], row["val_std"] = _mean_std([r["val_score"] for r in picked])
            rows.append(row)
        ub = self.upper_bound
        upper = {
            "strategy": _UPPER_STRATEGY, "selection": _UPPER_SELECTION, "n_runs": 1,
            "n_labels": float(ub.get("n_labels", float("nan"))),
            "val_mean": _mean_std([ub.get("val_score")])[0], "val_std": float("nan"),
        }
        if at_labels is None:
            upper["test_mean"] = _mean_std([ub.get("test_score")])[0]
            upper["test_std"] = float("nan")
        rows.append(upper)
        columns = [c for c in _SUMMARY_COLUMNS if c in rows[0]]
        columns += [c for c in rows[0] if c.startswith("stop_")]
        try:
            frame_class = _summary_frame_class()
        except ImportError:
            return SummaryTable(rows, columns)
        return frame_class.from_records(rows, columns=columns)

    # -- files -------------------------------------------------------------

    def _as_dict(self):
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "params": self.params,
            "upper_bound": self.upper_bound,
            "final": self.final,
            "records": self.records,
        }

    def to_json(self, path=None):
        """Write everything to a JSON file (or return the JSON text).

        Parameters
        ----------
        path : str or path-like, default=None
            Destination; None returns the text.

        Returns
        -------
        text : str or None
        """
        text = json.dumps(self._as_dict(), indent=1)
        if path is None:
            return text
        with open(os.fspath(path), "w", encoding="utf-8") as f:
            f.write(text)
        return None

    @classmethod
    def from_json(cls, path):
        """Read results written by :meth:`to_json`.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`to_json`.

        Returns
        -------
        results : SimulationResults
        """
        with open(os.fspath(path), encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a file written by SimulationResults.to_json.")
        return cls(data["records"], data["final"], data["upper_bound"], data["params"])

    def to_csv(self, path):
        """Write the per-round records to a CSV file (no pandas needed).

        Parameters
        ----------
        path : str or path-like
        """
        columns = list(dict.fromkeys(k for r in self.records for k in r)) or [
            "run", "strategy", "selection", "round", "n_labels",
            "val_score", "fit_time", "query_time",
        ]
        with open(os.fspath(path), "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.records)
