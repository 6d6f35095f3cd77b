"""The task learner and acquisition strategies: what gets reviewed next, and why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB

from llmlabel_widget import LabelTask, RecordedAnnotator, Session, datasets
from llmlabel_widget.selector import (
    MIN_OUTCOMES,
    STRATEGIES,
    Reviewed,
    Selector,
    Signals,
    cold_start,
    error_model,
    error_model_ready,
    out_of_fold_proba,
)

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both


def signals(proba, llm_label=None, conf=None):
    proba = np.asarray(proba, dtype=float)
    n = len(proba)
    return Signals(
        proba=proba,
        classes=["a", "b", "c"][: proba.shape[1]],
        llm_label=np.asarray(llm_label if llm_label is not None else [-1] * n),
        llm_confidence=np.asarray(conf if conf is not None else [np.nan] * n, dtype=float),
        features=None,
        rng=np.random.default_rng(0),
    )


def test_uncertainty_strategies_rank_the_unsure_item_first():
    s = signals([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.6, 0.3, 0.1]])
    for name in ("least_confidence", "margin", "entropy"):
        assert int(np.argmax(STRATEGIES[name](s))) == 1, name


def test_uncertainty_strategies_spread_a_batch_over_clusters():
    # items 0-2 are near-duplicates and the most uncertain; 3-7 are distinct, a little less so
    rng = np.random.default_rng(0)
    dup = rng.random(50)
    features = np.vstack(
        [dup + 0.01 * rng.random(50) for _ in range(3)] + [np.eye(50)[i] for i in range(5)]
    )
    top = [0.50, 0.51, 0.52, 0.55, 0.56, 0.57, 0.58, 0.59]
    s = signals([[p, 1 - p] for p in top])
    plain = STRATEGIES["margin"](s)  # no features: plain uncertainty order
    assert set(np.argsort(-plain)[:3]) == {0, 1, 2}
    s.features = features
    for name in ("margin", "entropy", "least_confidence"):
        scores = STRATEGIES[name](s)
        first = np.argsort(-scores, kind="stable")[:3]
        assert first[0] == 0, name  # the most uncertain item still leads
        assert len(set(first) & {0, 1, 2}) == 1, (name, first)  # one near-duplicate per batch
    # the scores are the uncertainty values, reordered
    np.testing.assert_allclose(np.sort(STRATEGIES["margin"](s)), np.sort(plain), atol=1e-6)


def test_disagreement_finds_labels_the_learner_doubts():
    # the LLM says class 0 everywhere; the learner disagrees most on item 2
    s = signals([[0.9, 0.1], [0.6, 0.4], [0.1, 0.9]], llm_label=[0, 0, 0], conf=[0.9, 0.9, 0.9])
    assert int(np.argmax(STRATEGIES["disagreement"](s))) == 2
    low = signals([[0.9, 0.1]] * 3, llm_label=[0, 0, 0], conf=[0.99, 0.55, 0.9])
    assert int(np.argmax(STRATEGIES["llm_confidence"](low))) == 1


@pytest.fixture
def gwsd_session(db, gwsd, gwsd_task):
    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    s = Session.open(db, data=gwsd[["id", "text"]], task=gwsd_task, annotator=rec)
    s.propose(progress=False)
    return s


def label_from_queue(s, gold, n):
    for _ in range(n):
        item = s.queue(1)[0]
        s.decide(item.item_id, gold[item.item_id], annotator="gold", context=item.context())


def test_cold_start_uses_llm_confidence_and_says_so(gwsd_session, gwsd):
    q = gwsd_session.queue(20)
    assert len(q) == 20
    assert gwsd_session.selector.status.trained is False
    assert "cold start: 0 human label(s)" in q[0].reason
    conf = gwsd.set_index("id")["llm_confidence"]
    ranked = [x for x in q if not x.audit]
    assert max(conf[x.item_id] for x in ranked) <= conf.quantile(0.05)  # least confident first
    assert all(x.strategy in ("llm_confidence", "audit") for x in q)


def test_cold_start_without_proposals_uses_diversity(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd[["id", "text"]].head(200), task=gwsd_task)
    q = s.queue(5)
    assert q[0].strategy in ("diversity", "audit")
    assert "cold start" in q[0].reason


def test_one_class_only_stays_cold_and_says_why(gwsd_session, gwsd):
    ids = list(gwsd["id"].head(15))
    for i in ids:
        gwsd_session.decide(i, "agree", annotator="x")
    gwsd_session.selector.refit()
    assert "one class only" in gwsd_session.selector.status.note
    assert not gwsd_session.selector.status.trained


def test_live_loop_learns_after_decisions_without_blocking(gwsd_session, gwsd):
    gold = gwsd.set_index("id")["gold_label"]
    label_from_queue(gwsd_session, gold, 12)
    # the decided item leaves the queue at once, before any refit
    first = gwsd_session.queue(1)[0].item_id
    gwsd_session.decide(first, gold[first], annotator="gold")
    assert first not in {q.item_id for q in gwsd_session.queue(50)}
    gwsd_session.selector.wait()
    status = gwsd_session.selector.status
    assert status.trained
    assert status.labels == 13
    assert status.refits >= 2
    assert gwsd_session.queue(1)[0].strategy in ("hybrid", "audit")
    # undo puts the item back among the open ones
    gwsd_session.undo(annotator="gold")
    gwsd_session.selector.wait()
    assert gwsd_session.selector.status.labels == 12


def test_audit_share_and_propensities_are_recorded(gwsd_session, gwsd):
    q = gwsd_session.queue(500)
    audits = [x for x in q if x.audit]
    assert 0.05 < len(audits) / len(q) < 0.15  # explore=0.1
    assert all(x.propensity == pytest.approx(0.1 / 1302) for x in audits)
    assert {"strategy", "audit", "propensity", "reason"} <= set(q[0].context())


def test_same_seed_same_decisions_same_queue(tmp_path, gwsd, gwsd_task):
    gold = gwsd.set_index("id")["gold_label"]
    queues = []
    for run in range(2):
        rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
        s = Session.open(
            tmp_path / f"r{run}.db",
            data=gwsd[["id", "text"]],
            task=gwsd_task,
            annotator=rec,
            selector=Selector(seed=7),
        )
        s.propose(progress=False)
        s.selector = Selector(seed=7)
        for i in list(gwsd["id"][::50]):
            s.decide(i, gold[i], annotator="g")
        s.selector.wait()
        s.selector.refit()
        queues.append([q.item_id for q in s.queue(30)])
    assert queues[0] == queues[1]


def test_pluggable_estimator_and_embeddings(db, gwsd, gwsd_task):
    rng = np.random.default_rng(0)
    emb = {i: rng.random(8) for i in gwsd["id"]}
    s = Session.open(
        db,
        data=gwsd[["id", "text"]],
        task=gwsd_task,
        selector=Selector(estimator=MultinomialNB(), embeddings=emb, strategy="margin"),
    )
    gold = gwsd.set_index("id")["gold_label"]
    for i in gwsd["id"][:30]:
        s.decide(i, gold[i], annotator="g")
    s.selector.refit()
    assert s.selector.status.trained
    assert s.queue(1)[0].strategy in ("margin", "audit")
    with pytest.raises(TypeError, match="predict_proba"):
        Selector(estimator=object())
    with pytest.raises(ValueError, match="unknown strategy 'best'"):
        Selector(strategy="best")


def test_multi_label_learner(db):
    df = datasets.load("t2i_prompt_modifiers_gpt4_cot")
    labels = sorted({lab for v in df["gold_labels"].dropna() for lab in v.split("|")})
    s = Session.open(db, data=df[["id", "text"]], task=LabelTask(labels=labels, multi_label=True))
    for i, g in zip(df["id"][:40], df["gold_labels"][:40], strict=True):
        s.decide(i, g.split("|") if isinstance(g, str) else [], annotator="g")
    s.selector.refit()
    assert s.selector.status.trained
    assert len(s.queue(10)) == 10


def test_distillation_trains_on_confident_llm_labels(gwsd_session, gwsd):
    gold = gwsd.set_index("id")["gold_label"]
    gwsd_session.selector = Selector(distill=True)
    for i in gwsd["id"][:12]:
        gwsd_session.decide(i, gold[i], annotator="g")
    gwsd_session.selector.refit()
    assert gwsd_session.selector.status.trained


@pytest.mark.parametrize(
    ("texts", "note"),
    [
        (["same text"] * 30, None),
        ([""] * 30, "no usable text features"),
        (["only one item"], None),
    ],
)
def test_degenerate_pools_do_not_crash(db, texts, note):
    task = LabelTask(labels=["x", "y", "z"])
    s = Session.open(db, data=pd.DataFrame({"id": range(len(texts)), "text": texts}), task=task)
    q = s.queue(5)
    assert len(q) == min(5, len(texts))
    for k, item in enumerate(q[:3]):
        s.decide(item.item_id, ["x", "y"][k % 2], annotator="g")
    s.selector.refit()
    if note:
        assert note in s.selector.status.note
    assert len(s.queue(5)) == max(0, min(5, len(texts) - min(3, len(texts))))


def test_label_never_seen_is_reported(gwsd_session, gwsd):
    s = gwsd_session
    s.task = LabelTask(labels=[*s.task.names, "unclear"])
    gold = gwsd.set_index("id")["gold_label"]
    for i in gwsd["id"][:20]:
        s.decide(i, gold[i], annotator="g")
    s.selector.refit()
    assert "1 label(s) never seen yet" in s.selector.status.note


def test_decisions_record_the_learners_prediction_for_its_learning_curve(gwsd_session, gwsd):
    from llmlabel_widget.metrics import learner_curve

    gold = gwsd.set_index("id")["gold_label"]
    label_from_queue(gwsd_session, gold, 15)
    gwsd_session.selector.refit()  # trained on 15 labels
    label_from_queue(gwsd_session, gold, 30)
    ann = gwsd_session.annotations
    ctx = ann["context"].dropna()
    with_pred = [c for c in ctx if "learner" in c]
    assert len(with_pred) >= 30
    assert all(c["learner"] in ("agree", "neutral_or_disagree") for c in with_pred)
    curve = learner_curve(ann)
    assert {"n_labels", "accuracy", "low", "high", "n"} <= set(curve.columns)
    assert curve["n"].sum() == len(with_pred)
    assert curve["accuracy"].between(0, 1).all()


def planted(n, seed, *, wrong_label=1):
    """Signals where the LLM is wrong exactly when it says class ``wrong_label`` (1 of 3).

    LLM confidence and the learner say nothing about it, so the hand-set geometric score
    cannot find these errors; a model learned from reviewed outcomes can.
    """
    rng = np.random.default_rng(seed)
    llm = rng.integers(0, 3, n)
    proba = rng.dirichlet([1, 1, 1], n)
    conf = rng.uniform(0.5, 1.0, n)
    return Signals(proba, ["a", "b", "c"], llm, conf, None, rng), llm == wrong_label


def test_error_model_learns_which_llm_answers_are_wrong_from_reviewed_items():
    past, wrong = planted(60, 1)
    s, truth = planted(300, 2)
    s.reviewed = Reviewed(past.proba, past.llm_label, past.llm_confidence, None, wrong)
    assert error_model_ready(s.reviewed)
    p = error_model(s)
    assert p is not None
    top = np.argsort(-STRATEGIES["disagreement"](s), kind="stable")[: truth.sum()]
    assert truth[top].mean() > 0.9  # planted errors first
    assert p[truth].min() > p[~truth].max()
    s.reviewed = None  # without outcomes: the hand-set score, which cannot see them
    top = np.argsort(-STRATEGIES["disagreement"](s), kind="stable")[: truth.sum()]
    assert truth[top].mean() < 0.6


def test_error_model_falls_back_with_too_few_reviewed_outcomes():
    past, wrong = planted(60, 1)
    s, _ = planted(100, 2)
    few = wrong & (np.cumsum(wrong) <= MIN_OUTCOMES - 1)  # only 4 reviewed LLM errors
    keep = few | ~wrong
    s.reviewed = Reviewed(
        past.proba[keep], past.llm_label[keep], past.llm_confidence[keep], None, few[keep]
    )
    assert not error_model_ready(s.reviewed)
    assert error_model(s) is None
    geometric = STRATEGIES["disagreement"](
        Signals(s.proba, s.classes, s.llm_label, s.llm_confidence, None, s.rng)
    )
    np.testing.assert_allclose(STRATEGIES["disagreement"](s), geometric)


def test_out_of_fold_probabilities_do_not_see_their_own_label():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 300))
    y = rng.choice(["a", "b"], 100)  # pure noise: a learner can only memorise it
    est = LogisticRegression(C=100.0, max_iter=1000)
    in_sample = est.fit(x, y).predict_proba(x)
    oof = out_of_fold_proba(est, x, y, ["a", "b"], folds=5)
    hit = lambda p: np.mean(np.array(["a", "b"])[p.argmax(axis=1)] == y)  # noqa: E731
    assert hit(in_sample) > 0.95
    assert 0.3 < hit(oof) < 0.7
    assert np.allclose(oof.sum(axis=1), 1.0)


def test_cold_start_prefers_cross_model_agreement_when_recorded():
    n = 6

    def cold(conf, agree=None):
        return Signals(
            None, ["a", "b"], np.zeros(n, int), conf, None, np.random.default_rng(0), agree
        )

    s = cold(np.full(n, np.nan), np.array([1.0, 0.0, 0.5, 1.0, 0.25, 1.0]))
    assert cold_start(s) == "disagreement"
    assert list(np.argsort(-STRATEGIES["disagreement"](s), kind="stable")[:3]) == [1, 4, 2]
    assert cold_start(cold(np.linspace(0.5, 1, n), np.full(n, np.nan))) == "llm_confidence"
    assert cold_start(cold(np.full(n, np.nan))) == "diversity"


def test_live_disagreement_learns_from_reviewed_errors(gwsd_session, gwsd):
    gold = gwsd.set_index("id")["gold_label"]
    gwsd_session.selector = Selector(strategy="disagreement", explore=0.0)
    llm = gwsd.set_index("id")["llm_label"]
    reviewed = []
    for _ in range(40):  # least confident first: the LLM's errors come early
        item = gwsd_session.queue(1)[0]
        reviewed.append(item.item_id)
        gwsd_session.decide(item.item_id, gold[item.item_id], annotator="gold")
    assert (llm[reviewed] != gold[reviewed]).sum() >= MIN_OUTCOMES
    gwsd_session.selector.refit()
    q = gwsd_session.queue(20)
    assert gwsd_session.selector.status.trained
    assert "learned from 40 reviewed" in q[0].reason
    # the learned model still ranks the LLM's errors first among the open items
    hits = np.mean([llm[x.item_id] != gold[x.item_id] for x in q])
    assert hits > 2 * (llm != gold).mean()
