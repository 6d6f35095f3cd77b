"""Labeler without a browser: intents go in through the message handler, traits and store
rows come out. Runs on the shipped GWSD and text-to-image data sets."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from llmlabel_widget import LabelTask, OpenAIAnnotator, Session, datasets
from llmlabel_widget.widget import QUEUE_PREVIEW, Labeler


def recorded_proposals(df: pd.DataFrame) -> list[dict]:
    """GPT-4o's recorded GWSD labels as proposals."""
    return [
        {
            "item_id": r.id,
            "labels": [r.llm_label],
            "valid": True,
            "rationale": None,
            "confidence": r.llm_confidence,
            "confidence_method": "recorded",
            "source": "recorded",
            "model": "gpt-4o (2024)",
        }
        for r in df.itertuples()
    ]


@pytest.fixture(autouse=True)
def pool_order(monkeypatch):
    """These tests are about the view's mechanics, so review in pool order (no learner).

    The selector's own ordering is tested in test_selector.py, and with the view in
    test_labeler_shows_the_selectors_queue_and_records_why below.
    """
    import functools

    import llmlabel_widget.session as session_module
    from llmlabel_widget.selector import Selector

    monkeypatch.setattr(
        session_module, "Selector", functools.partial(Selector, strategy="in_order", explore=0.0)
    )


@pytest.fixture
def proposed(session: Session, gwsd: pd.DataFrame) -> Session:
    session.add_proposals(recorded_proposals(gwsd.head(200)))
    return session


