"""Simulated active learning with an oracle (ALOE's experimental protocol), and plots.

matplotlib is imported only when a display draws.
"""

from ._plot import ActiveLearningCurveDisplay, StrategyComparisonDisplay
from ._results import SimulationResults, SummaryTable
from ._simulate import simulate

__all__ = [
    "ActiveLearningCurveDisplay",
    "SimulationResults",
    "StrategyComparisonDisplay",
    "SummaryTable",
    "simulate",
]
