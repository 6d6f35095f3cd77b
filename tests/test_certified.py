"""Issue 14, lines 4-7: calibrated confidence, certified auto-accept, anchoring, methods.

Small exact cases for the pure functions, then a real session (SQLite store, GWSD texts).
"""

from __future__ import annotations

import math
from math import comb

import numpy as np
import pandas as pd
import pytest

from llmlabel_widget import LabelTask, RecordedAnnotator, Session, datasets
from llmlabel_widget.estimation import decision_rates, quality_table
from llmlabel_widget.estimation.anchoring import anchoring_estimates
from llmlabel_widget.estimation.audit_labels import audit_sample
from llmlabel_widget.estimation.auto_accept import certify_threshold
from llmlabel_widget.estimation.recalibration import fit_calibration
from llmlabel_widget.selection.audit import audit_positions


# -- certify_threshold --------------------------------------------------------------------------
def test_all_audit_correct_certifies_with_the_exact_hypergeometric_p_value():
    cert = certify_threshold(np.full(1000, 0.9), np.ones(200, bool), np.full(200, 0.9), 1200)
    # H0 boundary: 0 + floor(0.02 * 1000) + 1 = 21 errors among 1200 items; 200 drawn, 0 seen
    p = comb(1200 - 21, 200) / comb(1200, 200)
    assert cert.tested[0]["p"] == pytest.approx(p, rel=1e-9)
    assert p < 0.05
    assert (cert.threshold, cert.covered, cert.audit_errors) == (0.9, 1000, 0)
    assert 0 < cert.bound <= 0.02


def test_no_audit_labels_is_not_enough_data_and_says_how_many():
    cert = certify_threshold(np.full(1000, 0.9), [], [], 1000)
    assert not cert.certified
    assert cert.covered == 0
    assert math.isnan(cert.bound)
    assert cert.note.startswith("not enough data: no audit labels")
    assert cert.more_audit_labels is not None
    assert cert.more_audit_labels > 100
    # that many error-free audit labels (drawn from the same pool) certify it
    k = cert.more_audit_labels
    again = certify_threshold(np.full(1000 - k, 0.9), np.ones(k, bool), np.full(k, 0.9), 1000)
    assert again.certified


def test_fixed_sequence_stops_at_the_first_threshold_not_rejected():
    # 1.0: 600 open, 200 audit, no error -> certified; 0.9: 100 open, 40 audit, 20 errors ->
    # not rejected, so 0.5 (huge, error-free, would pass on its own) is never reached
    conf = np.r_[np.full(600, 1.0), np.full(100, 0.9), np.full(5000, 0.5)]
    a_conf = np.r_[np.full(200, 1.0), np.full(40, 0.9), np.full(1000, 0.5)]
    a_ok = np.r_[np.ones(200, bool), np.arange(40) % 2 == 0, np.ones(1000, bool)]
    cert = certify_threshold(conf, a_ok, a_conf, len(conf) + len(a_conf))
    assert cert.threshold == 1.0
    assert cert.covered == 600
    assert [t["threshold"] for t in cert.tested] == [1.0, 0.9]


def test_constant_or_missing_confidence_is_one_candidate():
    ok = np.ones(200, bool)
    same = certify_threshold(np.full(800, 0.7), ok, np.full(200, 0.7), 1000)
    missing = certify_threshold(np.full(800, np.nan), ok, np.full(200, np.nan), 1000)
    assert same.covered == missing.covered == 800
    assert "no confidence reported" in missing.method


def test_all_audit_wrong_never_certifies_and_more_labels_would_not_help():
    cert = certify_threshold(np.full(500, 0.9), np.zeros(100, bool), np.full(100, 0.9), 600)
    assert not cert.certified
    assert cert.more_audit_labels is None
    assert "too close to 2%" in cert.note