def events(path: Path) -> list[tuple]:
    """Every row of the event log: (item_id, annotator, kind, labels, note, undoes)."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT item_id, annotator, kind, labels, note, undoes FROM events ORDER BY seq"
        ).fetchall()


def send(w: Labeler, kind: str, **extra) -> None:
    """Send an intent the way the view does (through ipywidgets' custom-message dispatch)."""
    msg = {"kind": kind, "revision": w.revision, **extra}
    if kind != "undo" and "item_id" not in extra:
        msg["item_id"] = w.current["item_id"]
    w._handle_custom_msg(msg, [])


# -- what the view is given -------------------------------------------------------------------
def test_initial_state_shows_first_item_proposal_queue_and_progress(proposed, gwsd):
    w = Labeler(proposed, annotator="alice")
    first = gwsd.iloc[0]
    assert w.current["item_id"] == first.id
    assert w.current["text"] == first.text
    assert w.current["reason"] == "next in pool"
    p = w.current["proposal"]
    assert p["labels"] == [first.llm_label]
    assert p["valid"] is True
    assert p["confidence"] == pytest.approx(first.llm_confidence)
    assert p["source"] == "recorded"
    assert w.labels == [
        {"name": "agree", "description": proposed.task.descriptions["agree"], "key": "1"},
        {
            "name": "neutral_or_disagree",
            "description": proposed.task.descriptions["neutral_or_disagree"],
            "key": "2",
        },
    ]
    assert [q["item_id"] for q in w.queue_preview] == list(gwsd.id[1 : 1 + QUEUE_PREVIEW])
    assert {q["reason"] for q in w.queue_preview} == {"next in pool"}
    assert all(len(q["preview"]) <= 80 for q in w.queue_preview)
    assert w.progress["done"] == 0
    assert w.progress["total"] == 200
    assert w.progress["agreement"]["rate"] is None
    assert w.progress["store"] == "test.labels.db"
    assert w.shortcuts["accept"] == ["Enter", "a"]
    assert w.done is False
    assert w.error == ""


def test_metadata_columns_are_chosen_and_rendered_as_strings(db, gwsd_task, gwsd):
    data = gwsd.head(5)[["id", "text", "gold_label", "mean_rating"]]
    s = Session.open(db, data=data, task=gwsd_task)
    assert Labeler(s).current["meta"] == {}  # default: nothing that could bias the reviewer
    w = Labeler(s, metadata_columns=["mean_rating", "not_a_column"])
    assert w.current["meta"] == {"mean_rating": str(data.iloc[0].mean_rating)}
    with pytest.raises(TypeError):
        Labeler(s, metadata_columns="mean_rating")


def test_unknown_keyword_and_non_session_raise_type_error(proposed):
    with pytest.raises(TypeError):
        Labeler(proposed, annotater="typo")
    with pytest.raises(TypeError):
        Labeler("quickstart.labels.db")


# -- intents ------------------------------------------------------------------------------------
def test_accept_records_through_session_and_advances(proposed, db, gwsd):
    w = Labeler(proposed, annotator="alice")
    seen = []
    w.on_decision(seen.append)
    first, second = gwsd.id[0], gwsd.id[1]
    rev = w.revision
    send(w, "accept")
    assert events(db) == [(first, "alice", "accept", json.dumps([gwsd.llm_label[0]]), None, None)]
    assert w.current["item_id"] == second
    assert w.revision == rev + 1
    assert w.progress["done"] == 1
    assert w.progress["agreement"]["rate"] == 1.0
    assert [(d.item_id, d.kind) for d in seen] == [(first, "accept")]
    with sqlite3.connect(db) as conn:
        (context,) = conn.execute("SELECT context FROM events").fetchone()
    assert json.loads(context) == {
        "via": "labeler",
        "reason": "next in pool",
        "strategy": "in_order",
        "audit": False,
        "propensity": 1.0,
    }


def test_decide_records_correct_accept_or_label(proposed, db, gwsd, gwsd_task):
    w = Labeler(proposed, annotator="alice")
    other = {"agree": "neutral_or_disagree", "neutral_or_disagree": "agree"}
    send(w, "decide", labels=[other[gwsd.llm_label[0]]])
    send(w, "decide", label=gwsd.llm_label[1])
    kinds = [e[2] for e in events(db)]
    assert kinds == ["correct", "accept"]
    assert w.progress["agreement"]["rate"] == 0.5

    # No proposal at all: a plain label.
    s2 = Session.open(
        db.with_name("blind.labels.db"), data=gwsd.head(3)[["id", "text"]], task=gwsd_task
    )
    w2 = Labeler(s2, annotator="bob")
    assert w2.current["proposal"] is None
    send(w2, "decide", labels=["agree"])
    assert [e[2] for e in events(db.with_name("blind.labels.db"))] == ["label"]


def test_stale_item_stale_revision_and_duplicates_are_dropped(proposed, db, gwsd):
    w = Labeler(proposed, annotator="alice")
    first = w.current["item_id"]
    rev = w.revision
    msg = {"kind": "accept", "item_id": first, "revision": rev}
    w._handle_custom_msg(dict(msg), [])
    w._handle_custom_msg(dict(msg), [])  # a double click / repeated message
    assert len(events(db)) == 1
    assert w.revision == rev + 1

    # Right revision, but an item that is no longer current.
    w._handle_custom_msg({"kind": "accept", "item_id": first, "revision": w.revision}, [])
    # Current item, but the revision of a state already replaced.
    w._handle_custom_msg({"kind": "skip", "item_id": w.current["item_id"], "revision": rev}, [])
    # Undo needs the current revision too.
    w._handle_custom_msg({"kind": "undo", "revision": rev}, [])
    assert len(events(db)) == 1
    assert w.revision == rev + 1
    assert w._dropped == 4
    assert w.error == ""


@pytest.mark.parametrize(
    "content",
    [
        "accept",
        None,
        {"kind": "explode", "revision": 0},
        {"kind": "accept"},
        {"kind": "accept", "item_id": None, "revision": "0"},
        {"kind": "skip", "item_id": "gwsd-1_0_t1", "revision": False},  # False == 0, not an int
    ],
)
def test_malformed_intents_are_ignored(proposed, db, content):
    w = Labeler(proposed)
    w._handle_custom_msg(content, [])
    assert events(db) == []
    assert w.revision == 0
    assert w._dropped == 1


def test_errors_are_logged_and_shown_and_unlock_the_view(proposed, db, caplog):
    w = Labeler(proposed)
    rev = w.revision
    with caplog.at_level(logging.ERROR, logger="llmlabel_widget.widget"):
        send(w, "decide", labels=["not-a-label"])
    assert events(db) == []
    assert "unknown label 'not-a-label'" in w.error
    assert "safe" in w.error
    assert w.revision == rev + 1
    assert any("could not handle" in r.getMessage() for r in caplog.records)
    send(w, "decide", labels="agree")  # the next valid intent clears the error
    assert w.error == ""
    assert len(events(db)) == 1


def test_accept_without_valid_proposal_is_an_error_not_a_decision(session, db, gwsd):
    session.add_proposals(
        [
            {
                "item_id": gwsd.id[0],
                "labels": [],
                "valid": False,
                "raw": "<b>probably agree</b>",
                "problem": "answer is not in the label set",
                "source": "openai",
                "model": "gpt-4o-mini",
            }
        ]
    )
    w = Labeler(session)
    p = w.current["proposal"]
    assert p["valid"] is False
    assert p["raw"] == "<b>probably agree</b>"
    assert p["problem"] == "answer is not in the label set"
    send(w, "accept")
    assert events(db) == []
    assert "no valid LLM proposal" in w.error


def test_skip_moves_item_to_the_back_and_says_why(proposed, db, gwsd):
    w = Labeler(proposed)
    first = w.current["item_id"]
    send(w, "skip")
    assert events(db)[0][2] == "skip"
    assert w.current["item_id"] == gwsd.id[1]
    assert w.progress["skipped"] == 1
    # Decide everything else but the skipped one: it comes back, marked as skipped.
    for _ in range(199):
        send(w, "accept")
    assert w.current["item_id"] == first
    assert w.current["reason"] == "skipped earlier"
    send(w, "accept")
    assert w.done is True
    assert w.current is None
    assert w.queue_preview == []
    assert w.progress["done"] == 200


def test_note_stays_on_the_item(proposed, db):
    w = Labeler(proposed, annotator="alice")
    item = w.current["item_id"]
    seen = []
    w.on_decision(seen.append)
    send(w, "note", text="quotes a sceptic")
    assert events(db) == [(item, "alice", "note", None, "quotes a sceptic", None)]
    assert w.current["item_id"] == item
    assert w.notice == f"Note saved on #{item}."
    assert [d.kind for d in seen] == ["note"]
    send(w, "note", text="   ")
    assert "needs some text" in w.error
    assert len(events(db)) == 1


def test_undo_is_unlimited_and_shows_the_undone_item(proposed, db, gwsd):
    w = Labeler(proposed, annotator="alice")
    for _ in range(4):
        send(w, "accept")
    assert w.current["item_id"] == gwsd.id[4]
    for back in (3, 2, 1):
        send(w, "undo")
        assert w.current["item_id"] == gwsd.id[back]
        assert w.current["reason"] == "back after undo (accept)"
        assert w.notice == f"Undid accept on #{gwsd.id[back]}."
    assert w.progress["done"] == 1
    live = Session.open(db).annotations
    assert list(live[live.state == "decided"].item_id) == [gwsd.id[0]]
    # The undone item is then decided again, and the view moves on.
    send(w, "decide", labels=["agree"])
    assert w.current["item_id"] == gwsd.id[2]
    send(w, "undo")
    send(w, "undo")
    send(w, "undo")
    assert w.current["item_id"] == gwsd.id[0]
    send(w, "undo")
    assert w.notice == "Nothing to undo."
    assert w.current["item_id"] == gwsd.id[0]


def test_undo_is_per_annotator(proposed, db, gwsd):
    alice = Labeler(proposed, annotator="alice")
    send(alice, "accept")
    proposed.decide(gwsd.id[1], "agree", annotator="bob")
    send(alice, "undo")
    assert [e[1:3] for e in events(db)] == [
        ("alice", "accept"),
        ("bob", "correct" if gwsd.llm_label[1] != "agree" else "accept"),
        ("alice", "undo"),
    ]
    assert alice.current["item_id"] == gwsd.id[0]


def test_labeler_undo_never_cancels_a_scripted_decision_under_the_same_name(proposed, db, gwsd):
    """Scripted and human work stay apart: z in the view undoes only what was done there."""
    w = Labeler(proposed)  # the reviewer is session.user
    who = proposed.user
    send(w, "accept")
    first = gwsd.id[0]
    # A script (a notebook cell) decides, skips and notes under the very same name.
    proposed.decide(gwsd.id[5], "agree", annotator=who)
    proposed.skip(gwsd.id[6], annotator=who)
    proposed.note(gwsd.id[7], "scripted", annotator=who)
    send(w, "undo")
    assert w.notice == f"Undid accept on #{first}."
    assert w.current["item_id"] == first
    send(w, "undo")
    assert w.notice == "Nothing to undo."
    rows = events(db)
    undone = {rows[r[5] - 1][0] for r in rows if r[2] == "undo"}
    assert undone == {first}  # the scripted events are all still live
    # A script's own undo still reaches its own events.
    assert proposed.undo(annotator=who)["item_id"] == gwsd.id[7]


def test_labeler_undo_reaches_notes_made_in_the_view_and_earlier_views(proposed, db, gwsd):
    w = Labeler(proposed, annotator="alice")
    send(w, "accept")
    send(w, "note", text="a note typed in the view")
    proposed.decide(gwsd.id[9], "agree", annotator="alice")  # scripted, same name
    # A new Labeler (a re-run cell, a restarted kernel) undoes the earlier view's work.
    again = Labeler(proposed, annotator="alice")
    send(again, "undo")
    assert again.notice == f"Undid note on #{gwsd.id[1]}."
    send(again, "undo")
    assert again.notice == f"Undid accept on #{gwsd.id[0]}."
    send(again, "undo")
    assert again.notice == "Nothing to undo."
    live = proposed.annotations
    assert list(live[live.state == "decided"].item_id) == [gwsd.id[9]]


def test_undo_from_the_done_state(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd.head(2)[["id", "text"]], task=gwsd_task)
    w = Labeler(s)
    send(w, "decide", labels=["agree"])
    send(w, "decide", labels=["agree"])
    assert w.done is True
    send(w, "undo")
    assert w.done is False
    assert w.current["item_id"] == gwsd.id[1]


# -- multi-label and many labels ----------------------------------------------------------------
@pytest.fixture
def t2i_session(db: Path) -> Session:
    df = datasets.load("t2i_prompt_modifiers_gpt4_cot").head(30)
    names = sorted({lab for v in df.gold_labels.dropna() for lab in v.split("|")})
    task = LabelTask(
        labels=names, instructions="Which modifiers does the prompt use?", multi_label=True
    )
    s = Session.open(db, data=df[["id", "text"]], task=task)
    s.add_proposals(
        {
            "item_id": r.id,
            "labels": r.llm_labels.split("|"),
            "valid": True,
            "rationale": r.llm_rationale,
            "source": "recorded",
            "model": r.llm_model,
        }
        for r in df.itertuples()
    )
    return s


def test_multi_label_with_eleven_labels(t2i_session, db):
    w = Labeler(t2i_session, annotator="alice")
    assert w.multi_label is True
    assert len(w.labels) == 11
    assert [lab["key"] for lab in w.labels] == [*"123456789", "", ""]
    assert "'math teacher'" in w.current["proposal"]["rationale"]
    proposal = w.current["proposal"]["labels"]
    send(w, "decide", labels=list(proposal))
    send(w, "decide", labels=["Subject", "Negative prompt"])
    send(w, "decide", labels=[])  # none of the labels applies
    rows = events(db)
    assert [r[2] for r in rows] == ["accept", "correct", "correct"]
    assert json.loads(rows[1][3]) == ["Negative prompt", "Subject"]  # task order
    assert json.loads(rows[2][3]) == []


# -- shortcuts ----------------------------------------------------------------------------------
def test_shortcuts_are_configurable_and_checked(proposed):
    w = Labeler(
        proposed,
        shortcuts={"accept": ["Enter", "Y"], "skip": "Space", "labels": {"agree": "q"}},
    )
    assert w.shortcuts["accept"] == ["Enter", "y"]
    assert w.shortcuts["skip"] == [" "]
    assert w.shortcuts["labels"] == ["q", "2"]
    assert [lab["key"] for lab in w.labels] == ["q", "2"]
    w.shortcuts = {"labels": ["7", "8"]}
    assert [lab["key"] for lab in w.labels] == ["7", "8"]
    assert w.shortcuts["undo"] == ["z", "Backspace"]
    with pytest.raises(ValueError, match="bound to both"):
        Labeler(proposed, shortcuts={"skip": ["a"]})
    with pytest.raises(ValueError, match="bound to both"):
        Labeler(proposed, shortcuts={"labels": ["n", "x"]})
    with pytest.raises(ValueError, match="unknown shortcut action"):
        Labeler(proposed, shortcuts={"accpet": "y"})
    with pytest.raises(ValueError, match="reserved"):
        Labeler(proposed, shortcuts={"undo": "Escape"})
    with pytest.raises(ValueError, match="unknown label"):
        Labeler(proposed, shortcuts={"labels": {"nope": "q"}})


def test_modified_keys_are_combinations_bound_only_on_purpose(proposed):
    w = Labeler(
        proposed,
        shortcuts={"accept": ["Enter", "shift+ctrl+A"], "skip": "Alt+space", "help": "Shift+?"},
    )
    assert w.shortcuts["accept"] == ["Enter", "Ctrl+Shift+a"]
    assert w.shortcuts["skip"] == ["Alt+ "]
    assert w.shortcuts["help"] == ["?"]  # Shift only chose the character
    with pytest.raises(ValueError, match="unknown modifier 'Hyper'"):
        Labeler(proposed, shortcuts={"accept": "Hyper+a"})
    with pytest.raises(ValueError, match="reserved"):
        Labeler(proposed, shortcuts={"accept": "Shift"})
    with pytest.raises(ValueError, match="bound to both"):
        Labeler(proposed, shortcuts={"accept": "Ctrl+s", "skip": "control+S"})


# -- synced state stays small and free of secrets ------------------------------------------------
def big_pool(n: int, gwsd: pd.DataFrame) -> pd.DataFrame:
    texts = gwsd.text.tolist()
    return pd.DataFrame(
        {
            "id": [f"item-{i:06d}" for i in range(n)],
            "text": [f"{texts[i % len(texts)]} [{i}]" for i in range(n)],
        }
    )


def state_json(w: Labeler) -> str:
    return json.dumps(w.get_state(), default=str)


def test_state_size_does_not_grow_with_the_pool(tmp_path, gwsd, gwsd_task):
    sizes = {}
    for n in (200, 20_000):
        s = Session.open(tmp_path / f"pool{n}.labels.db", data=big_pool(n, gwsd), task=gwsd_task)
        w = Labeler(s, annotator="alice")
        for _ in range(5):
            send(w, "decide", labels=["agree"])
        sizes[n] = len(state_json(w))
        s.close()
    assert abs(sizes[20_000] - sizes[200]) < 0.01 * sizes[200], sizes


def test_state_holds_no_api_key_and_no_copy_of_the_data(proposed, gwsd, monkeypatch):
    sentinel = "sk-test-SENTINEL-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", sentinel)
    proposed.annotator = OpenAIAnnotator(model="gpt-4o-mini")
    w = Labeler(proposed, annotator="alice")
    send(w, "accept")
    state = state_json(w)
    assert sentinel not in state
    # Only the current item's full text is in the state; the queue has short previews.
    full_texts = [t for t in gwsd.text.head(200) if len(t) > 80]
    assert sum(t in state for t in full_texts) <= 1


