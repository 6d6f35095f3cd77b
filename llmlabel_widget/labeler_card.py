"""What the Labeler's card shows of an item and its proposal: plain, size-capped values."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

# What one item may put into the widget's state (the rest stays in the store).
MAX_TEXT_CHARS = 200_000
MAX_RATIONALE_CHARS = 5_000
MAX_RAW_CHARS = 2_000
MAX_META_CHARS = 300


def is_blind(item_id: str, share: float) -> bool:
    """A fixed ``share`` of items, drawn by a hash of the id (the same after a reload)."""
    if share <= 0.0:
        return False
    digest = hashlib.blake2b(f"blind:{item_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def card_view(
    item_id: str,
    item: Mapping[str, Any],
    meta_columns: Sequence[str],
    proposal: dict[str, Any] | None,
    reason: str,
    decision: dict[str, Any] | None,
    *,
    blind: bool = False,
) -> dict[str, Any]:
    """The card's state: capped text and metadata, the proposal (None while blind), why."""
    text: str = item["text"]
    meta = item.get("meta") or {}
    return {
        "item_id": item_id,
        "text": text[:MAX_TEXT_CHARS],
        "text_length": len(text),
        "meta": {c: clip(as_text(meta[c]), MAX_META_CHARS) for c in meta_columns if c in meta},
        "proposal": proposal,
        "reason": f"blind check · {reason}" if blind else reason,
        "blind": blind,
        "decision": decision,
    }


def proposal_view(p: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The fields of a stored proposal the view shows, capped in size."""
    if p is None:
        return None
    confidence = p.get("confidence")
    if confidence is not None:
        confidence = float(confidence)
        if not math.isfinite(confidence):
            confidence = None
    return {
        "labels": [str(x) for x in p.get("labels") or ()],
        "valid": bool(p.get("valid")),
        "rationale": clip(p.get("rationale"), MAX_RATIONALE_CHARS),
        "confidence": confidence,
        "confidence_method": p.get("confidence_method"),
        "source": p.get("source"),
        "model": p.get("model"),
        "prompt_version": p.get("prompt_version"),
        "raw": clip(p.get("raw"), MAX_RAW_CHARS),
        "problem": clip(p.get("problem"), MAX_RATIONALE_CHARS),
    }


def as_text(value: object) -> str:
    return "" if value is None else str(value)


def clip(value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reveal_line(session: Any, decision: Any, blind: bool) -> str:
    """After a blind item is answered, what the LLM had proposed ("" when nothing to say)."""
    if decision.kind == "skip" or not blind:
        return ""
    proposal = session.proposal(decision.item_id)
    if proposal is None or not proposal["valid"]:
        return ""
    said = ", ".join(proposal["labels"]) or "no label"
    verdict = "you agreed" if set(proposal["labels"]) == set(decision.labels) else "you disagreed"
    return f"Blind check on #{decision.item_id}: the LLM had said {said}; {verdict}."
