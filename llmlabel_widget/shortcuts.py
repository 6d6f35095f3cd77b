"""Keyboard shortcuts for the Labeler: defaults, and checking and normalising user overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Actions a key can trigger, besides choosing a label.
ACTIONS = (
    "accept",
    "skip",
    "note",
    "undo",
    "filter",
    "queue",
    "help",
    "back",
    "forward",
    "goto",
)
DEFAULT_SHORTCUTS: dict[str, list[str]] = {
    "accept": ["Enter", "a"],
    "skip": ["s", " "],
    "note": ["n"],
    "undo": ["z", "Backspace"],
    "filter": ["/"],
    "queue": ["l"],  # filter the queue (LLM label, confidence, state, text)
    "help": ["?"],
    "back": ["b", "ArrowLeft"],
    "forward": ["f", "ArrowRight"],
    "goto": ["g"],
}
# Keys the view needs for itself: Escape closes panels, Tab moves focus.
RESERVED_KEYS = frozenset({"Escape", "Tab"})


def _normalise_key(key: object, action: str) -> str:
    """One way to write a key or combination: ``"shift+ctrl+A"`` -> ``"Ctrl+Shift+a"``.

    A plain key never fires with Shift, Ctrl, Alt or Meta held (so Shift+Enter runs the
    cell, not an accept); a combination fires only when bound as one.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"shortcut keys must be non-empty strings; got {key!r} for {action!r}")
    at = key.rfind("+", 0, len(key) - 1) if len(key) > 1 else -1
    mods, base = (key[:at].split("+"), key[at + 1 :]) if at > 0 else ([], key)
    names: set[str] = set()
    for mod in mods:
        name = _MODIFIERS.get(mod.lower())
        if name is None:
            raise ValueError(
                f"unknown modifier {mod!r} in shortcut {key!r} for {action!r}; "
                f"use {', '.join(_MODIFIER_ORDER)}"
            )
        names.add(name)
    if base.lower() == "space":
        base = " "
    if len(base) == 1:
        base = base.lower()  # "A" and "a" are the same key (Caps Lock); Shift is a modifier
    if len(base) == 1 and base != " " and base.lower() == base.upper():
        names.discard("Shift")  # Shift only chose the character ("?", AZERTY digits)
    if base in RESERVED_KEYS or base in _MODIFIER_KEYS:
        raise ValueError(f"{key!r} is reserved by the view and cannot be bound to {action!r}")
    return "+".join([*(m for m in _MODIFIER_ORDER if m in names), base])


_MODIFIER_ORDER = ("Ctrl", "Alt", "Shift", "Meta")
_MODIFIERS = {
    "ctrl": "Ctrl",
    "control": "Ctrl",
    "alt": "Alt",
    "option": "Alt",
    "shift": "Shift",
    "meta": "Meta",
    "cmd": "Meta",
    "command": "Meta",
}
# A modifier alone is never a key press the view sees as a key.
_MODIFIER_KEYS = frozenset({"Control", "Alt", "Shift", "Meta", "AltGraph", "CapsLock"})


def normalise_shortcuts(spec: Mapping[str, Any] | None, names: Sequence[str]) -> dict[str, Any]:
    """Merge user overrides over the defaults; reject unknown actions and clashing keys."""
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise TypeError(f"shortcuts must be a dict, got {type(spec).__name__}")
    unknown = sorted(set(spec) - {*ACTIONS, "labels"})
    if unknown:
        raise ValueError(f"unknown shortcut action(s) {unknown}; use {[*ACTIONS, 'labels']}")
    out: dict[str, Any] = {}
    for action in ACTIONS:
        given = spec.get(action, DEFAULT_SHORTCUTS[action])
        keys = [given] if isinstance(given, str) else list(given)
        out[action] = list(dict.fromkeys(_normalise_key(k, action) for k in keys))
    label_keys = [str(i + 1) if i < 9 else "" for i in range(len(names))]
    given_labels = spec.get("labels")
    if isinstance(given_labels, Mapping):
        for name, key in given_labels.items():
            if name not in names:
                raise ValueError(f"shortcut for unknown label {name!r}; labels are {list(names)}")
            label_keys[names.index(name)] = "" if key in ("", None) else _normalise_key(key, name)
    elif given_labels is not None:
        seq = [given_labels] if isinstance(given_labels, str) else list(given_labels)
        if len(seq) > len(names):
            raise ValueError(f"{len(seq)} label keys given for {len(names)} labels")
        label_keys = [
            "" if k in ("", None) else _normalise_key(k, names[i]) for i, k in enumerate(seq)
        ] + [""] * (len(names) - len(seq))
    out["labels"] = label_keys
    owners: dict[str, str] = {}
    bindings = [(k, a) for a in ACTIONS for k in out[a]]
    bindings += [(k, f"label {n!r}") for n, k in zip(names, label_keys, strict=True) if k]
    for key, owner in bindings:
        if key in owners and owners[key] != owner:
            raise ValueError(f"key {key!r} is bound to both {owners[key]} and {owner}")
        owners[key] = owner
    return out