def test_long_text_is_capped_and_its_length_reported(db, gwsd_task):
    data = pd.DataFrame({"id": ["long", "huge"], "text": ["x" * 100_000, "y" * 300_000]})
    s = Session.open(db, data=data, task=gwsd_task)
    w = Labeler(s)
    assert len(w.current["text"]) == 100_000
    send(w, "decide", labels=["agree"])
    assert len(w.current["text"]) == 200_000
    assert w.current["text_length"] == 300_000


def test_unicode_text_round_trips(db, gwsd_task):
    text = "שלום עולם 👋🏽 你好世界 مرحبا <b>not bold</b>"
    s = Session.open(db, data=pd.DataFrame({"id": ["u"], "text": [text]}), task=gwsd_task)
    w = Labeler(s)
    assert json.loads(state_json(w))["current"]["text"] == text


# -- resuming -------------------------------------------------------------------------------------
def test_a_new_labeler_on_the_same_store_resumes_at_the_same_item(proposed, db):
    w = Labeler(proposed, annotator="alice")
    for _ in range(7):
        send(w, "accept")
    where = w.current["item_id"]
    proposed.close()
    again = Labeler(Session.open(db), annotator="alice")  # after a kernel restart
    assert again.current["item_id"] == where
    assert again.progress["done"] == 7


