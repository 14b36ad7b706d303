"""Simulated active learning with an oracle (ALOE's experimental protocol)."""

from ._results import SimulationResults, SummaryTable
from ._simulate import simulate

__all__ = ["SimulationResults", "SummaryTable", "simulate"]
