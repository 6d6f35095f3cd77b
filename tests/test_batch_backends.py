"""Batch jobs on both store backends: the same job, resumed after a restart, on SQLite and on a
real PostgreSQL server (issue 15: everything the product does works on both)."""

from __future__ import annotations

from llmlabel_widget import OpenAIAnnotator, Session
from llmlabel_widget.testing import FakeOpenAIServer

BACKENDS = ("sqlite", "postgres")


def make(db, items, task, base_url):
    ann = OpenAIAnnotator("fake-llm", base_url=base_url, api_key="test-key")
    return Session.open(db, data=items, task=task, annotator=ann)


def proposals_per_item(session: Session) -> dict[str, int]:
    rows = session.store.query("SELECT item_id, COUNT(*) FROM proposals GROUP BY item_id")
    return {item: int(n) for item, n in rows}


def test_a_batch_job_is_stored_once_per_item_and_resumes_after_a_restart(
    db, items, gwsd_task, gold
):
    with FakeOpenAIServer(gold) as server:
        server.batch.polls = 3  # still running when the first kernel goes away
        s = make(db, items, gwsd_task, server.base_url)
        job = s.propose(batch=True, max_requests=25)
        assert job.report()["files"] == 3
        s.close()  # the kernel restarts before the job ends

        s2 = make(db, items, gwsd_task, server.base_url)
        (resumed,) = s2.batches()
        assert resumed.job_id == job.job_id
        resumed.wait(poll=0.02, progress=False)
        assert s2.propose(batch=True).job_id == job.job_id  # the cell run again: nothing new
        before = server.stats()["completions"]  # the batch lines' answers count here too
        live = s2.propose(progress=False)  # a later live run sends nothing either
        stats = server.batch.stats()
        completions = server.stats()["completions"] - before
    assert (stats["lines"], stats["batches"], stats["twice"]) == (60, 3, [])
    assert live.requested == 0
    assert completions == 0
    assert proposals_per_item(s2) == dict.fromkeys(items["id"], 1)
    r = resumed.report()
    assert (r["done"], r["failed"]) == (60, 0)
    s2.close()


def test_failed_lines_are_recorded_and_resubmitted_once(db, items, gwsd_task, gold):
    with FakeOpenAIServer(gold) as server:
        server.batch.fail_rate = 0.2
        s = make(db, items, gwsd_task, server.base_url)
        job = s.propose(batch=True).wait(poll=0.02, progress=False)
        failed = set(job.failures()["item_id"])
        assert failed
        assert set(proposals_per_item(s)) == set(items["id"]) - failed
        server.batch.fail_rate = 0.0
        job.resubmit().wait(poll=0.02, progress=False)
        assert server.batch.stats()["twice"] == []
    assert proposals_per_item(s) == dict.fromkeys(items["id"], 1)
    s.close()