def test_refresh_shows_proposals_that_arrive_later(session, gwsd):
    w = Labeler(session)
    assert w.current["proposal"] is None
    rev = w.revision
    session.add_proposals(recorded_proposals(gwsd.head(1)))
    w.refresh()
    assert w.current["proposal"]["labels"] == [gwsd.llm_label[0]]
    assert w.revision == rev + 1


def test_queue_is_one_small_method_with_reasons(proposed, gwsd):
    w = Labeler(proposed)
    send(w, "skip")
    queue = w._queue(300)
    assert len(queue) == 200
    assert queue[-1] == {
        "item_id": gwsd.id[0],
        "reason": "skipped earlier",
        "preview": w._preview(gwsd.id[0]),
    }
    assert all(q["reason"] == "next in pool" for q in queue[:-1])


def test_handler_time_is_measured(proposed):
    w = Labeler(proposed)
    send(w, "accept")
    send(w, "accept")
    assert w._handler_calls == 2
    assert w._handler_seconds > 0


def test_labeler_shows_the_selectors_queue_and_records_why(db, gwsd, gwsd_task):
    from llmlabel_widget import RecordedAnnotator
    from llmlabel_widget.selector import Selector

    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    s = Session.open(
        db,
        data=gwsd[["id", "text"]],
        task=gwsd_task,
        annotator=rec,
        selector=Selector(strategy="llm_confidence", explore=0.0),
    )
    s.propose(progress=False)
    w = Labeler(s, annotator="alice")
    first = s.queue(1)[0]
    assert w.current["item_id"] == first.item_id
    assert re.match(r"LLM confidence \d\.\d\d, among the lowest", w.current["reason"])
    assert [q["item_id"] for q in w.queue_preview] == [q.item_id for q in s.queue(11)[1:]]
    send(w, "decide", label="agree")
    ctx = s.annotations.set_index("item_id").loc[first.item_id, "context"]
    assert ctx["strategy"] == "llm_confidence"
    assert ctx["audit"] is False
    assert ctx["via"] == "labeler"


