"""The pure ranking: strategies as registered objects, propensities and reason texts."""

from __future__ import annotations

import re

import numpy as np
import pytest

from llmlabel_widget import RecordedAnnotator, Session
from llmlabel_widget.selection import (
    STRATEGIES,
    PoolState,
    Selector,
    Settings,
    Signals,
    Strategy,
    rank,
    register,
    top_margin,
)

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

CLASSES = ["a", "b", "c"]


@pytest.fixture
def pool():
    """60 items in 3 blobs; 24 reviewed; an LLM that errs on every 4th item."""
    rng = np.random.default_rng(0)
    n = 60
    gold = np.array([CLASSES[i % 3] for i in range(n)])
    centers = np.eye(3, 6) * 2.0
    features = centers[np.arange(n) % 3] + rng.normal(0, 1.0, (n, 6))
    human = np.empty(n, dtype=object)
    human[:] = [[g] if i < 24 else None for i, g in enumerate(gold)]
    llm = np.empty(n, dtype=object)
    llm[:] = [[CLASSES[(i + 1) % 3]] if i % 4 == 0 else [g] for i, g in enumerate(gold)]
    state = PoolState(
        ids=np.array([f"i{i}" for i in range(n)], dtype=object),
        texts=[""] * n,
        human=human,
        skipped=np.zeros(n, dtype=bool),
        llm=llm,
        llm_confidence=rng.uniform(0.5, 1.0, n),
        llm_agreement=rng.uniform(0.0, 1.0, n),
        classes=CLASSES,
    )
    return state, features


def proba_of(out, features, item_id):
    return out.model.predict_proba(features[int(item_id[1:])][None, :])[0]


def test_ranked_propensities_are_the_chance_the_slot_took_them(pool):
    state, features = pool
    n_open = 36
    out = rank(state, Settings(strategy="margin", explore=0.3, seed=1), features)
    ranked = [q for q in out.items if not q.audit]
    audits = [q for q in out.items if q.audit]
    assert ranked
    assert audits
    for q in ranked:
        assert q.propensity == pytest.approx(0.7 + 0.3 / n_open)
    for q in audits:
        assert q.propensity == pytest.approx(0.3 / n_open)
    # strategies that do not explore take every slot from their ranking
    flat = rank(state, Settings(strategy="in_order", explore=0.3, seed=1), features)
    assert [q.propensity for q in flat.items] == [1.0] * n_open
    assert [q.item_id for q in flat.items] == [f"i{i}" for i in range(24, 60)]


NUMBER = r"(\d+\.\d\d)"
MOOD = r"learner (?:unsure|fairly sure)"
REASONS = {
    "margin": rf"{MOOD}: its top two classes {NUMBER} apart · LLM confidence {NUMBER}",
    "hybrid": (
        rf"{MOOD}: its top two classes {NUMBER} apart · "
        rf"learner p={NUMBER} for the LLM's label · LLM confidence {NUMBER}"
    ),
    "entropy": rf"{MOOD} \(entropy {NUMBER}\) · LLM confidence {NUMBER}",
    "least_confidence": rf"{MOOD}: its top class has p {NUMBER} · LLM confidence {NUMBER}",
    "disagreement": (
        rf"likely LLM error \(P={NUMBER}, learned from 24 reviewed\) · "
        rf"learner p={NUMBER} for the LLM's label · LLM confidence {NUMBER}"
    ),
    "llm_confidence": rf"LLM confidence {NUMBER}, among the lowest",
    "diversity": "covers an unexplored region of the data",
    "in_order": "next in pool",
    "random": "random",
}


def expected_numbers(name, q, out, state, features):
    """What each number in the reason must be, from the item's own signals."""
    i = int(q.item_id[1:])
    conf = state.llm_confidence[i]
    if name == "llm_confidence":
        return [conf]
    if name not in ("margin", "hybrid", "entropy", "least_confidence", "disagreement"):
        return []
    p = proba_of(out, features, q.item_id)
    if name == "margin":
        return [1 - top_margin(p[None, :])[0], conf]
    if name == "hybrid":
        return [1 - top_margin(p[None, :])[0], p[CLASSES.index(state.llm[i][0])], conf]
    if name == "entropy":
        return [float(-(p * np.log(p)).sum()), conf]
    if name == "least_confidence":
        return [p.max(), conf]
    return [q.score, p[CLASSES.index(state.llm[i][0])], conf]


@pytest.mark.parametrize("name", sorted(REASONS))
def test_each_strategy_explains_each_pick_with_its_own_signals(pool, name):
    state, features = pool
    assert set(REASONS) <= set(STRATEGIES)
    out = rank(state, Settings(strategy=name, explore=0.0, seed=2, min_labels=10), features)
    assert out.status.strategy == name
    assert len(out.items) == 36
    for k, q in enumerate(out.items[:10]):
        assert q.strategy == name
        reason = q.reason.split(" · learner trained on")[0] if k == 0 else q.reason
        match = re.fullmatch(REASONS[name], reason)
        assert match, (name, q.reason)
        got = [float(g) for g in match.groups()]
        assert got == pytest.approx(expected_numbers(name, q, out, state, features), abs=0.006)
    if STRATEGIES[name].learns:
        assert "learner trained on 24 human labels" in out.items[0].reason


