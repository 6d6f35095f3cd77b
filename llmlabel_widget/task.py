"""The labeling task: which labels exist, what they mean, and how to check a label."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A reviewer's decisions on an item (see docs/glossary.md); "note" and "undo" are events, not
# decisions. The store, the session and the estimates all read this one tuple.
DECISION_KINDS = ("accept", "correct", "label", "skip")


@dataclass(frozen=True)
class LabelMatch:
    """How a free-text answer was mapped onto the label set."""

    labels: tuple[str, ...]
    how: str  # "exact", "casefold", "normalised" or "prefix"


# Words that turn a label into its opposite or hedge it: an answer containing one is never mapped.
_QUALIFIERS = frozenset(
    [
        "not",
        "no",
        "non",
        "un",
        "in",
        "dis",
        "never",
        "hardly",
        "barely",
        "mostly",
        "partly",
        "partially",
        "somewhat",
        "slightly",
        "maybe",
        "perhaps",
        "possibly",
        "probably",
        "likely",
        "unlikely",
        "mainly",
        "largely",
        "kind",
        "sort",
        "rather",
        "semi",
        "quasi",
        "pseudo",
        "almost",
        "nearly",
        "or",
        "and",
        "but",
    ]
)
_SEPARATORS = re.compile(r"[\s_\-]+")
# Wrapping a model may put around a label: quotes, brackets, a trailing full stop or "!".
_WRAPPING = "\"'`*()[]{}<> \t\n"


def _normalise(text: str) -> str:
    """Lower case, one space for each run of spaces, ``_`` or ``-``, no wrapping.

    ``"Card-Arrival."`` becomes ``card arrival``.
    """
    text = text.strip().strip(_WRAPPING).rstrip(".!").strip(_WRAPPING)
    return _SEPARATORS.sub(" ", text.casefold()).strip()


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

        Raises ``ValueError`` naming any label outside the set, and ``TypeError`` when the
        label is not a string (or, for several labels, a list, tuple or set of strings).
        """
        if isinstance(label, str):
            given = [label]
        elif isinstance(label, list | tuple | set | frozenset):
            given = list(label)
        else:
            raise TypeError(
                f"a label must be a string or a list of strings, got {type(label).__name__}"
            )
        wrong = [g for g in given if not isinstance(g, str)]
        if wrong:
            raise TypeError(f"labels must be strings, got {type(wrong[0]).__name__} {wrong[0]!r}")
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

        Accepts the exact name, the name in another case, the name with other spaces,
        underscores, hyphens or wrapping punctuation (``"Card-Arrival."`` for
        ``card_arrival``), or an unambiguous prefix of at least three characters. Anything
        that adds words or hedges (``"not positive"``, ``"non-negative"``, ``"unpositive"``,
        ``"positive?"``, ``"mostly negative"``) or misspells a label is no label at all.

        Examples
        --------
        >>> task = LabelTask(labels=["positive", "negative"])
        >>> task.match("Positive.").labels, task.match("not positive")
        (('positive',), None)
        """
        if not isinstance(answer, str):
            return None
        if answer in self.descriptions:
            return LabelMatch((answer,), "exact")
        text = answer.strip().strip(_WRAPPING)
        if "?" in text:  # a question is a doubt, not an answer
            return None
        folded = {n.casefold(): n for n in self.names}
        if text.casefold() in folded:
            return LabelMatch((folded[text.casefold()],), "casefold")
        key = _normalise(text)
        if not key or _QUALIFIERS & set(key.split()) - self._label_words:
            return None
        normalised = {_normalise(n): n for n in self.names}
        if key in normalised:
            return LabelMatch((normalised[key],), "normalised")
        prefixed = [n for f, n in normalised.items() if f.startswith(key)]
        if len(prefixed) == 1 and len(key) >= 3:
            return LabelMatch((prefixed[0],), "prefix")
        return None

    @property
    def _label_words(self) -> set[str]:
        """Words that occur in the label names themselves (``not_relevant`` has ``not``)."""
        return {w for n in self.names for w in _normalise(n).split()}

    def to_json(self) -> str:
        """Serialise to JSON (stored with the session).

        Labels are a list of ``[name, description]`` pairs: their order is the order of the
        keys 1-9, the prompt and the answer schema, and a JSON object's key order is not kept
        by every reader (PostgreSQL's jsonb sorts it).
        """
        return json.dumps(
            {
                "labels": [[n, d] for n, d in self.descriptions.items()],
                "instructions": self.instructions,
                "multi_label": self.multi_label,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LabelTask:
        """Rebuild a task saved with :meth:`to_json` (or by a release that stored a dict)."""
        data: dict[str, Any] = json.loads(text)
        labels = data["labels"]
        return cls(
            labels=dict(labels) if isinstance(labels, list) else labels,
            instructions=data.get("instructions", ""),
            multi_label=data.get("multi_label", False),
        )