@pytest.mark.parametrize(("max_error", "level"), [(-0.1, 0.95), (1.0, 0.95), (0.02, 1.0)])
def test_bad_arguments_are_named(max_error, level):
    with pytest.raises(ValueError, match=r"max_error|level"):
        certify_threshold([0.9], [True], [0.9], 2, max_error, level)


def test_realised_error_exceeds_max_error_rarely_on_real_data():
    """A quick replay check on tornberg (the full one is bench/auto_accept.py)."""
    df = datasets.load("tornberg_us_senators_gpt4")
    correct = (df["gold_label"] == df["llm_label"]).to_numpy()
    conf = df["llm_confidence"].to_numpy(float)
    rng, over, certified = np.random.default_rng(0), 0, 0
    for _ in range(60):
        order = rng.permutation(len(df))
        a, rest = order[:200], order[200:]
        cert = certify_threshold(conf[rest], correct[a], conf[a], len(df), 0.10, 0.95)
        if cert.certified:
            certified += 1
            took = rest[conf[rest] >= cert.threshold]
            over += (1 - correct[took].mean()) > 0.10
    assert certified > 0
    assert over <= 0.05 * 60


# -- recalibration --------------------------------------------------------------------------------
def test_calibration_cases_without_enough_data_say_why():
    assert fit_calibration([], []).note == "not enough data: no audit labels"
    assert "12 audit labels, needs 20" in fit_calibration(np.linspace(0.5, 1, 12), [True] * 12).note
    assert fit_calibration(np.linspace(0.5, 1, 30), [True] * 30).note == (
        "not enough data: all 30 audit labels agree with the LLM"
    )
    const = fit_calibration([0.9] * 30, [True, False] * 15)
    assert not const.fitted
    assert "0.9 on every item" in const.note
    missing = fit_calibration([np.nan] * 30, [True] * 30, pool_confidence=[np.nan] * 90)
    assert missing.note == "the LLM reported no confidence"
    assert missing.describe(None) == "confidence not reported: nothing to calibrate"


def test_calibration_method_by_sample_size_and_its_line():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1, 600)
    right = rng.random(600) < conf - 0.25
    platt = fit_calibration(conf[:100], right[:100])
    iso = fit_calibration(conf, right)
    assert (platt.method, platt.n, iso.method, iso.n) == ("Platt", 100, "isotonic", 600)
    value = float(platt.predict(0.95)[0])
    assert value < 0.9  # the LLM is overconfident by 0.25 here
    assert platt.describe(0.95) == f"calibrated {value:.2f} (Platt, 100 audit labels) · raw 0.95"
    assert np.all(np.diff(iso.predict(np.linspace(0, 1, 50))) >= 0)


def test_audit_sample_reads_only_audit_decisions():
    df = pd.DataFrame(
        {
            "item_id": ["1", "2", "3", "4"],
            "state": ["decided"] * 4,
            "label": ["a", "b", "a", "a"],
            "llm_label": ["a", "a", None, "a"],
            "llm_valid": [True, True, False, True],
            "llm_confidence": [0.9, 0.8, np.nan, 0.7],
            "context": [{"audit": True}, {"audit": True}, {"audit": True}, {"reason": "x"}],
        }
    )
    got = audit_sample(df)
    assert got["item_id"].tolist() == ["1", "2", "3"]
    assert got["correct"].tolist() == [True, False, False]
    assert got["valid"].tolist() == [True, True, False]


# -- anchoring -----------------------------------------------------------------------------------
def test_anchoring_exact_case_and_without_blind_items():
    ctx = [{"blind": True}] * 4 + [None] * 4
    df = pd.DataFrame({"label": list("aabbaaab"), "llm_label": ["a"] * 8, "context": ctx})
    est = anchoring_estimates(df).set_index("quantity")
    assert est.loc["agreement_blind", "value"] == 0.5
    assert est.loc["agreement_assisted", "value"] == 0.75
    assert est.loc["anchoring_shift", "value"] == 0.25
    assert est.loc["accepted_wrong", "value"] == 0.5  # 0.25 of the 0.5 wrong ones
    for q in est.index:
        assert est.loc[q, "low"] <= est.loc[q, "value"] <= est.loc[q, "high"]
    assert list(est.columns) == [
        "value", "low", "high", "level", "n_human", "n_effective", "method"
    ]  # fmt: skip
    none = anchoring_estimates(df.assign(context=None)).set_index("quantity")
    assert none["value"].isna().tolist() == [True, False, True, True]
    assert none.loc["anchoring_shift", "method"].startswith("not enough data: no blind")


