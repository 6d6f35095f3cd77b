"""Agreement metrics: checked against scikit-learn, the krippendorff package, scipy, and
published tables on the real data sets shipped with the package."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    classification_report,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
)
from sklearn.preprocessing import MultiLabelBinarizer

from llmlabel_widget import LabelTask, RecordedAnnotator, Session, datasets
from llmlabel_widget import metrics as m

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

CROWD = [f"annotator_{i}" for i in range(1, 9)]


@pytest.fixture(scope="module")
def tornberg() -> pd.DataFrame:
    return datasets.load("tornberg_us_senators_gpt4")


def coded(frame: pd.DataFrame) -> np.ndarray:
    """raters x units float matrix for the krippendorff package (NaN = missing)."""
    codes = {v: i for i, v in enumerate(pd.unique(frame.stack().dropna()))}
    return frame.apply(lambda c: c.map(codes)).to_numpy(float).T


def index_bootstrap(stat, n: int, reps: int, seed: int = 1) -> tuple[float, float]:
    """The textbook bootstrap (resample row indices) as a reference for our fast one."""
    rng = np.random.default_rng(seed)
    vals = np.array([stat(rng.integers(0, n, n)) for _ in range(reps)])
    vals = vals[np.isfinite(vals)]
    return tuple(np.quantile(vals, [0.025, 0.975]))


# -- published tables ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "published"),
    [("llm_label", 0.934), ("expert_1", 0.826), ("expert_2", 0.846), ("expert_3", 0.818)],
)
def test_tornberg_accuracy_vs_gold_matches_published_figures(tornberg, column, published):
    # Törnberg (2023), arXiv:2304.06588: accuracy against the senators' real party for
    # GPT-4 (0.934) and the three expert coders (0.826 / 0.846 / 0.818), as restated in
    # the data set's README ("Reference figures").
    acc = m.accuracy(tornberg, human="gold_label", llm=column)
    assert round(acc.value, 3) == published
    assert acc.n == 500
    assert acc.low < acc.value < acc.high
    assert (acc.low, acc.high) == pytest.approx(
        tuple(binomtest(round(acc.value * 500), 500).proportion_ci(method="wilson"))
    )


def test_gwsd_accuracy_and_accuracy_by_confidence_match_readme_table(gwsd):
    # gwsd_climate_stance_gpt4o README: GPT-4o vs gold accuracy 0.806, and the table
    # "Accuracy by confidence bin" (rows and accuracy per bin).
    assert round(m.accuracy(gwsd, human="gold_label").value, 3) == 0.806
    rel = m.reliability(gwsd, human="gold_label", bins=[0, 0.7, 0.8, 0.9, 1.0])
    assert rel["n"].tolist() == [71, 462, 561, 208]
    assert rel["accuracy"].round(3).tolist() == [0.577, 0.784, 0.797, 0.962]
    assert rel["bin"].tolist() == ["[0, 0.7]", "(0.7, 0.8]", "(0.8, 0.9]", "(0.9, 1]"]


def test_krippendorff_textbook_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders x
    # 12 units nominal example with missing values: alpha = 0.743.
    nan = np.nan
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    alpha = m.krippendorff_alpha(pd.DataFrame(data.T))
    assert round(alpha.value, 3) == 0.743
    assert alpha.n == 11  # unit 12 has a single value: not pairable


def test_newcombe_interval_matches_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, method 10 for 56/70 - 48/80.
    low, high = m.newcombe_interval(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


# -- reference implementations ------------------------------------------------------------------
@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (1, 1), (401, 1302)])
def test_wilson_matches_scipy(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
    assert m.wilson_interval(k, n, level=0.9) == pytest.approx((ref.low, ref.high))


def test_wilson_of_nothing_is_undefined_not_an_error():
    assert all(math.isnan(x) for x in m.wilson_interval(0, 0))


@pytest.mark.parametrize(
    ("human", "llm"),
    [
        ("gold_label", "llm_label"),
        ("gold_label_3class", "annotator_1"),  # three classes
        ("annotator_2", "annotator_3"),
    ],
)
def test_kappa_f1_and_confusion_match_scikit_learn(gwsd, human, llm):
    y, yhat = gwsd[human], gwsd[llm]
    kappa = m.cohen_kappa(gwsd, human=human, llm=llm)
    assert kappa.value == pytest.approx(cohen_kappa_score(y, yhat))
    assert kappa.low < kappa.value < kappa.high
    assert m.macro_f1(gwsd, human=human, llm=llm).value == pytest.approx(
        f1_score(y, yhat, average="macro")
    )
    cm = m.confusion(gwsd, human=human, llm=llm)
    assert cm.to_numpy().tolist() == confusion_matrix(y, yhat, labels=list(cm.index)).tolist()
    report = classification_report(y, yhat, output_dict=True)
    per = m.per_label(gwsd, human=human, llm=llm)
    for label, row in per.iterrows():
        ref = report[label]
        assert row["precision"] == pytest.approx(ref["precision"])
        assert row["recall"] == pytest.approx(ref["recall"])
        assert row["f1"] == pytest.approx(ref["f1-score"])
        assert row["support"] == ref["support"]
        for fig in ("precision", "recall", "f1"):
            assert row[f"{fig}_low"] <= row[fig] <= row[f"{fig}_high"]


def test_labels_order_follows_the_task_and_keeps_unknown_labels(gwsd):
    task = LabelTask(labels=["neutral_or_disagree", "agree"])
    cm = m.confusion(gwsd, human="gold_label", labels=task)
    assert list(cm.index) == ["neutral_or_disagree", "agree"]
    cm = m.confusion(gwsd.head(50), human="gold_label", labels=["other", "agree"])
    assert list(cm.index) == ["other", "agree", "neutral_or_disagree"]
    assert cm.loc["other"].sum() == 0


@pytest.mark.parametrize(
    "columns",
    [CROWD, CROWD[:2], ["gold_label_3class", *CROWD[:3]]],
    ids=["8 crowd", "2 crowd", "gold+3 crowd"],
)
def test_alpha_matches_the_krippendorff_package(gwsd, columns):
    frame = gwsd[columns]
    ref = krippendorff.alpha(reliability_data=coded(frame), level_of_measurement="nominal")
    alpha = m.krippendorff_alpha(frame)
    assert alpha.value == pytest.approx(ref)
    assert alpha.low < alpha.value < alpha.high


def test_alpha_with_missing_values_matches_the_package(tornberg):
    cols = ["expert_1", "expert_2", "expert_3", "llm_label", "llm_label_gpt35"]
    frame = tornberg[cols].copy()
    rng = np.random.default_rng(7)
    frame = frame.mask(rng.random(frame.shape) < 0.3)  # 30% missing, some units unpairable
    ref = krippendorff.alpha(reliability_data=coded(frame), level_of_measurement="nominal")
    alpha = m.krippendorff_alpha(frame)
    assert alpha.value == pytest.approx(ref)
    assert alpha.n == int((frame.notna().sum(axis=1) >= 2).sum())


def test_alpha_bootstrap_agrees_with_resampling_units_through_the_package(gwsd):
    frame = gwsd[CROWD[:4]]
    data = coded(frame)
    alpha = m.krippendorff_alpha(frame, n_boot=2000)
    ref = index_bootstrap(
        lambda idx: krippendorff.alpha(
            reliability_data=data[:, idx], level_of_measurement="nominal"
        ),
        len(frame),
        reps=300,
    )
    assert alpha.low == pytest.approx(ref[0], abs=0.01)
    assert alpha.high == pytest.approx(ref[1], abs=0.01)


def test_kappa_and_f1_bootstrap_agree_with_resampling_items(gwsd):
    y, yhat = gwsd["gold_label"].to_numpy(), gwsd["llm_label"].to_numpy()
    kappa = m.cohen_kappa(gwsd, human="gold_label", n_boot=2000)
    ref = index_bootstrap(lambda i: cohen_kappa_score(y[i], yhat[i]), len(y), reps=400)
    assert kappa.low == pytest.approx(ref[0], abs=0.012)
    assert kappa.high == pytest.approx(ref[1], abs=0.012)
    f1 = m.macro_f1(gwsd, human="gold_label", n_boot=2000)
    ref = index_bootstrap(lambda i: f1_score(y[i], yhat[i], average="macro"), len(y), reps=400)
    assert f1.low == pytest.approx(ref[0], abs=0.012)
    assert f1.high == pytest.approx(ref[1], abs=0.012)


def test_bootstrap_is_seeded():
    df = datasets.load("gwsd_climate_stance_gpt4o").head(200)
    a = m.cohen_kappa(df, human="gold_label", seed=3)
    b = m.cohen_kappa(df, human="gold_label", seed=3)
    c = m.cohen_kappa(df, human="gold_label", seed=4)
    assert (a.low, a.high) == (b.low, b.high)
    assert (a.low, a.high) != (c.low, c.high)
    gen = np.random.default_rng(3)
    assert m.cohen_kappa(df, human="gold_label", seed=gen).low == a.low
    assert "seed 3" in a.interval


def test_reliability_matches_scikit_learn_calibration_curve(gwsd):
    rel = m.reliability(gwsd, human="gold_label", bins=10)
    correct = (gwsd["gold_label"] == gwsd["llm_label"]).astype(int)
    prob_true, prob_pred = calibration_curve(correct, gwsd["llm_confidence"], n_bins=10)
    filled = rel[rel["n"] > 0]
    assert filled["accuracy"].to_numpy() == pytest.approx(prob_true)
    assert filled["confidence"].to_numpy() == pytest.approx(prob_pred)
    assert rel["n"].sum() == len(gwsd)


def test_ece_is_the_weighted_gap_and_its_bootstrap_agrees_with_resampling(gwsd):
    ece = m.expected_calibration_error(gwsd, human="gold_label", bins=10, n_boot=2000)
    rel = m.reliability(gwsd, human="gold_label", bins=10)
    filled = rel[rel["n"] > 0]
    expected = (filled["n"] * (filled["accuracy"] - filled["confidence"]).abs()).sum() / len(gwsd)
    assert ece.value == pytest.approx(expected)
    conf = gwsd["llm_confidence"].to_numpy()
    right = (gwsd["gold_label"] == gwsd["llm_label"]).to_numpy(float)
    bins = np.clip(np.ceil(conf * 10).astype(int) - 1, 0, 9)

    def ece_of(i):
        b, c, y = bins[i], conf[i], right[i]
        gap = np.bincount(b, weights=c, minlength=10) - np.bincount(b, weights=y, minlength=10)
        return np.abs(gap).sum() / len(i)

    ref = index_bootstrap(ece_of, len(conf), reps=400)
    assert ece.low == pytest.approx(ref[0], abs=0.01)
    assert ece.high == pytest.approx(ref[1], abs=0.01)


def test_correction_patterns_match_a_crosstab(gwsd):
    pats = m.correction_patterns(gwsd, human="gold_label_3class", llm="annotator_1")
    tab = pd.crosstab(gwsd["annotator_1"], gwsd["gold_label_3class"])
    for _, row in pats.iterrows():
        assert row["n"] == tab.loc[row["llm_label"], row["human_label"]]
        assert row["share_of_llm_label"] == pytest.approx(
            row["n"] / tab.loc[row["llm_label"]].sum()
        )
    assert (pats["llm_label"] != pats["human_label"]).all()
    assert pats["n"].sum() == int((gwsd["annotator_1"] != gwsd["gold_label_3class"]).sum())
    assert pats["n"].is_monotonic_decreasing
    assert pats["share_of_corrections"].sum() == pytest.approx(1.0)


def test_many_labels_confusion_and_corrections_match_a_crosstab():
    """77 intents (Banking77's shape): label codes past 11 labels must not overflow."""
    rng = np.random.default_rng(7)
    intents = [f"intent_{i:02d}" for i in range(77)]
    human = rng.choice(intents, 4000)
    llm = np.where(rng.random(4000) < 0.75, human, rng.choice(intents, 4000))
    df = pd.DataFrame({"label": human, "llm_label": llm})
    assert (
        m.confusion(df, labels=intents).to_numpy() == confusion_matrix(human, llm, labels=intents)
    ).all()
    pats = m.correction_patterns(df)
    tab = pd.crosstab(df["llm_label"], df["label"])
    assert [tab.loc[r.llm_label, r.human_label] for r in pats.itertuples()] == pats["n"].tolist()
    assert pats["n"].sum() == int((human != llm).sum())


def test_invalid_answers_count_wrong_in_accuracy_but_not_in_label_wise_figures(gwsd):
    df = gwsd.assign(llm_valid=pd.array(np.arange(len(gwsd)) % 10 != 0, dtype="boolean"))
    df.loc[~df["llm_valid"].to_numpy(bool), "llm_label"] = None  # how the store keeps them
    valid = df["llm_valid"].to_numpy(bool)
    right = int((valid & (df["llm_label"] == df["gold_label"]).to_numpy(bool)).sum())
    acc = m.accuracy(df, human="gold_label")
    assert (acc.n, acc.value) == (len(df), right / len(df))
    assert acc.note == f"{int((~valid).sum())} invalid answer(s) counted wrong"
    rolling = m.rolling_accuracy(df, human="gold_label")
    assert rolling["cumulative"].iloc[-1] == acc.value
    assert m.pool_accuracy(df, human="gold_label").loc["naive", "value"] == acc.value
    kappa = m.cohen_kappa(df, human="gold_label", n_boot=0)
    kept = df[valid]
    assert kappa.n == len(kept)
    assert kappa.value == pytest.approx(cohen_kappa_score(kept["gold_label"], kept["llm_label"]))


# -- sessions: decision order, context, decisions --------------------------------------------------
@pytest.fixture
def recorded(db, gwsd, gwsd_task) -> Session:
    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    s = Session.open(db, data=gwsd[["id", "text"]], task=gwsd_task, annotator=rec)
    s.propose(progress=False)
    yield s
    s.close()


def test_rates_and_rolling_follow_the_decision_order(recorded, gwsd):
    gold = gwsd.set_index("id")["gold_label"]
    ids = list(gwsd["id"][:60])[::-1]  # decide in reverse pool order
    for i in ids:
        recorded.decide(i, gold[i], annotator="gold")
    recorded.skip(gwsd["id"][100], annotator="gold")
    ann = recorded.annotations
    roll = m.rolling_agreement(ann, window=10)
    assert roll["item_id"].tolist() == ids
    llm = gwsd.set_index("id")["llm_label"]
    agree = np.array([llm[i] == gold[i] for i in ids])
    assert roll["agree"].tolist() == agree.tolist()
    assert roll["cumulative"].to_numpy() == pytest.approx(np.cumsum(agree) / np.arange(1, 61))
    assert roll["rolling"].iloc[-1] == pytest.approx(agree[-10:].mean())
    assert (roll["cumulative_low"] <= roll["cumulative"]).all()
    rates = m.decision_rates(ann)
    assert rates.loc["acceptance", ["k", "n"]].tolist() == [int(agree.sum()), 60]
    assert rates.loc["correction", "k"] == 60 - agree.sum()
    assert rates.loc["skip", ["k", "n"]].tolist() == [1, 61]
    table = m.quality_table(ann, labels=recorded.task)
    assert table.loc["acceptance_rate", "value"] == pytest.approx(agree.mean())
    assert table.loc["accuracy", "n"] == 60
    # without decision_seq, decided_at gives the same order
    assert m.rolling_agreement(ann.drop(columns="decision_seq"))["item_id"].tolist() == ids


def test_pool_accuracy_corrects_a_selection_that_favours_hard_items(recorded, gwsd):
    # A "selector" that shows the least confident items first (where the LLM errs most),
    # plus one random audit item in three. True pool accuracy is known from the gold label.
    gold = gwsd.set_index("id")["gold_label"]
    truth = float((gwsd["gold_label"] == gwsd["llm_label"]).mean())
    rng = np.random.default_rng(0)
    by_conf = list(gwsd.sort_values("llm_confidence", kind="stable")["id"])
    done: set[str] = set()
    n_pool = len(gwsd)
    for step in range(180):
        open_ids = [i for i in gwsd["id"] if i not in done]
        if step % 3 == 2:
            item = open_ids[rng.integers(len(open_ids))]
            ctx = {"strategy": "audit", "audit": True, "propensity": 1 / 3 / len(open_ids)}
        else:
            item = next(i for i in by_conf if i not in done)
            ctx = {"strategy": "low_conf", "audit": False, "propensity": 2 / 3}
        recorded.decide(item, gold[item], annotator="gold", context=ctx)
        done.add(item)
    ann = recorded.annotations
    pool = m.pool_accuracy(ann)
    naive = pool.loc["naive", "value"]
    assert naive < truth - 0.05  # the hard items drag the naive figure down
    assert pool.loc["audit", "n"] == 60
    assert pool.loc["audit", "low"] <= truth <= pool.loc["audit", "high"]
    assert pool.loc["ipw", "low"] <= truth <= pool.loc["ipw", "high"]
    assert abs(pool.loc["ipw", "value"] - truth) < abs(naive - truth)
    assert pool.attrs["method"] == "ipw"
    assert pool["used"].tolist() == [False, False, True]
    table = m.quality_table(ann)
    assert table.loc["accuracy_pool", "value"] == pool.loc["ipw", "value"]
    assert table.loc["accuracy_pool", "method"] == "Hájek IPW"
    assert table.loc["accuracy", "value"] == pytest.approx(naive)
    assert n_pool == 1302


def test_hajek_estimate_by_hand():
    df = pd.DataFrame(
        {
            "label": ["a", "a", "b", "a"],
            "llm_label": ["a", "b", "b", "a"],
            "context": [
                {"propensity": 0.5},
                {"propensity": 0.1},
                {"propensity": 1.0},
                '{"propensity": 0.25, "audit": true}',  # JSON text is read too
            ],
        }
    )
    w = np.array([2.0, 10.0, 1.0, 4.0])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    pool = m.pool_accuracy(df)
    assert pool.loc["ipw", "value"] == pytest.approx((w * y).sum() / w.sum())
    assert pool.loc["audit", "n"] == 1
    assert pool.attrs["method"] == "ipw"


def test_audit_is_used_when_some_reviewed_items_lack_a_propensity():
    df = pd.DataFrame(
        {
            "label": ["a", "a", "b", "b"],
            "llm_label": ["a", "b", "b", "b"],
            "context": [{"audit": True}, None, {"audit": True, "propensity": 0.5}, None],
        }
    )
    pool = m.pool_accuracy(df)
    assert pool.attrs["method"] == "audit"
    assert pool.loc["audit", ["value", "n"]].tolist() == [1.0, 2]


def test_pool_accuracy_keeps_its_uncertainty_when_every_audit_item_is_correct(recorded, gwsd):
    # Issue 11, line 13. The selector reviews the least confident items (propensity
    # 0.9 + 0.1/open) and one slot in ten is a random audit (propensity 0.1/open, weight
    # ~13,000). With seed 1 the ten audit draws all happen to be items the LLM got right, so
    # the weighted variance collapses: the old code said 0.9997 [0.9994, 0.9999], n=100.
    from llmlabel_widget.dashboard import HEADLINE, apply, build_figure

    gold = gwsd.set_index("id")["gold_label"]
    right = dict(zip(gwsd["id"], gwsd["gold_label"] == gwsd["llm_label"], strict=True))
    truth = float(np.mean(list(right.values())))
    by_conf = list(gwsd.sort_values("llm_confidence", kind="stable")["id"])
    rng = np.random.default_rng(1)
    done: set[str] = set()
    weights, audited = [], []
    for step in range(100):
        open_ids = [i for i in gwsd["id"] if i not in done]
        audit = step % 10 == 9
        if audit:
            item = open_ids[rng.integers(len(open_ids))]
            prop = 0.1 / len(open_ids)
            audited.append(item)
        else:
            item = next(i for i in by_conf if i not in done)
            prop = 0.9 + 0.1 / len(open_ids)
        ctx = {"strategy": "audit" if audit else "margin", "audit": audit, "propensity": prop}
        recorded.decide(item, gold[item], annotator="gold", context=ctx)
        done.add(item)
        weights.append(1 / prop)
    assert all(right[i] for i in audited)  # the case of the issue: every audit item correct
    w = np.array(weights)
    kish = w.sum() ** 2 / (w**2).sum()
    audit_low, audit_high = m.wilson_interval(10, 10)
    ann = recorded.annotations
    pool = m.pool_accuracy(ann)
    ipw = pool.loc["ipw"]
    assert pool.attrs["method"] == "ipw"
    assert ipw["value"] > 0.99  # the point estimate is left alone ...
    assert ipw["low"] <= audit_low  # ... but its interval is at least the audit's Wilson
    assert ipw["high"] >= audit_high
    assert ipw["low"] <= truth <= ipw["high"]
    assert ipw["n"] == round(kish) == 10  # not the 100 items reviewed
    assert ipw["n_effective"] == pytest.approx(kish)
    table = m.quality_table(ann, n_boot=0)
    head = table.loc["accuracy_pool"]
    assert (head["low"], head["high"], head["n"]) == (ipw["low"], ipw["high"], 10)
    assert "effective sample size" in head["note"]
    assert table.loc["accuracy_ipw", "n"] == 10
    fig = build_figure()
    apply(fig, m.summarize(ann, n_boot=0))
    cells = fig.data[12].cells.values
    row = [k for k, _ in HEADLINE].index("accuracy_pool")
    _value, interval, n, *_note = cells[1][row].split(" · ")
    assert n == "n=10"
    assert float(interval.split(" to ")[0]) <= audit_low + 0.0005


def test_without_audit_or_propensities_the_table_says_naive_only(recorded, gwsd):
    for i, g in zip(gwsd["id"][:20], gwsd["gold_label"][:20], strict=True):
        recorded.decide(i, g, annotator="gold")
    table = m.quality_table(recorded.annotations)
    row = table.loc["accuracy_pool"]
    assert row["note"] == "naive only: reviewed items were not sampled at random"
    assert row["value"] == table.loc["accuracy", "value"]
    assert table.loc["accuracy_audit", "note"].startswith("not enough data")
    no_ctx = m.pool_accuracy(recorded.annotations.drop(columns=["context"]))
    assert no_ctx.attrs["note"] == "naive only: reviewed items were not sampled at random"


def test_blind_and_assisted_agreement_are_reported_separately(recorded, gwsd):
    # The simulated human labels blind items by the gold label, but on assisted items takes
    # the LLM's suggestion whenever the LLM is confident: the gap measures that sway.
    gold = gwsd.set_index("id")["gold_label"]
    rows = gwsd.set_index("id")
    for n, i in enumerate(gwsd["id"][:400]):
        blind = n % 2 == 0
        swayed = not blind and rows.loc[i, "llm_confidence"] >= 0.9
        label = rows.loc[i, "llm_label"] if swayed else gold[i]
        recorded.decide(i, label, annotator="h", context={"blind": True} if blind else None)
    ann = recorded.annotations
    bva = m.blind_vs_assisted(ann)
    assert bva.loc["blind", "n"] == 200
    assert bva.loc["assisted", "n"] == 200
    blind_ids = gwsd["id"][:400:2]
    expected = (rows.loc[blind_ids, "llm_label"] == gold[blind_ids]).mean()
    assert bva.loc["blind", "value"] == pytest.approx(expected)
    assert bva.loc["gap", "value"] == pytest.approx(
        bva.loc["assisted", "value"] - bva.loc["blind", "value"]
    )
    assert bva.loc["gap", "low"] > 0  # the sway is visible beyond chance
    table = m.quality_table(ann)
    assert table.loc["anchoring_gap", "value"] == pytest.approx(bva.loc["gap", "value"])
    assert table.loc["anchoring_gap", "interval"] == "Newcombe 95%"


def test_no_blind_items_says_how_to_get_them():
    df = pd.DataFrame({"label": ["a", "b"], "llm_label": ["a", "a"]})
    bva = m.blind_vs_assisted(df)
    assert math.isnan(bva.loc["gap", "value"])
    assert "context={'blind': True}" in bva.attrs["note"]


def test_quality_table_uses_the_given_raters_for_alpha(gwsd):
    table = m.quality_table(gwsd, human="gold_label", raters=gwsd[CROWD])
    ref = krippendorff.alpha(reliability_data=coded(gwsd[CROWD]), level_of_measurement="nominal")
    assert table.loc["krippendorff_alpha", "value"] == pytest.approx(ref)
    default = m.quality_table(gwsd, human="gold_label")
    pair = gwsd[["gold_label", "llm_label"]]
    ref = krippendorff.alpha(reliability_data=coded(pair), level_of_measurement="nominal")
    assert default.loc["krippendorff_alpha", "value"] == pytest.approx(ref)


def test_every_headline_figure_has_an_interval_and_n(gwsd):
    df = gwsd.assign(
        context=[
            {"audit": i % 4 == 0, "propensity": 0.1 if i % 4 == 0 else 0.9, "blind": i % 3 == 0}
            for i in range(len(gwsd))
        ],
        decision=np.where(gwsd["gold_label"] == gwsd["llm_label"], "accept", "correct"),
    )
    table = m.quality_table(df, human="gold_label")
    assert list(table.columns) == ["value", "low", "high", "n", "method", "interval", "note"]
    finite = table[np.isfinite(table["value"])]
    assert len(finite) == len(table)
    assert (finite["low"] <= finite["value"]).all()
    assert (finite["value"] <= finite["high"]).all()
    assert (finite["n"] > 0).all()
    assert finite["interval"].str.len().gt(0).all()


# -- multi-label ------------------------------------------------------------------------------
def test_multi_label_per_label_metrics_match_scikit_learn():
    human = [["a"], ["a", "b"], [], ["c"], ["b", "c"], ["a", "c"]]
    llm = [["a"], ["a"], ["b"], ["c"], ["b", "c"], ["c"]]
    df = pd.DataFrame({"label": human, "llm_label": llm})
    mlb = MultiLabelBinarizer(classes=["a", "b", "c"])
    y, yhat = mlb.fit_transform(human), mlb.transform(llm)
    report = classification_report(
        y, yhat, target_names=["a", "b", "c"], output_dict=True, zero_division=0
    )
    per = m.per_label(df)
    for label in "abc":
        assert per.loc[label, "f1"] == pytest.approx(report[label]["f1-score"])
        assert per.loc[label, "support"] == report[label]["support"]
    assert m.macro_f1(df).value == pytest.approx(f1_score(y, yhat, average="macro"))
    micro = m.quality_table(df).loc["micro_f1"]
    assert micro["value"] == pytest.approx(f1_score(y, yhat, average="micro"))
    assert micro["low"] <= micro["value"] <= micro["high"]
    assert m.accuracy(df).value == pytest.approx(3 / 6)  # exact set match
    table = m.quality_table(df)
    assert table.loc["cohen_kappa", "note"] == "single-label only"
    assert m.confusion(df).attrs["note"] == "single-label only"
    pats = m.correction_patterns(df)
    assert ("(none)", "b") in set(zip(pats["human_label"], pats["llm_label"], strict=True))


# -- empty and tiny cases -------------------------------------------------------------------------
TINY = {
    "no rows": ([], []),
    "one decision": (["a"], ["a"]),
    "one class": (["a"] * 5, ["a"] * 5),
    "all agree": (["a", "b", "a", "b"], ["a", "b", "a", "b"]),
    "all disagree": (["a", "b", "a", "b"], ["b", "a", "b", "a"]),
    "llm one class": (["a", "b", "a"], ["a", "a", "a"]),
}


@pytest.mark.parametrize("case", list(TINY))
def test_tiny_cases_give_defined_figures_or_say_not_enough_data(case):
    human, llm = TINY[case]
    df = pd.DataFrame(
        {
            "label": pd.Series(human, dtype=object),
            "llm_label": pd.Series(llm, dtype=object),
            "llm_confidence": np.linspace(0.5, 1.0, len(human)),
            "decision": [
                "accept" if h == x else "correct" for h, x in zip(human, llm, strict=True)
            ],
        }
    )
    summary = m.summarize(df, labels=["a", "b"])
    table = summary.table
    assert len(table) == 13
    undefined = table[~np.isfinite(table["value"])]
    assert undefined["note"].str.contains("not enough data").all(), undefined
    defined = table[np.isfinite(table["value"])]
    assert defined[["low", "high"]].notna().all().all()
    assert summary.confusion.shape == (2, 2)
    assert summary.per_label.index.tolist() == ["a", "b"]
    assert len(summary.rolling) == len(human)
    assert summary.reliability["n"].sum() == len(human)
    if case == "all agree":
        assert table.loc["accuracy", "value"] == 1.0
        assert table.loc["cohen_kappa", "value"] == 1.0
        assert summary.corrections.empty
    if case == "all disagree":
        assert table.loc["accuracy", "value"] == 0.0
        assert table.loc["accuracy", "high"] > 0  # Wilson never claims certainty
        assert table.loc["cohen_kappa", "value"] == -1.0
    if case == "one class":
        assert "undefined" in table.loc["cohen_kappa", "note"]
        assert "undefined" in table.loc["krippendorff_alpha", "note"]


def test_a_fresh_session_has_a_table_with_no_decisions(recorded):
    table = m.quality_table(recorded.annotations, labels=recorded.task)
    assert (table["n"] == 0).all()
    assert table["note"].str.contains("not enough data|naive only").all()


def test_alpha_with_no_pairable_unit_says_so():
    alpha = m.krippendorff_alpha(pd.DataFrame({"r1": ["a", None], "r2": [None, "b"]}))
    assert math.isnan(alpha.value)
    assert alpha.note.startswith("not enough data")


def test_bad_arguments_are_named():
    df = pd.DataFrame({"label": ["a"], "llm_label": ["a"]})
    with pytest.raises(KeyError, match="gold"):
        m.accuracy(df, human="gold")
    with pytest.raises(ValueError, match="increasing"):
        m.reliability(df, bins=[0.5, 0.2])
    with pytest.raises(ValueError, match="level"):
        m.accuracy(df, level=95)


def test_multi_label_on_real_data_matches_scikit_learn():
    # t2i_prompt_modifiers_gpt4_cot: human and GPT-4 label sets, "|"-separated (empty = none).
    df = datasets.load("t2i_prompt_modifiers_gpt4_cot")
    frame = pd.DataFrame(
        {
            side: df[col].map(lambda v: v.split("|") if isinstance(v, str) else [])
            for side, col in (("label", "gold_labels"), ("llm_label", "llm_labels"))
        }
    )
    per = m.per_label(frame)
    mlb = MultiLabelBinarizer(classes=list(per.index))
    y, yhat = mlb.fit_transform(frame["label"]), mlb.transform(frame["llm_label"])
    report = classification_report(
        y, yhat, target_names=list(per.index), output_dict=True, zero_division=0
    )
    for label, row in per.iterrows():
        ref = report[label]
        assert row["support"] == ref["support"]
        assert row["f1"] == pytest.approx(ref["f1-score"])  # every label occurs somewhere
        if row["support"]:
            assert row["recall"] == pytest.approx(ref["recall"])
        if row["predicted"]:
            assert row["precision"] == pytest.approx(ref["precision"])
    table = m.quality_table(frame)
    assert table.loc["micro_f1", "value"] == pytest.approx(report["micro avg"]["f1-score"])
    assert table.loc["accuracy", "value"] == pytest.approx((y == yhat).all(axis=1).mean())
    assert table.loc["accuracy", "n"] == len(df)
