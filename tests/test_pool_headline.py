"""The Labeler's headline and ``session.metrics()`` carry the certified pool estimate (issue 14).

The reviewed items are the selector's picks (``llm_confidence``: the least confident first,
mostly the LLM's errors), so the naive agreement and the older pool estimate (Hájek IPW over
the reviewed items) are far from what ``session.pool_estimates()`` says; every user-facing
pool figure must be the latter.
"""

from __future__ import annotations

import asyncio
import math
import threading

import pandas as pd
import pytest

from llmlabel_widget import LabelTask, RecordedAnnotator, Session
from llmlabel_widget.selector import Selector
from llmlabel_widget.widget import Labeler


def _accuracy(s: Session) -> pd.Series:
    return s.pool_estimates().set_index("quantity").loc["accuracy"]


@pytest.fixture
def picked(db, gwsd) -> Session:
    """300 GWSD items with GPT-4o's recorded labels; 45 decided by gold, in queue order."""
    data = gwsd.head(300)
    rec = RecordedAnnotator(data, label="llm_label", confidence="llm_confidence")
    s = Session.open(
        db,
        data=data[["id", "text"]],
        task=LabelTask(labels=["agree", "neutral_or_disagree"]),
        annotator=rec,
        selector=Selector(strategy="llm_confidence", worker="thread", seed=0),
    )
    s.propose(progress=False)
    gold = data.set_index("id")["gold_label"]
    for _ in range(45):
        q = s.queue(1)[0]
        s.decide(q.item_id, gold[q.item_id], reviewer="gold", context=q.context())
    yield s
    s.close()


def test_metrics_carries_the_pool_estimate_not_the_older_one(picked):
    s = picked
    acc = _accuracy(s)
    table = s.metrics(n_boot=0)
    row = table.loc["accuracy_pool"]
    assert (row["value"], row["low"], row["high"]) == (acc["value"], acc["low"], acc["high"])
    assert row["n"] == acc["n_human"] == 45
    assert row["note"] == acc["method"]
    assert "PPI" in row["method"]
    # the older estimate's parts are gone; the naive figure stays, labelled as such
    assert not {"accuracy_audit", "accuracy_ipw"} & set(table.index)
    naive = table.loc["accuracy"]
    assert "naive" in naive["method"]
    assert naive["value"] < acc["value"] - 0.1  # the picks are mostly the LLM's errors
    # the dashboard's table says the same
    from llmlabel_widget.dashboard import Dashboard

    dash = Dashboard(s, n_boot=0)
    try:
        same = dash.summary().table.loc["accuracy_pool", ["value", "low", "high", "n", "note"]]
        assert same.tolist() == row[["value", "low", "high", "n", "note"]].tolist()
    finally:
        dash.close()


def test_metrics_of_a_multi_label_task_shows_no_pool_figure(db, gwsd):
    task = LabelTask(labels=["agree", "neutral_or_disagree"], multi_label=True)
    with Session.open(db, data=gwsd[["id", "text"]].head(20), task=task) as s:
        for i in gwsd["id"][:5]:
            s.decide(i, ["agree"], reviewer="gold")
        row = s.metrics(n_boot=0).loc["accuracy_pool"]
        assert math.isnan(row["value"])
        assert row["note"] == "not enough data: pool estimates cover single-label tasks only"


def _check_headline(figure: dict, acc: pd.Series) -> None:
    assert figure["value"] == pytest.approx(acc["value"])
    assert (figure["low"], figure["high"]) == pytest.approx((acc["low"], acc["high"]))
    assert figure["n_human"] == acc["n_human"]
    assert figure["method"] == acc["method"]
    assert figure["level"] == 0.95


