"""Batch jobs (issue 16): session.propose(batch=True) against the loopback server's Batch
API, through the real openai client, on the real SQLite store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import openai
import pandas as pd
import pytest

from llmlabel_widget import OpenAIAnnotator, Session
from llmlabel_widget.annotators.connection import EndpointUnreachable
from llmlabel_widget.batch_jobs import BatchUnsupported
from llmlabel_widget.testing import FakeOpenAIServer


def make(db, items, task, base_url, model="fake-llm", **kwargs):
    ann = OpenAIAnnotator(model, base_url=base_url, api_key="test-key", **kwargs)
    return Session.open(db, data=items, task=task, annotator=ann)


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def per_item(db):
    """item_id -> number of proposals stored for it."""
    return dict(rows(db, "SELECT item_id, COUNT(*) FROM proposals GROUP BY item_id"))


def test_batch_answers_equal_live_ones_and_a_later_propose_sends_nothing(
    tmp_path, items, gwsd_task, gold
):
    with FakeOpenAIServer(gold, accuracy=0.7) as server:
        live = make(tmp_path / "live.labels.db", items, gwsd_task, server.base_url)
        live.propose(progress=False)
        s = make(tmp_path / "batch.labels.db", items, gwsd_task, server.base_url)
        job = s.propose(batch=True).wait(poll=0.02, progress=False)
        assert (job.report()["done"], job.report()["failed"]) == (60, 0)
        sent = server.stats()["completions"]
        report = s.propose(progress=False)
        assert (report.requested, report.skipped, report.requests) == (0, 60, 0)
        assert server.stats()["completions"] == sent  # nothing sent for batch-answered items
    cols = ["llm_label", "llm_confidence", "llm_confidence_method", "llm_rationale"]
    pd.testing.assert_frame_equal(live.annotations[cols], s.annotations[cols])
    assert live.annotations["prompt_version"].equals(s.annotations["prompt_version"])
    # the same requests: the same cache keys, so either answer serves the other
    keys = "SELECT key FROM cache ORDER BY key"
    assert rows(tmp_path / "live.labels.db", keys) == rows(tmp_path / "batch.labels.db", keys)
    assert set(s.usage()["run_id"]) == {f"batch-{job.job_id}"}


def test_files_split_under_the_limits_and_are_kept_in_the_store(db, items, gwsd_task, gold):
    with FakeOpenAIServer(gold) as server:
        s = make(db, items, gwsd_task, server.base_url)
        job = s.propose(batch=True, max_requests=25)
        assert job.report()["files"] == 3
        job.wait(poll=0.02, progress=False)
        stored = rows(db, "SELECT part, file_id, batch_id, state FROM batch_parts ORDER BY part")
        assert [r[0] for r in stored] == [0, 1, 2]
        assert all(r[1].startswith("file-") and r[2].startswith("batch_") for r in stored)
        assert {r[3] for r in stored} == {"ingested"}
        sizes = [n for (n,) in rows(db, "SELECT COUNT(*) FROM batch_requests GROUP BY part")]
        assert sizes == [25, 25, 10]
        # by bytes: no uploaded file over max_bytes
        s2 = make(db.with_name("b.labels.db"), items, gwsd_task, server.base_url)
        job2 = s2.propose(batch=True, max_bytes=12_000)
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        uploads = sorted(client.files.list(purpose="batch"), key=lambda f: f.created_at)
        inputs = [f.bytes for f in uploads if f.filename.startswith(f"llmlabel-{job2.job_id}")]
        assert len(inputs) == job2.report()["files"] > 3
        assert max(inputs) <= 12_000
        s3 = make(db.with_name("c.labels.db"), items, gwsd_task, server.base_url)
        with pytest.raises(ValueError, match="over the 500 bytes a batch file may hold"):
            s3.propose(batch=True, max_bytes=500)
        assert s3.batches() == []  # nothing recorded


def test_rerunning_the_cell_submits_nothing_twice(db, items, gwsd_task, gold):
    with FakeOpenAIServer(gold) as server:
        server.batch.polls = 3  # still running when the cell runs again
        s = make(db, items, gwsd_task, server.base_url)
        first = s.propose(batch=True)
        again = s.propose(batch=True)
        assert again.job_id == first.job_id
        first.wait(poll=0.02, progress=False)
        assert s.propose(batch=True).job_id == first.job_id
        stats = server.batch.stats()
        assert (stats["lines"], stats["batches"], stats["twice"]) == (60, 1, [])
        assert set(per_item(db).values()) == {1}
        assert len(s.batches()) == 1


def test_cancel_stores_what_was_answered_and_records_the_rest(db, gwsd, gwsd_task, gold):
    with FakeOpenAIServer(gold, latency=0.01) as server:
        s = make(db, gwsd[["id", "text"]].head(200), gwsd_task, server.base_url)
        job = s.propose(batch=True).cancel().wait(poll=0.02, progress=False)
    r = job.report()
    assert r["server_status"] == ["cancelled"]
    assert r["failed"] > 0
    assert r["done"] + r["failed"] == 200
    assert set(job.failures()["error"].str.split(":").str[0]) == {"batch_cancelled"}
    counts = per_item(db)
    assert len(counts) == r["done"]
    assert set(counts.values()) == {1}
    assert not set(counts) & set(job.failures()["item_id"])


def test_failed_requests_resubmitted_as_a_new_job_or_live(tmp_path, items, gwsd_task, gold):
    with FakeOpenAIServer(gold) as server:
        server.batch.fail_rate = 0.25
        s = make(tmp_path / "a.labels.db", items, gwsd_task, server.base_url)
        job = s.propose(batch=True).wait(poll=0.02, progress=False)
        failed = job.report()["failed"]
        assert 0 < failed < 60
        server.batch.fail_rate = 0.0
        retry = job.resubmit().wait(poll=0.02, progress=False)
        assert retry.job_id != job.job_id
        assert retry.report()["requests"] == failed
        assert (job.report()["failed"], job.report()["resubmitted"]) == (0, failed)
        assert per_item(tmp_path / "a.labels.db") == dict.fromkeys(items["id"], 1)

        server.batch.fail_rate = 0.25
        s2 = make(tmp_path / "b.labels.db", items, gwsd_task, server.base_url)
        job = s2.propose(batch=True).wait(poll=0.02, progress=False)
        failed = job.report()["failed"]
        sent = server.stats()["completions"]
        report = job.resubmit(live=True, progress=False)
        assert (report.requested, report.requests) == (failed, failed)
        assert server.stats()["completions"] - sent == failed
        assert job.report()["failed"] == 0
        assert per_item(tmp_path / "b.labels.db") == dict.fromkeys(items["id"], 1)
        with pytest.raises(ValueError, match="no failed requests"):
            job.resubmit()


def test_cost_at_batch_prices_from_an_overridable_table(tmp_path, items, gwsd_task, gold):
    with FakeOpenAIServer(gold, model="gpt-4o-mini") as server:
        s = make(tmp_path / "a.labels.db", items, gwsd_task, server.base_url, "gpt-4o-mini")
        r = s.propose(batch=True).wait(poll=0.02, progress=False).report()
        usage = server.batch.stats()["usage"]
        assert (r["prompt_tokens"], r["completion_tokens"]) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert r["prices"]["usd_per_1m_input"] == pytest.approx(0.15 / 2)
        assert "list price x 0.5" in r["prices"]["source"]
        expected = (usage["prompt_tokens"] * 0.075 + usage["completion_tokens"] * 0.30) / 1e6
        assert r["cost"] == pytest.approx(expected)
        assert s.usage()["cost"].sum() == pytest.approx(expected)
        assert r["estimated_cost"] > 0

        s2 = make(tmp_path / "b.labels.db", items, gwsd_task, server.base_url, "gpt-4o-mini")
        job = s2.propose(batch=True, batch_prices={"gpt-4o-mini": (1.0, 2.0)})
        r = job.wait(poll=0.02, progress=False).report()
        assert r["prices"]["source"] == "your batch price table"
        assert r["cost"] == pytest.approx((r["prompt_tokens"] + 2 * r["completion_tokens"]) / 1e6)
        assert "$1 in / $2 out per 1M tokens (your batch price table)" in repr(job)
        assert "your batch price table" in job._repr_html_()

        s3 = make(tmp_path / "c.labels.db", items, gwsd_task, server.base_url, "my-own-model")
        job = s3.propose(batch=True).wait(poll=0.02, progress=False)
        assert job.report()["cost"] is None
        assert "unknown: pass batch_prices" in repr(job)


def test_the_budgets_bound_a_batch_job(tmp_path, items, gwsd_task, gold):
    with FakeOpenAIServer(gold, model="gpt-4o-mini") as server:
        s = make(tmp_path / "a.labels.db", items, gwsd_task, server.base_url, budget_requests=10)
        r = s.propose(batch=True).report()
        assert (r["requests"], r["stopped"]) == (10, "request budget of 10 reached")
        s = make(
            tmp_path / "b.labels.db", items, gwsd_task, server.base_url, "gpt-4o-mini",
            budget_cost=0.002,
        )  # fmt: skip
        job = s.propose(batch=True).wait(poll=0.02, progress=False)
        r = job.report()
        assert 0 < r["requests"] < 60
        assert r["stopped"].startswith("cost budget of $0.0020 reached")
        assert r["cost"] <= 0.002
        assert server.batch.stats()["lines"] == 10 + r["requests"]


def test_an_unreachable_server_is_a_clear_error_and_the_job_resumes(db, items, gwsd_task, gold):
    server = FakeOpenAIServer(gold).start()
    port = server.port
    server.stop()
    s = make(db, items, gwsd_task, f"http://127.0.0.1:{port}/v1")
    start = time.monotonic()
    with pytest.raises(EndpointUnreachable, match="cannot reach the model server"):
        s.propose(batch=True)
    assert time.monotonic() - start < 30  # no hang (a generous bound, not a benchmark)
    [job] = s.batches(refresh=False)
    assert job.status == "submitting"  # recorded before anything was sent
    with FakeOpenAIServer(gold, port=port) as server:
        [job] = s.batches()
        job.wait(poll=0.02, progress=False)
        assert job.report()["done"] == 60
        assert server.batch.stats()["lines"] == 60


def test_a_server_without_the_batch_api_is_a_clear_error(db, items, gwsd_task, gold):
    with FakeOpenAIServer(gold) as server:
        server.batch.enabled = False
        s = make(db, items, gwsd_task, server.base_url)
        with pytest.raises(BatchUnsupported, match="does not support the OpenAI Batch API"):
            s.propose(batch=True)


def test_batch_needs_an_openai_annotator_and_known_options(db, gwsd, gwsd_task):
    from llmlabel_widget import RecordedAnnotator

    ann = RecordedAnnotator(gwsd.head(5).rename(columns={"llm_label": "label"}))
    s = Session.open(db, data=gwsd[["id", "text"]].head(5), task=gwsd_task, annotator=ann)
    with pytest.raises(TypeError, match="needs an OpenAIAnnotator"):
        s.propose(batch=True)
    with pytest.raises(TypeError, match="unknown options"):
        s.propose(batch=True, max_file_size=3)
    with pytest.raises(TypeError, match="unknown arguments"):
        s.propose(max_requests=3)


def test_one_client_for_the_whole_job(db, items, gwsd_task, gold):
    with FakeOpenAIServer(gold) as server:
        server.batch.polls = 10
        s = make(db, items, gwsd_task, server.base_url)
        s.propose(batch=True, max_requests=20).wait(poll=0.01, progress=False)
        stats = server.stats()
    assert stats["connections"] == 1  # uploads, creates, 30+ polls, downloads: one connection


CHILD = """
import sys
from llmlabel_widget import OpenAIAnnotator, Session
ann = OpenAIAnnotator("fake-llm", base_url=sys.argv[2], api_key="k")
s = Session.open(sys.argv[1], annotator=ann)
s.propose(batch=True, max_requests=int(sys.argv[3])).wait(poll=0.05, progress=False)
print("finished", flush=True)
"""


def restart_in_the_middle(db, server, max_requests, kill_at):
    """Run propose(batch=True) in a child process (a kernel) and SIGKILL it when the server
    is asked for the ``kill_at`` batch create, before it answers: the batch exists on the
    server, but the child never learns its id."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), server.base_url, str(max_requests)],
        stdout=subprocess.PIPE,
    )

    def kill(number):
        if number == kill_at:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()

    server.batch.on_create = kill
    child.wait(timeout=600)
    server.batch.on_create = None
    assert child.returncode == -signal.SIGKILL


