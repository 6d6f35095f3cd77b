"""Team reviewers in pool order (the in-order selector) lease straight from SQL, on both
backends: no process ranks the pool, and a call makes lease rows only for the items it
reaches (what a call costs does not grow with the project)."""

from __future__ import annotations

import time

import pytest

from llmlabel_widget import Selector, Session
from llmlabel_widget.store.team_sql import ADVANCE

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both


def in_order() -> Selector:
    return Selector(strategy="in_order", worker="thread")


@pytest.fixture
def team(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd.head(120), task=gwsd_task, selector=in_order())
    yield s
    s.close()


def ids(queue):
    return [q.item_id for q in queue]


def test_a_pool_order_reviewer_leases_in_sql_and_ranks_nothing(team, db):
    team.team(overlap=0.0)
    pool = team.store.all_ids()
    bob = Session.open(db, selector=in_order())
    try:
        alice = ids(team.queue(5, reviewer="alice"))
        assert alice == pool[:5]
        assert ids(bob.queue(5, reviewer="bob")) == pool[5:10]
        assert ids(team.queue(5, reviewer="alice")) == alice  # renewed, in pool order
        team.decide(alice[0], "agree", reviewer="alice")
        assert ids(team.queue(5, reviewer="alice")) == [*alice[1:], pool[10]]
        assert team.queue(1, reviewer="alice")[0].reason == "next in pool"
        # no process read the whole pool to rank it, not even after the decisions
        team.decide(alice[1], "agree", reviewer="alice")
        team.selector.wait()
        assert team.selector.status.refits == bob.selector.status.refits == 0
        # one move of the frontier made rows for ADVANCE items (not the pool, nor 4 n + 64
        # candidates); the next calls leased its free rows
        assert len(team.leases()) == ADVANCE
        # a filter still holds (it needs the ranking: the leases follow it)
        word = team.store.texts([pool[50]])[pool[50]].split()[0]
        found = ids(bob.queue(2, reviewer="carol", filters={"text": word}))
        assert found
        assert all(word.lower() in t.lower() for t in team.store.texts(found).values())
    finally:
        bob.close()


def test_pool_order_overlap_goes_to_exactly_two_reviewers(team):
    team.team(overlap=1.0, copies=2)  # every item is an overlap item
    got = {r: ids(team.queue(6, reviewer=r)) for r in ("a", "b", "c", "d")}
    per_item: dict[str, int] = {}
    for items in got.values():
        assert len(set(items)) == 6
        for i in items:
            per_item[i] = per_item.get(i, 0) + 1
    assert set(per_item.values()) == {2}  # never one, never three
    assert len(per_item) == 12
    assert len(team.leases()) == 2 * ADVANCE  # two slots of the items one move reached


def test_pool_order_leases_expire_and_decided_items_stay_out(team, db):
    team.team(lease_seconds=2.0)
    pool = team.store.all_ids()
    by_id = pool[7]
    team.decide(by_id, "agree", reviewer="zoe")  # chosen by id, before any lease
    other = Session.open(db, selector=in_order())
    try:
        alice = ids(team.queue(4, reviewer="alice"))
        bob = ids(other.queue(4, reviewer="bob"))
        assert alice == pool[:4]
        assert bob == [*pool[4:7], pool[8]]  # zoe's item is hers
        time.sleep(2.1)  # alice closed her laptop: her leases run out
        carol = ids(other.queue(8, reviewer="carol"))
        assert set(alice) <= set(carol)
        assert by_id not in carol
        assert len(team.leases()) <= 2 * ADVANCE  # rows only for the items reached
    finally:
        other.close()
