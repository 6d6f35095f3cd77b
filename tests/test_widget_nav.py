"""Labeler navigation without a browser: back and forward through this reviewer's decided
items, changing a past decision, going to an item from the history, a search or a queue
row (recorded as chosen, out of the audit), notes on the card and the saved line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from test_widget import pool_order, recorded_proposals, send  # noqa: F401

from llmlabel_widget import Session
from llmlabel_widget.widget import Labeler


@pytest.fixture
def proposed(session: Session, gwsd) -> Session:
    session.add_proposals(recorded_proposals(gwsd.head(200)))
    return session


def contexts(db: Path) -> list[tuple[str, str, dict]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT item_id, kind, context FROM events ORDER BY seq").fetchall()
    return [(i, k, json.loads(c) if c else {}) for i, k, c in rows]


def other(label: str) -> str:
    return {"agree": "neutral_or_disagree", "neutral_or_disagree": "agree"}[label]


def test_back_and_forward_step_through_decided_items_newest_first(proposed, gwsd):
    w = Labeler(proposed, annotator="alice")
    ids = list(gwsd.id[:3])
    for _ in ids:
        send(w, "accept")
    assert w.current["item_id"] == gwsd.id[3]
    assert [h["item_id"] for h in w.history] == ids[::-1]
    newest = proposed.history(reviewer="alice").time[0]
    assert abs(w.history[0]["time"] - newest.value // 1_000_000) <= 1  # epoch ms, for the view
    seen = []
    for _ in ids:
        send(w, "back")
        seen.append(w.current["item_id"])
    assert seen == ids[::-1]
    send(w, "back")
    assert w.current["item_id"] == ids[0]
    assert w.notice == "No earlier decision to go back to."
    send(w, "forward")
    assert w.current["item_id"] == ids[1]
    send(w, "forward")
    send(w, "forward")
    assert w.current["item_id"] == gwsd.id[3]  # back on the queue
    assert w.current["decision"] is None


def test_a_past_item_shows_its_decision_and_note_and_a_change_is_a_new_event(proposed, db, gwsd):
    w = Labeler(proposed, annotator="alice")
    first = gwsd.id[0]
    send(w, "accept")
    send(w, "accept")
    send(w, "back")
    send(w, "back")
    assert w.current["item_id"] == first
    past = w.current["decision"]
    assert (past["kind"], past["labels"], past["note"]) == ("accept", [gwsd.llm_label[0]], None)
    assert isinstance(past["time"], int)
    send(w, "note", text="check the hedge")
    assert w.current["item_id"] == first
    assert w.current["decision"]["note"] == "check the hedge"
    assert w.history[1]["note"] == "check the hedge"
    send(w, "note", text="edited note")
    assert w.current["decision"]["note"] == "edited note"
    new = other(gwsd.llm_label[0])
    send(w, "decide", labels=[new])
    rows = contexts(db)
    assert [(i, k) for i, k, _ in rows] == [
        (first, "accept"),
        (gwsd.id[1], "accept"),
        (first, "note"),
        (first, "note"),
        (first, "correct"),
    ]
    assert rows[-1][2]["chosen"] == "history"
    assert rows[-1][2]["audit"] is False
    assert "propensity" not in rows[-1][2]
    assert proposed.is_decided(gwsd.id[1])  # nothing after it was undone
    assert w.history[0]["item_id"] == first
    assert w.history[0]["labels"] == [new]
    assert w.current["item_id"] == gwsd.id[2]  # back to the queue
    assert w.notice == f"saved: {new} on #{first} · z to undo"


def test_goto_from_history_search_and_queue_is_recorded_as_chosen(proposed, db, gwsd):
    w = Labeler(proposed, annotator="alice")
    send(w, "accept")
    send(w, "goto", target=gwsd.id[0], chosen="history")
    assert w.current["item_id"] == gwsd.id[0]
    send(w, "accept")
    far = gwsd.id[150]
    send(w, "goto", target=far, chosen="search")
    assert w.current["item_id"] == far
    send(w, "skip")
    queued = w.queue_preview[3]
    send(w, "goto", target=queued["item_id"], chosen="queue")
    assert w.current["item_id"] == queued["item_id"]
    send(w, "accept")
    rows = contexts(db)
    assert [r[2].get("chosen") for r in rows] == [None, "history", "search", "queue"]
    assert [r[2]["audit"] for r in rows] == [False, False, False, False]
    assert ["propensity" in r[2] for r in rows] == [True, False, False, False]
    assert rows[3][2]["reason"] == queued["reason"]
    assert all(r[2]["via"] == "labeler" for r in rows)


def test_goto_an_unknown_item_or_way_shows_a_clear_error(proposed, gwsd):
    w = Labeler(proposed, annotator="alice")
    send(w, "goto", target="no-such-id", chosen="search")
    assert "unknown item id 'no-such-id'" in w.error
    send(w, "goto", target=gwsd.id[4], chosen="teleport")
    assert "chosen must be one of" in w.error
    assert w.current["item_id"] == gwsd.id[0]


def test_search_fills_results_without_changing_the_item(proposed, gwsd):
    w = Labeler(proposed, annotator="alice")
    rev = w.revision
    target = gwsd.head(200).iloc[120]
    words = " ".join(target.text.split()[2:5]).upper()
    w._handle_custom_msg({"kind": "search", "query": words}, [])
    assert w.revision == rev
    assert w.current["item_id"] == gwsd.id[0]
    assert target.id in [r["item_id"] for r in w.search_results["items"]]
    assert w.search_results["query"] == words
    w._handle_custom_msg({"kind": "search", "query": target.id}, [])
    assert w.search_results["items"][0] == {
        "item_id": target.id,
        "snippet": w.search_results["items"][0]["snippet"],
        "match": "id",
    }
    w._handle_custom_msg({"kind": "search", "query": "zzqqxx-nothing"}, [])
    assert w.search_results["items"] == []
    assert "nothing matches" in w.search_results["error"]


def test_each_decision_shows_a_saved_line(proposed, gwsd):
    w = Labeler(proposed, annotator="alice")
    first = gwsd.id[0]
    send(w, "accept")
    assert w.notice == f"saved: {gwsd.llm_label[0]} (the LLM's proposal) on #{first} · z to undo"
    send(w, "skip")
    assert w.notice == f"saved: skip on #{gwsd.id[1]} · z to undo"
    w.shortcuts = {**w.shortcuts, "undo": ["u"]}
    send(w, "decide", labels=["agree"])
    assert w.notice.startswith("saved: agree")
    assert w.notice.endswith(" · u to undo")


def test_a_note_on_a_new_item_shows_on_the_card(proposed, gwsd):
    w = Labeler(proposed, annotator="alice")
    assert w.current["decision"] is None
    send(w, "note", text="odd wording")
    assert w.current["decision"] == {
        "kind": None,
        "labels": None,
        "time": None,
        "note": "odd wording",
    }
    assert w.history == []


def test_back_works_when_the_pool_is_done(db, gwsd, gwsd_task):
    data = gwsd.head(2)[["id", "text"]]
    with Session.open(db, data=data, task=gwsd_task) as s:
        w = Labeler(s, annotator="alice")
        send(w, "decide", labels=["agree"])
        send(w, "decide", labels=["agree"])
        assert w.current is None
        w._handle_custom_msg({"kind": "back", "revision": w.revision, "item_id": None}, [])
        assert w.current["item_id"] == gwsd.id[1]
        assert w.current["decision"]["labels"] == ["agree"]


def test_navigation_keys_are_bound_by_default_and_configurable(proposed):
    w = Labeler(proposed, annotator="alice")
    assert w.shortcuts["back"] == ["b", "ArrowLeft"]
    assert w.shortcuts["forward"] == ["f", "ArrowRight"]
    assert w.shortcuts["goto"] == ["g"]
    w2 = Labeler(proposed, annotator="bob", shortcuts={"back": ["p"], "goto": ["Ctrl+k"]})
    assert (w2.shortcuts["back"], w2.shortcuts["goto"]) == (["p"], ["Ctrl+k"])
    with pytest.raises(ValueError, match="bound to both"):
        Labeler(proposed, annotator="carol", shortcuts={"back": ["n"]})


def test_a_past_blind_item_shows_its_proposal_once_answered(proposed, db, gwsd):
    w = Labeler(proposed, annotator="alice", blind_share=1.0)
    assert w.current["blind"] is True
    assert w.current["proposal"] is None
    send(w, "decide", labels=["agree"])
    send(w, "back")
    assert w.current["item_id"] == gwsd.id[0]
    assert w.current["blind"] is False  # the reveal was shown after the answer
    assert w.current["proposal"]["labels"] == [gwsd.llm_label[0]]
    send(w, "decide", labels=["neutral_or_disagree"])
    assert "blind" not in contexts(db)[-1][2]
