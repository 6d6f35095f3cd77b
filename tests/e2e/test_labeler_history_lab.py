"""History, going back, search, queue clicks, notes and the saved line, in a real JupyterLab.

One notebook on 60 GWSD sentences with GPT-4o's recorded labels, reviewed in pool order. The
test decides a few items by key, steps back (``b``/``←``) and forward (``f``/``→``), changes a
past decision, opens items from the history list, the ``g`` search box and a queue row, saves
and edits a note; then checks the SQLite event log: every change is a new event, nothing
after it was undone, and items reached by history, search or queue are recorded as chosen
(``audit`` false, no propensity).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    JS_NOTEBOOK_STATE,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
    run_all,
    write_notebook,
)
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parent / "artifacts"
NAME = "history.ipynb"
DB = "history.labels.db"
NOTEBOOK = [
    f"""\
from llmlabel_widget import LabelTask, Labeler, RecordedAnnotator, Selector, Session, datasets

df = datasets.load("gwsd_climate_stance_gpt4o").head(60)
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("{DB}", data=df[["id", "text"]], task=task,
                       annotator=RecordedAnnotator(df, id="id", label="llm_label",
                                                   confidence="llm_confidence"),
                       selector=Selector(strategy="in_order", explore=0.0))
session.propose(progress=False)""",
    'labeler = Labeler(session, annotator="e2e")\nlabeler',
]


def read(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def events(db: Path) -> list[tuple[str, str, list[str] | None, str | None, dict]]:
    rows = read(db, "SELECT item_id, kind, labels, note, context FROM events ORDER BY seq")
    return [
        (i, k, json.loads(lab) if lab else None, n, json.loads(c) if c else {})
        for i, k, lab, n, c in rows
    ]


def state(root: Locator) -> tuple[str | None, int]:
    return root.get_attribute("data-item-id"), int(root.get_attribute("data-revision") or -1)


def press_and_wait(page: Page, root: Locator, key: str) -> None:
    _, rev = state(root)
    page.keyboard.press(key)
    expect(root).not_to_have_attribute("data-revision", str(rev))


def click_and_wait(root: Locator, target: Locator) -> None:
    _, rev = state(root)
    target.click()
    expect(root).not_to_have_attribute("data-revision", str(rev))


@pytest.fixture
def notebook(lab: Lab) -> str:
    write_notebook(lab.root / NAME, NOTEBOOK)
    for stale in lab.root.glob(f"{DB}*"):
        stale.unlink()
    yield NAME
    lab.close_sessions(NAME)


def test_history_back_search_queue_notes_saved_line(lab: Lab, page: Page, notebook: str):
    goto_notebook(page, lab, notebook)
    run_all(page, notebook)
    root = page.locator(".llmlabel-root").first
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    db = lab.root / DB
    ids = [r[0] for r in read(db, "SELECT item_id FROM items ORDER BY seq")]
    root.locator(".llmlabel-progress").click()
    expect(root).to_be_focused()
    before_nb = page.evaluate(JS_NOTEBOOK_STATE)
    notice = root.locator(".llmlabel-notice")
    history = root.locator(".llmlabel-history-row")

    # Four decisions by key; each is confirmed by a quiet saved line.
    expect(history).to_have_count(0)
    for k in range(3):
        press_and_wait(page, root, "a")
        expect(notice).to_contain_text("saved: ")
        expect(notice).to_contain_text(f"on #{ids[k]} · z to undo")
    press_and_wait(page, root, "1")
    expect(notice).to_have_text(f"saved: agree on #{ids[3]} · z to undo")
    expect(root).to_have_attribute("data-item-id", ids[4])
    expect(history).to_have_count(4)
    assert [h.get_attribute("data-item-id") for h in history.all()] == ids[3::-1]
    expect(history.first.locator(".llmlabel-history-decision")).to_have_text("agree")

    # Back (b and ←) through the decided items, newest first; forward (f and →) again.
    press_and_wait(page, root, "b")
    expect(root).to_have_attribute("data-item-id", ids[3])
    expect(root.locator(".llmlabel-past-decision")).to_contain_text("you decided: agree")
    press_and_wait(page, root, "ArrowLeft")
    expect(root).to_have_attribute("data-item-id", ids[2])
    press_and_wait(page, root, "b")
    expect(root).to_have_attribute("data-item-id", ids[1])
    press_and_wait(page, root, "f")
    expect(root).to_have_attribute("data-item-id", ids[2])
    press_and_wait(page, root, "ArrowRight")
    expect(root).to_have_attribute("data-item-id", ids[3])
    press_and_wait(page, root, "f")
    expect(root).to_have_attribute("data-item-id", ids[4])  # back on the queue
    expect(root.locator(".llmlabel-past")).to_be_hidden()

    # Change a past decision: go back three, choose the other label: a new event.
    for _ in range(3):
        press_and_wait(page, root, "b")
    expect(root).to_have_attribute("data-item-id", ids[1])
    old = events(db)[1][2][0]
    new = "agree" if old == "neutral_or_disagree" else "neutral_or_disagree"
    press_and_wait(page, root, "1" if new == "agree" else "2")
    expect(notice).to_have_text(f"saved: {new} on #{ids[1]} · z to undo")
    expect(root).to_have_attribute("data-item-id", ids[4])
    expect(history.first).to_have_attribute("data-item-id", ids[1])

    # A note on a past item, from a history row click; shown on the card and in the history,
    # then edited.
    click_and_wait(root, history.nth(2))  # ids[2]
    expect(root).to_have_attribute("data-item-id", ids[2])
    expect(root).to_be_focused()
    page.keyboard.press("n")
    page.keyboard.type("first 1 2 note")
    press_and_wait(page, root, "Enter")
    expect(root.locator(".llmlabel-past-note-text")).to_have_text("first 1 2 note")
    row = root.locator(f'.llmlabel-history-row[data-item-id="{ids[2]}"]')
    expect(row.locator(".llmlabel-history-note")).to_have_attribute("title", "first 1 2 note")
    root.locator(".llmlabel-past-edit").click()
    edit = root.locator(".llmlabel-note-input")
    expect(edit).to_have_value("first 1 2 note")
    edit.fill("edited note")
    press_and_wait(page, root, "Enter")
    expect(root.locator(".llmlabel-past-note-text")).to_have_text("edited note")
    expect(row.locator(".llmlabel-history-note")).to_have_attribute("title", "edited note")
    press_and_wait(page, root, "2")  # decide it again (a chosen item: from the history)

    # g: search by a piece of text across the whole pool, pick the hit.
    far = ids[55]
    words = read(db, "SELECT text FROM items WHERE item_id = ?", (far,))[0][0][8:40]
    page.keyboard.press("g")
    box = root.locator(".llmlabel-search-input")
    expect(box).to_be_focused()
    box.type(words.upper())
    hit = root.locator(f'.llmlabel-search-hit[data-item-id="{far}"]')
    expect(hit).to_be_visible()
    click_and_wait(root, hit)
    expect(root).to_have_attribute("data-item-id", far)
    press_and_wait(page, root, "a")
    # g by exact id, Enter opens the first hit.
    page.keyboard.press("g")
    box.fill(ids[40])
    expect(root.locator(".llmlabel-search-hit").first).to_have_attribute("data-item-id", ids[40])
    press_and_wait(page, root, "Enter")
    expect(root).to_have_attribute("data-item-id", ids[40])
    press_and_wait(page, root, "s")

    # A queue row click.
    # A row by its id: the preview repaints just after the item (a second message).
    target = root.locator(".llmlabel-queue-item").nth(2).get_attribute("data-item-id")
    click_and_wait(
        root, root.locator(f'.llmlabel-queue-item[data-item-id="{target}"] .llmlabel-queue-id')
    )
    expect(root).to_have_attribute("data-item-id", target)
    press_and_wait(page, root, "a")

    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "labeler-history.png"))

    # The store: every change is a new event, nothing undone, chosen items out of the audit.
    log = events(db)
    assert [(i, k) for i, k, *_ in log][:4] == [
        (ids[0], "accept"),
        (ids[1], "accept"),
        (ids[2], "accept"),
        (ids[3], log[3][1]),
    ]
    assert all(k != "undo" for _, k, *_ in log)
    assert log[4][0] == ids[1]
    assert log[4][2] == [new]
    assert log[4][4]["chosen"] == "history"
    assert log[4][4]["audit"] is False
    assert [(i, k, n) for i, k, _, n, _ in log[5:7]] == [
        (ids[2], "note", "first 1 2 note"),
        (ids[2], "note", "edited note"),
    ]
    chosen = [(i, c.get("chosen")) for i, k, _, _, c in log if k != "note"][5:]
    assert chosen == [(ids[2], "history"), (far, "search"), (ids[40], "search"), (target, "queue")]
    for *_, c in log[4:]:
        if c.get("chosen"):
            assert c["audit"] is False
            assert "propensity" not in c
    assert page.evaluate(JS_NOTEBOOK_STATE) == before_nb  # no key reached the notebook
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
