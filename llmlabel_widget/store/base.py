"""What every store backend shares: limits on stored text, trial run ids, event kinds, errors.

Nothing here speaks SQL; the SQLite backend (and a PostgreSQL one later) builds on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..task import DECISION_KINDS as DECISION_KINDS  # re-exported: defined once, in task.py

APP_ID = "llmlabel-widget"
SCHEMA_VERSION = 1
# Raw model output kept per proposal, in characters. A longer answer (a model that rambles
# or loops) is cut here and ends with RAW_TRUNCATED saying how long it was.
MAX_RAW = 20_000
RAW_TRUNCATED = "\n[truncated by llmlabel-widget: the first {kept:,} of {total:,} characters]"
EVENT_KINDS = (*DECISION_KINDS, "note", "undo")


def cap_raw(raw: str | None, limit: int = MAX_RAW) -> str | None:
    """``raw`` cut to ``limit`` characters, with a marker saying how long it was.

    Examples
    --------
    >>> cap_raw("abcdef", 4)
    'abcd\\n[truncated by llmlabel-widget: the first 4 of 6 characters]'
    """
    if raw is None or len(raw) <= limit:
        return raw
    return raw[:limit] + RAW_TRUNCATED.format(kept=limit, total=len(raw))


def _cacheable(response: Mapping[str, Any]) -> bool:
    """False when an answer in this chat completion is longer than ``MAX_RAW``."""
    for choice in response.get("choices") or ():
        content = (choice.get("message") or {}).get("content") if isinstance(choice, dict) else None
        if isinstance(content, str) and len(content) > MAX_RAW:
            return False
    return True


# Prompt trials (runs whose id starts "trial-") are scored separately and never become the
# proposal an item shows, until their version is promoted and proposed for real.
TRIAL_PREFIX = "trial-"


class StoreError(ValueError):
    """The file is not a usable llmlabel-widget store, or it can not be written."""


def selector_frame(
    items: pd.DataFrame, decisions: pd.DataFrame, props: pd.DataFrame, others: pd.DataFrame
) -> pd.DataFrame:
    """The selector's state (see ``read_selector_state``) from the four frames a backend reads.

    ``items``: ``item_id[, text]`` in pool order; ``decisions``: each item's current decision
    ``item_id, kind, labels``; ``props``: the latest valid non-trial proposal ``item_id,
    labels, confidence``; ``others``: that item's earlier valid answers ``item_id, other,
    labels``.
    """
    skip = decisions["kind"] == "skip"
    human = decisions.loc[~skip, ["item_id", "labels"]].rename(columns={"labels": "human"})
    out = items.merge(human, on="item_id", how="left")
    out["skipped"] = out["item_id"].isin(decisions.loc[skip, "item_id"])
    llm = props[["item_id", "labels", "confidence"]].rename(columns={"labels": "llm"})
    out = out.merge(llm, on="item_id", how="left")
    others["agree"] = others["other"] == others["labels"]
    share = others.groupby("item_id")["agree"].mean().rename("agreement")
    out = out.merge(share, left_on="item_id", right_index=True, how="left")
    out["agreement"] = out["agreement"].astype(float)
    out["human"] = out["human"].map(json.loads, na_action="ignore").astype(object)
    out["llm"] = out["llm"].map(json.loads, na_action="ignore").astype(object)
    return out


def proposal_row(p: Mapping[str, Any], now: float) -> tuple[Any, ...]:
    """One proposal as the ``proposals`` table's insert row (both backends; ``raw`` capped)."""
    return (
        p["item_id"],
        # an invalid proposal has no labels at all, not an empty list
        json.dumps(list(p["labels"])) if p["valid"] else None,
        int(bool(p["valid"])),
        cap_raw(p.get("rationale")),
        p.get("confidence"),
        p.get("confidence_method"),
        p.get("match"),
        p["source"],
        p.get("model"),
        p.get("prompt_version"),
        cap_raw(p.get("raw")),
        cap_raw(p.get("problem")),  # a recorded answer's problem quotes it
        json.dumps(list(p["demos"])) if p.get("demos") else None,
        p.get("run_id"),
        p.get("prompt_tokens"),
        p.get("completion_tokens"),
        p.get("cost"),
        int(bool(p.get("cached"))),
        p.get("created_at", now),
    )
