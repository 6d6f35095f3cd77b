"""Turn an untrusted chat completion into a validated proposal (labels, rationale, confidence).

Nothing the model writes reaches the store as a label unless it maps onto the task's label
set; everything else becomes an invalid proposal carrying the raw text and the reason.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..task import LabelTask

MAX_RATIONALE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """One parsed choice."""

    labels: tuple[str, ...]
    valid: bool
    rationale: str | None
    stated_confidence: float | None
    logprob_confidence: float | None
    match: str | None
    raw: str
    problem: str | None


def plain_text(value: object) -> str | None:
    """A rationale as plain text: a string, control characters removed, bounded length."""
    if value is None:
        return None
    text = _CONTROL.sub("", value if isinstance(value, str) else json.dumps(value))
    text = text.strip()
    if len(text) > MAX_RATIONALE:
        text = text[:MAX_RATIONALE] + "…"
    return text or None


def _json_object(content: str) -> dict[str, Any] | None:
    text = _FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            return None
        try:
            data = json.loads(text[start : end + 1])
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def _confidence(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if math.isnan(number):
        return None
    if 1.0 < number <= 100.0:  # "85" meaning 85 %
        number /= 100.0
    return min(1.0, max(0.0, number))


def parse_choice(task: LabelTask, content: str | None, logprobs: Any = None) -> Answer:
    """Parse one choice's content (and its token logprobs, if any)."""
    raw = content or ""
    data = _json_object(raw)
    if data is None:
        return Answer((), False, None, None, None, None, raw, "the answer is not valid JSON")
    rationale = plain_text(data.get("rationale") or data.get("reasoning"))
    stated = _confidence(data.get("confidence"))
    if task.multi_label:
        given = data.get("labels", data.get("label"))
        if isinstance(given, str):
            given = [given]
        if not isinstance(given, list):
            return Answer((), False, rationale, stated, None, None, raw, "no 'labels' list")
        matches = [task.match(g) if isinstance(g, str) else None for g in given]
        bad = [g for g, m in zip(given, matches, strict=True) if m is None]
        if bad:
            problem = f"label {bad[0]!r} is not in the label set"
            return Answer((), False, rationale, stated, None, None, raw, problem)
        labels = task.validate([m.labels[0] for m in matches if m is not None])
        how = ",".join(sorted({m.how for m in matches if m is not None})) or "exact"
    else:
        given = data.get("label")
        if isinstance(given, list) and len(given) == 1:
            given = given[0]
        found = task.match(given) if isinstance(given, str) else None
        if found is None:
            problem = f"label {given!r} is not in the label set"
            return Answer((), False, rationale, stated, None, None, raw, problem)
        labels, how = found.labels, found.how
    lp = _label_logprob(raw, labels, given, logprobs)
    return Answer(labels, True, rationale, stated, lp, how, raw, None)


def _label_logprob(
    content: str, labels: tuple[str, ...], given: Any, logprobs: Any
) -> float | None:
    """Probability of the label tokens: exp(sum of their logprobs); min over labels."""
    tokens = _tokens(logprobs)
    if not tokens:
        return None
    written = given if isinstance(given, list) else [given]
    probs = []
    offset = 0
    starts = []
    for tok, _ in tokens:
        starts.append(offset)
        offset += len(tok)
    for value in written:
        if not isinstance(value, str) or not value:
            continue
        span_start = content.find(json.dumps(value, ensure_ascii=False)[1:-1])
        if span_start < 0:
            return None
        span_end = span_start + len(value)
        total = sum(
            lp
            for (tok, lp), s in zip(tokens, starts, strict=True)
            if s < span_end and s + len(tok) > span_start
        )
        probs.append(math.exp(total))
    return min(probs) if probs else None


def _tokens(logprobs: Any) -> list[tuple[str, float]]:
    content = None
    if isinstance(logprobs, dict):
        content = logprobs.get("content")
    if not content:
        return []
    out = []
    for t in content:
        if not isinstance(t, dict) or not isinstance(t.get("token"), str):
            return []
        lp = t.get("logprob")
        out.append((t["token"], float(lp) if isinstance(lp, int | float) else 0.0))
    return out


@dataclass(frozen=True)
class Combined:
    """The proposal made from all choices of one response."""

    labels: tuple[str, ...]
    valid: bool
    rationale: str | None
    confidence: float | None
    confidence_method: str | None
    match: str | None
    raw: str
    problem: str | None


def combine(answers: list[Answer], *, self_consistency: bool) -> Combined:
    """One proposal from n choices: majority label, agreement share as confidence."""
    valid = [a for a in answers if a.valid]
    first = answers[0]
    if not valid:
        return Combined((), False, first.rationale, None, None, None, first.raw, first.problem)
    if self_consistency and len(answers) > 1:
        votes = Counter(a.labels for a in valid)
        labels, count = votes.most_common(1)[0]
        pick = next(a for a in valid if a.labels == labels)
        return Combined(
            labels,
            True,
            pick.rationale,
            count / len(answers),
            "self-consistency",
            pick.match,
            pick.raw,
            None,
        )
    pick = valid[0] if first.valid else first
    if not pick.valid:
        return Combined((), False, pick.rationale, None, None, None, pick.raw, pick.problem)
    if pick.logprob_confidence is not None:
        conf, method = pick.logprob_confidence, "logprob"
    elif pick.stated_confidence is not None:
        conf, method = pick.stated_confidence, "verbalised"
    else:
        conf, method = None, None
    return Combined(pick.labels, True, pick.rationale, conf, method, pick.match, pick.raw, None)
