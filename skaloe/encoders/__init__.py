"""Audio encoders: clips in, embeddings out."""

from ._registry import available_models
from ._segments import Segment, read_segment
from ._tfhub import ModelUnavailableError
from ._transformer import EncoderInfo, EncoderTransformer

__all__ = [
    "EncoderInfo",
    "EncoderTransformer",
    "ModelUnavailableError",
    "Segment",
    "available_models",
    "read_segment",
]
