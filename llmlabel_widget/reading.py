"""The annotations read model: one row per item, built from the store's frames (pure pandas)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from io import StringIO

import numpy as np
import pandas as pd

from .metrics import wilson_interval
from .storage import StoreBackend
from .store import DECISION_KINDS
from .task import LabelTask

STATES = ("pending", "proposed", "invalid", "skipped", "decided")


def read_annotations(
    store: StoreBackend, task: LabelTask, *, with_meta: bool = True
) -> pd.DataFrame:
    """:func:`annotations_frame` of what ``store`` holds now."""
    return annotations_frame(
        store.items_frame(),
        store.latest_proposals(),
        store.live_events(),
        task,
        with_meta=with_meta,
    )


def annotations_frame(
    items: pd.DataFrame,
    proposals: pd.DataFrame,
    events: pd.DataFrame,
    task: LabelTask,
    *,
    with_meta: bool = True,
) -> pd.DataFrame:
    """One row per item: its state, latest decision, latest LLM proposal and metadata.

    ``items``, ``proposals`` and ``events`` are the store's ``items_frame()``,
    ``latest_proposals()`` and ``live_events()``.
    """
    decisions = events[events["kind"].isin(DECISION_KINDS)]
    latest = decisions.drop_duplicates("item_id", keep="last")
    latest = latest.rename(columns={"kind": "decision", "labels": "label", "seq": "decision_seq"})
    latest["decided_at"] = pd.to_datetime(latest["created_at"], unit="s", utc=True)
    notes = events[events["note"].notna()].drop_duplicates("item_id", keep="last")

    out = items[["item_id", "text"]].copy()
    out = out.merge(
        latest[
            [
                "item_id",
                "label",
                "decision",
                "annotator",
                "decided_at",
                "decision_seq",
                "context",
            ]
        ],
        on="item_id",
        how="left",
    )
    out = out.merge(notes[["item_id", "note"]], on="item_id", how="left")
    out = out.merge(proposals, on="item_id", how="left")
    out["label"] = _labels_column(task, out["label"])
    out["llm_label"] = _labels_column(task, out["llm_label"])
    out["llm_valid"] = out["llm_valid"].astype("boolean")
    state = np.full(len(out), "pending", dtype=object)
    state[out["llm_valid"].fillna(False).to_numpy(bool)] = "proposed"
    state[(out["llm_valid"] == False).fillna(False).to_numpy(bool)] = "invalid"  # noqa: E712
    state[(out["decision"] == "skip").to_numpy(bool)] = "skipped"
    state[out["decision"].isin(["accept", "correct", "label"]).to_numpy(bool)] = "decided"
    out.insert(2, "state", state)
    out["decision_seq"] = out["decision_seq"].astype("Int64")
    out["context"] = out["context"].map(json.loads, na_action="ignore").astype(object)
    out["provenance"] = _provenance(out["context"], out["decision"])
    if with_meta and items["meta"].notna().any():
        lines = items["meta"].fillna("{}")
        meta = pd.read_json(_lines(lines), lines=True, dtype=False)
        meta = meta.rename(columns=_meta_names(meta.columns, out.columns))
        out = pd.concat([out, meta.set_index(out.index)], axis=1)
    return out


def _provenance(context: pd.Series, decision: pd.Series) -> pd.Series:
    """Who produced each labelling decision: ``human``, ``audit`` (a human labelling a
    random-audit item) or ``auto-accept`` (a certified auto-accept); None for no label."""

    def one(c: object, kind: object) -> str | None:
        if kind not in ("accept", "correct", "label"):
            return None
        c = c if isinstance(c, dict) else {}
        if c.get("provenance") == "auto-accept":
            return "auto-accept"
        return "audit" if c.get("audit") is True else "human"

    return pd.Series(
        [one(c, k) for c, k in zip(context, decision, strict=True)],
        index=context.index,
        dtype=object,
    )


def _labels_column(task: LabelTask, col: pd.Series) -> pd.Series:
    """JSON label lists -> a label string (single-label) or a list (multi-label)."""

    def convert(v: object) -> object:
        if not isinstance(v, str):
            return None
        labels = json.loads(v)
        if task.multi_label:
            return labels
        return labels[0] if labels else None

    return col.map(convert, na_action="ignore").astype(object)


def demo_pool(annotations: pd.DataFrame) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(item_id, text, labels)`` of the decided items: few-shot demonstrations."""
    decided = human_labels(annotations)
    return [
        (str(i), str(t), tuple(lab if isinstance(lab, list) else [lab]))
        for i, t, lab in zip(decided["item_id"], decided["text"], decided["label"], strict=True)
    ]


def acceptance_rate(counts: Mapping[str, int]) -> dict[str, float | int | None]:
    """Share of accepts among accepts and corrections (``counts`` by decision kind),
    with a 95% Wilson interval; ``rate`` is None before the first such decision."""
    k, n = counts.get("accept", 0), counts.get("accept", 0) + counts.get("correct", 0)
    if n == 0:
        return {"rate": None, "low": None, "high": None, "n": 0}
    low, high = wilson_interval(k, n)
    return {"rate": k / n, "low": low, "high": high, "n": n}


def human_labels(annotations: pd.DataFrame) -> pd.DataFrame:
    """``item_id, text, label`` of the decided items."""
    decided = annotations[annotations["state"] == "decided"]
    return decided[["item_id", "text", "label"]].reset_index(drop=True)


def _meta_names(meta: Iterable[str], taken: Iterable[str]) -> dict[str, str]:
    """New names for metadata columns that collide with annotation columns: ``meta_<name>``.

    A user's ``label`` or ``state`` column is kept as ``meta_label`` / ``meta_state`` (with
    more ``meta_`` prefixes while that name is taken too), never dropped.
    """
    meta, taken = list(meta), set(taken)
    used = taken | set(meta)
    renames: dict[str, str] = {}
    for col in meta:
        if col in taken:
            new = f"meta_{col}"
            while new in used:
                new = f"meta_{new}"
            used.add(new)
            renames[col] = new
    return renames


def _lines(values: pd.Series) -> StringIO:
    return StringIO("\n".join(values))
