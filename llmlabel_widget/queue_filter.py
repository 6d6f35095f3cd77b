"""Queue filters: keep only the items a reviewer asks for, in the selector's order.

The pure ranking stays in :mod:`.selection`; a filter is a cheap step after it. The Store's
``filtered_items`` read model gives the matching ids (it knows states the ranking does not
hold, such as decided items); the ranked ones come first in ranking order, then the rest in
pool order. A pick made under a filter is chosen by the reviewer, not a probability sample:
its context says ``"filtered": {...}`` and ``audit: False``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from .selection.rank import QueueItem

if TYPE_CHECKING:
    from .selection.shell import Selector
    from .storage import StoreBackend

#: the item states a filter can ask for; ``invalid`` = the latest proposal could not be used.
FILTER_STATES = ("undecided", "skipped", "decided", "invalid")
_STATE_WORDS = {"invalid": "invalid proposal"}


@dataclass(frozen=True)
class QueueFilter:
    """What the queue keeps: every given criterion must hold (an empty filter keeps all).

    Parameters
    ----------
    labels : the latest LLM proposal gives one of these labels.
    confidence : ``(low, high)``, both in [0, 1]: the LLM's confidence lies in that range.
    states : the item is in one of these states (see ``FILTER_STATES``).
    text : the item's text contains this (case ignored for ASCII letters).

    Examples
    --------
    >>> QueueFilter(labels=("agree",), confidence=(0.0, 0.6)).describe()
    ['LLM label: agree', 'confidence 0.00 to 0.60']
    >>> session.queue(10, filters={"states": ["skipped"], "text": "ice"})  # doctest: +SKIP
    """

    labels: tuple[str, ...] = ()
    confidence: tuple[float, float] | None = None
    states: tuple[str, ...] = ()
    text: str = ""

    def __post_init__(self) -> None:
        for name in ("labels", "states"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"QueueFilter {name} must be a list of strings, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        bad = [s for s in self.states if s not in FILTER_STATES]
        if bad:
            raise ValueError(f"unknown state(s) {bad}; choose from {list(FILTER_STATES)}")
        if not isinstance(self.text, str):
            raise TypeError(f"QueueFilter text must be a string, got {type(self.text).__name__}")
        object.__setattr__(self, "text", self.text.strip())
        if self.confidence is not None:
            object.__setattr__(self, "confidence", _range(self.confidence))

    @classmethod
    def of(cls, value: QueueFilter | Mapping[str, Any]) -> QueueFilter:
        """A filter from itself or a dict of its fields (unknown keys are an error)."""
        if isinstance(value, QueueFilter):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"filters must be a QueueFilter or a dict, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise TypeError(f"unknown filter field(s) {unknown}; use {sorted(known)}")
        return cls(**dict(value))

    @property
    def empty(self) -> bool:
        """True when the filter keeps every item."""
        return not (self.labels or self.confidence or self.states or self.text)

    def check_labels(self, names: Sequence[str]) -> QueueFilter:
        """This filter, after checking that its labels are the task's (else ValueError)."""
        bad = [x for x in self.labels if x not in names]
        if bad:
            raise ValueError(f"unknown label(s) {bad} in the filter; the task has {list(names)}")
        return self

    def as_dict(self) -> dict[str, Any]:
        """The set fields as plain JSON values (recorded with each filtered pick)."""
        out = asdict(self)
        out["labels"], out["states"] = list(self.labels), list(self.states)
        if self.confidence is not None:
            out["confidence"] = list(self.confidence)
        return {k: v for k, v in out.items() if v not in ((), [], "", None)}

    def describe(self) -> list[str]:
        """One short phrase per active criterion."""
        return [c["text"] for c in self.chips()]

    def chips(self) -> list[dict[str, str]]:
        """``{field, text}`` per active criterion: the view's removable chips."""
        out = []
        if self.labels:
            out.append(("labels", "LLM label: " + " or ".join(self.labels)))
        if self.confidence is not None:
            low, high = self.confidence
            out.append(("confidence", f"confidence {low:.2f} to {high:.2f}"))
        if self.states:
            words = " or ".join(_STATE_WORDS.get(s, s) for s in self.states)
            out.append(("states", "state: " + words))
        if self.text:
            out.append(("text", f"text contains “{self.text}”"))
        return [{"field": f, "text": t} for f, t in out]


def _range(value: object) -> tuple[float, float]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"confidence must be a (low, high) pair, got {value!r}")
    try:
        low, high = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise TypeError(f"confidence bounds must be numbers, got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"confidence must satisfy 0 <= low <= high <= 1, got {value!r}")
    return low, high


def apply(f: QueueFilter, store: StoreBackend, selector: Selector, n: int) -> list[QueueItem]:
    """The first ``n`` items matching ``f``: ranked ones in ranking order, then pool order."""
    if f.empty:
        return selector.queue(n)
    matching = store.filtered_items(
        labels=f.labels, confidence=f.confidence, states=f.states, text=f.text
    )
    keep = set(matching)
    record, words = f.as_dict(), " · ".join(f.describe())
    out = [
        _filtered(q.item_id, q.strategy, "" if q.audit else q.reason, q.score, record, words)
        for q in selector.queue(sys.maxsize)
        if q.item_id in keep
    ][:n]
    taken = {q.item_id for q in out}
    for item_id in matching:
        if len(out) >= n:
            break
        if item_id not in taken:
            out.append(_filtered(item_id, "filter", "pool order", 0.0, record, words))
    return out


def _filtered(
    item_id: str, strategy: str, reason: str, score: float, record: dict[str, Any], words: str
) -> QueueItem:
    why = f"filtered ({words})" + (f" · {reason}" if reason else "")
    return QueueItem(item_id, strategy, why, score, False, None, record)
