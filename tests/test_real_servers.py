"""Under real use: kept-alive connections across runs (script, running loop, notebook),
unreachable servers, cost budgets at high concurrency, credentials in base_url.

The loopback server keeps HTTP/1.1 connections alive, as OpenAI, vLLM and Ollama do.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from llmlabel_widget import OpenAIAnnotator, Session
from llmlabel_widget.annotators.openai import EndpointUnreachable
from llmlabel_widget.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent

# One annotator, many runs: each step sends requests on the connections the last one kept.
SEQUENCES = textwrap.dedent(
    """
    from llmlabel_widget import OpenAIAnnotator, Session

    def run_sequences(db, base_url):
        ann = OpenAIAnnotator("fake-llm", base_url=base_url, api_key="k", concurrency=4)
        s = Session.open(db, annotator=ann)
        ids = list(s.items()["item_id"])
        done = []
        # propose() twice
        assert s.propose(ids=ids[:8], progress=False).requests == 8
        assert s.propose(ids=ids[8:16], progress=False).requests == 8
        done.append("propose twice")
        # propose() after a budget stop
        ann.budget_requests = 3
        stopped = s.propose(ids=ids[16:32], progress=False)
        assert stopped.stopped == "request budget of 3 reached", stopped
        ann.budget_requests = None
        rest = s.propose(ids=ids[16:32], progress=False)
        assert (rest.failed, rest.done) == (0, 16 - stopped.done), rest
        done.append("propose after a budget stop")
        # try_prompt() after propose()
        trial = s.try_prompt(instructions="Read the sentence twice.", progress=False)
        assert trial.report.failed == 0 and trial.report.requests > 0, trial.report
        done.append("try_prompt after propose")
        # promote() and then propose()
        s.promote(trial.version)
        after = s.propose(progress=False)
        assert after.failed == 0 and after.requests > 0, after
        done.append("promote then propose")
        s.close()
        return done
    """
)
ALL_STEPS = [
    "propose twice",
    "propose after a budget stop",
    "try_prompt after propose",
    "promote then propose",
]


@pytest.fixture
def store(db, gwsd, gwsd_task):
    """60 GWSD items, 20 decided, and a keep-alive loopback server that knows their gold."""
    data = gwsd[["id", "text"]].head(60)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    s = Session.open(db, data=data, task=gwsd_task)
    for i, t in zip(data["id"][:20], data["text"][:20], strict=True):
        s.decide(i, gold[t], annotator="alice")
    s.close()
    with FakeOpenAIServer(gold, accuracy=0.8) as server:
        yield db, server


def test_fake_server_keeps_connections_alive_by_default():
    with FakeOpenAIServer({"x": "a"}) as server:
        assert server.keep_alive


def test_sequences_from_a_plain_script(store, tmp_path):
    db, server = store
    script = tmp_path / "label.py"
    script.write_text(SEQUENCES + "\nimport sys\nprint(run_sequences(sys.argv[1], sys.argv[2]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), str(db), server.base_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == repr(ALL_STEPS)
    stats = server.stats()
    assert stats["connections"] < stats["requests"] / 4  # pooled, not one per request


def test_sequences_inside_a_running_loop(store):
    """As in a notebook cell: the sync calls are made while an event loop runs."""
    db, server = store
    scope: dict = {}
    exec(SEQUENCES, scope)  # noqa: S102 - the same code the script and the notebook run

    async def cell() -> list[str]:
        return scope["run_sequences"](db, server.base_url)

    assert asyncio.run(cell()) == ALL_STEPS


def test_sequences_in_a_notebook(store, tmp_path, monkeypatch):
    db, server = store
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SEQUENCES),
        nbformat.v4.new_code_cell(f"steps = run_sequences({str(db)!r}, {server.base_url!r})"),
        nbformat.v4.new_code_cell("print(steps)"),
    ]
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    assert nb.cells[2].outputs[0]["text"].strip() == repr(ALL_STEPS)


def test_async_twin_and_sync_calls_mix_on_one_annotator(store):
    """``await apropose()`` on the kernel's loop, then ``propose()``, then await again."""
    db, server = store
    ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="k", concurrency=4)
    s = Session.open(db, annotator=ann)
    ids = list(s.items()["item_id"])

    async def cell() -> list[int]:
        first = await s.apropose(ids=ids[:8], progress=False)
        second = s.propose(ids=ids[8:16], progress=False)
        third = await s.apropose(ids=ids[16:24], progress=False)
        await ann.aclose()  # this loop ends here
        return [r.requests for r in (first, second, third)]

    assert asyncio.run(cell()) == [8, 8, 8]
    s.close()


