"""Pool estimates under adaptive review (issue 14): the audit order, small exact cases,
the audit sample as a simple random sample of the whole pool, and a coverage smoke test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from llmlabel_widget import LabelTask, RecordedAnnotator, Session
from llmlabel_widget.estimation.audit import AuditState, audit_plan, pool_estimates
from llmlabel_widget.selection import PoolState, Settings, rank
from llmlabel_widget.selection.audit import audit_positions, audit_reach
from llmlabel_widget.selector import Selector

AB = ["a", "b"]


def _state(human, llm, *, conf=None, census=None, skipped=None, pos=None) -> AuditState:
    n = len(llm)
    h = np.empty(n, dtype=object)
    h[:] = human
    f = np.empty(n, dtype=object)
    f[:] = llm
    return AuditState(
        human=h,
        llm=f,
        confidence=np.full(n, np.nan) if conf is None else np.asarray(conf, float),
        audit_pos=np.arange(n) if pos is None else np.asarray(pos),
        skipped=np.zeros(n, bool) if skipped is None else np.asarray(skipped, bool),
        census=np.zeros(n, bool) if census is None else np.asarray(census, bool),
    )


def _row(est: pd.DataFrame, quantity: str) -> pd.Series:
    return est.set_index("quantity").loc[quantity]


# -- the audit order ---------------------------------------------------------------------------
def test_the_audit_order_is_a_permutation_fixed_by_the_seed_and_kept_when_the_pool_grows():
    ids = [f"i{k}" for k in range(50)]
    pos = audit_positions(ids, 3)
    assert sorted(pos.tolist()) == list(range(50))
    assert (audit_positions(ids, 3) == pos).all()
    assert (audit_positions(ids, 4) != pos).any()
    grown = audit_positions([*ids, "new1", "new2"], 3)[:50]
    assert (np.argsort(grown) == np.argsort(pos)).all()  # old items keep their relative order


def test_audit_reach_stops_at_the_first_unresolved_position():
    pos = np.array([2, 0, 1, 3])
    assert audit_reach(pos, np.array([False, True, True, False])) == 2
    assert audit_reach(pos, np.ones(4, bool)) == 4


# -- small exact cases -------------------------------------------------------------------------
def test_all_audit_items_correct_gives_an_estimate_with_a_real_interval():
    llm = ["a"] * 20
    human = ["a"] * 5 + [None] * 15  # the first 5 of the audit order, all right
    acc = _row(pool_estimates(_state(human, llm), AB), "accuracy")
    assert acc["value"] == 1.0
    assert acc["high"] == 1.0
    assert 0.3 < acc["low"] < 0.8  # exact (Blaker) on 5 items: not width 0
    assert acc["n_human"] == 5
    assert "Blaker exact on 5 audit items" in acc["method"]


def test_no_audit_items_says_not_enough_data_and_gives_only_the_worst_case_bounds():
    llm = ["a"] * 10
    human = [None] * 5 + ["a", "b", "a", "a", "a"]
    census = [False] * 5 + [True] * 5  # reviewed by the selector; the audit never ran
    acc = _row(pool_estimates(_state(human, llm, census=census), AB), "accuracy")
    assert math.isnan(acc["value"])
    assert acc["method"].startswith("not enough data")
    assert (acc["low"], acc["high"]) == (0.4, 0.9)  # 4 of 5 right, the other 5 unknown


def test_one_class_gives_defined_figures_for_it_and_not_enough_data_for_the_other():
    llm = ["a"] * 10
    human = ["a"] * 10
    est = pool_estimates(_state(human, llm, census=[True] * 10), AB)
    assert _row(est, "share[a]")["value"] == 1.0
    assert _row(est, "precision[a]")["value"] == 1.0
    assert _row(est, "recall[a]")["value"] == 1.0
    assert _row(est, "share[b]")["value"] == 0.0
    never = _row(est, "precision[b]")
    assert math.isnan(never["value"])
    assert never["method"].startswith("not enough data")


def test_every_item_reviewed_gives_the_exact_figures_with_width_zero():
    llm = ["a", "a", "b", "b", "a"]
    human = ["a", "b", "b", "b", "a"]
    est = pool_estimates(_state(human, llm, census=[True] * 5), AB)
    acc = _row(est, "accuracy")
    assert (acc["value"], acc["low"], acc["high"]) == (0.8, 0.8, 0.8)
    assert acc["method"] == "every item reviewed"
    assert _row(est, "share[b]")["value"] == 0.6
    assert _row(est, "precision[a]")["value"] == 2 / 3
    assert _row(est, "recall[b]")["value"] == 2 / 3


def test_a_skipped_audit_item_widens_the_interval_to_both_worst_cases():
    llm = ["a"] * 40
    human = ["a"] * 35 + [None] * 5
    base = _row(pool_estimates(_state(human, llm), AB), "accuracy")
    skipped = [False] * 35 + [True] + [False] * 4  # position 35: a non-response
    held = _row(pool_estimates(_state(human, llm, skipped=skipped), AB), "accuracy")
    assert held["low"] < base["low"]
    assert "1 skipped audit item(s) taken at worst" in held["method"]


def test_no_interval_has_width_zero_while_items_are_unknown():
    rng = np.random.default_rng(0)
    llm = list(rng.choice(AB, 300))
    human = [f if rng.random() < 0.9 else ("b" if f == "a" else "a") for f in llm]
    human = human[:60] + [None] * 240
    conf = rng.uniform(0.5, 1.0, 300)
    est = pool_estimates(_state(human, llm, conf=conf), AB)
    assert ((est["high"] - est["low"]) > 0).all()
    assert set(est.columns) >= {"quantity", "value", "low", "high", "level", "n_human"}
    assert {"n_effective", "method"} <= set(est.columns)


def test_audit_plan_asks_for_more_labels_for_a_narrower_interval():
    rng = np.random.default_rng(1)
    llm = ["a"] * 1000
    human = ["a" if rng.random() < 0.85 else "b" for _ in range(40)] + [None] * 960
    st = _state(human, llm)
    wide, narrow = audit_plan(st, width=0.2), audit_plan(st, width=0.05)
    assert narrow["more_audit_labels"] > wide["more_audit_labels"] >= 0
    assert narrow["more_audit_labels"] > 100
    with pytest.raises(ValueError, match="width"):
        audit_plan(st, width=0)


# -- the queue's audit slots -------------------------------------------------------------------
def _pool(n: int, decided: dict[int, str], conf: np.ndarray) -> PoolState:
    human = np.empty(n, dtype=object)
    human[:] = [[decided[i]] if i in decided else None for i in range(n)]
    llm = np.empty(n, dtype=object)
    llm[:] = [["a"]] * n
    return PoolState(
        ids=np.array([str(i) for i in range(n)], dtype=object),
        texts=[""] * n,
        human=human,
        skipped=np.zeros(n, bool),
        llm=llm,
        llm_confidence=conf,
        llm_agreement=np.full(n, np.nan),
        classes=AB,
    )


def test_audit_slots_take_the_audit_order_and_ranked_picks_name_the_audit_items_they_pass():
    n, seed = 30, 11
    pos = audit_positions([str(i) for i in range(n)], seed)
    first, second = (int(np.flatnonzero(pos == k)[0]) for k in (0, 1))
    conf = np.linspace(0.5, 0.99, n)
    conf[first] = 0.01  # the selector would take the first audit item first
    state = _pool(n, {first: "a"}, conf)  # ... but the audit already decided it
    settings = Settings(strategy="llm_confidence", explore=0.5, seed=0, audit_seed=seed)
    items = rank(state, settings).items
    audits = [q for q in items if q.audit]
    assert audits[0].item_id == str(second)
    assert audits[0].context()["audit_rank"] == 1
    ranked = [q for q in items if not q.audit]
    assert ranked[0].covers == (str(first),)
    assert ranked[0].context()["covers"] == [str(first)]
    assert all(not q.covers for q in ranked[1:])


def test_whether_an_audit_item_is_walked_past_does_not_depend_on_its_own_label():
    """A walked-past audit item leaves the estimate's sample, so the ranking that decides it
    must come from a learner that did not train on the item's label. Otherwise the LLM's
    errors in the audit sample rank first, are walked past more often, and the sample left
    for the estimate holds too few of them."""
    n, seed = 40, 5
    pos = audit_positions([str(i) for i in range(n)], seed)
    walked = int(np.flatnonzero(pos == 0)[0])
    rng = np.random.default_rng(0)
    features = np.hstack([rng.normal(size=(n, 3)), np.zeros((n, 1))])
    features[walked, 3] = 4.0  # a feature only it has: a learner trained on it learns its label
    others = np.argsort(pos)[-12:]  # reviewed outside the audit's reach
    decided = {int(i): ("b" if k < 3 else "a") for k, i in enumerate(others)}
    settings = Settings(strategy="disagreement", explore=0.2, seed=0, audit_seed=seed)
    conf = np.full(n, 0.7)

    def covered_by(label: str) -> list[int]:
        items = rank(_pool(n, {**decided, walked: label}, conf), settings, features).items
        return [k for k, q in enumerate(items) if str(walked) in q.covers]

    right, wrong = covered_by("a"), covered_by("b")  # the LLM said "a"
    assert right  # walked past by some pick
    assert right == wrong


@pytest.fixture
def audited(db, gwsd) -> Session:
    data = gwsd.head(120)
    task = LabelTask(labels=["agree", "neutral_or_disagree"])
    rec = RecordedAnnotator(data, label="llm_label", confidence="llm_confidence")
    s = Session.open(
        db,
        data=data[["id", "text"]],
        task=task,
        annotator=rec,
        selector=Selector(strategy="llm_confidence", explore=1.0, worker="thread"),
    )
    s.propose(progress=False)
    yield s
    s.close()


def test_the_audit_sample_is_a_simple_random_sample_of_the_whole_pool(audited, gwsd):
    """Items decided by search join the audit sample when the order reaches them."""
    s = audited
    gold = gwsd.set_index("id")["gold_label"]
    seed = s.audit_seed()
    assert seed == int(s.store.get_meta("audit_seed"))
    ids = s.annotations["item_id"].astype(str).to_numpy()
    order = ids[np.argsort(audit_positions(ids, seed))]
    s.decide(order[0], gold[order[0]], reviewer="gold")  # found by search, not an audit slot
    s.decide(order[2], gold[order[2]], reviewer="gold")
    s.selector.refit()
    q = s.queue(1)[0]
    assert (q.audit, q.item_id, q.audit_rank) == (True, order[1], 1)
    s.decide(q.item_id, gold[q.item_id], reviewer="gold", context=q.context())
    est = s.pool_estimates()
    assert est.attrs["audit_reach"] == 3  # positions 0 (search), 1 (audit), 2 (search)
    assert est.attrs["inclusion_probability"] == 3 / 120
    acc = _row(est, "accuracy")
    assert acc["n_human"] == 3
    assert "1 audit items" in acc["method"]
    assert "2 reviewed items counted exactly" in acc["method"]


def test_a_filter_only_session_says_not_enough_data(audited, gwsd):
    s = audited
    gold = gwsd.set_index("id")["gold_label"]
    for q in s.queue(5, filters={"labels": ["agree"]}):
        s.decide(q.item_id, gold[q.item_id], reviewer="gold", context=q.context())
    est = s.pool_estimates()
    acc = _row(est, "accuracy")
    assert math.isnan(acc["value"])
    assert acc["method"].startswith("not enough data")
    assert 0 <= acc["low"] < acc["high"] <= 1
    assert s.audit_plan(width=0.1)["more_audit_labels"] > 0


def test_multi_label_tasks_get_a_clear_error(db, gwsd):
    task = LabelTask(labels=["x", "y"], multi_label=True)
    with (
        Session.open(db, data=gwsd[["id", "text"]].head(5), task=task) as s,
        pytest.raises(ValueError, match="single-label"),
    ):
        s.pool_estimates()


# -- coverage smoke test -----------------------------------------------------------------------
def test_coverage_of_pool_accuracy_under_an_error_seeking_selector(gwsd):
    """20 replays on the real GWSD set: the queue shows the LLM's least confident items first
    (where its errors are), with audit slots as the product mixes them in; gold plays the
    human. The 95% interval must hold the true pool accuracy in nearly all of them."""
    n = len(gwsd)
    gold, llm = gwsd["gold_label"].to_numpy(), gwsd["llm_label"].to_numpy()
    conf = gwsd["llm_confidence"].to_numpy(float)
    truth = float((gold == llm).mean())
    ids = np.array([str(i) for i in range(n)], dtype=object)
    covered = []
    for run in range(20):
        human: dict[int, str] = {}
        census = np.zeros(n, bool)
        contexts: dict[int, dict] = {}
        settings = Settings(strategy="llm_confidence", explore=0.1, seed=run, audit_seed=run)
        while len(human) < 300:
            items = rank(_gwsd_pool(ids, human, llm, conf), settings).items[:25]
            for q in items:
                i = int(q.item_id)
                human[i], contexts[i] = gold[i], q.context()
                census[i] |= not q.audit
                census[[int(c) for c in q.covers]] = True
        h = np.empty(n, dtype=object)
        h[:] = [human.get(i) for i in range(n)]
        st = _state(h, llm, conf=conf, census=census, pos=audit_positions(ids, run))
        acc = _row(pool_estimates(st, ["agree", "neutral_or_disagree"]), "accuracy")
        covered.append(acc["low"] <= truth <= acc["high"])
    assert sum(covered) >= 18, f"covered the truth in {sum(covered)} of 20 replays"


def _gwsd_pool(ids, human, llm, conf) -> PoolState:
    n = len(ids)
    h = np.empty(n, dtype=object)
    h[:] = [[human[i]] if i in human else None for i in range(n)]
    f = np.empty(n, dtype=object)
    f[:] = [[v] for v in llm]
    return PoolState(
        ids=ids,
        texts=[""] * n,
        human=h,
        skipped=np.zeros(n, bool),
        llm=f,
        llm_confidence=conf,
        llm_agreement=np.full(n, np.nan),
        classes=["agree", "neutral_or_disagree"],
    )


def test_the_dashboard_shows_the_sessions_pool_estimate(audited, gwsd):
    from llmlabel_widget.dashboard import Dashboard

    s = audited
    gold = gwsd.set_index("id")["gold_label"]
    for _ in range(12):  # explore=1.0: every slot is an audit slot
        q = s.queue(1)[0]
        s.decide(q.item_id, gold[q.item_id], reviewer="gold", context=q.context())
        s.selector.refit()
    acc = _row(s.pool_estimates(), "accuracy")
    dash = Dashboard(s, n_boot=0)
    try:
        row = dash.summary().table.loc["accuracy_pool"]
        assert (row["value"], row["low"], row["high"]) == (acc["value"], acc["low"], acc["high"])
        assert row["note"] == acc["method"]
        pool = next(t for t in dash.figure.data if t.meta == "pool")
        assert pool.y[0] == pytest.approx(acc["value"])
    finally:
        dash.close()


def test_an_audit_item_decided_again_through_history_stays_in_the_audit_sample(audited, gwsd):
    s = audited
    gold = gwsd.set_index("id")["gold_label"]
    q = s.queue(1)[0]
    assert q.audit
    s.decide(q.item_id, gold[q.item_id], reviewer="gold", context=q.context())
    other = next(lab for lab in ("agree", "neutral_or_disagree") if lab != gold[q.item_id])
    s.decide(q.item_id, other, reviewer="gold", context={"chosen": "history", "audit": False})
    acc = _row(s.pool_estimates(), "accuracy")
    assert "on 1 audit items" in acc["method"]
    assert "reviewed items counted exactly" not in acc["method"]


def test_blind_decisions_add_the_anchoring_meter_to_the_pool_estimates(audited, gwsd):
    """Issue 14 line 6: with blind decisions, pool_estimates also reports anchoring rows."""
    plain = set(audited.pool_estimates()["quantity"])
    assert not plain & {"agreement_blind", "anchoring_shift", "accepted_wrong"}
    ids = gwsd["id"].astype(str).tolist()
    llm = dict(zip(ids, gwsd["llm_label"], strict=True))
    other = {"agree": "neutral_or_disagree", "neutral_or_disagree": "agree"}
    for k, i in enumerate(ids[0:40]):  # blind: the reviewer disagrees with the LLM a third
        label = other[llm[i]] if k % 3 == 0 else llm[i]
        audited.decide(i, label, reviewer="bob", context={"blind": True})
    for i in ids[40:80]:  # assisted: the reviewer always takes the proposal
        audited.decide(i, llm[i], reviewer="bob")
    est = audited.pool_estimates().set_index("quantity")
    assert est.loc["agreement_blind", "n_human"] == 40
    assert est.loc["agreement_blind", "value"] == pytest.approx(26 / 40)
    assert est.loc["anchoring_shift", "value"] > 0
    assert est.loc["anchoring_shift", "low"] < est.loc["anchoring_shift", "high"]
    assert "accepted_wrong" in est.index
    assert "accuracy" in est.index  # the pool rows stay
