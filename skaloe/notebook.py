"""Label clips in a notebook: :class:`~skaloe.labeling.LabelingSession`, kept here by name.

The notebook helper lives in :mod:`skaloe.labeling` beside the durable session
it shares its core with; ``from skaloe.notebook import LabelingSession`` keeps
working. Importing this module does not import ipywidgets or IPython.
"""

from .labeling._notebook import SKIP, LabelingSession

__all__ = ["SKIP", "LabelingSession"]
