"""skaloe: active learning on audio with frozen pretrained encoders, for scikit-learn.

Importing skaloe is cheap: TensorFlow is imported only when a TF-Hub model runs.
"""

from ._version import __version__
from .encoders import EncoderTransformer, available_models

__all__ = ["EncoderTransformer", "available_models", "__version__"]
