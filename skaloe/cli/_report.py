"""What ``skaloe demo`` and ``skaloe simulate`` print about a simulation, in plain words.

Both commands print the same three things from a
:class:`~skaloe.experiment.SimulationResults`: one sentence per strategy on
what it does, the learning curves as mean ± std over runs (up to the round
where the pool ran out, after which there is nothing left to compare), and
how many labels each strategy needed to come within 95% and 98% of what
labeling the whole pool gives, with the saving against random sampling.
"""

from __future__ import annotations

import textwrap

import numpy as np

#: One plain sentence per built-in strategy: what it asks to label next.
STRATEGY_WORDS = {
    "margin": "the clips the model is least sure about: its two likeliest classes are "
              "closest (smallest margin)",
    "largest_margin": "the clips whose likeliest and least likely classes are closest "
                      "(largest margin)",
    "least_confidence": "the clips whose likeliest class is least likely (least confidence)",
    "entropy": "the clips whose class probabilities are most spread out (entropy)",
    "norm": "the clips whose probabilities are furthest from a sure answer (norm)",
    "random": "clips at random, the baseline",
}

SELECTION_WORDS = {
    "class-aware": "one per class the model currently predicts",
    "class-agnostic": "the best ones overall, whatever class the model predicts",
    "one-per-class": "at most one per class the model currently predicts, none for a class "
                     "it predicts nowhere",
}

FRACTIONS = (0.95, 0.98)


def wrap(text, indent=""):
    """``text`` wrapped at 88 columns, continuation lines indented two more spaces."""
    # "mean ± std" stays on one line: no-break spaces while wrapping.
    text = text.replace(" \u00b1 ", "\u00a0\u00b1\u00a0")
    return textwrap.fill(text, 88, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False).replace("\u00a0", " ")


def _pct(value):
    return f"{100 * value:.0f}%"


def strategy_lines(names, selections, preset=None):
    """One line per strategy (and selection rule) saying what it picks.

    With ``preset="aloe"``, a class-aware round is ALOE's: at most one label
    per predicted class.
    """
    lines = []
    for name in names:
        words = STRATEGY_WORDS.get(name, f"what {name!r} scores highest")
        lines.append(wrap(f"{name}: asks for {words}.", "  "))
    if any(n != "random" for n in names):
        words = {s: SELECTION_WORDS.get(s, s) for s in selections}
        if preset == "aloe" and "class-aware" in words:
            words["class-aware"] = SELECTION_WORDS["one-per-class"]
        lines.append(wrap("Each round picks " + "; or ".join(
            f"{words[s]} ({s})" for s in selections) + ".", "  "))
    return lines


def _runs_by_key(results):
    """``(strategy, selection) -> list of runs``, each run its records in round order."""
    return {key: list(results._runs(key).values()) for key in results._keys()}


def comparable_labels(results):
    """The label count the comparison stops at, or None when no run ran out of pool.

    Over every run that labeled the whole pool, the fewest labels it had in
    the round before: past that count some learner had every label, and
    learners with every label compare nothing. Read from each run, not from
    averages, since runs may ask different numbers of labels per round.
    """
    n_pool = results.params.get("n_pool")
    if n_pool is None:
        return None
    cut = None
    for runs in _runs_by_key(results).values():
        for rs in runs:
            if rs[-1]["n_labels"] < n_pool:
                continue
            last = max((r["n_labels"] for r in rs if r["n_labels"] < n_pool), default=0)
            cut = last if cut is None else min(cut, last)
    return cut


