"""Connections to an OpenAI-compatible server: clients per event loop, credentials kept out
of URLs, and telling a server that can't be connected to from one that is slow."""

from __future__ import annotations

import asyncio
import base64
import re
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import openai

# `client.get/post(..., cast_to=<Response>)` returns the raw HTTP response; openai >= 3 is
# built on HTTPX2, earlier releases on httpx, and the class must be the client's own.
if hasattr(openai, "DefaultHttpx2Client"):
    from httpx2 import Response as HTTPResponse
else:  # pragma: no cover - openai 1.x/2.x
    from httpx import Response as HTTPResponse  # type: ignore[assignment]

__all__ = ["HTTPResponse"]  # openai.py casts raw responses to the client's own class

# An endpoint that refuses connections or does not resolve stops the run after this many
# connection attempts (before the first request), or this many items failing in a row.
CONNECT_ATTEMPTS = 3
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


class EndpointUnreachable(ConnectionError):
    """The model server cannot be connected to (refused, unknown host, connect timeout)."""


class Clients:
    """The user's client, or ours: one per event loop, since an async client's pooled
    (kept-alive) connections belong to the loop that opened them."""

    def __init__(
        self,
        client: openai.AsyncOpenAI | openai.OpenAI,
        make: Callable[[], openai.AsyncOpenAI] | None = None,
    ) -> None:
        self._client = client
        self._make = make
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> openai.AsyncOpenAI | openai.OpenAI:
        """The client to use on the running event loop."""
        if self._make is None:
            return self._client
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None:
            client = self._by_loop[loop] = self._make()
        return client

    async def aclose(self) -> None:
        """Close our client of the running loop and its connections (never the user's)."""
        if self._make is not None:
            client = self._by_loop.pop(asyncio.get_running_loop(), None)
            if client is not None:
                await client.close()


def split_credentials(url: str | None) -> tuple[str | None, dict[str, str] | None]:
    """``http://user:pw@host/v1`` -> (``http://host/v1``, a Basic Authorization header).

    The HTTP library logs request URLs; a header is not logged.
    """
    if not url:
        return url, None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    header = "Basic " + base64.b64encode(pair.encode()).decode()
    return without_credentials(url), {"Authorization": header}


def without_credentials(text: str) -> str:
    """Text with the ``user:password@`` of every URL in it removed."""
    return _USERINFO.sub("", text)


def cannot_connect(exc: BaseException) -> bool:
    """True when the error is a failed connection: refused, unknown host, connect timeout."""
    cause = exc.__cause__
    return isinstance(exc, openai.APIConnectionError) and type(cause).__name__ in (
        "ConnectError",
        "ConnectTimeout",
    )


def unreachable(base_url: str, exc: BaseException, attempts: str) -> EndpointUnreachable:
    """The error for a server that can't be connected to, naming it without credentials."""
    reason = without_credentials(str(exc.__cause__ or exc))
    return EndpointUnreachable(
        f"cannot reach the model server at {base_url} ({reason}; {attempts} failed): "
        "check base_url, and that the server is running"
    )


async def probe(client: openai.AsyncOpenAI | openai.OpenAI, base_url: str) -> None:
    """Raise EndpointUnreachable unless the server can be connected to.

    A few quick attempts at ``GET /models``; any HTTP answer (even 404 or 403) means yes.
    Only a failed connection (refused, unknown host, connect timeout) means no.
    """
    options: Any = {"max_retries": 0}
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            if isinstance(client, openai.AsyncOpenAI):
                await client.get("/models", cast_to=HTTPResponse, options=options)
            else:
                await asyncio.to_thread(
                    client.get, "/models", cast_to=HTTPResponse, options=options
                )
            return
        except openai.APIStatusError:
            return
        except openai.APIConnectionError as exc:
            if not cannot_connect(exc):
                return  # connected, then slow or cut off: the requests' retries handle that
            if attempt + 1 == CONNECT_ATTEMPTS:
                raise unreachable(
                    base_url, exc, f"{CONNECT_ATTEMPTS} connection attempts"
                ) from None
        await asyncio.sleep(0.25 * 2**attempt)
