"""The Labeler's moves away from the queue: back and forward through the reviewer's
decided items, and items the reviewer chose (from the history list, a search, a queue row).

An item reached this way was chosen by the reviewer, not drawn by the selector, so its
decision is recorded with ``chosen`` and ``audit: False`` (no inclusion probability): the
estimates leave it out of the random audit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .labeler_card import clip

if TYPE_CHECKING:
    from .session import Session

#: the rows of the history list the view shows, and of a search's results.
HISTORY_ROWS = 20
SEARCH_ROWS = 20
SNIPPET_CHARS = 90
NOTE_CHARS = 200
#: how the reviewer reached an item, as recorded in ``context["chosen"]``.
CHOSEN = ("history", "search", "queue")
#: intents that may come with no item on screen (the pool may be done).
FREE_KINDS = frozenset({"undo", "back", "forward", "goto"})


@dataclass(frozen=True)
class Place:
    """An item the reviewer moved to: how (``chosen``), and its place in the history."""

    item_id: str
    chosen: str
    reason: str
    step: int | None = None  # 0 = the newest decided item


class Navigator:
    """Where one reviewer is when not on the queue's head; None = on the queue."""

    def __init__(self, session: Session, reviewer: str) -> None:
        self.session = session
        self.reviewer = reviewer
        self.place: Place | None = None

    def back(self) -> str:
        """Step to the next older decided item; a notice when there is none ("" if moved)."""
        step = 0 if self.place is None or self.place.step is None else self.place.step + 1
        if not self._step_to(step):
            return "No earlier decision to go back to."
        return ""

    def forward(self) -> str:
        """Step to the next newer decided item, or from the newest back to the queue."""
        if self.place is None:
            return "This is the next item to review; go back to see earlier decisions."
        step = self.place.step
        if not step or not self._step_to(step - 1):
            self.place = None
        return ""

    def go(self, item_id: object, chosen: object, reason: str = "") -> None:
        """Move to an item the reviewer chose; a clear error when it is not in the pool."""
        if chosen not in CHOSEN:
            raise ValueError(f"chosen must be one of {list(CHOSEN)}, got {chosen!r}")
        if not isinstance(item_id, str) or not self.session.has_item(item_id):
            raise KeyError(f"unknown item id {item_id!r}: it is not in this session's pool")
        key = str(item_id)
        step = None
        if chosen == "history":
            ids = list(self.session.history(reviewer=self.reviewer, n=HISTORY_ROWS).item_id)
            step = ids.index(key) if key in ids else None
        why = {"history": "your earlier decision", "search": "found by search"}
        self.place = Place(key, str(chosen), reason or why.get(str(chosen), "chosen"), step)

    def pin(self) -> tuple[str, str] | None:
        """The item to show instead of the queue head, with the reason to show."""
        return None if self.place is None else (self.place.item_id, self.place.reason)

    def context(self, item_id: str) -> dict[str, Any] | None:
        """What to record with a decision on ``item_id`` if the reviewer chose it."""
        if self.place is None or self.place.item_id != item_id:
            return None
        return {"chosen": self.place.chosen, "audit": False, "reason": self.place.reason}

    def _step_to(self, step: int) -> bool:
        rows = self.session.history(reviewer=self.reviewer, n=step + 1)
        if len(rows) <= step:
            return False
        when = "your last decision" if step == 0 else f"your decision {step + 1} back"
        self.place = Place(str(rows.item_id.iloc[step]), "history", when, step)
        return True


def history_view(session: Session, reviewer: str) -> list[dict[str, Any]]:
    """The compact history list: ``{item_id, kind, labels, time, note}``, newest first.

    ``time`` is in epoch milliseconds (the view shows it in local time); ``note`` is
    clipped.
    """
    return [
        {
            "item_id": str(r["item_id"]),
            "kind": str(r["kind"]),
            "labels": json.loads(r["labels"]) if isinstance(r["labels"], str) else [],
            "time": int(float(r["time"]) * 1000),
            "note": clip(r["note"], NOTE_CHARS),
        }
        for r in session.history_records(reviewer=reviewer, n=HISTORY_ROWS)
    ]


def decision_view(session: Session, reviewer: str, item_id: str) -> dict[str, Any] | None:
    """The reviewer's decision and note on the item on screen, for the card."""
    past = session.decision_of(item_id, reviewer=reviewer)
    if past is None:
        return None
    time = past["time"]
    return {
        "kind": past["kind"],
        "labels": past["labels"],
        "time": None if time is None else int(time.timestamp() * 1000),
        "note": past["note"],
    }


def search_view(session: Session, query: object) -> dict[str, Any]:
    """Search results for the ``g`` box: ``{query, items: [{item_id, snippet, match}], error}``."""
    text = query if isinstance(query, str) else ""
    if not text.strip():
        return {"query": text, "items": [], "error": ""}
    found = session.search(text, n=SEARCH_ROWS)
    items = [
        {"item_id": str(r.item_id), "snippet": snippet(str(r.text), text), "match": str(r.match)}
        for r in found.itertuples()
    ]
    return {"query": text, "items": items, "error": "" if items else f"nothing matches {text!r}"}


def snippet(text: str, query: str) -> str:
    """A one-line piece of ``text`` around the first match of ``query``."""
    flat = " ".join(text.split())
    at = flat.lower().find(query.strip().lower())
    start = max(0, at - SNIPPET_CHARS // 3) if at > 0 else 0
    piece = flat[start : start + SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(flat) else "")


def saved_line(kind: str, labels: tuple[str, ...], item_id: str, undo_keys: list[str]) -> str:
    """The quiet confirmation after a decision: ``saved: negative on #12 · z to undo``."""
    what = "skip" if kind == "skip" else ", ".join(labels) or "no label"
    if kind == "accept":
        what += " (the LLM's proposal)"
    undo = f" · {undo_keys[0]} to undo" if undo_keys else ""
    return f"saved: {what} on #{item_id}{undo}"
