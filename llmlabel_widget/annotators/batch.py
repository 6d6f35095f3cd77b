"""The OpenAI Batch API's file formats: request lines, parts under the limits, result lines.

Request lines carry the body that :class:`OpenAIAnnotator` would send live (same messages,
same parameters, same cache key), so a batch answer and a live answer are interchangeable.
Nothing here sends anything or stores anything: the session's batch jobs do that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..task import LabelTask
from .base import Demo, Item
from .request import BUDGET_MAX_TOKENS, _cache_key

# The OpenAI Batch API's limits per input file: 50,000 requests and 200 MB.
MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1000 * 1000  # 200 MB read as 10^6 bytes: under the limit either way
ENDPOINT = "/v1/chat/completions"
# OpenAI bills batch requests at half its list prices.
BATCH_DISCOUNT = 0.5
Price = Callable[[int, int], float | None]
_BODY = re.compile(r'"body"\s*:\s*')  # a key: inside a JSON string the quotes are escaped
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Request:
    """One line of a batch input file and what it was made for."""

    custom_id: str
    item_id: str
    cache_key: str
    demos: tuple[str, ...]
    line: str  # the JSONL line, without its newline
    prompt_tokens: int  # estimated as OpenAIAnnotator.estimate does: 4 characters a token


def batch_prices(
    annotator: Any, prices: Mapping[str, tuple[float, float]] | None
) -> tuple[Price, dict[str, Any]]:
    """The price of a batch request for the annotator's model, and a note of where it came
    from: ``prices`` (USD per 1M input/output tokens) if it names the model, else the
    annotator's list price times :data:`BATCH_DISCOUNT`."""
    model = annotator.model
    table = dict(prices or {})
    named = table.get(model) or next(
        (table[m] for m in sorted(table, key=len, reverse=True) if model.startswith(m + "-")),
        None,
    )
    if named is not None:
        pin, pout = float(named[0]), float(named[1])
        source = "your batch price table"
    else:
        unit = annotator.cost(1_000_000, 0), annotator.cost(0, 1_000_000)
        if unit[0] is None or unit[1] is None:
            note = {"model": model, "source": "unknown: pass batch_prices={model: (in, out)}"}
            return (lambda p, c: None), note
        pin, pout = unit[0] * BATCH_DISCOUNT, unit[1] * BATCH_DISCOUNT
        source = f"list price x {BATCH_DISCOUNT} (the OpenAI Batch API discount)"

    def price(prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * pin + completion_tokens * pout) / 1e6

    note = {"model": model, "usd_per_1m_input": pin, "usd_per_1m_output": pout, "source": source}
    return price, note


def build_requests(
    annotator: Any,
    task: LabelTask,
    items: Sequence[Item],
    demos: Sequence[Demo],
    job_id: str,
) -> Iterator[Request]:
    """The batch request of each item, built by the annotator's own prompt code."""
    task = annotator.task(task)
    picker = annotator._picker(demos)
    params = annotator._params(task)
    for n, (item_id, text) in enumerate(items):
        messages, demo_ids = annotator._messages(task, picker, item_id, text)
        body = annotator.body(messages, params)
        custom_id = f"{job_id}-{n}"
        line = json.dumps(
            {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        key = _cache_key(annotator.model, messages, params)
        tokens = sum(len(m["content"]) for m in messages) // 4 + 4 * len(messages)
        yield Request(custom_id, item_id, key, tuple(demo_ids), line, tokens)


def most_cost(annotator: Any, request: Request, params: Mapping[str, Any], price: Price) -> float:
    """The most a request can cost: every byte of its line a token, every answer at the cap."""
    cap = annotator._cap() or BUDGET_MAX_TOKENS
    return price(len(request.line.encode()), cap * int(params.get("n", 1))) or 0.0


def split(
    requests: Sequence[Request], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES
) -> list[list[Request]]:
    """Requests in files of at most ``max_requests`` lines and ``max_bytes`` bytes each."""
    if max_requests < 1 or max_bytes < 1:
        raise ValueError("max_requests and max_bytes must be >= 1")
    parts: list[list[Request]] = []
    size = 0
    for r in requests:
        length = len(r.line.encode()) + 1
        if length > max_bytes:
            raise ValueError(
                f"the request for item {r.item_id!r} is {length:,} bytes, over the "
                f"{max_bytes:,} bytes a batch file may hold"
            )
        if not parts or len(parts[-1]) >= max_requests or size + length > max_bytes:
            parts.append([])
            size = 0
        parts[-1].append(r)
        size += length
    return parts


def read_results(
    lines: Iterable[bytes],
) -> Iterator[tuple[str, dict[str, Any] | None, str | None, str | None]]:
    """``(custom_id, body, body_text, error)`` per line of an output or error file (an open
    file, or its lines): a 200 answer's body, parsed and as its JSON text; else None, None
    and what went wrong."""
    for raw in lines:
        if not raw.strip():
            continue
        try:
            line, text = _parse_line(raw.decode("utf-8"))
            custom_id = str(line["custom_id"])
        except (ValueError, KeyError, TypeError):
            continue  # not a result line: its request stays pending, reported as missing
        response = line.get("response") or {}
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, dict) and not line.get("error"):
            yield custom_id, body, text or json.dumps(body), None
            continue
        error = line.get("error") or (body or {}).get("error") or {}
        if isinstance(error, dict):
            code = error.get("code") or error.get("type") or f"HTTP {status}"
            message = f"{code}: {error.get('message') or ''}".strip(": ")
        else:
            message = str(error)
        yield custom_id, None, None, message[:500]


def _parse_line(text: str) -> tuple[dict[str, Any], str | None]:
    """A result line parsed, and its response body's JSON text as it came (stored in the
    cache as is, not encoded again: a third of the ingest time at 100,000 answers)."""
    found = _BODY.search(text)
    if found is None:
        return json.loads(text), None
    body, end = _DECODER.raw_decode(text, found.end())
    rest = json.loads(text[: found.end()] + "null" + text[end:])
    response = rest.get("response") if isinstance(rest, dict) else None
    if not isinstance(response, dict) or response.get("body", 0) is not None:
        return json.loads(text), None  # that "body" was some other key: the plain way
    response["body"] = body
    return rest, text[found.end() : end]
