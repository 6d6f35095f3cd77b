"""Team labeling on both backends: leases, overlap, per-reviewer undo, the Labeler's queue."""

from __future__ import annotations

import time

import pytest

from llmlabel_widget import Session
from llmlabel_widget.team import TeamSettings

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both


@pytest.fixture
def team(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd.head(120), task=gwsd_task)
    yield s
    s.close()


def held(session, reviewer):
    rows = session.leases()
    return set(rows.loc[rows["reviewer"] == reviewer, "item_id"])


def test_two_reviewers_never_get_the_same_item(team, db):
    team.team(overlap=0.0)
    other = Session.open(db)  # bob's own session (connection) on the same project
    try:
        alice = [q.item_id for q in team.queue(5, reviewer="alice")]
        bob = [q.item_id for q in other.queue(5, reviewer="bob")]
        assert len(set(alice)) == len(set(bob)) == 5
        assert not set(alice) & set(bob)
        # asking again renews alice's leases: the same items, nothing new taken
        assert [q.item_id for q in team.queue(5, reviewer="alice")] == alice
        assert held(team, "alice") == set(alice)
    finally:
        other.close()


def test_overlap_items_go_to_exactly_the_requested_number_of_reviewers(team):
    team.team(overlap=1.0, copies=2)  # every item is an overlap item
    got = {r: {q.item_id for q in team.queue(6, reviewer=r)} for r in ("a", "b", "c", "d")}
    per_item: dict[str, int] = {}
    for items in got.values():
        for i in items:
            per_item[i] = per_item.get(i, 0) + 1
    assert set(per_item.values()) == {2}  # never one, never three
    assert len(per_item) == 12


def test_an_overlap_item_decided_once_waits_for_a_second_reviewer(team):
    team.team(overlap=1.0, copies=2)
    first = team.queue(1, reviewer="alice")[0].item_id
    team.decide(first, "agree", reviewer="alice")
    team.queue(3, reviewer="carol")  # not alice's item: both of its slots taken? one is free
    rows = team.leases()
    takers = set(rows.loc[rows["item_id"] == first, "reviewer"].dropna())
    assert takers == {"alice", "carol"}


def test_a_lease_comes_back_after_it_expires(team, db):
    team.team(lease_seconds=3.0)
    other = Session.open(db)
    try:
        other.queue(1)  # bob's selector has ranked: his next call is quick
        alice = {q.item_id for q in team.queue(4, reviewer="alice")}
        assert not alice & {q.item_id for q in other.queue(4, reviewer="bob")}
        time.sleep(3.1)  # alice closed her laptop: her leases run out
        assert alice <= {q.item_id for q in other.queue(8, reviewer="carol")}
    finally:
        other.close()


def test_a_decided_item_stays_with_its_reviewer_and_undo_gives_the_lease_back(team):
    team.team()
    first, second = (q.item_id for q in team.queue(2, reviewer="alice"))
    team.decide(first, "agree", reviewer="alice")
    rows = team.leases().set_index("item_id")
    assert bool(rows.loc[first, "done"])
    assert not bool(rows.loc[second, "done"])
    nxt = [q.item_id for q in team.queue(2, reviewer="alice")]
    assert first not in nxt
    assert second in nxt
    team.undo(reviewer="alice")
    assert first in {q.item_id for q in team.queue(3, reviewer="alice")}
    assert first not in {q.item_id for q in team.queue(3, reviewer="bob")}


def test_a_reviewer_undoes_only_their_own_decisions(team):
    team.team()
    a = team.queue(1, reviewer="alice")[0].item_id
    b = team.queue(1, reviewer="bob")[0].item_id
    team.decide(a, "agree", reviewer="alice")
    team.decide(b, "agree", reviewer="bob")
    assert team.undo(reviewer="bob")["item_id"] == b
    assert team.undo(reviewer="bob") is None  # nothing of bob's left: alice's stays
    assert team.is_decided(a)
    assert [r["item_id"] for r in team.history_records(reviewer="alice", n=5)] == [a]