class LongestFirst(Strategy):
    """A strategy written outside the package: items with the largest first feature first."""

    name = "test_largest_first"

    def score(self, s: Signals) -> np.ndarray:
        first = s.features[:, [0]]
        return np.asarray(first.toarray() if hasattr(first, "toarray") else first).ravel()

    def reason(self, s: Signals, pos: int, score: float) -> str:
        return f"largest first feature ({score:.2f})"


@pytest.fixture
def outside_strategy():
    register(LongestFirst())
    yield LongestFirst.name
    del STRATEGIES[LongestFirst.name]


def test_a_strategy_from_outside_the_package_is_ranked_and_explained(pool, outside_strategy):
    state, features = pool
    out = rank(state, Settings(strategy=outside_strategy, explore=0.0), features)
    open_rows = features[24:, 0]
    want = [f"i{24 + i}" for i in np.argsort(-open_rows, kind="stable")]
    assert [q.item_id for q in out.items] == want
    assert out.items[1].reason == f"largest first feature ({np.sort(open_rows)[-2]:.2f})"
    assert out.items[0].reason.startswith(f"largest first feature ({open_rows.max():.2f}) · ")


def test_a_strategy_from_outside_the_package_runs_in_a_live_session(
    db, gwsd, gwsd_task, outside_strategy
):
    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    sel = Selector(strategy=outside_strategy, explore=0.0)
    s = Session.open(db, data=gwsd[["id", "text"]], task=gwsd_task, annotator=rec, selector=sel)
    gold = gwsd.set_index("id")["gold_label"]
    for i in gwsd["id"][:12]:
        s.decide(i, gold[i], annotator="gold")
    s.selector.wait(120)
    assert s.selector.status.errors == []
    q = s.queue(5)
    assert all(x.strategy == outside_strategy for x in q)
    assert all(re.match(r"largest first feature \(\d+\.\d\d\)", x.reason) for x in q)
    scores = [x.score for x in q]
    assert scores == sorted(scores, reverse=True)
    assert s.selector.status.labels == 12


def test_store_selector_state_reads_current_decisions_and_latest_proposals(tmp_path):
    from llmlabel_widget.store import Store

    store = Store(tmp_path / "s.db")
    store.add_items([(f"i{k}", f"text {k}", f"h{k}", None) for k in range(5)])

    def propose(item, labels, conf, run=None, valid=True):
        p = {"item_id": item, "labels": labels, "valid": valid, "confidence": conf}
        store.add_proposals([{**p, "source": "llm", "run_id": run}])

    propose("i0", ["a"], 0.9)
    propose("i0", ["b"], 0.8)
    propose("i0", ["b"], 0.7)  # latest: b; earlier answers a, b -> half agree
    propose("i0", ["c"], 0.1, run="trial-1")  # a prompt trial never becomes the proposal
    propose("i1", ["a"], 0.6)
    propose("i1", [], None, valid=False)  # an invalid answer does not replace a valid one
    store.add_event("i0", "r", "accept", ["b"])
    store.add_event("i1", "r", "correct", ["c"])
    store.undo_last("r")  # i1's correction is cancelled
    store.add_event("i2", "r", "skip")
    store.add_event("i3", "r", "label", ["a"])
    store.add_event("i3", "r", "skip")  # the newest decision counts
    state = store.selector_state().set_index("item_id")
    store.close()
    assert list(state.index) == ["i0", "i1", "i2", "i3", "i4"]
    assert state["text"].tolist() == [f"text {k}" for k in range(5)]
    assert state.loc["i0", "human"] == ["b"]
    assert state["human"].isna().tolist() == [False, True, True, True, True]
    assert state["skipped"].tolist() == [False, False, True, True, False]
    assert state.loc["i0", "llm"] == ["b"]
    assert state.loc["i0", "confidence"] == pytest.approx(0.7)
    assert state.loc["i0", "agreement"] == pytest.approx(0.5)
    assert state.loc["i1", "llm"] == ["a"]
    assert np.isnan(state.loc["i1", "agreement"])
    assert state.loc["i4", ["llm", "confidence", "agreement"]].isna().all()


def test_the_default_learner_is_logistic_regression_fitted_faster(gwsd):
    from sklearn.linear_model import LogisticRegression

    from llmlabel_widget.selection import default_learner, text_features

    x = text_features(gwsd["text"].tolist())
    rng = np.random.default_rng(0)
    gold = gwsd["gold_label"].to_numpy()
    # 3 classes (direct fit) and 40 classes (fitted in the row span), made from text lengths
    lengths = gwsd["text"].str.len().to_numpy()
    three = np.where(lengths > 200, "long", gold)
    forty = np.array([f"c{v % 40}" for v in lengths])
    for y, n in ((three, 200), (forty, 200), (forty, 1200)):
        idx = rng.choice(len(gwsd), n, replace=False)
        plain = LogisticRegression(C=4.0, max_iter=1000, tol=1e-8).fit(x[idx], y[idx])
        fast = default_learner().set_params(tol=1e-8, max_iter=1000).fit(x[idx], y[idx])
        assert list(fast.classes_) == list(plain.classes_)
        np.testing.assert_allclose(fast.predict_proba(x), plain.predict_proba(x), atol=1e-4)