def test_blind_items_hide_the_proposal_until_answered_and_are_recorded(proposed, db):
    from llmlabel_widget.metrics import blind_vs_assisted

    w = Labeler(proposed, annotator="alice", blind_share=0.5)
    seen_blind = seen_open = 0
    for _ in range(30):
        cur = w.current
        truth = proposed.proposal(cur["item_id"])
        if cur["blind"]:
            seen_blind += 1
            assert cur["proposal"] is None
            assert cur["reason"].startswith("blind check")
            send(w, "decide", label=truth["labels"][0])
            assert w.notice.startswith(f"Blind check on #{cur['item_id']}: the LLM had said")
            assert "you agreed" in w.notice
        else:
            seen_open += 1
            assert cur["proposal"]["labels"] == list(truth["labels"])
            send(w, "accept")
    assert seen_blind >= 5
    assert seen_open >= 5
    ann = proposed.annotations
    blind = ann["context"].map(lambda c: isinstance(c, dict) and c.get("blind") is True)
    assert blind.sum() == seen_blind
    table = blind_vs_assisted(ann)
    # the simulated human always agreed: blind and assisted agreement are both 1, gap 0
    assert table["value"].tolist() == [1.0, 1.0, 0.0]
    assert table["n"].tolist()[:2] == [seen_blind, seen_open]
    with pytest.raises(ValueError, match="blind_share"):
        Labeler(proposed, blind_share=2)


