"""The OpenAI Batch API on the fake server: files, batches, output and error files.

Routes (as OpenAI's): ``POST /v1/files`` (multipart upload, ``purpose=batch``), ``GET
/v1/files``, ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``, ``POST /v1/batches``,
``GET /v1/batches``, ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.

A batch runs on a thread once created; each of its lines is answered by the fake's own
chat-completion simulation, so a batch answer equals the live answer to the same request.
Knobs (attributes of ``server.batch``):

* ``fail_rate``: share of lines answered with a 500 in the error file;
* ``expire``: ``{batch number: share done}``: the n-th batch created (0-based) expires after
  that share of its lines; the rest go to the error file as ``batch_expired``;
* ``polls``: retrieves that still say ``in_progress`` after the work is done (slow batches);
* ``on_create``, ``on_upload``: called with the batch (upload) number before a create (an
  upload) is answered: tests kill a client there;
* ``enabled``: False answers 404 to every Batch API path, as servers without it do.

``stats()`` counts every line submitted per ``custom_id`` and the tokens answered.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .fake_http import _HTTPError

if TYPE_CHECKING:
    from .fake_openai import FakeOpenAIServer

TERMINAL = ("completed", "expired", "cancelled", "failed")
_EXPIRED = "This request could not be executed before the completion window expired."


class FakeBatchAPI:
    """Files and batches of one fake server (see the module docstring)."""

    def __init__(self, fake: FakeOpenAIServer) -> None:
        self.fake = fake
        self.fail_rate = 0.0
        self.expire: dict[int, float] = {}
        self.polls = 0
        self.on_create: Callable[[int], None] | None = None
        self.on_upload: Callable[[int], None] | None = None
        self.enabled = True
        self._lock = threading.Lock()
        self._files: dict[str, dict[str, Any]] = {}
        self._content: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._work: dict[str, dict[str, Any]] = {}
        self._submitted: dict[str, int] = {}
        self._usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self._counts = {"uploads": 0, "batches": 0, "lines": 0, "failed": 0, "expired": 0}

    def stats(self) -> dict[str, Any]:
        """``submitted`` (custom_id -> times), ``twice`` (ids submitted more than once),
        ``usage`` of answered lines, and counts of uploads, batches, lines, failures."""
        with self._lock:
            twice = sorted(k for k, n in self._submitted.items() if n > 1)
            return {
                "submitted": dict(self._submitted),
                "twice": twice,
                "usage": dict(self._usage),
                **self._counts,
            }

    # -- routing ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: Any, raw: bytes) -> Any:
        """Answer one request: a JSON-able object, or ``bytes`` for a file's content."""
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        if not self.enabled:
            parts = ["disabled"]
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if parts[0] == "files":
            if method == "POST" and len(parts) == 1:
                return self._upload(headers.get("Content-Type", ""), raw)
            if method == "GET" and len(parts) == 1:
                return self._list(self._files, params, params.get("purpose"))
            if method == "GET" and len(parts) == 2:
                return self._file(parts[1])
            if method == "GET" and len(parts) == 3 and parts[2] == "content":
                self._file(parts[1])
                with self._lock:
                    return self._content[parts[1]]
        if parts[0] == "batches":
            if method == "POST" and len(parts) == 1:
                return self._create(raw)
            if method == "GET" and len(parts) == 1:
                return self._list(self._batches, params, None)
            if method == "GET" and len(parts) == 2:
                return self._retrieve(parts[1])
            if method == "POST" and len(parts) == 3 and parts[2] == "cancel":
                return self._cancel(parts[1])
        raise _HTTPError(404, f"Unknown path: {path}", "invalid_request_error", code="not_found")

    def _list(self, table: dict[str, Any], params: dict[str, str], purpose: str | None) -> Any:
        with self._lock:
            rows = [dict(r) for r in reversed(table.values())]  # newest first, as OpenAI
        if purpose:
            rows = [r for r in rows if r.get("purpose") == purpose]
        if params.get("after"):
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(params["after"]) + 1 :] if params["after"] in ids else []
        limit = int(params.get("limit") or 20)
        page = rows[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(rows) > limit,
        }

    # -- files --------------------------------------------------------------------------
    def _upload(self, content_type: str, raw: bytes) -> dict[str, Any]:
        fields = _multipart(content_type, raw)
        if "file" not in fields or "purpose" not in fields:
            raise _HTTPError(400, "'file' and 'purpose' are required.", "invalid_request_error")
        filename, data = fields["file"]
        return self._add_file(data, fields["purpose"][1].decode(), filename or "upload.jsonl")

    def _add_file(self, data: bytes, purpose: str, filename: str) -> dict[str, Any]:
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        meta = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        with self._lock:
            self._files[file_id] = meta
            self._content[file_id] = data
            number = self._counts["uploads"]
            if purpose == "batch":
                self._counts["uploads"] += 1
        if purpose == "batch" and self.on_upload is not None:
            self.on_upload(number)
        return meta

    def _file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            meta = self._files.get(file_id)
        if meta is None:
            raise _HTTPError(404, f"No such File object: {file_id}", "invalid_request_error")
        return dict(meta)

    # -- batches ------------------------------------------------------------------------
    def _create(self, raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("input_file_id"):
            raise _HTTPError(400, "'input_file_id' is required.", "invalid_request_error")
        if body.get("endpoint") != "/v1/chat/completions":
            raise _HTTPError(400, "Only /v1/chat/completions.", "invalid_request_error")
        self._file(body["input_file_id"])
        with self._lock:
            lines = self._content[body["input_file_id"]].splitlines()
            number = self._counts["batches"]
            self._counts["batches"] += 1
        requests = [json.loads(line) for line in lines if line.strip()]
        with self._lock:
            for r in requests:
                self._submitted[r["custom_id"]] = self._submitted.get(r["custom_id"], 0) + 1
            self._counts["lines"] += len(requests)
        batch = {
            "id": f"batch_{uuid.uuid4().hex[:24]}",
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": body.get("completion_window") or "24h",
            "status": "in_progress",
            "created_at": int(time.time()),
            "metadata": body.get("metadata"),
            "request_counts": {"total": len(requests), "completed": 0, "failed": 0},
            "output_file_id": None,
            "error_file_id": None,
        }
        work = {"requests": requests, "number": number, "cancel": False, "done": False}
        with self._lock:
            self._batches[batch["id"]] = batch
            self._work[batch["id"]] = work
        if self.on_create is not None:
            self.on_create(number)
        threading.Thread(target=self._run, args=(batch["id"],), daemon=True).start()
        return dict(batch)

    def _retrieve(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            batch = self._batches.get(batch_id)
            work = self._work.get(batch_id)
            if batch is None or work is None:
                raise _HTTPError(404, f"No such Batch: {batch_id}", "invalid_request_error")
            if work["done"] and batch["status"] not in TERMINAL:
                if work["polls"] > 0:
                    work["polls"] -= 1
                else:
                    batch.update(work["final"])
            return json.loads(json.dumps(batch))

    def _cancel(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                raise _HTTPError(404, f"No such Batch: {batch_id}", "invalid_request_error")
            if batch["status"] not in TERMINAL:
                self._work[batch_id]["cancel"] = True
                batch["status"] = "cancelling"
            return dict(batch)

    def _run(self, batch_id: str) -> None:
        """Answer a batch's lines (on its own thread), then write its output and error files."""
        with self._lock:
            work = self._work[batch_id]
            work["polls"] = self.polls
        requests = work["requests"]
        expire = self.expire.get(work["number"])
        stop_at = len(requests) if expire is None else int(len(requests) * expire)
        out: list[str] = []
        err: list[str] = []
        status = "completed"
        for n, request in enumerate(requests):
            if n >= stop_at or work["cancel"]:
                status = "cancelled" if work["cancel"] else "expired"
                code = "batch_cancelled" if work["cancel"] else "batch_expired"
                message = "The batch was cancelled." if work["cancel"] else _EXPIRED
                err.append(_line(request["custom_id"], None, {"code": code, "message": message}))
                continue
            status_code, body = self._answer(request)
            target = out if status_code == 200 else err
            target.append(_line(request["custom_id"], (status_code, body), None))
        if work["cancel"]:
            status = "cancelled"
        self._finish(batch_id, work, out, err, status)

    def _answer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One line's answer: the fake's chat completion, or a 500 for a failed line."""
        seed = f"{self.fake.seed}:{request['custom_id']}:batch"
        u = random.Random(seed).random()  # noqa: S311 - a simulation, not a secret
        if u < self.fail_rate:
            with self._lock:
                self._counts["failed"] += 1
            failure = {"message": "The server had an error.", "type": "server_error"}
            return 500, {"error": failure}
        try:
            result = self.fake._complete(json.dumps(request.get("body") or {}).encode())
        except _HTTPError as exc:
            return exc.status, exc.body
        if result is None:  # a simulated hang: in a batch, a failed line
            return 500, {"error": {"message": "The request timed out.", "type": "timeout"}}
        with self._lock:
            for name in self._usage:
                self._usage[name] += result["usage"][name]
        return 200, result

    def _finish(
        self, batch_id: str, work: dict[str, Any], out: list[str], err: list[str], status: str
    ) -> None:
        output = self._add_file("".join(out).encode(), "batch_output", "output.jsonl")
        errors = self._add_file("".join(err).encode(), "batch_output", "errors.jsonl")
        total = len(work["requests"])
        final = {
            "status": status,
            f"{status}_at": int(time.time()),
            "output_file_id": output["id"] if out else None,
            "error_file_id": errors["id"] if err else None,
            "request_counts": {"total": total, "completed": len(out), "failed": len(err)},
        }
        with self._lock:
            if status == "expired":
                self._counts["expired"] += 1
            work["final"] = final
            work["done"] = True
            work["requests"] = []  # the input is no longer needed


def _line(custom_id: str, answer: tuple[int, dict[str, Any]] | None, error: Any) -> str:
    """One line of an output or error file, in OpenAI's shape."""
    response = None
    if answer is not None:
        response = {"status_code": answer[0], "request_id": uuid.uuid4().hex, "body": answer[1]}
    line = {
        "id": f"batch_req_{uuid.uuid4().hex[:24]}",
        "custom_id": custom_id,
        "response": response,
        "error": error,
    }
    return json.dumps(line, ensure_ascii=False) + "\n"


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename, content)."""
    marker = "boundary="
    if "multipart/form-data" not in content_type or marker not in content_type:
        raise _HTTPError(400, "Expected a multipart/form-data upload.", "invalid_request_error")
    boundary = content_type.split(marker, 1)[1].split(";")[0].strip().strip('"').encode()
    fields: dict[str, tuple[str | None, bytes]] = {}
    for chunk in raw.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        name = _param(disposition, "name")
        if name is not None:
            content = content.removesuffix(b"\r\n")
            fields[name] = (_param(disposition, "filename"), content)
    return fields


def _param(header: str, key: str) -> str | None:
    for piece in header.replace("\r\n", ";").split(";"):
        name, _, value = piece.strip().partition("=")
        if name == key:
            return value.strip('"')
    return None
