"""Team reviewers with a learning selector share one ranking, on both backends: one process
refits per round (on everyone's decisions) and writes the top of its ranking to the store;
every reviewer's queue is leased from that table in SQL."""

from __future__ import annotations

import pytest

from llmlabel_widget import Selector, Session

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both


def hybrid() -> Selector:
    return Selector(strategy="hybrid", worker="thread", min_labels=4, seed=0)


def reviewer_session(db, **kw) -> Session:
    s = Session.open(db, selector=hybrid(), **kw)
    s.refit_every = 6
    s._turn_check = 0.0  # look for the refit turn on every call (the default debounces)
    return s


@pytest.fixture
def pair(db, gwsd, gwsd_task):
    a = reviewer_session(db, data=gwsd.head(120), task=gwsd_task)
    a.team(overlap=0.0)
    b = reviewer_session(db)
    yield a, b
    a.close()
    b.close()


def ids(queue):
    return [q.item_id for q in queue]


def table(session, reviewer, k=200):
    return session.store.ranking_top(reviewer, k)


def test_one_refit_per_round_and_both_queues_follow_the_shared_table(pair):
    a, b = pair
    alice = a.queue(5, reviewer="alice")  # alice's turn: a small pool is ranked first
    assert all(q.strategy != "pool order" for q in alice)
    assert a.store.ranking_info()["version"] == 1
    want = table(b, "bob")[:5]
    bob = b.queue(5, reviewer="bob")
    assert [(q.item_id, q.reason) for q in bob] == [(i, r) for i, _, r, _ in want]
    assert a.selector.status.refits == 1
    assert b.selector.status.refits == 0
    for item in ids(alice):
        a.decide(item, "agree", reviewer="alice")
    for item in ids(bob):
        b.decide(item, "agree", reviewer="bob")
    # both decide in turns; every queue is the top of the table; bob's decisions count too
    seen: dict[str, str] = {}
    while True:
        got = {}
        for s, who in ((a, "alice"), (b, "bob")):
            a.wait_shared_ranking()  # (alice's refit may replace the table during her call)
            version, top = a.store.ranking_info()["version"], table(s, who, 3)
            got[who] = ids(s.queue(3, reviewer=who))
            if version == a.store.ranking_info()["version"]:
                assert got[who] == [t[0] for t in top]
        assert not set(got["alice"]) & set(got["bob"])  # never the same item
        if not got["alice"] and not got["bob"]:
            break
        for s, who in ((a, "alice"), (b, "bob")):
            for item in got[who]:
                assert item not in seen
                seen[item] = who
                s.decide(item, "agree", reviewer=who)
    assert len(seen) == 120 - 10  # never an empty queue while free items remained
    info = a.store.ranking_info()
    assert info["version"] >= 4  # refits followed the decisions (bob's too)
    # one process fitted per round: the turn's holder, never both
    assert a.selector.status.refits == info["version"]
    assert b.selector.status.refits == 0


def test_the_queue_follows_the_table_and_a_later_reviewer_gets_items_at_once(pair, db):
    a, b = pair
    a.queue(2, reviewer="alice")
    a.wait_shared_ranking()
    for item in ids(b.queue(4, reviewer="bob")):
        b.decide(item, "agree", reviewer="bob")
    carol = reviewer_session(db)
    try:
        want = table(carol, "carol", 6)
        got = carol.queue(6, reviewer="carol")
        assert [(q.item_id, q.strategy, q.reason) for q in got] == [w[:3] for w in want]
        assert carol.selector.status.refits == 0  # carol's process ranked nothing
        assert not set(ids(got)) & set(ids(a.queue(2, reviewer="alice")))
    finally:
        carol.close()


def test_the_labeler_shows_the_shared_tables_reasons_and_is_not_preparing(pair):
    from llmlabel_widget import Labeler

    a, b = pair
    a.queue(1, reviewer="alice")  # alice's turn: the table is written
    want = table(b, "bob", 1)[0]
    lab = Labeler(b, reviewer="bob")
    try:
        assert (lab.current["item_id"], lab.current["reason"]) == (want[0], want[2])
        assert not lab.progress["preparing"]  # bob's own selector never ranked: not needed
        assert b.selector.status.refits == 0
    finally:
        lab.close()


def test_a_closing_refitter_hands_the_turn_on_at_once(db, gwsd, gwsd_task):
    """Alice holds the refit turn and closes her notebook: bob's next call takes the turn
    and refits on the decisions since, instead of every queue waiting a minute on a stale
    table while the turn lapses."""
    a = reviewer_session(db, data=gwsd.head(120), task=gwsd_task)
    a.team(overlap=0.0)
    b = reviewer_session(db)
    try:
        a.queue(2, reviewer="alice")  # alice takes the turn and ranks the pool
        a.wait_shared_ranking()
        for item in ids(b.queue(6, reviewer="bob")):
            b.decide(item, "agree", reviewer="bob")  # a refit is due (refit_every = 6)
        b.queue(1, reviewer="bob")
        assert b.selector.status.refits == 0  # alice still holds the turn
        a.close()
        b.queue(1, reviewer="bob")
        b.wait_shared_ranking()
        assert b.selector.status.refits == 1
        assert b.store.ranking_info()["version"] == 2
    finally:
        a.close()
        b.close()
