"""Graph-based semi-supervised learning and graph-aware acquisitions.

:class:`GraphClassifier` propagates labels over a k-nearest-neighbour graph of
the pool (Laplace or Poisson learning); :func:`model_change_scores` is the
model-change acquisition of graph-based active learning on it.
"""

from ._acquisition import model_change_scores
from ._classifier import GraphClassifier
from ._graph import knn_graph

__all__ = ["GraphClassifier", "knn_graph", "model_change_scores"]