def test_a_restart_mid_submit_resumes_without_sending_anything_twice(db, gwsd, gwsd_task, gold):
    data = gwsd[["id", "text"]].head(200)
    Session.open(db, data=data, task=gwsd_task).close()
    with FakeOpenAIServer(gold) as server:
        restart_in_the_middle(db, server, 50, kill_at=1)
        states = [r[0] for r in rows(db, "SELECT state FROM batch_parts ORDER BY part")]
        assert states == ["submitted", "creating", "written", "written"]
        ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="k")
        s = Session.open(db, annotator=ann)
        [job] = s.batches()
        job.wait(poll=0.02, progress=False)
        stats = server.batch.stats()
    assert (stats["batches"], stats["lines"], stats["twice"]) == (4, 200, [])
    assert per_item(db) == dict.fromkeys(data["id"], 1)


def test_a_restart_mid_upload_does_not_upload_twice(db, gwsd, gwsd_task, gold):
    data = gwsd[["id", "text"]].head(100)
    Session.open(db, data=data, task=gwsd_task).close()
    with FakeOpenAIServer(gold) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), server.base_url, "50"],
            stdout=subprocess.PIPE,
        )

        def kill(number):
            if number == 1:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()

        server.batch.on_upload = kill
        child.wait(timeout=600)
        server.batch.on_upload = None
        assert [r[0] for r in rows(db, "SELECT state FROM batch_parts")] == [
            "submitted",
            "uploading",
        ]
        ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="k")
        s = Session.open(db, annotator=ann)
        s.batches()[0].wait(poll=0.02, progress=False)
        stats = server.batch.stats()
    assert (stats["uploads"], stats["batches"], stats["lines"], stats["twice"]) == (2, 2, 100, [])
    assert per_item(db) == dict.fromkeys(data["id"], 1)