def format_count(value):
    """A label count as printed: whole numbers without decimals, means with one."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def curve_table(results, headers=None):
    """Learning curves as text: mean ± std of the validation score, one column per learner.

    Rows stop where the comparison does (:func:`comparable_labels`). When
    every run of a learner had the same labels at each round, rows are label
    counts; when runs differ (rounds of at most one label per predicted
    class), rows are rounds and each cell also gives its mean label count.
    ``headers`` maps ``(strategy, selection)`` to a column title (default
    ``strategy/selection``). Returns ``(text, n_rows_dropped)``.
    """
    runs_by_key = _runs_by_key(results)
    keys = list(runs_by_key)
    headers = headers or {key: f"{key[0]}/{key[1]}" for key in keys}
    cut = comparable_labels(results)
    cells, by_round, dropped = {}, False, 0
    for key, runs in runs_by_key.items():
        length = min(len(rs) for rs in runs)  # rounds every run has, as curves() aligns them
        rows = []
        for k in range(length):
            n = np.array([rs[k]["n_labels"] for rs in runs], dtype=np.float64)
            v = np.array([rs[k]["val_score"] for rs in runs], dtype=np.float64)
            if cut is not None and n.max() > cut:
                dropped += 1
                continue
            by_round |= bool(n.min() != n.max())
            rows.append((k, float(n.mean()), float(v.mean()), float(v.std())))
        cells[key] = rows
    first = "round" if by_round else "labels"
    table = {}
    for j, key in enumerate(keys):
        for k, n, mean, std in cells[key]:
            text = f"{mean:.3f} \u00b1 {std:.3f}"
            if by_round:
                text += f" at {format_count(n)}"
            table.setdefault(k if by_round else n, {})[j] = text
    width = [max(13 + (9 if by_round else 0), len(headers[key])) for key in keys]
    lines = ["  " + f"{first:>6s}  "
             + "  ".join(f"{headers[key]:>{w}s}" for key, w in zip(keys, width))]
    for row in sorted(table):
        cells_text = [f"{table[row].get(j, ''):>{w}s}" for j, w in enumerate(width)]
        lines.append("  " + f"{format_count(row):>6s}  " + "  ".join(cells_text).rstrip())
    if by_round:
        lines.append(wrap("(runs asked different numbers of labels per round: each cell is "
                          "the mean score at that round, at its mean number of labels)", "  "))
    return "\n".join(lines), dropped


def _reach_text(reach):
    if reach["n_reached"] == 0:
        return f"not reached within {max(reach['max_labels'])} labels"
    text = f"{reach['n_labels']:.0f} labels"
    if reach["n_reached"] > 1:
        text = f"{reach['n_labels']:.0f} \u00b1 {reach['n_labels_std']:.0f} labels"
    if reach["n_reached"] < reach["n_runs"]:
        text += (f" in the {reach['n_reached']} of {reach['n_runs']} runs that got there "
                 f"(the others not within {max(reach['max_labels'])})")
    return text


def reach_lines(results, headers=None, baseline="random"):
    """Per fraction, the labels each learner needed and the saving against ``baseline``."""
    headers = headers or {key: f"{key[0]}/{key[1]}" for key in results.curves()}
    reference = results.upper_bound["val_score"]
    n_pool = results.params.get("n_pool")
    lines = []
    for fraction in FRACTIONS:
        reach = results.labels_to_reach(fraction)
        saved = results.labels_saved(fraction, baseline=baseline)
        target = next(iter(reach.values()))["target"] if reach else fraction * reference
        lines.append(f"  To reach {_pct(fraction)} of the all-labels score ({target:.3f}):")
        for key, r in reach.items():
            line = f"    {headers[key]}: {_reach_text(r)}"
            if n_pool and r["n_reached"] == r["n_runs"]:
                line += f" ({_pct(r['n_labels'] / n_pool)} of the pool)"
            if key in saved:
                saving, lower = saved[key]
                # With a lower bound on what the baseline needed, a saving is at
                # least this large, and a shortfall at most this large.
                bound = ("at least " if saving >= 0 else "at most ") if lower else ""
                word = "fewer" if saving >= 0 else "more"
                line += f", {bound}{_pct(abs(saving))} {word} labels than {baseline}"
            elif key[0] != baseline and 0 < r["n_reached"] < r["n_runs"]:
                line += (f"; no saving against {baseline} is given, as not every run got "
                         "there")
            lines.append(wrap(line.strip() + ".", "    "))
    return lines


def ran_out_note(results, n_rounds):
    """A sentence when the pool ran out before ``n_rounds`` rounds, else None."""
    rounds = [f["n_rounds"] for f in results.final]
    if not rounds or min(rounds) >= n_rounds:
        return None
    return (f"Note: the pool of {results.params['n_pool']} clips ran out after "
            f"{min(rounds)} of the {n_rounds} rounds asked; the comparison stops there "
            "(with every clip labeled, all strategies are the same). Ask for fewer rounds "
            "or use more clips.")

