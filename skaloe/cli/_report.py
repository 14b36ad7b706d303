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


def strategy_lines(names, selections):
    """One line per strategy (and selection rule) saying what it picks."""
    lines = []
    for name in names:
        words = STRATEGY_WORDS.get(name, f"what {name!r} scores highest")
        lines.append(wrap(f"{name}: asks for {words}.", "  "))
    if any(n != "random" for n in names):
        lines.append(wrap("Each round picks " + "; or ".join(
            f"{SELECTION_WORDS.get(s, s)} ({s})" for s in selections) + ".", "  "))
    return lines


def comparable_labels(results):
    """The label count the comparison stops at, or None when no learner ran out of pool.

    When a learner labeled the whole pool, the largest mean label count
    below the pool size that every such learner reached: past it, learners
    with every label compare nothing.
    """
    n_pool = results.params.get("n_pool")
    if n_pool is None:
        return None
    cut = None
    for n_labels, _, _ in results.curves().values():
        if n_labels.max() < n_pool:
            continue
        below = [float(n) for n in n_labels if n < n_pool]
        last = max(below, default=0.0)
        cut = last if cut is None else min(cut, last)
    return cut


def _format_n(value):
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def curve_table(results, headers=None):
    """Learning curves as text: mean ± std of the validation score, one column per learner.

    Rows stop before the first round in which a learner labeled the whole
    pool. ``headers`` maps ``(strategy, selection)`` to a column title
    (default ``strategy/selection``). Returns ``(text, n_rows_dropped)``.
    """
    curves = results.curves()
    keys = list(curves)
    headers = headers or {key: f"{key[0]}/{key[1]}" for key in keys}
    cut = comparable_labels(results)
    rows, dropped = {}, set()
    for j, key in enumerate(keys):
        n_labels, mean, std = curves[key]
        for n, m, s in zip(n_labels, mean, std):
            if cut is not None and n > cut:
                dropped.add(float(n))
                continue
            rows.setdefault(float(n), {})[j] = f"{m:.3f} \u00b1 {s:.3f}"
    width = [max(13, len(headers[key])) for key in keys]
    lines = ["  " + f"{'labels':>6s}  "
             + "  ".join(f"{headers[key]:>{w}s}" for key, w in zip(keys, width))]
    for n in sorted(rows):
        cells = [f"{rows[n].get(j, ''):>{w}s}" for j, w in enumerate(width)]
        lines.append("  " + f"{_format_n(n):>6s}  " + "  ".join(cells).rstrip())
    return "\n".join(lines), len(dropped - set(rows))


def _reach_text(reach):
    if reach["n_reached"] == 0:
        return f"not reached within {max(reach['max_labels'])} labels"
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
                word = "fewer" if saving >= 0 else "more"
                line += (f", {'at least ' if lower else ''}{_pct(abs(saving))} {word} "
                         f"labels than {baseline}")
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

