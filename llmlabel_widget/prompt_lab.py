"""Prompt trials: score a prompt version's accuracy against human labels, compare two versions.

Pure functions over DataFrames; ``Session.try_prompt``, ``prompt_versions``, ``compare`` and
``promote`` are the façade. A trial's proposals are stored like any other (run id prefixed
``trial-``) so re-running an unchanged version on the same items costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .annotators.base import RunReport
from .estimation import accuracy, cohen_kappa, reviewed_items


@dataclass
class PromptTrial:
    """The result of :meth:`Session.try_prompt`: scores with intervals and per-item outputs."""

    version: str
    spec: dict[str, Any]
    report: RunReport
    scores: dict[str, Any]
    items: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        s = self.scores
        if s["n"] == 0:
            return f"PromptTrial({self.version}: no human-labelled items scored)"
        return (
            f"PromptTrial({self.version}: accuracy {s['accuracy']:.3f} "
            f"[{s['low']:.3f}, {s['high']:.3f}], n={s['n']}, kappa {s['kappa']:.3f}; "
            f"{s['leakage_note']})"
        )


def _first(v: object) -> object:
    """Comparable form of a label value: a string, a sorted tuple (multi-label) or None."""
    if isinstance(v, list | tuple):
        return tuple(sorted(v))
    return v if isinstance(v, str) else None


def _decode(v: object) -> object:
    """A stored ``labels`` JSON list as a label: one label, a list of labels, or None."""
    if not isinstance(v, str):
        return None
    labels = json.loads(v)
    if not isinstance(labels, list):
        return None
    return labels[0] if len(labels) == 1 else labels


def score(proposals: pd.DataFrame, human: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame]:
    """Accuracy of one version's proposals against the human labels of the same items.

    ``proposals``: item_id, labels (JSON list or None), valid, rationale, confidence, demos
    (JSON list or None), the latest per item. ``human``: item_id, text, label.

    The figures are the estimation functions' own (:func:`~llmlabel_widget.metrics.accuracy`,
    :func:`~llmlabel_widget.metrics.cohen_kappa`), so a version's accuracy is the same number
    here, in the dashboard and in ``quality_table``: the share of answered items whose LLM
    label equals the human label, an invalid answer counting as wrong. ``n`` counts the
    answered items (valid or not); kappa is over the valid answers, single-label only.

    Examples
    --------
    >>> human = pd.DataFrame({"item_id": ["a", "b", "c"], "text": ["x", "y", "z"],
    ...                       "label": ["pos", "neg", "pos"]})
    >>> props = pd.DataFrame({"item_id": ["a", "b"], "labels": ['["pos"]', None],
    ...                       "valid": [1, 0], "rationale": ["", ""],
    ...                       "confidence": [0.9, None], "demos": [None, None]})
    >>> scores, items = score(props, human)
    >>> scores["n"], scores["accuracy"], scores["invalid"], scores["unanswered"]
    (2, 0.5, 1, 1)
    """
    items = human.merge(proposals, on="item_id", how="left")
    items["llm_label"] = items["labels"].map(_decode)
    answered = items["valid"].notna()
    ann = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "label": items["label"],
            "llm_label": items["llm_label"],
            "llm_valid": items["valid"].map(bool, na_action="ignore").astype("boolean"),
        }
    )
    acc = accuracy(ann)
    right = reviewed_items(ann).set_index("item_id")["agree"]
    items["correct"] = items["item_id"].map(right).eq(True)
    demo_ids: set[str] = set()
    for d in items["demos"].dropna():
        demo_ids.update(json.loads(d))
    items["used_as_demo"] = items["item_id"].isin(demo_ids)
    leaked = int(items.loc[answered, "used_as_demo"].sum())
    note = (
        f"{leaked} of {acc.n} scored items were demonstrations for other scored items: "
        "their accuracy may be optimistic"
        if leaked
        else "no scored item was used as a demonstration"
    )
    scores = {
        "n": acc.n,
        "accuracy": acc.value,
        "low": acc.low,
        "high": acc.high,
        "kappa": cohen_kappa(ann, n_boot=0).value,
        "invalid": int((items["valid"] == 0).sum()),
        "unanswered": int((~answered).sum()),
        "leaked": leaked,
        "leakage_note": note,
    }
    columns = [
        "item_id",
        "text",
        "label",
        "llm_label",
        "correct",
        "valid",
        "confidence",
        "rationale",
        "used_as_demo",
    ]
    return scores, items[columns].rename(columns={"label": "human"}).reset_index(drop=True)


def compare(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Items whose LLM label differs between two scored versions, and what the change did.

    ``a`` and ``b`` are :func:`score` item tables. ``change`` is ``fixed`` (b right, a wrong),
    ``broke`` (a right, b wrong) or ``changed, both wrong``.
    """
    m = a.merge(b[["item_id", "llm_label", "correct"]], on="item_id", suffixes=("_a", "_b"))
    differs = np.array(
        [_first(x) != _first(y) for x, y in zip(m["llm_label_a"], m["llm_label_b"], strict=True)],
        dtype=bool,
    )
    m = m[differs].copy()
    m["change"] = np.select(
        [m["correct_b"] & ~m["correct_a"], m["correct_a"] & ~m["correct_b"]],
        ["fixed", "broke"],
        default="changed, both wrong",
    )
    return m[["item_id", "text", "human", "llm_label_a", "llm_label_b", "change"]].reset_index(
        drop=True
    )
