"""Team labeling under concurrency and faults, on a real PostgreSQL server (never a mock).

Reviewer processes run ``tests/team_worker.py``: they lease with ``session.queue(5,
reviewer=...)`` and decide, printing each item once ``decide`` returned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from llmlabel_widget import LabelTask, Selector, Session, StoreError
from llmlabel_widget.team import TeamSettings

WORKER = Path(__file__).with_name("team_worker.py")
TASK = LabelTask(labels={"yes": "it is", "no": "it is not"})


def make_project(url: str, n: int, **team: float) -> None:
    data = pd.DataFrame(
        {"id": [f"i{k:06d}" for k in range(n)], "text": [f"t {k}" for k in range(n)]}
    )
    with Session.open(url, data=data, task=TASK) as s:
        s.team(**team)


def reviewer(url: str, name: str, decisions: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, name, str(decisions)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.mark.slow
def test_eight_reviewers_times_a_thousand_decisions_lose_and_double_nothing(pg_cluster):
    url = pg_cluster.url(project="eight")
    make_project(url, 9_000, overlap=0.1)
    procs = {f"r{k}": reviewer(url, f"r{k}", 1_000) for k in range(8)}
    said: dict[str, list[str]] = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        said[name] = [line for line in out.splitlines() if not line.startswith("timings")]
    assert {n: len(items) for n, items in said.items()} == dict.fromkeys(procs, 1000)
    with Session.open(url) as s:
        events = s.store.live_events()
        leases = s.leases()
    settings = TeamSettings(overlap=0.1)
    assert len(events) == 8_000  # nothing lost, nothing recorded twice
    assert not events.duplicated(["item_id", "annotator"]).any()
    for name, items in said.items():
        assert sorted(items) == sorted(events.loc[events["annotator"] == name, "item_id"])
    per_item = events.groupby("item_id")["annotator"].nunique()
    allowed = per_item.index.map(settings.copies_of)
    assert (per_item <= allowed).all()  # never twice outside overlap, never more than 2
    overlap = per_item[allowed == 2]
    assert (overlap == 2).sum() > 100  # the overlap items did get their second reviewer
    assert (leases.groupby("item_id")["done"].sum() <= leases.groupby("item_id").size()).all()
    print(
        f"8 x 1,000: {len(events)} decisions stored, {per_item.size} items, "
        f"{(overlap == 2).sum()} overlap items with 2 reviewers, max reviewers on a "
        f"non-overlap item {per_item[allowed == 1].max()}"
    )


def test_a_killed_reviewer_keeps_what_returned_and_its_leases_come_back(pg_cluster):
    url = pg_cluster.url(project="killed")
    make_project(url, 400, lease_seconds=6.0)
    proc = reviewer(url, "victim", 10_000)
    returned = []
    assert proc.stdout is not None
    while len(returned) < 37:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        returned.append(line.strip())
    proc.send_signal(signal.SIGKILL)  # mid-run: maybe mid-decision
    proc.wait()
    in_order = Selector(strategy="in_order", worker="thread")  # as the victim's: pool order
    with Session.open(url, selector=in_order) as s:
        stored = set(s.store.live_events()["item_id"])
        assert set(returned) <= stored  # every decision whose call returned is stored
        rows = s.leases()
        held = set(rows.loc[(rows["reviewer"] == "victim") & ~rows["done"], "item_id"])
        stranded = held - stored  # (killed after a decision, before its lease was closed)
        assert stranded  # the victim held leases it never decided
        assert not stranded & {q.item_id for q in s.queue(20, reviewer="rescuer")}
        time.sleep(6.1)  # the lease time passes
        assert stranded <= {q.item_id for q in s.queue(20, reviewer="second_rescuer")}


def test_a_database_restart_mid_session_reconnects_and_half_writes_nothing(gwsd, gwsd_task):
    from llmlabel_widget.testing.postgres import PostgresCluster

    cluster = PostgresCluster().start()  # its own server: the restart touches no other test
    try:
        url = cluster.url(project="restart")
        with Session.open(url, data=gwsd.head(30), task=gwsd_task) as s:
            ids = s.store.all_ids()
            s.decide(ids[0], "agree", reviewer="alice")
            cluster.restart()  # an immediate stop: as if the server crashed
            assert s.progress()["decided"] == 1  # a read reconnects by itself
            stored = 1
            try:
                s.decide(ids[1], "agree", reviewer="alice")
                stored += 1
            except StoreError as err:  # or the write says clearly that it was not stored
                assert "not stored" in str(err)  # noqa: PT017 (either outcome is right)
            s.decide(ids[2], "agree", reviewer="alice")  # the next call reconnects
            stored += 1
            events = s.store.live_events()
        assert len(events) == stored
        assert set(events["item_id"]) <= set(ids[:3])
        assert events["labels"].notna().all()
    finally:
        cluster.destroy()
