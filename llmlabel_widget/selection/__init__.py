"""Selection: what to review next (learner, acquisition strategies, ranking, refit shell)."""

from __future__ import annotations

from .error_model import MIN_OUTCOMES, error_model, error_model_ready, geometric_doubt
from .learner import default_learner, out_of_fold_proba, pool_features, text_features
from .rank import PoolState, QueueItem, Ranking, SelectorStatus, Settings, rank
from .shell import FeatureCache, Selector, refit_once
from .signals import Reviewed, Signals, top_margin
from .strategies import STRATEGIES, Strategy, cold_start, register, spread, strategy

__all__ = [
    "MIN_OUTCOMES",
    "STRATEGIES",
    "FeatureCache",
    "PoolState",
    "QueueItem",
    "Ranking",
    "Reviewed",
    "Selector",
    "SelectorStatus",
    "Settings",
    "Signals",
    "Strategy",
    "cold_start",
    "default_learner",
    "error_model",
    "error_model_ready",
    "geometric_doubt",
    "out_of_fold_proba",
    "pool_features",
    "rank",
    "refit_once",
    "register",
    "spread",
    "strategy",
    "text_features",
    "top_margin",
]