# -- a real session ------------------------------------------------------------------------------
@pytest.fixture
def audited(tmp_path):
    """GWSD with recorded labels (right wherever the confidence is >= 0.95), 300 audited."""
    df = datasets.load("gwsd_climate_stance_gpt4o")
    df["llm_label"] = df["llm_label"].where(df["llm_confidence"] < 0.95, df["gold_label"])
    ann = RecordedAnnotator(df, id="id", label="llm_label", confidence="llm_confidence")
    task = LabelTask(labels=["agree", "neutral_or_disagree"])
    s = Session.open(tmp_path / "a.labels.db", data=df[["id", "text"]], task=task, annotator=ann)
    s.propose(progress=False)
    gold = dict(zip(df["id"].astype(str), df["gold_label"], strict=True))
    ids = df["id"].astype(str).to_numpy()
    order = ids[np.argsort(audit_positions(ids, s.audit_seed()))]  # the pool's audit order
    for r, i in enumerate(order[:300]):
        s.decide(i, gold[i], reviewer="bob", context={"audit": True, "audit_rank": r})
    yield s
    s.close()


def test_plan_apply_undo_export_and_metrics(audited, tmp_path):
    s = audited
    before = s.metrics().loc["accuracy", ["value", "n"]].tolist()
    plan = s.auto_accept_plan(max_error=0.10, level=0.95)
    assert (plan.threshold, plan.covered, plan.n_audit) == (0.95, 162, 300)
    assert plan.bound <= 0.10
    assert plan.summary() == ("162 remaining proposals can be auto-accepted with error ≤ 10% (95%)")
    assert plan.apply(annotator="alice") == 162
    ann = s.annotations
    assert ann["provenance"].value_counts().to_dict() == {"audit": 300, "auto-accept": 162}
    auto = ann[ann["provenance"] == "auto-accept"]
    assert set(auto["decision"]) == {"accept"}
    assert set(auto["annotator"]) == {"alice"}
    assert auto["context"].iloc[0]["certificate"]["threshold"] == 0.95
    # not human labels: the quality figures are the audit's alone, auto-accepts counted apart
    assert s.metrics().loc["accuracy", ["value", "n"]].tolist() == before
    rates = decision_rates(ann)
    assert rates.loc["auto_accept", "k"] == 162
    assert rates.loc["acceptance", "n"] == 300
    out = pd.read_json(s.export(tmp_path / "out.jsonl"), lines=True)
    assert (out["provenance"] == "auto-accept").sum() == 162
    assert "Applied: 162 items auto-accepted" in s.methods().markdown()
    assert plan.undo() == 162
    assert "auto-accept" not in set(s.annotations["provenance"].dropna())


def test_plan_that_does_not_qualify_says_how_many_more(audited):
    plan = audited.auto_accept_plan(max_error=0.05)
    assert not plan.certified if hasattr(plan, "certified") else plan.threshold is None
    assert plan.covered == 0
    assert plan.more_audit_labels == 109
    assert "about 109 more audit labels" in plan.summary()
    with pytest.raises(ValueError, match="nothing to apply"):
        plan.apply(annotator="alice")


