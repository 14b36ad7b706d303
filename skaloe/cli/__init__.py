"""The ``skaloe`` command line."""

from ._simulate import CLIError, main, run_demo, run_embed, run_label, run_simulate

__all__ = ["CLIError", "main", "run_demo", "run_embed", "run_label", "run_simulate"]