def test_secrets_never_reach_the_batch_tables_and_jobs_stay_with_their_server(
    db, items, gwsd_task, gold
):
    with FakeOpenAIServer(gold, basic_auth=("alice", "pw-s3cret")) as server:
        url = server.base_url.replace("http://", "http://alice:pw-s3cret@")
        ann = OpenAIAnnotator("fake-llm", base_url=url, api_key="sk-very-secret")
        s = Session.open(db, data=items, task=gwsd_task, annotator=ann)
        job = s.propose(batch=True).wait(poll=0.02, progress=False)
        assert job.report()["done"] == 60
        assert "s3cret" not in repr(job) + job._repr_html_()
        s.close()
        with FakeOpenAIServer(gold) as other:
            elsewhere = OpenAIAnnotator("fake-llm", base_url=other.base_url, api_key="k")
            s = Session.open(db, annotator=elsewhere)
            with pytest.raises(ValueError, match="was sent to http://127"):
                s.batches()[0].refresh()
            assert len(Session.open(db).batches()) == 1  # no annotator: listed, not polled
    data = b""
    for path in db.parent.glob(db.name + "*"):
        data += path.read_bytes()
    assert b"s3cret" not in data
    assert b"sk-very-secret" not in data


def test_ended_jobs_are_ingested_on_open_and_a_dead_server_does_not_block_it(
    db, items, gwsd_task, gold, caplog
):
    with FakeOpenAIServer(gold) as server:
        server.batch.polls = 1  # the first retrieve says in_progress
        s = make(db, items, gwsd_task, server.base_url)
        job = s.propose(batch=True)
        assert job.status == "running"
        s.close()
        assert per_item(db) == {}
        time.sleep(0.2)  # the server ends the batch meanwhile
        ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="k")
        s = Session.open(db, annotator=ann)  # ingested on open
        assert per_item(db) == dict.fromkeys(items["id"], 1)
        assert s.batches(refresh=False)[0].status == "ended"
        s.close()
    # a submitted job whose server is gone: opening still works, and says why it waited
    s = make(db.with_name("b.labels.db"), items, gwsd_task, "http://127.0.0.1:9/v1")
    s.close()
    with FakeOpenAIServer(gold) as server:
        server.batch.polls = 100
        ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="k")
        s = Session.open(db.with_name("b.labels.db"), annotator=ann)
        s.propose(batch=True)
        s.close()
        port = server.port
    down = OpenAIAnnotator("fake-llm", base_url=f"http://127.0.0.1:{port}/v1", api_key="k")
    start = time.monotonic()
    s = Session.open(db.with_name("b.labels.db"), annotator=down)
    assert time.monotonic() - start < 30  # no hang (a generous bound, not a benchmark)
    assert "not refreshed on open" in caplog.text
    assert "cannot reach the model server" in caplog.text
    assert s.batches(refresh=False)[0].status == "running"