def test_card_line_and_methods_report(audited, tmp_path):
    s = audited
    line = s.confidence_line(0.95)
    assert line.startswith("calibrated 0.")
    assert line.endswith("(Platt, 300 audit labels) · raw 0.95")
    assert s.confidence_line(None) is None
    text = s.methods().markdown()
    for part in ("### Prompts and models", "### Review and audit design", "### Estimates",
                 "### Calibrated confidence", "### Certified auto-accept", "### Anchoring",
                 "M/N = 300/1,302", "Platt scaling"):  # fmt: skip
        assert part in text, part
    page = s.report(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h2>Methods</h2>" in page
    assert "Learn-then-Test" in page


def test_constant_confidence_is_said_on_the_card(tmp_path):
    df = datasets.load("tornberg_us_senators_gpt4").head(60)
    ann = RecordedAnnotator(df.assign(c=0.9), id="id", label="llm_label", confidence="c")
    task = LabelTask(labels=["Democrat", "Republican"])
    with Session.open(tmp_path / "c.labels.db", data=df[["id", "text"]], task=task,
                      annotator=ann) as s:  # fmt: skip
        s.propose(progress=False)
        assert s.confidence_line(0.9) == (
            "raw 0.90 · not calibrated (raw confidence is 0.9 on every item: it ranks nothing)"
        )


def test_quality_table_leaves_auto_accepts_out():
    df = pd.DataFrame(
        {
            "state": ["decided"] * 3,
            "label": ["a", "b", "a"],
            "llm_label": ["a", "a", "a"],
            "decision": ["accept", "correct", "accept"],
            "context": [None, None, {"provenance": "auto-accept"}],
        }
    )
    assert quality_table(df).loc["accuracy", ["value", "n"]].tolist() == [0.5, 2]
    as_text = df.assign(context=[None, None, '{"provenance": "auto-accept"}'])  # read from CSV
    assert quality_table(as_text).loc["accuracy", ["value", "n"]].tolist() == [0.5, 2]


# -- the views ------------------------------------------------------------------------------------
def test_labeler_card_line_and_auto_accept_intents(audited):
    from llmlabel_widget.widget import Labeler

    s = audited
    lab = Labeler(s, annotator="alice")
    proposal = lab.current["proposal"]
    assert proposal["calibration"] == s.confidence_line(proposal["confidence"])
    assert proposal["calibration"].startswith("calibrated ")
    lab._plan = s.auto_accept_plan(max_error=0.10)  # what a check at 10% would hold
    stale = lab.revision - 1
    lab._on_msg(lab, {"kind": "auto_accept", "step": "apply", "revision": stale}, None)
    assert "auto-accept" not in set(s.annotations["provenance"].dropna())
    lab._on_msg(lab, {"kind": "auto_accept", "step": "apply", "revision": lab.revision}, None)
    assert (s.annotations["provenance"] == "auto-accept").sum() == 162
    assert lab.notice.startswith("Auto-accepted 162 items")
    assert lab.auto_accept["applied"] == 162
    # a repeat finds no plan: nothing more is recorded
    lab._on_msg(lab, {"kind": "auto_accept", "step": "apply", "revision": lab.revision}, None)
    assert (s.annotations["provenance"] == "auto-accept").sum() == 162
    lab._on_msg(lab, {"kind": "auto_accept", "step": "check"}, None)
    assert lab.auto_accept["checked"] is True
    assert lab.auto_accept["summary"].startswith("No auto-accept with error ≤ 2% (95%)")
    assert s.undo_auto_accept(reviewer="alice") == 162
    lab.close()


def test_dashboard_shows_the_plan_with_a_button(audited, monkeypatch):
    from llmlabel_widget import dashboard_auto
    from llmlabel_widget.dashboard import Dashboard

    monkeypatch.setattr(dashboard_auto, "MAX_ERROR", 0.10)
    dash = Dashboard(audited)
    box = dash.view()
    bar = dash.auto_accept
    assert bar.box in box.children
    assert "162 remaining proposals can be auto-accepted with error ≤ 10% (95%)" in bar.text.value
    assert bar.apply_button.description == "Auto-accept 162"
    bar.apply_button.click()
    assert (audited.annotations["provenance"] == "auto-accept").sum() == 162
    assert bar.apply_button.layout.display == "none"
    dash.close()
