"""A session's lifecycle is explicit: ``with`` or ``close()`` stops everything it started."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest

from llmlabel_widget import Selector, Session, refit_worker

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")


def children() -> list[int]:
    """Processes whose parent is this one (zombies included: an unreaped child is a leak)."""
    me, out = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            out.append(int(entry.name))
    return out


def resources() -> dict[str, int]:
    gc.collect()  # what earlier tests left for the garbage collector goes now, not mid-test
    return {
        "threads": threading.active_count(),
        "os_threads": len(list(Path("/proc/self/task").iterdir())),
        "fds": len(list(Path("/proc/self/fd").iterdir())),
        "children": len(children()),
    }


@pytest.mark.slow
def test_200_cycles_of_open_queue_decide_close_leave_resources_flat(db, gwsd, gwsd_task):
    data = gwsd[["id", "text"]].head(220)
    gold = dict(zip(data["id"], gwsd["gold_label"].head(220), strict=True))
    seen = {}
    for cycle in range(1, 201):
        # a strategy that ranks fast (TF-IDF, no clustering): the cycles are what is tested
        selector = Selector(strategy="llm_confidence", seed=cycle, debounce=0.05)
        with Session.open(db, data=data, task=gwsd_task, selector=selector) as s:
            item = s.queue(1)[0]
            s.decide(item.item_id, gold[item.item_id], annotator="cycler", context=item.context())
            if cycle % 10 == 0:  # let this one refit in the worker process; the others are
                s.selector.wait(60)  # closed with their refit still pending
                assert s.selector.status.errors == []
        if cycle in (10, 200):
            seen[cycle] = resources()
    assert refit_worker._worker is not None
    assert refit_worker._worker.alive()
    # flat: nothing grows with the cycles (garbage of earlier tests may still shrink)
    assert all(seen[200][k] <= seen[10][k] for k in seen[10]), seen
    assert seen[200]["children"] == 1  # the one refit worker, shared by every selector
    with Session.open(db) as s:
        assert s.progress()["decided"] == 200


def test_close_cancels_the_pending_refit_and_drops_the_listeners(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd[["id", "text"]].head(100), task=gwsd_task)
    s.selector = Selector(debounce=0.3)
    refits = []
    s.selector.on_refit(lambda: refits.append("refit"))
    before = s.selector.status.refits
    s.decide(s.queue(1)[0].item_id, "agree", annotator="alice")  # a refit is now pending
    timer = s.selector._timer
    assert timer is not None
    assert timer.is_alive()
    s.close()
    assert not timer.is_alive()  # cancelled and gone, not waiting to fire
    time.sleep(0.6)  # past the debounce: nothing fires
    assert refits == []
    assert s.selector.status.refits == before
    s.close()  # closing twice is harmless


def test_on_refit_remove_stops_the_calls(db, gwsd, gwsd_task):
    with Session.open(db, data=gwsd[["id", "text"]].head(100), task=gwsd_task) as s:
        s.selector = Selector(debounce=0.0, worker="thread")
        calls = []

        def listener() -> None:
            calls.append("refit")

        s.selector.on_refit(listener)
        s.decide(s.queue(1)[0].item_id, "agree", annotator="alice")
        s.selector.wait(60)
        s.selector.on_refit(listener, remove=True)
        s.decide(s.queue(1)[0].item_id, "agree", annotator="alice")
        s.selector.wait(60)
        assert calls == ["refit"]
        assert s.selector.status.refits >= 3  # attach, then one per decision


def test_a_selector_closed_with_one_session_serves_the_next(db, gwsd, gwsd_task):
    selector = Selector(debounce=0.0)
    data = gwsd[["id", "text"]].head(100)
    with Session.open(db, data=data, task=gwsd_task, selector=selector) as s:
        s.queue(1)
    with Session.open(db, data=data, task=gwsd_task, selector=selector) as s:
        s.decide(s.queue(1)[0].item_id, "agree", annotator="alice")
        selector.wait(60)
        assert selector.status.labels == 1  # the background refit ran after the re-attach
        assert selector.status.errors == []
