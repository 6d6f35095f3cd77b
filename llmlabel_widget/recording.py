"""Recording decisions: check a reviewer's event, write it to the store, tell the selector."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .ingest import item_key
from .storage import StoreBackend
from .task import LabelTask

ItemId = str | int
LABELS = ("accept", "correct", "label")  # the decision kinds that give an item a label
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """A recorded reviewer decision, as returned by :meth:`Session.decide`."""

    seq: int
    item_id: str
    kind: str
    labels: tuple[str, ...]
    reviewer: str

    @property
    def annotator(self) -> str:
        """Deprecated name of :attr:`reviewer` (the human who decided)."""
        return self.reviewer


def reviewer_name(reviewer: str | None, annotator: str | None, default: str) -> str:
    """The name an event is recorded under: ``reviewer=`` (``annotator=`` is its old name),
    else ``default``; it must be a non-empty string."""
    if annotator is not None and reviewer is not None and annotator != reviewer:
        raise TypeError("pass the reviewer's name once, as reviewer= (annotator= is its old name)")
    who = reviewer if reviewer is not None else annotator
    who = default if who is None else who
    if not isinstance(who, str) or not who.strip():
        raise ValueError(f"reviewer must be a non-empty string, got {who!r}")
    return who


class Recorder:
    """Writes decisions, skips, notes and undos as events; then calls ``wrote`` and ``changed``.

    ``predict(item_id)`` is what the learner predicted before the answer (recorded in the
    context of each labelling decision, its learning curve); ``changed(item_id, kind)`` tells
    the selector (``kind`` is the event's, or ``"undo"``).
    """

    def __init__(
        self,
        store: StoreBackend,
        task: LabelTask,
        *,
        wrote: Callable[[], None],
        predict: Callable[[str], Mapping[str, Any]],
        changed: Callable[[str, str], None],
    ) -> None:
        self.store = store
        self.task = task
        self._wrote = wrote
        self._predict = predict
        self._changed = changed
        self._listeners: list[Callable[[Any], None]] = []

    def on_decision(self, fn: Callable[[Any], None], *, remove: bool = False) -> None:
        """Call ``fn(event)`` after each recorded event; ``remove=True`` stops (harmless twice)."""
        if remove:
            self._listeners = [f for f in self._listeners if f != fn]
        elif fn not in self._listeners:
            self._listeners = [*self._listeners, fn]

    def _tell(self, event: Decision | Mapping[str, Any]) -> None:
        """Each listener, in order; one that raises is logged and never undoes the event."""
        for fn in self._listeners:
            try:
                fn(event)
            except Exception:
                log.exception("decision listener %r failed", fn)

    def existing(self, item_id: ItemId) -> str:
        """The item's key, or KeyError naming it when it is not in the pool."""
        key = item_key(item_id)
        if not self.store.has_item(key):
            raise KeyError(f"unknown item id {key!r}: it is not in this session's store")
        return key

    def decide(
        self,
        item_id: ItemId,
        label: str | Sequence[str] | None,
        who: str,
        note: str | None,
        context: Mapping[str, Any] | None,
    ) -> Decision:
        """``accept`` when ``label`` equals the latest valid proposal, ``correct`` when it
        differs, ``label`` when there is none."""
        key = self.existing(item_id)
        if label is None:
            raise ValueError("decide() needs a label; use accept() to take the LLM's proposal")
        labels = self.task.validate(label)
        proposal = self.store.latest_proposal(key)
        if proposal is not None and proposal["valid"]:
            kind = "accept" if set(proposal["labels"]) == set(labels) else "correct"
        else:
            kind = "label"
        return self._record(key, kind, labels, who, note, proposal, context)

    def accept(
        self, item_id: ItemId, who: str, note: str | None, context: Mapping[str, Any] | None
    ) -> Decision:
        key = self.existing(item_id)
        proposal = self.store.latest_proposal(key)
        if proposal is None or not proposal["valid"]:
            raise ValueError(f"item {key!r} has no valid LLM proposal to accept")
        labels = tuple(proposal["labels"])
        return self._record(key, "accept", labels, who, note, proposal, context)

    def skip(
        self, item_id: ItemId, who: str, note: str | None, context: Mapping[str, Any] | None
    ) -> Decision:
        return self._record(self.existing(item_id), "skip", (), who, note, None, context)

    def note(
        self, item_id: ItemId, text: str, who: str, context: Mapping[str, Any] | None
    ) -> Decision:
        key = self.existing(item_id)
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a note must be a non-empty string")
        return self._record(key, "note", (), who, text, None, context)

    def undo(self, who: str, via: str | None) -> dict[str, Any] | None:
        undone = self.store.undo_last(who, via=via)
        if undone is not None:
            self._wrote()
            self._changed(undone["item_id"], "undo")
            self._tell(undone)
        return undone

    def _record(
        self,
        key: str,
        kind: str,
        labels: tuple[str, ...],
        who: str,
        note: str | None,
        proposal: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
    ) -> Decision:
        if note is not None and not isinstance(note, str):
            raise ValueError("note must be a string")
        if kind in LABELS:
            context = {**self._predict(key), **(context or {})} or None
        seq = self.store.add_event(
            key,
            who,
            kind,
            labels=labels if kind in LABELS else None,
            note=note,
            proposal_seq=None if proposal is None else proposal["seq"],
            context=context,
        )
        self._wrote()
        self._changed(key, kind)
        decision = Decision(seq=seq, item_id=key, kind=kind, labels=labels, reviewer=who)
        self._tell(decision)
        return decision
