"""What shapes a chat-completion request: answer schema, cache key, rejected options, the call.

The optional parameters a server may reject are dropped one by one (``degrade``), and the
request goes out through the openai client's generic ``post`` (``post_chat``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import openai

from .connection import HTTPResponse

log = logging.getLogger(__name__)

# max_tokens before max_completion_tokens: a server that rejects one of the pair (OpenAI's
# reasoning models reject max_tokens) keeps the other.
OPTIONAL_PARAMS = (
    "response_format",
    "top_logprobs",
    "logprobs",
    "n",
    "max_tokens",
    "max_completion_tokens",
)
CACHE_FORMAT = 1
# With a cost budget every request needs a bound on its cost, so it carries a cap on the
# answer's tokens: this one unless max_tokens= says otherwise (answers here are ~30-150).
BUDGET_MAX_TOKENS = 1024


def degrade(
    exc: openai.BadRequestError, params: Mapping[str, Any], degraded: dict[str, str]
) -> bool:
    """Drop the optional parameter a server rejected, noting it in ``degraded``.

    True if there was one to drop.
    """
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else body
    named = str(error.get("param") or "")
    message = str(exc.message)
    for param in OPTIONAL_PARAMS:
        quoted = re.search(rf"['\"`]{param}['\"`]", message) is not None
        if param in params and (named == param or quoted):
            if param == "response_format" and "response_format" in degraded:
                degraded["response_format:json_object"] = exc.message[:200]
            else:
                degraded[param] = f"rejected by the server: {exc.message[:200]}"
            log.warning("server rejected %s; continuing without it", param)
            return True
    return False


async def post_chat(client: Any, is_async: bool, body: dict[str, Any]) -> dict[str, Any]:
    """POST a chat-completion ``body`` through ``client``; the JSON object it answers."""
    # The client's documented generic `post` (its "custom requests" API): same endpoint,
    # auth, retries and timeouts as `chat.completions.create`, but without re-walking the
    # typed parameters (a nested JSON schema) on every call, measured at ~1.5 ms a request.
    # The body comes back as the server sent it: that is what the cache stores.
    post: Any = client.post  # the async or the sync client's
    if is_async:
        raw = await post("/chat/completions", body=body, cast_to=HTTPResponse)
    else:  # a user's sync client: keep the event loop free while it blocks
        raw = await asyncio.to_thread(post, "/chat/completions", body=body, cast_to=HTTPResponse)
    try:
        data = raw.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise openai.APIResponseValidationError(
            response=raw, body=raw.text[:500], message="the response is not a JSON object"
        )
    return data


def _cache_key(model: str, messages: list[dict[str, str]], params: Mapping[str, Any]) -> str:
    payload = json.dumps(
        {"format": CACHE_FORMAT, "model": model, "messages": messages, "params": dict(params)},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _schema(labels: Sequence[str], multi_label: bool) -> dict[str, Any]:
    label_schema: dict[str, Any] = {"type": "string", "enum": list(labels)}
    key = "labels" if multi_label else "label"
    prop = {"type": "array", "items": label_schema} if multi_label else label_schema
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "annotation",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "rationale": {"type": "string"},
                    key: prop,
                    "confidence": {"type": "number"},
                },
                "required": ["rationale", key, "confidence"],
                "additionalProperties": False,
            },
        },
    }
