"""Active learning: the learner, query strategies (scorers) and selection."""

from ._aloe import aloe_learner
from ._checkpoint import load_state, save_state
from ._labels import UNLABELED
from ._learner import ActiveLearner
from ._scorer import (
    entropy_score,
    get_query_scorer,
    get_query_scorer_names,
    largest_margin_score,
    least_confidence_score,
    make_query_scorer,
    margin_score,
    norm_score,
    random_score,
)
from ._seeding import seed_per_class
from ._stopping import PlateauStopping, StabilizingPredictions, stopping_hint

__all__ = [
    "ActiveLearner",
    "PlateauStopping",
    "StabilizingPredictions",
    "UNLABELED",
    "aloe_learner",
    "entropy_score",
    "get_query_scorer",
    "get_query_scorer_names",
    "largest_margin_score",
    "least_confidence_score",
    "load_state",
    "make_query_scorer",
    "margin_score",
    "norm_score",
    "random_score",
    "save_state",
    "seed_per_class",
    "stopping_hint",
]
