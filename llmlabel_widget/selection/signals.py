"""What an acquisition strategy sees: arrays about the open items, and the reviewed ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Signals:
    """What the strategies see, one row per open (undecided) item."""

    proba: np.ndarray | None  # learner class probabilities, or None before it is trained
    classes: list[str]
    llm_label: np.ndarray  # index into classes of the LLM's label, -1 if none
    llm_confidence: np.ndarray  # NaN where unknown
    features: Any  # sparse or dense matrix, for diversity
    rng: np.random.Generator
    llm_agreement: np.ndarray | None = None  # share of other LLM answers agreeing; NaN if none
    reviewed: Reviewed | None = None  # the same signals for reviewed items, and the outcomes


@dataclass
class Reviewed:
    """Signals of items a human has already decided, with whether the LLM got each one wrong.

    ``proba`` must be *out-of-fold* (each item predicted by a learner that did not train on it;
    see :func:`~llmlabel_widget.selection.learner.out_of_fold_proba`): in-sample probabilities
    of training items are overfit and would teach the error model that the learner never
    doubts a wrong LLM label.
    """

    proba: np.ndarray | None  # out-of-fold learner class probabilities
    llm_label: np.ndarray  # index into classes, -1 if none
    llm_confidence: np.ndarray  # NaN where unknown
    llm_agreement: np.ndarray | None  # NaN where unknown
    wrong: np.ndarray  # bool: the human's label differs from the LLM's


def top_margin(proba: np.ndarray) -> np.ndarray:
    """1 - (top probability - second), per row: 1 = the learner cannot choose."""
    if proba.shape[1] < 2:
        return 1.0 - proba[:, 0]
    top2 = -np.partition(-proba, 1, axis=1)[:, :2]  # no full sort: cost does not grow with classes
    return 1.0 - (top2[:, 0] - top2[:, 1])
