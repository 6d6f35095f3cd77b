"""HTTP plumbing of the fake OpenAI server: threaded server, request handler, error replies.

The handler speaks HTTP/1.1 with keep-alive, checks the API key (or Basic credentials), routes
``/v1/models``, ``/v1/chat/completions`` and the Batch API (:mod:`.fake_batch`), and
answers errors in OpenAI's JSON shape.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fake_openai import FakeOpenAIServer


class _HTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        err_type: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "message": message,
                "type": err_type,
                "param": param,
                "code": code,
            }
        }
        self.headers = dict(headers or {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away (e.g. it timed out); nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeOpenAI/0.1"
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    timeout = 30  # an idle kept-alive connection is closed after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.fake._opened(self.connection)

    def finish(self) -> None:
        self.server.fake._closed(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", uuid.uuid4().hex)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if not self.server.fake.keep_alive:
            self.send_header("Connection", "close")  # also sets close_connection
        self.end_headers()
        self.wfile.write(data)

    def _check_auth(self) -> None:
        auth = self.headers.get("Authorization", "")
        basic = self.server.fake.basic_auth
        if basic is not None and auth.startswith("Basic "):
            expected = base64.b64encode(":".join(basic).encode()).decode()
            if auth[len("Basic ") :].strip() == expected:
                return
            raise _HTTPError(401, "Wrong user or password.", "invalid_request_error")
        if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            raise _HTTPError(
                401,
                "You didn't provide an API key (Authorization: Bearer ...).",
                "invalid_request_error",
                code="missing_api_key",
            )

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/")

    def _batch_api(self, method: str, raw: bytes = b"") -> bool:
        """Answer a Batch API request (files, batches); False if it is not one."""
        path = self._path()
        if not path.startswith(("/v1/files", "/v1/batches")):
            return False
        try:
            self._check_auth()
            query = self.path.split("?", 1)[1] if "?" in self.path else ""
            result = self.server.fake.batch.handle(method, path, query, self.headers, raw)
        except _HTTPError as err:
            self._send_json(err.status, err.body, err.headers)
            return True
        if not isinstance(result, bytes):
            self._send_json(200, result)
            return True
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(result)))
        self.end_headers()
        self.wfile.write(result)
        return True

    def do_GET(self) -> None:
        fake = self.server.fake
        if self._batch_api("GET"):
            return
        try:
            if self._path() != "/v1/models":
                raise _not_found(self.path)
            self._check_auth()
            model = {
                "id": fake.model,
                "object": "model",
                "created": 0,
                "owned_by": "fake-openai",
            }
            self._send_json(200, {"object": "list", "data": [model]})
        except _HTTPError as err:
            self._send_json(err.status, err.body, err.headers)

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self._batch_api("POST", raw):
            return
        if self._path() != "/v1/chat/completions":
            self._send_json(404, _not_found(self.path).body)
            return
        # Stats are recorded before the response is written, so a client that
        # has its answer always sees it reflected in stats().
        fake._begin()
        try:
            self._check_auth()
            result = fake._complete(raw)
            if result is None:
                self.close_connection = True  # hang: send nothing, just close
            else:
                self._send_json(200, result)
        except _HTTPError as err:
            fake._record(err.status)
            self._send_json(err.status, err.body, err.headers)
        except Exception:
            fake._record(500)
            error = _HTTPError(500, "Fake server bug.", "server_error")
            self._send_json(500, error.body)
            raise
        finally:
            fake._done()


def _not_found(path: str) -> _HTTPError:
    return _HTTPError(404, f"Unknown path: {path}", "invalid_request_error", code="not_found")
