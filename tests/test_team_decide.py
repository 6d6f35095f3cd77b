"""On PostgreSQL a team reviewer's decision is one short transaction: the event and the lease
it closes are written together (no window where the item is decided but its lease live)."""

from __future__ import annotations

from llmlabel_widget import Selector, Session

BACKENDS = ("postgres",)  # conftest: a real throwaway PostgreSQL cluster


def test_an_event_holds_the_reviewers_lease_in_its_own_transaction(db, gwsd, gwsd_task):
    selector = Selector(strategy="in_order", worker="thread")
    with Session.open(db, data=gwsd.head(40), task=gwsd_task, selector=selector) as s:
        s.team()
        first, second, third = (q.item_id for q in s.queue(3, reviewer="alice"))
        s.store.add_event(first, "alice", "label", labels=["agree"])  # the store alone
        s.store.add_event(second, "alice", "note", note="look again")  # a note holds nothing
        s.store.add_event(third, "bob", "label", labels=["agree"])  # not bob's lease
        rows = s.leases().set_index("item_id")
        assert bool(rows.loc[first, "done"])
        assert not bool(rows.loc[second, "done"])
        assert not bool(rows.loc[third, "done"])
        assert rows.loc[third, "reviewer"] == "alice"
        s.decide(second, "agree", reviewer="alice")  # through the session: the same
        assert bool(s.leases().set_index("item_id").loc[second, "done"])
