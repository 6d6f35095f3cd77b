"""Session.history and Session.search: a reviewer's decisions newest first, and finding
items by id or text across the pool, on the shipped GWSD data in a real SQLite store."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from llmlabel_widget import Session

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both


def test_history_lists_this_reviewers_items_newest_first(session: Session, gwsd):
    ids = list(gwsd.id[:4])
    session.decide(ids[0], "agree", reviewer="alice")
    session.decide(ids[1], "neutral_or_disagree", reviewer="alice", note="hedged")
    session.skip(ids[2], reviewer="alice")
    session.decide(ids[3], "agree", reviewer="bob")
    h = session.history(reviewer="alice")
    assert list(h.columns) == ["item_id", "kind", "labels", "time", "note", "seq"]
    assert list(h.item_id) == [ids[2], ids[1], ids[0]]
    assert list(h.kind) == ["skip", "label", "label"]
    assert list(h.labels) == [[], ["neutral_or_disagree"], ["agree"]]
    assert list(h.note) == [None, "hedged", None]
    assert h.seq.is_monotonic_decreasing
    assert str(h.time.dt.tz) == "UTC"
    records = session.history_records(reviewer="alice")
    assert [(r["item_id"], r["note"]) for r in records] == list(zip(h.item_id, h.note, strict=True))
    assert list(session.history(annotator="bob").item_id) == [ids[3]]
    assert list(session.history(reviewer="alice", n=2).item_id) == [ids[2], ids[1]]


def test_history_defaults_to_the_sessions_user(session: Session, gwsd):
    session.decide(gwsd.id[0], "agree")
    assert list(session.history().item_id) == [gwsd.id[0]]
    assert session.history(reviewer="nobody").empty


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_changing_a_past_decision_is_a_new_event_and_undoes_nothing_after_it(
    session: Session, gwsd
):
    ids = list(gwsd.id[:3])
    for i in ids:
        session.decide(i, "agree", reviewer="alice")
    change = session.decide(ids[0], "neutral_or_disagree", reviewer="alice")
    h = session.history(reviewer="alice")
    assert list(h.item_id) == [ids[0], ids[2], ids[1]]  # the changed item moves up
    assert h.labels[0] == ["neutral_or_disagree"]
    assert h.seq[0] == change.seq
    with sqlite3.connect(session.path) as conn:
        rows = conn.execute("SELECT item_id, kind, labels, undoes FROM events").fetchall()
    assert len(rows) == 4
    assert all(r[3] is None for r in rows)  # nothing was undone
    labels = session.annotations.set_index("item_id")["label"]
    assert [labels[i] for i in ids] == ["neutral_or_disagree", "agree", "agree"]
    # undo cancels the change only: the first decision is back, the others untouched
    session.undo(reviewer="alice")
    assert session.history(reviewer="alice").labels[2] == ["agree"]
    assert len(session.history(reviewer="alice")) == 3


def test_history_leaves_out_undone_decisions_and_shows_the_newest_note(session: Session, gwsd):
    a, b = gwsd.id[0], gwsd.id[1]
    session.decide(a, "agree", reviewer="alice", note="first")
    session.note(a, "edited", reviewer="alice")
    session.decide(b, "agree", reviewer="alice")
    session.undo(reviewer="alice")
    h = session.history(reviewer="alice")
    assert list(h.item_id) == [a]
    assert h.note[0] == "edited"
    session.undo(reviewer="alice")  # the edit goes: the older note is shown again
    assert session.history(reviewer="alice").note[0] == "first"


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_history_and_search_reject_a_bad_n(session: Session, bad):
    with pytest.raises(ValueError, match="n must be a positive whole number"):
        session.history(n=bad)
    with pytest.raises(ValueError, match="n must be a positive whole number"):
        session.search("climate", n=bad)


def test_search_finds_by_exact_id_first_then_text_ignoring_case(db, gwsd_task):
    data = pd.DataFrame(
        {
            "id": ["a1", "b2", "c3", "ocean"],
            "text": ["Sea levels rise", "nothing here", "the SEA is warm", "about ice"],
        }
    )
    with Session.open(db, data=data, task=gwsd_task) as s:
        found = s.search("sea")
        assert list(found.item_id) == ["a1", "c3"]
        assert list(found.match) == ["text", "text"]
        assert list(s.search("ocean").item_id) == ["ocean"]
        assert list(s.search("ocean").match) == ["id"]
        assert list(s.search("b2").item_id) == ["b2"]
        assert list(s.search(" sea ", n=1).item_id) == ["a1"]
        assert s.search("glacier").empty


def test_search_treats_percent_and_underscore_as_plain_characters(db, gwsd_task):
    data = pd.DataFrame(
        {"id": ["p", "q", "r", "s"], "text": ["100% sure", "1000 sure", "a_b", "axb \\ c"]}
    )
    with Session.open(db, data=data, task=gwsd_task) as s:
        assert list(s.search("0%").item_id) == ["p"]
        assert list(s.search("a_b").item_id) == ["r"]
        assert list(s.search("%").item_id) == ["p"]
        assert list(s.search("_").item_id) == ["r"]
        assert list(s.search("\\").item_id) == ["s"]


def test_search_covers_the_whole_pool(session: Session, gwsd):
    last = gwsd.head(200).iloc[-1]
    words = last.text[5:30]
    assert last.id in list(session.search(words, n=200).item_id)
    for i in gwsd.id[:150]:
        session.decide(i, "agree")
    assert last.id in list(session.search(last.id).item_id)


@pytest.mark.parametrize(
    ("query", "error"), [(None, TypeError), ("", ValueError), ("  ", ValueError)]
)
def test_search_rejects_an_empty_or_non_text_query(session: Session, query, error):
    with pytest.raises(error, match="query must"):
        session.search(query)
