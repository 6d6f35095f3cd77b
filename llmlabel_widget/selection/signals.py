"""What an acquisition strategy sees: arrays about the open items, and the reviewed ones."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    _margin: np.ndarray | None = field(default=None, repr=False, compare=False)

    def margin(self) -> np.ndarray:
        """:func:`top_margin` of the learner's probabilities, computed once."""
        if self.proba is None:
            raise ValueError("this strategy needs a trained learner")
        if self._margin is None:
            self._margin = top_margin(self.proba)
        return self._margin


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


def top_margin(proba: np.ndarray, block: int = 4096) -> np.ndarray:
    """1 - (top probability - second), per row: 1 = the learner cannot choose.

    Two linear passes over blocks of rows: no per-row sort, and no copy of the whole array.
    """
    n = len(proba)
    if proba.shape[1] < 2:
        return 1.0 - proba[:, 0]
    out = np.empty(n)
    for start in range(0, n, block):
        part = proba[start : start + block]
        rows, best = np.arange(len(part)), part.argmax(axis=1)
        rest = part.copy()
        rest[rows, best] = -np.inf
        out[start : start + block] = 1.0 - (part[rows, best] - rest.max(axis=1))
    return out
