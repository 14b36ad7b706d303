"""skaloe: active learning on audio with frozen pretrained encoders, for scikit-learn.

Importing skaloe is cheap: TensorFlow is imported only when a TF-Hub model runs.
"""

from ._version import __version__
from .active import (
    ActiveLearner,
    get_query_scorer,
    get_query_scorer_names,
    make_query_scorer,
    seed_per_class,
)
from .encoders import EncoderTransformer, available_models
from .graph import GraphClassifier

__all__ = [
    "ActiveLearner",
    "EncoderTransformer",
    "GraphClassifier",
    "__version__",
    "available_models",
    "get_query_scorer",
    "get_query_scorer_names",
    "make_query_scorer",
    "seed_per_class",
]
