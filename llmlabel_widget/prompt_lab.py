"""Prompt trials: score a prompt version against human labels, compare two versions.

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
from sklearn.metrics import cohen_kappa_score

from .annotators.base import RunReport
from .metrics import wilson_interval


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
            f"PromptTrial({self.version}: agreement {s['accuracy']:.3f} "
            f"[{s['low']:.3f}, {s['high']:.3f}], n={s['n']}, kappa {s['kappa']:.3f}; "
            f"{s['leakage_note']})"
        )


def _first(v: object) -> object:
    """Comparable form of a label value: a string, a sorted tuple (multi-label) or None."""
    if isinstance(v, list | tuple):
        return tuple(sorted(v))
    return v if isinstance(v, str) else None


def score(proposals: pd.DataFrame, human: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame]:
    """Agreement of one version's proposals with the human labels of the same items.

    ``proposals``: item_id, labels (JSON list or None), valid, rationale, confidence, demos
    (JSON list or None), the latest per item. ``human``: item_id, text, label.
    """
    items = human.merge(proposals, on="item_id", how="left")
    items["llm_label"] = items["labels"].map(
        lambda v: json.loads(v) if isinstance(v, str) else None
    )
    items["llm_label"] = items["llm_label"].map(
        lambda v: (v[0] if len(v) == 1 else v) if isinstance(v, list) and v else None
    )
    items["answered"] = items["valid"].notna()
    items["correct"] = [
        _first(h) == _first(p) if p is not None else False
        for h, p in zip(items["label"], items["llm_label"], strict=True)
    ]
    demo_ids: set[str] = set()
    for d in items["demos"].dropna():
        demo_ids.update(json.loads(d))
    items["used_as_demo"] = items["item_id"].isin(demo_ids)
    scored = items[items["answered"]]
    n = len(scored)
    k = int(scored["correct"].sum())
    low, high = wilson_interval(k, n) if n else (float("nan"), float("nan"))
    kappa = float("nan")
    pairs = [
        (str(_first(h)), str(_first(p)))
        for h, p in zip(scored["label"], scored["llm_label"], strict=True)
    ]
    if n and len({x for pair in pairs for x in pair}) > 1:
        kappa = float(cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs]))
    leaked = int(scored["used_as_demo"].sum())
    note = (
        f"{leaked} of {n} scored items were demonstrations for other scored items: "
        "their agreement may be optimistic"
        if leaked
        else "no scored item was used as a demonstration"
    )
    scores = {
        "n": n,
        "accuracy": k / n if n else float("nan"),
        "low": low,
        "high": high,
        "kappa": kappa,
        "invalid": int((scored["valid"] == 0).sum()),
        "unanswered": int((~items["answered"]).sum()),
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
