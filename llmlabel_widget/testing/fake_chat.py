"""How the fake server reads a chat-completion request and builds the parts of its answers.

Reading follows the prompt contract in :mod:`.fake_openai` (item text, label set, multi-label);
the answer parts are rationale quotes, token logprobs and seeded randomness.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from typing import Any

from .fake_http import _HTTPError

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_WORD_RE = re.compile(r'[^\s"]+')


def _rng(*key: object) -> random.Random:
    digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311


def _text_of(content: Any) -> str:
    """Message content as text (plain string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _item_text(messages: list[dict[str, Any]]) -> tuple[str | None, str]:
    """The item text (None if unparseable) and the last user message's text."""
    users = [m for m in messages if m.get("role") == "user"]
    text = _text_of(users[-1].get("content")) if users else ""
    try:
        item = json.loads(text.rstrip().split("\n")[-1].strip())
    except ValueError:
        return None, text
    return (item if isinstance(item, str) else None), text


def _task_spec(
    messages: list[dict[str, Any]], response_format: Any = None
) -> tuple[list[str] | None, bool]:
    """The label set (None if absent) and whether the task is multi-label."""
    from_schema = _schema_spec(response_format)
    if from_schema is not None:
        return from_schema
    labels: list[str] | None = None
    multi = False
    for message in messages:
        if message.get("role") != "system":
            continue
        text = _text_of(message.get("content"))
        multi = multi or "Key for the answer: 'labels'" in text
        listed = _listed_labels(text)
        labels = listed if listed else labels
    return labels, multi


def _schema_spec(response_format: Any) -> tuple[list[str], bool] | None:
    """The label enum and multi-label flag of a ``json_schema`` response format, if any."""
    if not isinstance(response_format, dict):
        return None
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return None
    multi = isinstance(props.get("labels"), dict)
    prop = props.get("labels", {}).get("items", {}) if multi else props.get("label", {})
    enum = prop.get("enum") if isinstance(prop, dict) else None
    if not isinstance(enum, list):
        return None
    return [str(x) for x in enum], multi


def _listed_labels(text: str) -> list[str]:
    """The ``- name[: description]`` lines after a ``Labels:`` line, up to a blank line."""
    out: list[str] = []
    listing = False
    for raw in text.split("\n"):
        line = raw.strip()
        if line == "Labels:":
            listing, out = True, []
        elif listing and line.startswith("- "):
            out.append(line[2:].split(": ", 1)[0])
        elif listing:
            listing = False
    return out


def _quote(text: str, rng: random.Random) -> str:
    """A few consecutive words of ``text`` (an exact substring when possible)."""
    spans = list(_WORD_RE.finditer(text))
    if not spans:
        return ""
    k = min(len(spans), rng.randint(2, 4))
    i = rng.randrange(len(spans) - k + 1)
    snippet = text[spans[i].start() : spans[i + k - 1].end()]
    plain = not any(ch in snippet for ch in '"\n\r')
    return snippet if plain else spans[i].group()


def _words(text: str) -> int:
    return len(text.split())


def _token(text: str, logprob: float) -> dict[str, Any]:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}


def _logprobs(
    content: str, answers: list[str], conf: float, labels: list[str], top: int
) -> dict[str, Any]:
    """Tokenise ``content`` so each answered label value is exactly one token."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    anchor = content.find('"labels": [')
    if anchor < 0:
        anchor = content.find('"label": ')
    if anchor >= 0:
        for answer in answers:
            quoted = json.dumps(answer, ensure_ascii=False)
            idx = content.find(quoted, max(pos, anchor))
            if idx < 0:
                break
            pieces += [(t, False) for t in _TOKEN_RE.findall(content[pos : idx + 1])]
            pieces.append((quoted[1:-1], True))
            pos = idx + len(quoted) - 1
    pieces += [(t, False) for t in _TOKEN_RE.findall(content[pos:])]

    entries = []
    for text, is_label in pieces:
        if not is_label:
            entry = _token(text, 0.0)
            entry["top_logprobs"] = [_token(text, 0.0)][:top]
            entries.append(entry)
            continue
        others = [lab for lab in labels if lab != text]
        rest = max(1.0 - conf, 1e-9) / max(len(others), 1)
        entry = _token(text, math.log(conf))
        alts = [_token(text, math.log(conf))]
        alts += [_token(lab, math.log(rest)) for lab in others]
        entry["top_logprobs"] = alts[:top]
        entries.append(entry)
    return {"content": entries, "refusal": None}


def _request_body(raw: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The JSON body of a chat-completion request and its messages; a 400 if it has none."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(messages, list):
        raise _HTTPError(
            400,
            "Request body must be JSON with 'messages'.",
            "invalid_request_error",
        )
    return body, [m for m in messages if isinstance(m, dict)]
