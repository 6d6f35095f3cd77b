"""Headless Session on a real SQLite store, driven with the shipped GWSD data."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from llmlabel_widget import LabelTask, Session, StoreError
from llmlabel_widget.store import SCHEMA_VERSION

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both


def event_rows(path):
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT item_id, annotator, kind, labels, undoes FROM events"
        ).fetchall()


def test_open_adds_items_and_keeps_metadata(session, gwsd):
    ann = session.annotations
    assert len(ann) == 200
    assert list(ann["item_id"]) == list(gwsd["id"].head(200))
    assert set(ann["state"]) == {"pending"}
    # extra columns of the DataFrame come back as metadata
    row = ann.set_index("item_id").loc["gwsd-1_0_t1"]
    assert row["gold_label_3class"] == "neutral"
    assert row["annotator_1"] == "neutral"


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_decide_is_durable_when_it_returns(session, db, gwsd):
    item = gwsd["id"].iloc[3]
    session.decide(item, label="agree", annotator="alice")
    # a second, independent connection sees it at once: it was committed
    assert event_rows(db) == [(item, "alice", "label", '["agree"]', None)]


def test_accept_correct_skip_note_and_provenance(session):
    ids = session.next_items(4)
    session.add_proposals(
        [
            {
                "item_id": ids[0],
                "labels": ["agree"],
                "valid": True,
                "source": "recorded",
                "model": "gpt-4o",
                "confidence": 0.9,
                "confidence_method": "verbalised",
                "rationale": "says it is urgent",
                "prompt_version": "v1",
            },
            {
                "item_id": ids[1],
                "labels": ["agree"],
                "valid": True,
                "source": "recorded",
                "model": "gpt-4o",
                "confidence": 0.6,
                "prompt_version": "v1",
            },
        ]
    )
    assert session.accept(ids[0], annotator="alice").kind == "accept"
    assert session.decide(ids[1], "neutral_or_disagree", annotator="alice").kind == "correct"
    assert session.skip(ids[2], annotator="alice").kind == "skip"
    session.note(ids[3], "sarcastic?", annotator="bob")
    ann = session.annotations.set_index("item_id")
    a0 = ann.loc[ids[0]]
    assert (a0["state"], a0["label"], a0["decision"], a0["annotator"]) == (
        "decided",
        "agree",
        "accept",
        "alice",
    )
    assert (a0["llm_label"], a0["llm_model"], a0["prompt_version"]) == (
        "agree",
        "gpt-4o",
        "v1",
    )
    assert isinstance(a0["decided_at"], pd.Timestamp)
    a1 = ann.loc[ids[1]]
    assert (a1["label"], a1["decision"], a1["llm_label"]) == (
        "neutral_or_disagree",
        "correct",
        "agree",
    )
    assert ann.loc[ids[2], "state"] == "skipped"
    assert ann.loc[ids[3], "note"] == "sarcastic?"
    assert ann.loc[ids[3], "state"] == "pending"
    # listing by state
    assert set(session.items("decided")["item_id"]) == {ids[0], ids[1]}
    assert list(session.items("skipped")["item_id"]) == [ids[2]]
    assert session.progress() == {
        "pending": 197,
        "proposed": 0,
        "invalid": 0,
        "skipped": 1,
        "decided": 2,
        "total": 200,
    }
    # skipped items go to the back of the queue
    assert ids[2] not in session.next_items(5)


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_undo_is_unlimited_per_annotator_and_appends(session, db):
    ids = session.next_items(5)
    for i in ids[:3]:
        session.decide(i, "agree", annotator="alice")
    session.decide(ids[3], "agree", annotator="bob")
    session.decide(ids[0], "neutral_or_disagree", annotator="alice")  # re-label
    assert session.undo(annotator="alice")["item_id"] == ids[0]
    ann = session.annotations.set_index("item_id")
    assert ann.loc[ids[0], "label"] == "agree"  # the earlier decision shows again
    assert session.undo(annotator="alice")["item_id"] == ids[2]
    assert session.undo(annotator="alice")["item_id"] == ids[1]
    assert session.undo(annotator="alice")["item_id"] == ids[0]
    assert session.undo(annotator="alice") is None  # nothing left for alice
    ann = session.annotations.set_index("item_id")
    assert ann.loc[ids[3], "label"] == "agree"  # bob untouched
    assert set(session.items("decided")["item_id"]) == {ids[3]}
    rows = event_rows(db)
    assert len(rows) == 9  # 5 decisions + 4 undo events: nothing overwritten or deleted
    assert [r[2] for r in rows].count("undo") == 4


def test_reopen_resumes_and_adds_only_new_rows(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd.head(50), task=gwsd_task)
    first = s.next_items(3)
    s.decide(first[0], "agree", annotator="alice")
    s.close()
    s = Session.open(db, data=gwsd.head(80), task=gwsd_task)  # same cell re-run, more rows
    assert (s.last_add.added, s.last_add.unchanged, s.last_add.changed) == (30, 50, ())
    assert s.next_items(1) == [first[1]]
    assert s.annotations.set_index("item_id").loc[first[0], "label"] == "agree"
    s.close()
    s = Session.open(db)  # no data, no task: resumes from the store alone
    assert s.task == gwsd_task
    assert s.progress()["total"] == 80
    s.close()


def test_changed_text_under_same_id_is_an_error_and_adds_nothing(db, gwsd, gwsd_task):
    Session.open(db, data=gwsd.head(10), task=gwsd_task).close()
    edited = gwsd.head(12).copy()
    edited.loc[2, "text"] = "something else entirely"
    with pytest.raises(
        ValueError, match=r"1 item\(s\) changed text.*gwsd-1_0_t11.*Nothing was added"
    ):
        Session.open(db, data=edited, task=gwsd_task)
    s = Session.open(db)
    assert s.progress()["total"] == 10
    s.add(edited, on_changed="keep")
    assert s.progress()["total"] == 12
    assert (
        s.annotations.set_index("item_id").loc["gwsd-1_0_t11", "text"] != "something else entirely"
    )


def _snapshot(path):
    with sqlite3.connect(path) as conn:
        return [conn.execute(f"SELECT * FROM {t}").fetchall() for t in ("items", "events", "meta")]


@pytest.mark.parametrize(
    ("mutate", "kwargs", "error", "message"),
    [
        (lambda df: df.iloc[0:0], {}, ValueError, "empty"),
        (
            lambda df: df.drop(columns=["text"]),
            {},
            ValueError,
            "text column 'text' not found",
        ),
        (
            lambda df: df,
            {"text": "review"},
            ValueError,
            "text column 'review' not found",
        ),
        (
            lambda df: df.drop(columns=["id"]),
            {},
            ValueError,
            "id column 'id' not found",
        ),
        (
            lambda df: df.assign(text=[None, *df["text"][1:]]),
            {},
            ValueError,
            "not strings",
        ),
        (
            lambda df: df.assign(text=[np.nan, *df["text"][1:]]),
            {},
            ValueError,
            "not strings",
        ),
        (
            lambda df: df.assign(text=[7, *df["text"][1:]]),
            {},
            ValueError,
            "not strings",
        ),
        (
            lambda df: df.assign(id=["x"] * len(df)),
            {},
            ValueError,
            "duplicate ids.*'x'",
        ),
        (
            lambda df: df.assign(id=[None, *df["id"][1:]]),
            {},
            ValueError,
            "missing values",
        ),
        (lambda df: df["text"], {}, TypeError, "must be a pandas DataFrame"),
    ],
)
@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_bad_frames_raise_and_leave_store_unchanged(
    db, gwsd, gwsd_task, mutate, kwargs, error, message
):
    s = Session.open(db, data=gwsd.head(5), task=gwsd_task)
    s.decide(gwsd["id"][0], "agree", annotator="alice")
    s.close()
    before = _snapshot(db)
    with pytest.raises(error, match=message):
        Session.open(
            db,
            data=mutate(gwsd.iloc[5:15].reset_index(drop=True)),
            task=gwsd_task,
            **kwargs,
        )
    assert _snapshot(db) == before


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_bad_decisions_raise_and_store_nothing(session, db):
    item = session.next_items(1)[0]
    with pytest.raises(ValueError, match="unknown label 'maybe'"):
        session.decide(item, "maybe")
    with pytest.raises(KeyError, match="unknown item id 'no-such-item'"):
        session.decide("no-such-item", "agree")
    with pytest.raises(ValueError, match="single-label"):
        session.decide(item, ["agree", "neutral_or_disagree"])
    with pytest.raises(ValueError, match="no valid LLM proposal"):
        session.accept(item)
    with pytest.raises(ValueError, match="needs a label"):
        session.decide(item)
    assert event_rows(db) == []


def test_not_our_store_and_newer_schema_are_refused(tmp_path, gwsd_task):
    text_file = tmp_path / "notes.db"
    text_file.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match="not an llmlabel-widget store"):
        Session.open(text_file, task=gwsd_task)
    assert text_file.read_text().startswith("this is not a database")  # untouched

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not an llmlabel-widget store"):
        Session.open(other, task=gwsd_task)

    newer = tmp_path / "newer.db"
    Session.open(newer, task=gwsd_task).close()
    with sqlite3.connect(newer) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION + 1),),
        )
    with pytest.raises(StoreError, match="newer than this llmlabel-widget understands"):
        Session.open(newer)


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_store_is_wal_and_records_schema_version(session, db):
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert dict(json.loads(meta["task"])["labels"])["agree"].startswith("the sentence agrees")


def test_task_may_grow_but_not_lose_labels(db, gwsd, gwsd_task):
    Session.open(db, data=gwsd.head(3), task=gwsd_task).close()
    grown = LabelTask(labels=[*gwsd_task.names, "unclear"], instructions="new wording")
    assert Session.open(db, task=grown).task.names[-1] == "unclear"
    with pytest.raises(ValueError, match=r"drops \['neutral_or_disagree', 'unclear'\]"):
        Session.open(db, task=LabelTask(labels=["agree"]))


def test_new_store_needs_a_task(db, gwsd):
    with pytest.raises(ValueError, match="new store: pass task="):
        Session.open(db, data=gwsd.head(3))


@pytest.mark.parametrize("ext", ["jsonl", "csv", "parquet"])
def test_export_round_trips(session, tmp_path, ext):
    ids = session.next_items(3)
    session.decide(ids[0], "agree", annotator="alice")
    session.decide(ids[1], "neutral_or_disagree", annotator="bob")
    out = session.export(tmp_path / f"labels.{ext}")
    back = {
        "jsonl": lambda p: pd.read_json(p, lines=True),
        "csv": pd.read_csv,
        "parquet": pd.read_parquet,
    }[ext](out)
    assert len(back) == 200
    got = back.set_index("item_id").loc[ids[:2], ["label", "annotator"]]
    assert got.to_dict("records") == [
        {"label": "agree", "annotator": "alice"},
        {"label": "neutral_or_disagree", "annotator": "bob"},
    ]


def test_export_rejects_unknown_format(session, tmp_path):
    with pytest.raises(ValueError, match=r"unsupported export format '\.xlsx'"):
        session.export(tmp_path / "x.xlsx")


def test_multi_label_session_on_real_t2i_data(db):
    from llmlabel_widget import datasets

    df = datasets.load("t2i_prompt_modifiers_gpt4_cot").head(20)
    labels = sorted({lab for v in df["gold_labels"].dropna() for lab in v.split("|")})
    task = LabelTask(labels=labels, multi_label=True)
    s = Session.open(db, data=df, task=task)
    first = df["id"][0]
    s.decide(first, df["gold_labels"][0].split("|"), annotator="alice")
    got = s.annotations.set_index("item_id").loc[first, "label"]
    assert sorted(got) == sorted(df["gold_labels"][0].split("|"))
    s.close()


def test_integer_ids_and_index_ids(db, gwsd_task):
    df = pd.DataFrame({"text": ["a", "b", "c"]}, index=[10, 20, 30])
    s = Session.open(db, data=df, id=None, task=gwsd_task)
    s.decide(20, "agree")  # ints work; ids are stored as strings
    assert s.annotations.set_index("item_id").loc["20", "label"] == "agree"


def test_agreement_counts_accepts_among_reviewed_proposals(session):
    ids = session.next_items(4)
    session.add_proposals(
        [{"item_id": i, "labels": ["agree"], "valid": True, "source": "recorded"} for i in ids]
    )
    assert session.agreement() == {"rate": None, "low": None, "high": None, "n": 0}
    session.decide(ids[0], "agree", annotator="a")
    session.decide(ids[1], "agree", annotator="a")
    session.decide(ids[2], "neutral_or_disagree", annotator="a")
    session.skip(ids[3], annotator="a")
    got = session.agreement()
    assert got["n"] == 3
    assert got["rate"] == pytest.approx(2 / 3)
    # Wilson 95% interval for 2/3 (statsmodels proportion_confint(2, 3, method="wilson"))
    assert got["low"] == pytest.approx(0.2077, abs=1e-4)
    assert got["high"] == pytest.approx(0.9385, abs=1e-4)


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_view_state_write_skips_fsync_but_decisions_stay_fully_synced(session):
    store = session.store
    store.set_meta("labeler:me:current", "x", durable=False)
    assert store.get_meta("labeler:me:current") == "x"
    # the relaxed setting applied to that one write only: decisions still fsync on commit
    assert store.query("PRAGMA synchronous") == [(2,)]  # 2 = FULL


def test_count_items_follows_additions(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd[["id", "text"]].head(50), task=gwsd_task)
    assert s.store.count_items() == 50
    s.add(gwsd[["id", "text"]].head(80))  # 30 new, 50 known
    assert s.store.count_items() == 80
    assert s.store.count_items() == s.store.query("SELECT COUNT(*) FROM items")[0][0]
