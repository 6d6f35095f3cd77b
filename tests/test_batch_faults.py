"""Issue 16's faults test: 20,000 items in batch files, 2% failed lines, one expired file and
a kernel restart in the middle, against the loopback server through the real openai client."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pandas as pd

from llmlabel_widget import OpenAIAnnotator, Session
from llmlabel_widget.testing import FakeOpenAIServer

CHILD = """
import sys
from llmlabel_widget import OpenAIAnnotator, Session
ann = OpenAIAnnotator("gpt-4o-mini", base_url=sys.argv[2], api_key="k")
s = Session.open(sys.argv[1], annotator=ann)
s.propose(batch=True, max_requests=5000).wait(poll=0.05, progress=False)
"""
ITEMS, PER_FILE, EXPIRED_SHARE = 20_000, 5_000, 0.6


def proposals(db):
    with sqlite3.connect(db) as conn:
        return pd.read_sql("SELECT item_id, prompt_tokens, completion_tokens FROM proposals", conn)


def test_20000_items_failed_lines_an_expired_file_and_a_restart(db, gwsd, gwsd_task):
    rounds = range(-(-ITEMS // len(gwsd)))  # the real sentences, each numbered
    texts = [f"{t} ({k})" for k in rounds for t in gwsd["text"]][:ITEMS]
    labels = [g for _ in rounds for g in gwsd["gold_label"]][:ITEMS]
    gold = dict(zip(texts, labels, strict=True))
    data = pd.DataFrame({"id": [f"i{n}" for n in range(ITEMS)], "text": texts})
    Session.open(db, data=data, task=gwsd_task).close()
    with FakeOpenAIServer(gold, model="gpt-4o-mini") as server:
        server.batch.fail_rate = 0.02
        server.batch.expire = {1: EXPIRED_SHARE}  # the second file expires part-way
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), server.base_url])

        def restart(number):  # the third create reaches the server; the kernel dies
            if number == 2:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()

        server.batch.on_create = restart
        child.wait(timeout=600)
        assert child.returncode == -signal.SIGKILL
        server.batch.on_create = None

        ann = OpenAIAnnotator("gpt-4o-mini", base_url=server.base_url, api_key="k")
        session = Session.open(db, annotator=ann)  # a new kernel on the same store
        [job] = session.batches()
        job.wait(poll=0.05, progress=False)
        stats = server.batch.stats()

        # no request submitted twice: every line reached the server once
        assert (stats["batches"], stats["uploads"], stats["expired"]) == (4, 4, 1)
        assert stats["lines"] == ITEMS
        assert stats["twice"] == []
        # every item: exactly one proposal, or a recorded failure
        stored = proposals(db)
        failures = job.failures()
        assert stored["item_id"].is_unique
        assert failures["item_id"].is_unique
        assert not set(stored["item_id"]) & set(failures["item_id"])
        assert set(stored["item_id"]) | set(failures["item_id"]) == set(data["id"])
        expired = failures["error"].str.startswith("batch_expired")
        assert expired.sum() == PER_FILE - int(PER_FILE * EXPIRED_SHARE)
        assert (~expired).sum() == stats["failed"]  # the 2% of failed lines
        assert 0.01 * ITEMS < stats["failed"] < 0.03 * ITEMS
        # usage reconciles with the server's counts
        r = job.report()
        usage = stats["usage"]
        assert (r["prompt_tokens"], r["completion_tokens"]) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert stored["prompt_tokens"].sum() == usage["prompt_tokens"]
        assert stored["completion_tokens"].sum() == usage["completion_tokens"]
        assert (r["done"], r["failed"], r["pending"]) == (len(stored), len(failures), 0)

        # the failures, resubmitted by choice as a new job, complete the pool
        server.batch.fail_rate, server.batch.expire = 0.0, {}
        retry = job.resubmit().wait(poll=0.05, progress=False)
        again = retry.report()  # a failed item whose text another item has: from the cache
        assert again["done"] + again["cached"] == len(failures)
        assert server.batch.stats()["lines"] == ITEMS + again["requests"]
        assert server.batch.stats()["twice"] == []
    stored = proposals(db)
    assert stored["item_id"].is_unique
    assert set(stored["item_id"]) == set(data["id"])
    session.close()