def test_the_labelers_headline_is_the_pool_estimate_computed_off_the_decision_path(
    picked, gwsd, monkeypatch
):
    threads: list[str] = []
    estimate = Session.pool_estimates

    def spy(self, **kw):
        threads.append(threading.current_thread().name)
        return estimate(self, **kw)

    monkeypatch.setattr(Session, "pool_estimates", spy)
    gold = gwsd.set_index("id")["gold_label"]
    w = Labeler(picked, annotator="gold")
    try:
        for _ in range(5):  # decisions through the view's intents
            item = w.current["item_id"]
            msg = {"kind": "decide", "item_id": item, "revision": w.revision}
            w._handle_custom_msg({**msg, "label": gold[item]}, [])
        assert w.error == ""
        assert set(threads) <= {"llmlabel-pool-headline"}  # never on the deciding thread
        w.refresh()  # waits for the newest figure
        monkeypatch.setattr(Session, "pool_estimates", estimate)
        acc = _accuracy(picked)
        assert acc["n_human"] == 50
        _check_headline(w.progress["pool"], acc)
        assert w.progress["pool"]["pending"] is False
        # the acceptance rate stays, under its own key: reviewed items only
        assert w.progress["agreement"]["n"] == 50
        assert w.progress["agreement"]["rate"] < acc["value"] - 0.1
        w._headline.request()  # a computation under way when the view closes
        worker = w._headline._thread
    finally:
        w.close()
    assert worker is not None
    assert not worker.is_alive()  # close() waited for it; its connection is closed
    assert w._headline._thread is None


def test_in_a_kernel_the_new_figure_reaches_the_view_by_itself(picked, gwsd):
    gold = gwsd.set_index("id")["gold_label"]

    async def main() -> dict:
        w = Labeler(picked, annotator="gold")
        try:
            item = w.current["item_id"]
            msg = {"kind": "decide", "item_id": item, "revision": w.revision}
            w._handle_custom_msg({**msg, "label": gold[item]}, [])
            for _ in range(6000):  # the worker hops back onto this loop when it has a figure
                pool = w.progress.get("pool")
                if pool and pool["n_human"] == 46 and not pool["pending"]:
                    return pool
                await asyncio.sleep(0.01)
            raise AssertionError(f"no new figure: {w.progress.get('pool')}")
        finally:
            w.close()

    _check_headline(asyncio.run(main()), _accuracy(picked))


def test_a_multi_label_labeler_has_no_pool_headline(db, gwsd):
    task = LabelTask(labels=["agree", "neutral_or_disagree"], multi_label=True)
    with Session.open(db, data=gwsd[["id", "text"]].head(20), task=task) as s:
        w = Labeler(s, annotator="gold")
        w.refresh()
        assert w.progress["pool"] is None
        w.close()
        assert w._headline._thread is None


def test_decisions_never_refit_the_cards_calibration(picked, gwsd, monkeypatch):
    """The card's calibrated confidence is refitted with the headline, in the background
    (on main it was refitted inside every tenth decision: 0.8 s at 20,000 items)."""
    threads: list[str] = []
    fit = Session.calibration

    def spy(self, **kw):
        threads.append(threading.current_thread().name)
        return fit(self, **kw)

    gold = gwsd.set_index("id")["gold_label"]
    w = Labeler(picked, annotator="gold")
    try:
        w.refresh()
        monkeypatch.setattr(Session, "calibration", spy)
        for _ in range(12):  # a tenth decision included
            item = w.current["item_id"]
            msg = {"kind": "decide", "item_id": item, "revision": w.revision}
            w._handle_custom_msg({**msg, "label": gold[item]}, [])
        assert w.error == ""
        assert "MainThread" not in threads
        w.refresh()  # the newest fit reaches the card on the next redraw
        monkeypatch.setattr(Session, "calibration", fit)
        proposal = w.current["proposal"]
        fresh = picked.confidence_line(proposal["confidence"], calibration=picked.calibration())
        assert proposal["calibration"] == fresh  # "... not enough data: 7 audit labels ..."
    finally:
        w.close()


def test_the_report_shows_the_pool_estimate_not_the_older_one(picked, tmp_path):
    acc = _accuracy(picked)
    page = picked.report(tmp_path / "quality.html", n_boot=0).read_text(encoding="utf-8")
    assert f"Pool accuracy: {acc['method']}." in page
    assert "Hájek" not in page  # the older estimate's note and rows are gone
    assert "accuracy_ipw" not in page