INTERRUPTED = textwrap.dedent(
    """
    import sys
    from llmlabel_widget import OpenAIAnnotator, Session
    ann = OpenAIAnnotator("fake-llm", base_url=sys.argv[2], api_key="k", concurrency=2)
    s = Session.open(sys.argv[1], annotator=ann)
    print("started", flush=True)
    try:
        s.propose(progress=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    ann.budget_requests = 5
    print(s.propose(progress=False).requests, flush=True)
    print(s.propose(progress=False).requests, flush=True)
    """
)


def test_ctrl_c_cancels_a_script_run_and_the_next_run_works(db, gwsd, gwsd_task):
    data = gwsd[["id", "text"]].head(200)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    Session.open(db, data=data, task=gwsd_task).close()
    with FakeOpenAIServer(gold, latency=0.05) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", INTERRUPTED, str(db), server.base_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout.readline().strip() == "started"
        while stored(db) < 10:
            assert child.poll() is None
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err[-2000:]
    assert out.split() == ["interrupted", "5", "5"]


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM proposals").fetchone()[0]


# -- unreachable servers --------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:  # free a moment ago; nothing listens on it now
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_stops_the_run_naming_the_url(db, gwsd, gwsd_task):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    ann = OpenAIAnnotator("fake-llm", base_url=url, api_key="k")
    s = Session.open(db, data=gwsd[["id", "text"]].head(40), task=gwsd_task, annotator=ann)
    with pytest.raises(EndpointUnreachable, match=r"cannot reach the model server at ") as info:
        s.propose(progress=False)
    assert url in str(info.value)
    assert stored(db) == 0


def test_unknown_host_stops_after_a_few_attempts(db, gwsd, gwsd_task, monkeypatch):
    lookups: list[str] = []
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):  # no DNS query leaves the machine
        if host in ("nonexistent.invalid", b"nonexistent.invalid"):
            lookups.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (patched)")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    ann = OpenAIAnnotator(
        "fake-llm", base_url="http://bob:pa55word@nonexistent.invalid/v1", api_key="k"
    )
    s = Session.open(db, data=gwsd[["id", "text"]].head(40), task=gwsd_task, annotator=ann)
    with pytest.raises(EndpointUnreachable) as info:
        s.propose(progress=False)
    message = str(info.value)
    assert "http://nonexistent.invalid/v1" in message
    assert "Name or service not known (patched)" in message
    assert "pa55word" not in message
    assert "bob" not in message
    assert 1 <= len(lookups) <= 3  # 40 items x 7 attempts before


def test_server_gone_mid_run_stops_after_a_few_items(db, gwsd, gwsd_task):
    data = gwsd[["id", "text"]].head(60)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    server = FakeOpenAIServer(gold).start()
    ann = OpenAIAnnotator(
        "fake-llm", base_url=server.base_url, api_key="k", concurrency=2, max_retries=1
    )
    s = Session.open(db, data=data, task=gwsd_task, annotator=ann)
    seen: list[int] = []

    async def run() -> None:
        def stop_after_ten(report) -> None:
            seen.append(report.done + report.failed)
            if report.done >= 10 and server._httpd is not None:  # done grows per stored batch
                server.stop()

        await s._proposer.arun(ann, list(data["id"]), 0, progress=False, on_progress=stop_after_ten)

    with pytest.raises(EndpointUnreachable, match=server.base_url):
        asyncio.run(run())
    assert 10 <= stored(db) <= 12
    assert max(seen) <= 12 + 3  # not one failure per remaining item