# -- views talk only to the Session ------------------------------------------------------------
def test_views_never_touch_the_store():
    """Labeler, Dashboard and PromptLab go through Session methods, never ``session.store``."""
    import re

    import llmlabel_widget

    package = Path(llmlabel_widget.__file__).parent
    for name in ("widget.py", "dashboard.py", "prompt_panel.py"):
        source = (package / name).read_text(encoding="utf-8")
        assert not re.search(r"\.store\b|\bStore\b|from \.store ", source), name


def test_view_capabilities_are_session_methods(proposed, gwsd):
    """What the Labeler reads, a script can read too."""
    first = gwsd.id[0]
    assert proposed.has_item(first)
    assert not proposed.has_item("no such item")
    assert proposed.item(first)["text"] == gwsd.text[0]
    assert proposed.item("no such item") is None
    assert proposed.pool_size() == 200
    assert proposed.resume_point("alice") is None
    proposed.set_resume_point("alice", first)
    assert proposed.resume_point("alice") == first
    proposed.decide(first, "agree", annotator="alice")
    assert proposed.is_decided(first)
    assert proposed.resume_point("alice") is None  # decided since: nothing to resume
    proposed.skip(gwsd.id[1], annotator="alice")
    assert proposed.decision_counts() == {
        ("accept" if gwsd.llm_label[0] == "agree" else "correct"): 1,
        "skip": 1,
    }
    assert proposed.path.name == "test.labels.db"
    with proposed.reader() as reader:
        assert reader.path == proposed.path
        assert reader.annotations["state"].tolist() == proposed.annotations["state"].tolist()
    assert proposed.pool_size() == 200  # closing the reader leaves this session open


