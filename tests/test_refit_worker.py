"""Background refits run in a worker process (off the kernel's GIL) and lose nothing."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import numpy as np
import pytest

from llmlabel_widget import RecordedAnnotator, Selector, Session, refit_worker
from llmlabel_widget import selector as selector_module
from llmlabel_widget.store import Store


def open_session(db, gwsd, task, selector: Selector) -> Session:
    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    s = Session.open(db, data=gwsd[["id", "text"]], task=task, annotator=rec, selector=selector)
    s.propose(progress=False)
    return s


def decide_from_queue(s: Session, gold: dict[str, str], n: int) -> None:
    for _ in range(n):
        item = s.queue(1)[0]
        s.decide(item.item_id, gold[item.item_id], annotator="gold", context=item.context())


@pytest.fixture
def gold(gwsd) -> dict[str, str]:
    return dict(zip(gwsd["id"].astype(str), gwsd["gold_label"], strict=True))


def worker_pid() -> int:
    worker = refit_worker._worker
    assert worker is not None
    assert worker.alive()
    return worker.proc.pid


def test_worker_process_ranks_exactly_as_a_thread_would(tmp_path, gwsd, gwsd_task, gold):
    queues = {}
    for where in ("process", "thread"):
        s = open_session(tmp_path / f"{where}.db", gwsd, gwsd_task, Selector(seed=3, worker=where))
        for item_id in list(gold)[:12]:  # each decision schedules a background refit
            s.decide(item_id, gold[item_id], annotator="gold")
        s.selector.wait(120)
        status = s.selector.status
        assert status.trained, status
        assert status.errors == []
        queues[where] = [(q.item_id, q.reason) for q in s.queue(30)]
        if where == "process":
            assert worker_pid() != os.getpid()
    assert queues["process"] == queues["thread"]


def test_strategy_defined_in_the_notebook_refits_in_a_thread(db, gwsd, gwsd_task, gold):
    @selector_module.strategy("longest_first_test")
    def longest_first(s):  # exists only in this process
        return np.asarray(s.features.sum(axis=1)).ravel()

    try:
        s = open_session(db, gwsd, gwsd_task, Selector(strategy="longest_first_test"))
        decide_from_queue(s, gold, 11)
        s.selector.wait(120)
        assert s.selector.status.errors == []
        assert s.selector.status.strategy == "longest_first_test"
        assert s.selector.status.labels == 11
    finally:
        del selector_module.STRATEGIES["longest_first_test"]


def test_unpicklable_estimator_falls_back_to_a_thread(db, gwsd, gwsd_task, gold):
    from sklearn.linear_model import LogisticRegression

    class Local(LogisticRegression):  # a class defined in a function cannot be pickled
        pass

    s = open_session(db, gwsd, gwsd_task, Selector(estimator=Local(max_iter=200)))
    decide_from_queue(s, gold, 12)
    s.selector.wait(120)
    assert s.selector.worker == "thread"
    assert s.selector.status.trained
    assert s.selector.status.errors == []


def test_a_worker_that_dies_mid_refit_is_reported_and_replaced(db, gwsd, gwsd_task, gold, caplog):
    s = open_session(db, gwsd, gwsd_task, Selector(seed=1))
    decide_from_queue(s, gold, 12)
    s.selector.wait(120)
    before = [q.item_id for q in s.queue(5)]
    old = worker_pid()
    os.kill(old, signal.SIGSTOP)  # the next request waits in the pipe...
    try:
        with caplog.at_level(logging.ERROR, logger="llmlabel_widget.selector"):
            decide_from_queue(s, gold, 1)
            deadline = time.monotonic() + 30
            while not s.selector._running and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)
            os.kill(old, signal.SIGKILL)  # ...and the worker dies with it
            s.selector.wait(120)
    finally:
        if _alive(old):
            os.kill(old, signal.SIGCONT)
    assert any("worker process stopped" in e for e in s.selector.status.errors)
    assert "selector refit failed" in caplog.text
    # the last ranking still serves the queue (minus the item just decided)
    assert [q.item_id for q in s.queue(4)] == before[1:5]
    decide_from_queue(s, gold, 1)  # the next refit starts a new worker
    s.selector.wait(120)
    assert worker_pid() != old
    assert s.selector.status.labels == 14


def test_a_failing_refit_in_the_worker_names_the_problem(db, gwsd, gwsd_task, gold):
    from sklearn.linear_model import LogisticRegression

    s = open_session(db, gwsd, gwsd_task, Selector(estimator=LogisticRegression(C=-1.0)))
    decide_from_queue(s, gold, 12)
    s.selector.wait(120)
    assert s.selector.worker == "process"
    assert any("'C' parameter" in e for e in s.selector.status.errors), s.selector.status
    assert len(s.queue(10)) == 10  # labeling goes on with the last ranking


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_decision_made_during_a_refit_stays_out_of_the_queue(
    db, gwsd, gwsd_task, gold, monkeypatch
):
    s = open_session(db, gwsd, gwsd_task, Selector(seed=2, worker="thread"))
    decide_from_queue(s, gold, 12)
    s.selector.wait(120)
    s.selector.debounce = 600  # no background refit from here on: only the one below
    read_state = Store.read_selector_state
    reading, release = threading.Event(), threading.Event()

    def slow_read(path, **options):
        frame = read_state(path, **options)
        reading.set()
        release.wait(30)  # the user decides while the refit works on what it read
        return frame

    head = s.queue(1)[0].item_id
    monkeypatch.setattr(Store, "read_selector_state", staticmethod(slow_read))
    try:
        refit = threading.Thread(target=s.selector.refit)
        refit.start()
        assert reading.wait(30)
        s.decide(head, gold[head], annotator="gold")
        release.set()
        refit.join(30)
    finally:
        if s.selector._timer is not None:
            s.selector._timer.cancel()
    assert s.selector.status.labels == 12  # the refit saw the store before the decision
    assert head not in [q.item_id for q in s.queue(50)]


def test_interrupting_the_kernel_leaves_the_worker_running(db, gwsd, gwsd_task, gold):
    s = open_session(db, gwsd, gwsd_task, Selector(seed=4))
    decide_from_queue(s, gold, 12)
    s.selector.wait(120)
    pid = worker_pid()
    os.kill(pid, signal.SIGINT)  # what "interrupt kernel" sends to the kernel's process group
    decide_from_queue(s, gold, 1)
    s.selector.wait(120)
    assert worker_pid() == pid
    assert s.selector.status.errors == []
    assert s.selector.status.labels == 13


def test_refits_find_the_store_after_the_notebook_changes_directory(
    tmp_path, gwsd, gwsd_task, gold, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    s = open_session("rel.labels.db", gwsd, gwsd_task, Selector(seed=5))  # a relative path
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    decide_from_queue(s, gold, 12)
    s.selector.wait(120)
    assert s.selector.status.errors == []
    assert s.selector.status.labels == 12