# -- budgets --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cost_budget_is_never_exceeded_at_concurrency_64(db, gwsd, gwsd_task):
    data = gwsd[["id", "text"]].head(1000)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    budget = 20.0
    with FakeOpenAIServer(gold, latency=0.02) as server:
        ann = OpenAIAnnotator(
            "fake-llm",
            base_url=server.base_url,
            api_key="k",
            concurrency=64,
            budget_cost=budget,
            prices={"fake-llm": (1000.0, 1000.0)},
        )
        s = Session.open(db, data=data, task=gwsd_task, annotator=ann)
        report = s.propose(progress=False)
        usage = server.stats()["usage"]
    billed = (usage["prompt_tokens"] + usage["completion_tokens"]) * 1000.0 / 1e6
    assert report.stopped == "cost budget of $20.0000 reached"
    assert billed <= budget
    assert report.cost == pytest.approx(billed)
    assert billed > budget / 2  # the budget is used, not left idle
    assert server.stats()["max_in_flight"] > 1  # while requests ran side by side


def test_cost_budget_needs_a_price():
    with pytest.raises(ValueError, match=r"budget_cost needs the price of model 'my-llama'"):
        OpenAIAnnotator("my-llama", base_url="http://127.0.0.1:1/v1", budget_cost=1.0)


def test_answers_are_capped_when_a_cost_budget_is_set():
    ann = OpenAIAnnotator(
        "gpt-4o-mini", base_url="http://127.0.0.1:1/v1", api_key="k", budget_cost=1.0
    )
    messages = [{"role": "user", "content": "ab"}]
    assert ann._cap() == 1024
    # the most a request can cost: every prompt byte a token, 1,024 answer tokens
    assert ann._max_cost(messages, {}) == pytest.approx(((2 + 4 + 3) * 0.15 + 1024 * 0.6) / 1e6)


# -- credentials in base_url ----------------------------------------------------------------------
def test_credentials_in_base_url_reach_no_store_repr_log_or_error(db, gwsd, gwsd_task, caplog):
    secret = "pw-SENTINEL-4711"  # noqa: S105 - a sentinel to search for
    encoded = base64.b64encode(f"alice:{secret}".encode()).decode()
    data = gwsd[["id", "text"]].head(12)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    caplog.set_level(logging.DEBUG)
    with FakeOpenAIServer(gold, basic_auth=("alice", secret)) as server:
        url = server.base_url.replace("http://", f"http://alice:{secret}@")
        ann = OpenAIAnnotator("fake-llm", base_url=url, api_key="k")
        s = Session.open(db, data=data, task=gwsd_task, annotator=ann)
        for i in data["id"][:4]:
            s.decide(i, "agree", annotator="alice")
        report = s.propose(progress=False)  # the proxy in front let it through
        trial = s.try_prompt(instructions="Read closely.", progress=False)
        shown = [repr(ann), repr(s), str(ann.spec(s)), str(report), str(trial.spec)]
        s.close()
    assert report.done == 12
    assert trial.report.failed == 0
    port = url.rsplit(":", 1)[1].split("/")[0]
    ann2 = OpenAIAnnotator("fake-llm", base_url=url, api_key="k")  # the server is gone now
    s2 = Session.open(db.parent / "other.labels.db", data=data, task=gwsd_task, annotator=ann2)
    with pytest.raises(EndpointUnreachable) as info:
        s2.propose(progress=False)
    s2.close()
    shown.append(str(info.value))
    assert f"127.0.0.1:{port}/v1" in str(info.value)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "/chat/completions" in logs  # the HTTP library did log the request URLs
    for text in [*shown, logs]:
        assert secret not in text
        assert encoded not in text
    for f in db.parent.iterdir():
        assert secret.encode() not in f.read_bytes()
        assert encoded.encode() not in f.read_bytes()
