"""PromptLab tells the truth (issue 13, line 9), headless against the loopback server.

Failed requests are counted apart from answers (and invalid answers apart from both), an
unreachable endpoint ends the run with an error, a cancel says how many answers were kept,
every problem of a draft is named at once, versions carry their instructions and a word diff
from the promoted version, and a promotion made in code reaches a panel already shown.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import sqlite3
import threading
import time

import pytest

from llmlabel_widget import OpenAIAnnotator, Session
from llmlabel_widget.prompt_panel import PromptLab, word_diff
from llmlabel_widget.testing import FakeOpenAIServer, Faults

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

HINT = "Quoting a sceptic is neutral."  # the phrase the prompt_setup server is wired to


def send(w: PromptLab, kind: str, **content) -> None:
    w._handle_custom_msg({"kind": kind, **content}, [])


def trial_rows(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM proposals WHERE run_id LIKE 'trial-%'"
        ).fetchone()[0]


@pytest.fixture
def faulty(db, gwsd, gwsd_task):
    """40 decided items; the server answers 500 to some requests (no retries) and an
    out-of-set label to some others."""
    data = gwsd[["id", "text"]].head(40)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    faults = Faults(rate_500=0.3, rate_out_of_set=0.3)
    server = FakeOpenAIServer(gold, accuracy=0.8, seed=7, faults=faults).start()
    ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="k", max_retries=0)
    s = Session.open(db, data=data, task=gwsd_task, annotator=ann)
    by_id = dict(zip(gwsd["id"], gwsd["gold_label"], strict=True))
    for i in data["id"]:
        s.decide(i, by_id[i], annotator="alice")
    yield s, server
    server.stop()
    s.close()


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_failed_requests_are_counted_apart_from_answers(faulty):
    s, server = faulty
    w = PromptLab(s)
    send(w, "run", draft=w.draft)
    p = w.progress
    stats = server.stats()
    assert p["failed"] > 0
    assert p["answered"] == trial_rows(s.store.path)  # answers are what was stored
    assert p["answered"] + p["failed"] == p["done"] == p["total"] == 40
    assert 0 < p["invalid"] < p["answered"]  # answered but unusable: its own count
    assert p["failed"] == stats["requests"] - p["answered"]  # every failure was a request
    assert f"{p['failed']} requests failed" in w.error
    assert "InternalServerError" in w.error  # the first failure, in words
    assert w.versions[0]["n"] == p["answered"]


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # closed again: connections are refused


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_an_unreachable_endpoint_stops_the_run_with_an_error(prompt_setup):
    s, _, _ = prompt_setup
    s.annotator = OpenAIAnnotator("fake-llm", base_url=_dead_url(), api_key="sk-SECRET-x")
    w = PromptLab(s)
    send(w, "run", draft=w.draft)
    assert not w.running
    assert "cannot reach the model server" in w.error
    assert "sk-SECRET" not in w.error
    p = w.progress
    assert p["running"] is False
    assert (p["answered"], p["failed"]) == (0, 0)  # stopped by the probe, before any request
    assert trial_rows(s.store.path) == 0


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_cancel_says_how_many_answers_were_kept(prompt_setup):
    s, server, _ = prompt_setup
    server.latency = 0.05
    s.annotator.concurrency = 2

    async def scenario() -> PromptLab:
        w = PromptLab(s)
        send(w, "run", draft=w.draft)
        while trial_rows(s.store.path) < 5:
            await asyncio.sleep(0.01)
        send(w, "cancel")
        await w.wait()
        return w

    w = asyncio.run(scenario())
    kept = trial_rows(s.store.path)
    assert 5 <= kept < 40
    assert w.notice == f"Run cancelled: {kept} answers kept."
    assert w.progress["answered"] == kept
    assert w.progress["running"] is False


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_a_cancel_during_a_write_counts_that_write(prompt_setup):
    """Answers are written on a thread, which a cancel cannot stop: one that lands while the
    cancel arrives is kept, so the notice must count it."""
    s, _server, _ = prompt_setup
    real = s.store.add_proposals
    writing = threading.Event()

    def slow_add(rows, responses):
        writing.set()
        time.sleep(0.3)  # the cancel arrives while this write is under way
        return real(rows, responses)

    s.store.add_proposals = slow_add

    async def scenario() -> PromptLab:
        w = PromptLab(s)
        send(w, "run", draft=w.draft)
        while not writing.is_set():
            await asyncio.sleep(0.005)
        send(w, "cancel")
        await w.wait()
        return w

    w = asyncio.run(scenario())
    kept = trial_rows(s.store.path)
    assert kept >= 1
    assert w.notice == f"Run cancelled: {kept} answer{'' if kept == 1 else 's'} kept."
    assert w.progress["answered"] == kept


def test_every_problem_of_a_draft_is_reported_at_once(prompt_setup):
    s, server, _ = prompt_setup
    w = PromptLab(s)
    bad = {**w.draft, "instructions": "  ", "shots": -1, "temperature": 5, "model": ""}
    send(w, "run", draft=bad)
    for said in ("instructions must not be empty", "shots", "temperature", "model"):
        assert said in w.error
    assert "(got -1)" in w.error
    assert "(got 5)" in w.error
    assert server.stats()["requests"] == 0
    send(w, "estimate", draft={**w.draft, "sample": 0})  # one problem: said as one
    assert "the draft has a problem: the sample size" in w.error


def test_word_diff():
    assert word_diff("a b c", "a b c") == [["=", "a b c"]]
    runs = word_diff("Label the stance.", "Label the stance. " + HINT)
    assert runs == [["=", "Label the stance."], ["+", " " + HINT]]
    runs = word_diff("keep old words", "keep new words")
    assert runs == [["=", "keep "], ["-", "old"], ["+", "new"], ["=", " words"]]
    assert "".join(t for op, t in runs if op != "-") == "keep new words"
    assert word_diff("", "x") == [["+", "x"]]


def test_versions_show_instructions_and_their_diff_from_the_promoted(prompt_setup):
    s, _, _ = prompt_setup
    base = s.task.instructions
    v1 = s.try_prompt(progress=False).version
    v2 = s.try_prompt(instructions=base + " " + HINT, progress=False).version
    w = PromptLab(s)
    rows = {r["version"]: r for r in w.versions}
    assert rows[v2]["instructions"] == base + " " + HINT
    # nothing promoted yet: diffed against the session annotator's instructions
    assert rows[v1]["diff"] == [["=", base]]
    assert rows[v2]["diff"] == [["=", base], ["+", " " + HINT]]
    assert rows[v2]["diff_against"] == "session"
    send(w, "promote", version=v2)
    rows = {r["version"]: r for r in w.versions}
    assert rows[v2]["promoted"]
    assert rows[v2]["diff"] == [["=", base + " " + HINT]]
    assert rows[v1]["diff"] == [["=", base], ["-", " " + HINT]]
    assert rows[v1]["diff_against"] == "promoted"


def test_a_promotion_made_in_code_reaches_a_panel_already_shown(prompt_setup):
    s, _, _ = prompt_setup
    v1 = s.try_prompt(progress=False).version
    v2 = s.try_prompt(instructions=s.task.instructions + " " + HINT, progress=False).version
    w = PromptLab(s)
    assert [r["promoted"] for r in w.versions] == [False, False]
    s.promote(v2)  # as in another cell
    assert [(r["version"], r["promoted"]) for r in w.versions] == [(v1, False), (v2, True)]
    s.promote(v1)
    assert [r["promoted"] for r in w.versions] == [True, False]
    # a panel that is gone does not keep listening, nor break promote()
    w.close()
    del w
    gc.collect()
    s.promote(v2)
    assert s.prompt_versions()["promoted"].tolist() == [False, True]


def test_timed_out_requests_are_failures_too(db, gwsd, gwsd_task):
    data = gwsd[["id", "text"]].head(12)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    faults = Faults(rate_hang=0.4, hang_seconds=10)
    with FakeOpenAIServer(gold, seed=2, faults=faults) as server:
        ann = OpenAIAnnotator(
            "fake-llm", base_url=server.base_url, api_key="k", max_retries=0, timeout=0.5
        )
        s = Session.open(db, data=data, task=gwsd_task, annotator=ann)
        by_id = dict(zip(gwsd["id"], gwsd["gold_label"], strict=True))
        for i in data["id"]:
            s.decide(i, by_id[i], annotator="alice")
        w = PromptLab(s)
        send(w, "run", draft=w.draft)
        p = w.progress
        assert p["failed"] == server.stats()["by_status"]["hang"] > 0
        assert p["answered"] + p["failed"] == 12
        assert "APITimeoutError" in w.error
        s.close()