def test_an_item_decided_without_a_lease_takes_a_slot(team):
    team.team()
    team.queue(1, reviewer="alice")  # the session now keeps leases up to date
    item = team.store.all_ids()[-1]  # chosen by id, never leased
    team.decide(item, "agree", reviewer="bob")
    assert item in held(team, "bob")
    assert item not in {q.item_id for q in team.queue(10, reviewer="carol")}


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"overlap": 1.5}, "overlap must be a share"),
        ({"overlap": 0.1, "copies": 1}, "copies must be an int"),
        ({"lease_seconds": 0}, "lease_seconds must be positive"),
    ],
)
def test_bad_team_settings_are_clear_errors(team, kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        team.team(**kwargs)
    assert team.team_settings() is None


def test_overlap_membership_is_fixed_by_the_id():
    s = TeamSettings(overlap=0.1)
    share = sum(s.copies_of(f"item-{i}") == 2 for i in range(20_000)) / 20_000
    assert 0.09 < share < 0.11
    assert s.copies_of("item-7") == TeamSettings(overlap=0.1).copies_of("item-7")


def test_the_labeler_of_a_team_project_leases_its_queue(team):
    from llmlabel_widget import Labeler

    team.team()
    lab = Labeler(team, reviewer="alice")
    try:
        shown = lab.current["item_id"]
        assert shown in held(team, "alice")
        assert shown not in {q.item_id for q in team.queue(20, reviewer="bob")}
    finally:
        lab.close()


def test_reviewer_agreement_per_pair_overall_and_against_the_llm(team, gwsd):
    team.team(overlap=1.0)
    ids = team.store.all_ids()[:40]
    gold = dict(zip(gwsd["id"], gwsd["gold_label"], strict=False))
    team.add_proposals(
        [{"item_id": i, "labels": [gold[i]], "valid": True, "source": "recorded"} for i in ids]
    )
    flip = {"agree": "neutral_or_disagree", "neutral_or_disagree": "agree"}
    for k, i in enumerate(ids):
        team.decide(i, gold[i], reviewer="alice")
        team.decide(i, gold[i] if k % 5 else flip[gold[i]], reviewer="bob")  # 8 of 40 differ
        if k < 20:
            team.decide(i, gold[i], reviewer="carol")
    table = team.metrics(n_boot=200)
    ab = table.loc["kappa alice vs bob"]
    assert ab["n"] == 40
    assert ab["low"] <= ab["value"] <= ab["high"]
    assert ab["value"] < table.loc["kappa alice vs carol", "value"] == 1.0
    assert table.loc["kappa alice vs LLM", "value"] == 1.0
    alpha = table.loc["alpha reviewers"]
    assert alpha["n"] == 40  # items with two or more labels; carol's missing half is allowed
    assert 0 < alpha["value"] < 1
    assert "cohen_kappa" in table.index  # the LLM-vs-human rows are still there


def test_conflicts_queue_and_adjudication_recorded_as_such(team):
    team.team(overlap=1.0)
    a, b, c = team.store.all_ids()[:3]
    for item, (x, y) in {a: ("agree", "agree"), b: ("agree", "neutral_or_disagree")}.items():
        team.decide(item, x, reviewer="alice")
        team.decide(item, y, reviewer="bob")
    team.decide(c, "agree", reviewer="alice")
    conflicts = team.conflicts()
    assert list(conflicts["item_id"]) == [b]
    assert conflicts["labels"].iloc[0] == {"alice": "agree", "bob": "neutral_or_disagree"}
    team.adjudicate(b, "neutral_or_disagree", reviewer="dana")
    assert team.conflicts().empty
    events = team.store.live_events()
    last = events.iloc[-1]
    assert (last["item_id"], last["annotator"]) == (b, "dana")
    assert '"adjudicated": true' in last["context"]
    labels = team.annotations.set_index("item_id").loc[b, "label"]
    assert labels == "neutral_or_disagree"
    assert "kappa alice vs dana" not in team.team_metrics(n_boot=0).index


def test_the_dashboard_of_a_team_project_has_a_reviewers_panel(team):
    from llmlabel_widget import Dashboard

    plain = Dashboard(team, n_boot=50)
    shown = plain.view().children
    assert plain.figure in shown  # not a team project (yet): the figure is last, no panel
    assert shown[-1] is plain.figure
    plain.close()
    team.team(overlap=1.0)
    for i in team.store.all_ids()[:12]:
        team.decide(i, "agree", reviewer="alice")
        team.decide(i, "agree" if i[-1] != "3" else "neutral_or_disagree", reviewer="bob")
    dash = Dashboard(team, n_boot=50)
    try:
        panel = dash.view().children[-1]
        assert "kappa alice vs bob" in panel.value
        assert "alpha reviewers" in panel.value
        assert ">alice<" in panel.value
        team.decide(team.store.all_ids()[20], "agree", reviewer="carol")
        dash.refresh()
        assert ">carol<" in panel.value
    finally:
        dash.close()


def test_a_filtered_team_queue_holds_only_items_that_match(team):
    """A reviewer who filters gets only matching items: not the items they held before the
    filter, nor overlap copies or pool order to fill the queue up."""
    team.team(overlap=1.0, copies=2)
    texts = {i: t.lower() for i, t in team.store.texts(team.store.all_ids()).items()}
    words = sorted({w for t in texts.values() for w in t.split() if w.isalpha() and len(w) > 5})
    word = next(w for w in words if sum(w in t for t in texts.values()) == 1)
    match = [i for i, t in texts.items() if word in t]
    first = team.queue(1, reviewer="alice")[0].item_id
    team.decide(first, "agree", reviewer="alice")  # its second copy waits for another reviewer
    before = [q.item_id for q in team.queue(5, reviewer="bob")]  # bob holds five items
    got = [q.item_id for q in team.queue(5, reviewer="bob", filters={"text": word})]
    assert got == match
    assert set(before) <= held(team, "bob")  # still his: the filter only hides them
    unfiltered = {q.item_id for q in team.queue(10, reviewer="bob")}
    assert set(before) <= unfiltered
