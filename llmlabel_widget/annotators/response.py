"""Reading a chat completion: its answers parsed and combined, options it ignored, its tokens.

The caller (``OpenAIAnnotator``) turns the result into a ``Proposal``; nothing here sends a
request or stores anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..task import LabelTask
from .base import Proposal
from .parse import Combined, combine, parse_choice


def note_ignored(
    degraded: dict[str, str],
    params: Mapping[str, Any],
    choices: Sequence[Mapping[str, Any]],
    *,
    cached: bool,
) -> None:
    """Note in ``degraded`` the options a server accepted but did not honour."""
    if "logprobs" in params and not cached and choices and not choices[0].get("logprobs"):
        degraded.setdefault("logprobs", "the server returned no logprobs")
    if "n" in params and len(choices) < params["n"]:
        degraded.setdefault("n", f"asked for {params['n']} samples, got {len(choices)}")


def read_answers(
    task: LabelTask, params: Mapping[str, Any], choices: Sequence[Mapping[str, Any]]
) -> Combined:
    """One result from every choice of a response (an empty response is an invalid answer)."""
    answers = [
        parse_choice(task, (c.get("message") or {}).get("content"), c.get("logprobs"))
        for c in choices
    ] or [parse_choice(task, "", None)]
    return combine(answers, self_consistency="n" in params and len(choices) > 1)


def tokens(response: Mapping[str, Any], *, cached: bool) -> tuple[int, int]:
    """``(prompt_tokens, completion_tokens)`` a response was billed for (0 from the cache)."""
    usage = response.get("usage") or {}
    p_tok = 0 if cached else int(usage.get("prompt_tokens") or 0)
    c_tok = 0 if cached else int(usage.get("completion_tokens") or 0)
    return p_tok, c_tok


def make_proposal(
    task: LabelTask,
    params: Mapping[str, Any],
    response: Mapping[str, Any],
    *,
    item_id: str,
    model: str,
    version: str,
    demos: tuple[str, ...],
    run_id: str | None,
    cached: bool,
    price: Callable[[int, int], float | None],
    degraded: dict[str, str],
) -> Proposal:
    """The proposal a chat completion makes for one item: parsed, validated, with its
    confidence, tokens and cost at ``price`` (live and batch answers alike)."""
    choices = response.get("choices") or []
    note_ignored(degraded, params, choices, cached=cached)
    result = read_answers(task, params, choices)
    p_tok, c_tok = tokens(response, cached=cached)
    return Proposal(
        item_id=item_id,
        labels=result.labels,
        valid=result.valid,
        source="openai",
        rationale=result.rationale,
        confidence=result.confidence,
        confidence_method=result.confidence_method,
        match=result.match,
        model=str(response.get("model") or model),
        prompt_version=version,
        raw=result.raw,
        problem=result.problem,
        demos=demos,
        run_id=run_id,
        prompt_tokens=p_tok,
        completion_tokens=c_tok,
        cost=price(p_tok, c_tok),
        cached=cached,
    )
