"""Queue filters, headless and through the Labeler: real SQLite, the shipped GWSD data."""

from __future__ import annotations

import pandas as pd
import pytest

from llmlabel_widget import QueueFilter, Selector, Session

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both


def proposals(df: pd.DataFrame, invalid: set[str] = frozenset()) -> list[dict]:
    return [
        {
            "item_id": r.id,
            "labels": [] if r.id in invalid else [r.llm_label],
            "valid": r.id not in invalid,
            "confidence": None if r.id in invalid else r.llm_confidence,
            "confidence_method": "recorded",
            "source": "recorded",
            "raw": "not json" if r.id in invalid else None,
        }
        for r in df.itertuples()
    ]


@pytest.fixture
def pool(db, gwsd, gwsd_task):
    df = gwsd.head(200)
    s = Session.open(
        db, data=df, task=gwsd_task, selector=Selector(strategy="in_order", explore=0.0)
    )
    s.add_proposals(proposals(df, invalid={df.id.iloc[5], df.id.iloc[7]}))
    yield s, df
    s.close()


def test_filters_by_llm_label_confidence_state_and_text(pool):
    s, df = pool
    agree = df[df.llm_label == "agree"]
    got = [q.item_id for q in s.queue(500, filters={"labels": ["agree"]})]
    assert got == [i for i in agree.id if i not in (df.id.iloc[5], df.id.iloc[7])]

    low = df[(df.llm_confidence >= 0.2) & (df.llm_confidence <= 0.6)]
    got = [q.item_id for q in s.queue(500, filters=QueueFilter(confidence=(0.2, 0.6)))]
    assert set(got) == set(low.id) - {df.id.iloc[5], df.id.iloc[7]}
    assert got

    assert [q.item_id for q in s.queue(10, filters={"states": ["invalid"]})] == [
        df.id.iloc[5],
        df.id.iloc[7],
    ]
    word = "ice"
    has = [i for i, t in zip(df.id, df.text, strict=True) if word in t.lower()]
    assert has
    got = [q.item_id for q in s.queue(500, filters={"text": "ICE"})]
    assert got == has


def test_state_filters_reach_decided_and_skipped_items(pool):
    s, df = pool
    first, second, third = df.id.iloc[0], df.id.iloc[1], df.id.iloc[2]
    s.decide(first, "agree", annotator="alice")
    s.skip(second, annotator="alice")
    assert first not in [q.item_id for q in s.queue(300)]  # the plain queue has no decided
    assert [q.item_id for q in s.queue(5, filters={"states": ["decided"]})] == [first]
    assert [q.item_id for q in s.queue(5, filters={"states": ["skipped"]})] == [second]
    both = s.queue(5, filters={"states": ["decided", "skipped"]})
    assert {q.item_id for q in both} == {first, second}
    undecided = [q.item_id for q in s.queue(3, filters={"states": ["undecided"]})]
    assert undecided == [third, df.id.iloc[3], df.id.iloc[4]]  # in the selector's order


def test_filtered_picks_are_recorded_as_chosen_not_audit(db, gwsd, gwsd_task):
    df = gwsd.head(200)
    s = Session.open(db, data=df, task=gwsd_task, selector=Selector(explore=1.0))
    s.add_proposals(proposals(df))
    assert any(q.audit for q in s.queue(20))  # unfiltered: audit picks
    picks = s.queue(20, filters={"labels": ["agree"]})
    assert picks
    for q in picks:
        ctx = q.context()
        assert ctx["audit"] is False
        assert ctx["propensity"] is None
        assert ctx["filtered"] == {"labels": ["agree"]}
        assert "random audit" not in q.reason
        assert q.reason.startswith("filtered (LLM label: agree)")
    s.decide(picks[0].item_id, "agree", annotator="bob", context=picks[0].context())
    row = s.annotations.set_index("item_id").loc[picks[0].item_id]
    assert row["context"]["filtered"] == {"labels": ["agree"]}
    assert row["context"]["audit"] is False
    s.close()


@pytest.mark.parametrize(
    ("filters", "error", "words"),
    [
        ({"states": ["done"]}, ValueError, "unknown state"),
        ({"states": "skipped"}, TypeError, "list of strings"),
        ({"confidence": (0.8, 0.2)}, ValueError, "low <= high"),
        ({"confidence": (0, 2)}, ValueError, "low <= high"),
        ({"confidence": 0.5}, TypeError, "(low, high) pair"),
        ({"colour": "red"}, TypeError, "unknown filter field"),
        ({"text": 3}, TypeError, "text must be a string"),
        ("agree", TypeError, "QueueFilter or a dict"),
        ({"labels": ["maybe"]}, ValueError, "unknown label"),
    ],
)
def test_bad_filters_name_the_problem(pool, filters, error, words):
    s, _ = pool
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        s.queue(5, filters=filters)


def test_an_empty_filter_is_the_plain_queue(pool):
    s, _ = pool
    plain = s.queue(5)
    assert s.queue(5, filters={}) == plain
    assert s.queue(5, filters=QueueFilter(text="   ")) == plain


# -- through the Labeler ----------------------------------------------------------------------
def send(w, kind: str, **extra) -> None:
    msg = {"kind": kind, "revision": w.revision, **extra}
    if kind not in ("undo", "filter") and "item_id" not in extra:
        msg["item_id"] = w.current["item_id"]
    w._handle_custom_msg(msg, [])


def test_labeler_filter_intent_restricts_the_queue_and_records_it(pool):
    from llmlabel_widget.widget import Labeler

    s, df = pool
    w = Labeler(s, annotator="alice")
    send(w, "filter", filters={"labels": ["agree"], "confidence": [0.0, 0.7]})
    want = df[(df.llm_label == "agree") & (df.llm_confidence <= 0.7)].id.tolist()
    shown = [w.current["item_id"]] + [q["item_id"] for q in w.queue_preview]
    assert shown == want[: len(shown)]
    assert w.queue_filter["chips"] == [
        {"field": "labels", "text": "LLM label: agree"},
        {"field": "confidence", "text": "confidence 0.00 to 0.70"},
    ]
    assert w.queue_filter["fields"] == {"labels": ["agree"], "confidence": [0.0, 0.7]}
    picked = w.current["item_id"]
    send(w, "decide", label="neutral_or_disagree")
    ctx = s.annotations.set_index("item_id").loc[picked, "context"]
    assert ctx["filtered"] == {"labels": ["agree"], "confidence": [0.0, 0.7]}
    assert ctx["audit"] is False
    send(w, "filter", filters={})  # removing the last chip: the plain queue again
    assert w.queue_filter["chips"] == []
    assert w.current["item_id"] == s.queue(1)[0].item_id


def test_labeler_reports_a_bad_filter_and_keeps_working(pool):
    from llmlabel_widget.widget import Labeler

    s, _ = pool
    w = Labeler(s, annotator="alice")
    before = w.current["item_id"]
    send(w, "filter", filters={"states": ["finished"]})
    assert "unknown state" in w.error
    assert w.current["item_id"] == before


def test_a_filter_matching_nothing_is_not_done(pool):
    from llmlabel_widget.widget import Labeler

    s, _ = pool
    w = Labeler(s, annotator="alice")
    send(w, "filter", filters={"text": "no sentence says this zzqx"})
    assert w.current is None
    assert w.queue_filter["chips"][0]["text"] == "text contains “no sentence says this zzqx”"
