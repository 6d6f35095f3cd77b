"""The labeling task: which labels exist, what they mean, and how to check a label."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LabelMatch:
    """How a free-text answer was mapped onto the label set."""

    labels: tuple[str, ...]
    how: str  # "exact", "casefold", "prefix" or "close"


@dataclass(frozen=True)
class LabelTask:
    """Label names with optional descriptions, instructions, single- or multi-label.

    Examples
    --------
    >>> task = LabelTask(labels={"positive": "praises the film", "negative": "criticises it"},
    ...                  instructions="Label the sentiment of the movie review.")
    >>> task.names
    ('positive', 'negative')
    """

    labels: Mapping[str, str] | Sequence[str]
    instructions: str = ""
    multi_label: bool = False
    descriptions: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        raw = self.labels
        if isinstance(raw, str):
            raise ValueError("labels must be a list or dict of label names, not one string")
        if isinstance(raw, Mapping):
            pairs = list(raw.items())
        elif isinstance(raw, Iterable):
            pairs = [(name, "") for name in raw]
        else:
            raise ValueError(
                f"labels must be a list or dict of label names, got {type(raw).__name__}"
            )
        if not pairs:
            raise ValueError("a task needs at least one label; labels is empty")
        seen: dict[str, str] = {}
        for name, description in pairs:
            if not isinstance(name, str):
                raise ValueError(
                    f"label names must be strings; got {name!r} ({type(name).__name__})"
                )
            if not name.strip():
                raise ValueError("label names must not be blank")
            if name != name.strip():
                raise ValueError(f"label name {name!r} has leading or trailing whitespace")
            if name.casefold() in {n.casefold() for n in seen}:
                raise ValueError(f"duplicate label name {name!r} (names must differ ignoring case)")
            if description is None:
                description = ""
            if not isinstance(description, str):
                raise ValueError(f"the description of label {name!r} must be a string")
            seen[name] = description
        if not isinstance(self.instructions, str):
            raise ValueError("instructions must be a string")
        object.__setattr__(self, "labels", tuple(seen))
        object.__setattr__(self, "descriptions", seen)
        object.__setattr__(self, "multi_label", bool(self.multi_label))

    @property
    def names(self) -> tuple[str, ...]:
        """Label names in their defined order."""
        return tuple(self.descriptions)

    def validate(self, label: str | Iterable[str]) -> tuple[str, ...]:
        """Check a human's label(s) exactly; return them as a tuple in task order.

        Raises ``ValueError`` naming any label outside the set.
        """
        given = [label] if isinstance(label, str) else list(label)
        unknown = [g for g in given if g not in self.descriptions]
        if unknown:
            raise ValueError(
                f"unknown label {unknown[0]!r}; the task's labels are {list(self.names)}"
            )
        if not given and not self.multi_label:
            raise ValueError("a single-label task needs exactly one label; got none")
        if len(given) > 1 and not self.multi_label:
            raise ValueError(f"this task is single-label; got {len(given)} labels {given}")
        chosen = set(given)
        return tuple(n for n in self.names if n in chosen)

    def match(self, answer: str) -> LabelMatch | None:
        """Map an untrusted model answer onto one label, or ``None`` if it does not fit.

        Accepts exact names, names differing in case or surrounding whitespace/quotes,
        an unambiguous prefix, or a close spelling; says which of these applied.
        """
        if not isinstance(answer, str):
            return None
        text = answer.strip().strip("\"'`.").strip()
        if not text:
            return None
        if text in self.descriptions:
            return LabelMatch((text,), "exact")
        folded = {n.casefold(): n for n in self.names}
        key = text.casefold()
        if key in folded:
            return LabelMatch((folded[key],), "casefold")
        prefixed = [n for f, n in folded.items() if f.startswith(key)]
        if len(prefixed) == 1 and len(key) >= 2:
            return LabelMatch((prefixed[0],), "prefix")
        close = difflib.get_close_matches(key, list(folded), n=2, cutoff=0.8)
        if len(close) == 1:
            return LabelMatch((folded[close[0]],), "close")
        return None

    def to_json(self) -> str:
        """Serialise to JSON (stored with the session)."""
        return json.dumps(
            {
                "labels": self.descriptions,
                "instructions": self.instructions,
                "multi_label": self.multi_label,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> LabelTask:
        """Rebuild a task saved with :meth:`to_json`."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            labels=data["labels"],
            instructions=data.get("instructions", ""),
            multi_label=data.get("multi_label", False),
        )
