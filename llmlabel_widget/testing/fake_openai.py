"""A fake OpenAI chat-completions server on 127.0.0.1, standard library only.

It simulates an LLM labeler with a known accuracy against gold labels and can
inject faults (429, 500, malformed JSON, out-of-set labels, HTML/XSS and
prompt-injection rationales, hung connections).

Like real servers (OpenAI, vLLM, Ollama) it speaks HTTP/1.1 and keeps connections alive, so
clients run on pooled connections; ``keep_alive=False`` closes each one after its reply.

Prompt contract (shared with our annotators):

* the last line of the last ``user`` message is the item text as a JSON string;
* the label set is the ``enum`` of the ``label`` (or, multi-label, the ``labels`` array)
  property in ``response_format``'s JSON schema, as a real server enforces it;
* without a schema (a server that rejected it), the label set is the list the system
  prompt shows the model (``Labels:`` then one ``- name`` or ``- name: description`` line
  each), and the task is multi-label when the prompt names ``'labels'`` as the answer key.

Nothing in the prompt exists only for this server.

Run ``python -m llmlabel_widget.testing.fake_openai --help`` for the CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from .fake_batch import FakeBatchAPI
from .fake_chat import (
    _item_text,
    _logprobs,
    _quote,
    _request_body,
    _rng,
    _task_spec,
    _text_of,
    _words,
)
from .fake_faults import _HTML_PAYLOADS, _INJECTION, _OUT_OF_SET_LABEL, Faults, request_fault
from .fake_http import _Handler, _HTTPError, _Server

__all__ = ["FakeOpenAIServer", "Faults"]


class FakeOpenAIServer:
    """A local OpenAI-compatible chat-completions server simulating an LLM labeler.

    ``gold`` maps item text to its gold label (or list of labels, multi-label).
    The simulated labeler answers gold with probability ``accuracy``. All
    randomness is derived from ``seed`` and the item text, so runs are
    reproducible: faults (429, 500, hangs) are drawn per attempt, the answer per
    item and choice index, so a prompt change alters answers only where a
    ``rules`` entry says so.
    """

    def __init__(
        self,
        gold: Mapping[str, str | Sequence[str]] | None = None,
        *,
        labels: Sequence[str] = (),
        accuracy: float = 1.0,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        logprobs: bool = True,
        reject_params: Collection[str] = (),
        model: str = "fake-llm",
        faults: Faults | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        rules: Mapping[str, Mapping[str, str | Sequence[str]]] | None = None,
        keep_alive: bool = True,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        # rules: {phrase: {item text: label}}: when a request mentions the phrase anywhere in
        # its messages, those items get that label every time (a prompt change with a known
        # effect, for trying prompt versions).
        # basic_auth: (user, password) the server also accepts as HTTP Basic credentials, as a
        # reverse proxy in front of a model server would (``http://user:pass@host/v1``).
        self.rules = {k: dict(v) for k, v in (rules or {}).items()}
        self.keep_alive = keep_alive
        self.basic_auth = basic_auth
        self.gold: dict[str, str | list[str]] = {
            k: v if isinstance(v, str) else list(v) for k, v in (gold or {}).items()
        }
        if not labels:
            seen: dict[str, None] = {}
            for value in self.gold.values():
                seen.update(dict.fromkeys([value] if isinstance(value, str) else value))
            labels = list(seen)
        self.labels = list(labels)
        self.accuracy = accuracy
        self.latency = latency
        self.latency_jitter = latency_jitter
        self.logprobs = logprobs
        self.reject_params = frozenset(reject_params)
        self.model = model
        self.faults = faults or Faults()
        self.seed = seed
        self.host = host
        self.port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._in_flight = 0
        self._sockets: set[socket.socket] = set()
        self.batch = FakeBatchAPI(self)  # the Batch API: files, batches, their knobs
        self.reset_stats()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server((self.host, self.port), _Handler)
        httpd.fake = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping for latency or a hang
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:  # kept-alive connections: close them, as a stopping server does
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running; call start() first")
        return f"http://{self.host}:{self.port}/v1"

    # --------------------------------------------------------------------- stats
    def reset_stats(self) -> None:
        """Clear the counters (attempt indices per item are kept)."""
        with self._lock:
            self._stats: dict[str, Any] = {
                "requests": 0,
                "by_status": {},
                "per_item": {},
                "usage": {
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "total_tokens": 0,
                },
                "completions": 0,
                "rejected_params": [],
                "malformed": 0,
                "out_of_set": 0,
                "html": 0,
                "injection": 0,
                "max_in_flight": self._in_flight,
                "connections": 0,
            }

    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters (safe to mutate)."""
        with self._lock:
            snap = copy.deepcopy(self._stats)
            snap["in_flight"] = self._in_flight
            return snap

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            self._stats["connections"] += 1

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._stats["requests"] += 1
            peak = max(self._stats["max_in_flight"], self._in_flight)
            self._stats["max_in_flight"] = peak

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, status: int | str) -> None:
        with self._lock:
            by_status = self._stats["by_status"]
            by_status[status] = by_status.get(status, 0) + 1

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    # ------------------------------------------------------------------ requests
    def _complete(self, raw: bytes) -> dict[str, Any] | None:
        """Answer one chat-completion request body; None means "hang"."""
        body, messages = _request_body(raw)
        item, user_text = _item_text(messages)
        # unknown items are keyed by the whole user message, for reproducibility
        key = item if item is not None else "\0" + user_text
        attempt = self._count_attempt(key, item)
        self._check_params(body)
        if self._delay_and_fault(key, attempt):
            return None
        choices = self._choices(body, messages, item, key)
        prompt = sum(_words(_text_of(m.get("content"))) for m in messages)
        completion = sum(_words(c["message"]["content"]) for c in choices)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        with self._lock:
            by_status = self._stats["by_status"]
            by_status[200] = by_status.get(200, 0) + 1
            self._stats["completions"] += 1
            for name, value in usage.items():
                self._stats["usage"][name] += value
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }

    def _count_attempt(self, key: str, item: str | None) -> int:
        """This request's attempt index for ``key`` (faults are drawn per attempt)."""
        with self._lock:
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
            if item is not None:
                per_item = self._stats["per_item"]
                per_item[item] = per_item.get(item, 0) + 1
        return attempt

    def _check_params(self, body: Mapping[str, Any]) -> None:
        """A 400 for a parameter this server rejects, or for streaming."""
        for name in body:
            if name in self.reject_params:
                with self._lock:
                    self._stats["rejected_params"].append(name)
                raise _HTTPError(
                    400,
                    f"Unsupported parameter: '{name}' is not supported with this model.",
                    "invalid_request_error",
                    param=name,
                    code="unsupported_parameter",
                )
        if body.get("stream"):
            raise _HTTPError(
                400,
                "Streaming is not supported by the fake server.",
                "invalid_request_error",
                param="stream",
                code="unsupported_parameter",
            )

    def _delay_and_fault(self, key: str, attempt: int) -> bool:
        """Wait the simulated latency, then draw this attempt's fault: True means "hang"."""
        faults = self.faults
        rng = _rng(self.seed, key, attempt, "request")
        delay = self.latency + rng.uniform(-self.latency_jitter, self.latency_jitter)
        if delay > 0:
            self._stopping.wait(delay)
        if request_fault(faults, rng.random(), self.model):
            self._record("hang")
            self._stopping.wait(faults.hang_seconds)
            return True
        return False

    def _choices(
        self, body: Mapping[str, Any], messages: list[dict[str, Any]], item: str | None, key: str
    ) -> list[dict[str, Any]]:
        """The ``n`` answers to a request, each with its logprobs when asked for."""
        labels, multi = _task_spec(messages, body.get("response_format"))
        labels = labels if labels is not None else self.labels
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 128:
            raise _HTTPError(400, "'n' must be an integer in [1, 128].", "invalid_request_error")
        want_logprobs = bool(body.get("logprobs")) and self.logprobs
        top = int(body.get("top_logprobs") or 0)
        choices = []
        forced = None
        if item is not None and self.rules:
            everything = "\n".join(_text_of(m.get("content")) for m in messages)
            for phrase, answers_by_item in self.rules.items():
                if phrase in everything and item in answers_by_item:
                    forced = answers_by_item[item]
        for index in range(n):
            # The answer itself does not depend on the attempt: like a model at temperature 0,
            # the same item gets the same answer under any prompt unless a rule says otherwise.
            crng = _rng(self.seed, key, index)
            content, answers, conf = self._answer(item, labels, multi, crng, forced)
            choice: dict[str, Any] = {
                "index": index,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
            if want_logprobs:
                choice["logprobs"] = _logprobs(content, answers, conf, labels, top)
            choices.append(choice)
        return choices

    def _answer(
        self,
        item: str | None,
        labels: list[str],
        multi: bool,
        rng: random.Random,
        forced: str | Sequence[str] | None = None,
    ) -> tuple[str, list[str], float]:
        """One simulated answer: (content, answered labels, confidence)."""
        gold = self.gold.get(item) if item is not None else None
        accuracy = self.accuracy
        if forced is not None:  # a matching rule: always this answer
            gold, accuracy = (forced if isinstance(forced, str) else list(forced)), 1.0
        if multi:
            gold_set = [] if gold is None else [gold] if isinstance(gold, str) else gold
            universe = labels + [g for g in gold_set if g not in labels]
            if gold is None:
                answers = [lab for lab in universe if rng.random() < 0.5]
            else:
                flip = 1.0 - accuracy
                answers = [lab for lab in universe if (lab in gold_set) != (rng.random() < flip)]
            correct = gold is not None and set(answers) == set(gold_set)
        else:
            gold_one = gold if isinstance(gold, str) or gold is None else gold[0]
            if gold_one is None:
                answer = rng.choice(labels) if labels else "unknown"
            elif rng.random() < accuracy:
                answer = gold_one
            else:
                wrong = [lab for lab in labels if lab != gold_one]
                answer = rng.choice(wrong) if wrong else gold_one
            answers = [answer]
            correct = answer == gold_one
        low, high = (0.7, 0.99) if correct else (0.4, 0.75)
        conf = round(rng.uniform(low, high), 3)

        f = self.faults
        u = rng.random()
        malformed = u < f.rate_malformed
        out_of_set = not malformed and u < f.rate_malformed + f.rate_out_of_set
        if out_of_set:
            answers = [_OUT_OF_SET_LABEL]
            self._count("out_of_set")

        quote = _quote(item or "", rng)
        shown = ", ".join(answers) if answers else "no label"
        if quote:
            template = rng.choice(
                [
                    'The text says "{q}" which suggests {a}.',
                    'The phrase "{q}" points to {a}.',
                    'Because of "{q}", this reads as {a}.',
                ]
            )
            rationale = template.format(q=quote, a=shown)
        else:
            rationale = f"The text gives no clear cue, so I chose {shown}."
        if rng.random() < f.rate_html:
            rationale += " " + " ".join(_HTML_PAYLOADS)
            self._count("html")
        if rng.random() < f.rate_injection:
            rationale += " " + _INJECTION.format(label=shown)
            self._count("injection")

        obj: dict[str, Any] = {"rationale": rationale}
        if multi:
            obj["labels"] = answers
        else:
            obj["label"] = answers[0]
        obj["confidence"] = conf
        content = json.dumps(obj, ensure_ascii=False)
        if malformed:
            content = content[: max(1, len(content) * 2 // 3)]
            self._count("malformed")
        return content, answers, conf


# ----------------------------------------------------------------------- CLI
def _read_gold(path: str, text_col: str, label_col: str) -> dict[str, str | list[str]]:
    gold: dict[str, str | list[str]] = {}
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            value = row[label_col]
            if value.startswith("["):
                try:
                    gold[row[text_col]] = [str(v) for v in json.loads(value)]
                    continue
                except ValueError:
                    pass
            gold[row[text_col]] = value
    return gold


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llmlabel_widget.testing.fake_openai",
        description="Run a fake OpenAI-compatible labeling server in the foreground.",
    )
    parser.add_argument("--gold", required=True, help="CSV file with gold labels")
    parser.add_argument("--text", required=True, help="text column name")
    parser.add_argument("--label", required=True, help="label column (a JSON list for multi-label)")
    parser.add_argument("--accuracy", type=float, default=0.9)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--latency-jitter", type=float, default=0.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="fake-llm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-logprobs", action="store_true")
    parser.add_argument("--reject", nargs="+", action="extend", default=[], metavar="PARAM")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        _read_gold(args.gold, args.text, args.label),
        accuracy=args.accuracy,
        latency=args.latency,
        latency_jitter=args.latency_jitter,
        logprobs=not args.no_logprobs,
        reject_params=args.reject,
        model=args.model,
        seed=args.seed,
        host=args.host,
        port=args.port,
    ).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