class Counter:
    """Counts each view's preview refreshes after refits (replaces its _refresh_preview)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def watch(self, view: Labeler, name: str) -> Labeler:
        self.seen[name] = 0

        def count() -> None:
            self.seen[name] += 1

        view._refresh_preview = count
        return view


async def one_refit(session: Session, counter: Counter, until: str) -> None:
    """Make one decision and wait until the selector's refit has reached ``until``'s listener
    (and so every listener registered before it)."""
    item = session.queue(1)[0].item_id
    session.decide(item, "agree", annotator="script")
    await asyncio.to_thread(session.selector.wait)
    for _ in range(6000):  # listeners hop back onto this loop with call_soon_threadsafe
        if counter.seen[until]:
            break
        await asyncio.sleep(0.01)


def test_close_removes_the_labelers_listener(proposed):
    proposed.selector.debounce = 0.0
    counter = Counter()

    async def main() -> None:
        kept = counter.watch(Labeler(proposed, annotator="alice"), "kept")
        closed = counter.watch(Labeler(proposed, annotator="bob"), "closed")
        closed.close()
        closed.close()  # twice is harmless
        assert closed.comm is None
        assert kept.comm is not None
        await one_refit(proposed, counter, "kept")

    asyncio.run(main())
    assert counter.seen == {"kept": 1, "closed": 0}


def test_rerunning_a_cell_leaves_one_live_labeler(proposed):
    """The same cell run three times: only the newest Labeler stays open and refreshing."""
    proposed.selector.debounce = 0.0
    counter = Counter()

    async def main() -> list[Labeler]:
        views = [counter.watch(Labeler(proposed, annotator="alice"), f"run {i}") for i in range(3)]
        counter.watch(Labeler(proposed, annotator="bob"), "bob")  # another reviewer's view
        await one_refit(proposed, counter, "run 2")
        return views

    views = asyncio.run(main())
    assert [v.comm is None for v in views] == [True, True, False]
    assert counter.seen == {"run 0": 0, "run 1": 0, "run 2": 1, "bob": 1}


def test_labeler_close_after_session_close_is_harmless(proposed):
    async def make() -> Labeler:
        return Labeler(proposed, annotator="alice")

    w = asyncio.run(make())
    proposed.close()
    w.close()
    assert w.comm is None
