"""The Labeler in Jupyter Notebook 7 (same widget manager as JupyterLab, different shell)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    JS_NOTEBOOK_STATE,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
    kernel_eval,
    run_all,
    running_lab,
    write_notebook,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

pytest.importorskip("notebook", reason="Notebook 7 is not installed: pip install notebook")

CELLS = [
    """\
from llmlabel_widget import LabelTask, Labeler, RecordedAnnotator, Selector, Session, datasets

df = datasets.load("gwsd_climate_stance_gpt4o").head(20)
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("nb7.labels.db", data=df[["id", "text"]], task=task,
                       annotator=RecordedAnnotator(df, id="id", label="llm_label",
                                                   confidence="llm_confidence", model="llm_model"))
session.propose(progress=False)""",
    'labeler = Labeler(session, annotator="nb7")\nlabeler',
]


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("nb7"), app="notebook") as server:
        yield server


def test_labeler_in_notebook_7(notebook7: Lab, page: Page):
    name = "nb7.ipynb"
    write_notebook(notebook7.root / name, CELLS)
    goto_notebook(page, notebook7, name, app="notebook")
    run_all(page, name)
    root = page.locator(".llmlabel-root")
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    before = page.evaluate(JS_NOTEBOOK_STATE)
    expect(root).to_be_focused()

    def press(key: str) -> None:
        rev = root.get_attribute("data-revision")
        page.keyboard.press(key)
        expect(root).not_to_have_attribute("data-revision", rev)

    first = root.get_attribute("data-item-id")
    press("a")
    second = root.get_attribute("data-item-id")
    press("2")
    third = root.get_attribute("data-item-id")
    page.keyboard.press("n")
    page.keyboard.type("1 a s z")
    press("Enter")
    press("z")  # undoes the note
    press("s")

    db = notebook7.root / "nb7.labels.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT item_id, kind, labels, note FROM events ORDER BY seq"
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        (first, "accept"),
        (second, rows[1][1]),
        (third, "note"),
        (third, "undo"),
        (third, "skip"),
    ]
    assert rows[1][1] in ("accept", "correct")
    assert json.loads(rows[1][2]) == ["neutral_or_disagree"]
    assert rows[2][3] == "1 a s z"
    assert page.evaluate(JS_NOTEBOOK_STATE) == before
    notebook7.close_sessions(name)


def test_history_search_and_queue_in_notebook_7(notebook7: Lab, page: Page):
    """The same moves as test_labeler_history_lab.py, in Notebook 7's shell."""
    name = "nb7-history.ipynb"
    cells = [CELLS[0].replace('"nb7.labels.db"', '"nb7-history.labels.db"'), CELLS[1]]
    cells[0] = cells[0].replace(
        'model="llm_model"))',
        'model="llm_model"),\n    selector=Selector(strategy="in_order", explore=0.0))',
    )
    write_notebook(notebook7.root / name, cells)
    goto_notebook(page, notebook7, name, app="notebook")
    run_all(page, name)
    root = page.locator(".llmlabel-root")
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    root.locator(".llmlabel-progress").click()
    before = page.evaluate(JS_NOTEBOOK_STATE)

    def press(key: str) -> None:
        rev = root.get_attribute("data-revision")
        page.keyboard.press(key)
        expect(root).not_to_have_attribute("data-revision", rev)

    def click(target) -> None:
        rev = root.get_attribute("data-revision")
        target.click()
        expect(root).not_to_have_attribute("data-revision", rev)

    db = notebook7.root / "nb7-history.labels.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT item_id FROM items ORDER BY seq")]
        far_text = conn.execute("SELECT text FROM items WHERE item_id = ?", (ids[15],))
        far_words = far_text.fetchone()[0][5:30]
    for _ in range(3):
        press("a")
    expect(root.locator(".llmlabel-notice")).to_contain_text(f"on #{ids[2]} · z to undo")
    press("b")
    press("ArrowLeft")
    expect(root).to_have_attribute("data-item-id", ids[1])
    press("f")
    expect(root).to_have_attribute("data-item-id", ids[2])
    press("b")
    press("2")  # change a past decision: a new event
    expect(root).to_have_attribute("data-item-id", ids[3])
    click(root.locator(f'.llmlabel-history-row[data-item-id="{ids[0]}"]'))
    expect(root).to_have_attribute("data-item-id", ids[0])
    page.keyboard.press("n")
    page.keyboard.type("nb7 note")
    press("Enter")
    expect(root.locator(".llmlabel-past-note-text")).to_have_text("nb7 note")
    root.locator(".llmlabel-past-edit").click()
    root.locator(".llmlabel-note-input").fill("nb7 note, edited")
    press("Enter")
    expect(root.locator(".llmlabel-past-note-text")).to_have_text("nb7 note, edited")
    page.keyboard.press("g")
    root.locator(".llmlabel-search-input").type(far_words)
    hit = root.locator(f'.llmlabel-search-hit[data-item-id="{ids[15]}"]')
    click(hit)
    expect(root).to_have_attribute("data-item-id", ids[15])
    press("s")
    # The preview follows the new item in a second message: read a row's id, then click the
    # row by that id, so a preview repainted in between cannot swap the row under the click.
    target = root.locator(".llmlabel-queue-item").nth(1).get_attribute("data-item-id")
    click(root.locator(f'.llmlabel-queue-item[data-item-id="{target}"] .llmlabel-queue-id'))
    expect(root).to_have_attribute("data-item-id", target)
    press("a")

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT item_id, kind, note, context FROM events ORDER BY seq")
        log = [(i, k, n, json.loads(c) if c else {}) for i, k, n, c in rows.fetchall()]
    assert [(i, k) for i, k, _, _ in log][:3] == [(i, "accept") for i in ids[:3]]
    assert all(k != "undo" for _, k, _, _ in log)
    assert (log[3][0], log[3][3]["chosen"]) == (ids[1], "history")
    assert [(i, n) for i, k, n, _ in log if k == "note"] == [
        (ids[0], "nb7 note"),
        (ids[0], "nb7 note, edited"),
    ]
    assert [(i, c["chosen"]) for i, k, _, c in log[6:]] == [(ids[15], "search"), (target, "queue")]
    assert all(
        c["audit"] is False and "propensity" not in c for *_, c in log[3:] if c.get("chosen")
    )
    assert page.evaluate(JS_NOTEBOOK_STATE) == before
    notebook7.close_sessions(name)


FILTER_CELLS = [
    """\
from llmlabel_widget import LabelTask, Labeler, Selector, Session, datasets

src = datasets.load("gwsd_climate_stance_gpt4o").head(60)
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("nb7-filters.labels.db", data=src[["id", "text"]], task=task,
                       selector=Selector(strategy="in_order", explore=0.0))
session.add_proposals({"item_id": r.id, "labels": [r.llm_label], "valid": True,
                       "confidence": r.llm_confidence, "source": "recorded"}
                      for r in src.itertuples())
WANT = [r.id for r in src.itertuples() if r.llm_label == "neutral_or_disagree"
        and r.llm_confidence >= 0.8 and "warming" in r.text.lower()]
labeler = Labeler(session, annotator="nb7")
labeler""",
]


def test_queue_filters_in_notebook_7(notebook7: Lab, page: Page):
    """All four filter kinds as chips in Notebook 7: the queue obeys them, the pick is recorded
    as filtered, a bad range is refused in words, and removing the chips restores the queue."""
    name = "nb7-filters.ipynb"
    write_notebook(notebook7.root / name, FILTER_CELLS)
    goto_notebook(page, notebook7, name, app="notebook")
    run_all(page, name)
    root = page.locator(".llmlabel-root")
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    want = json.loads(kernel_eval(notebook7, name, "__import__('json').dumps(WANT)").strip("'"))
    first_unfiltered = root.get_attribute("data-item-id")
    assert len(want) >= 3
    assert first_unfiltered != want[0]
    before = page.evaluate(JS_NOTEBOOK_STATE)

    root.focus()
    page.keyboard.press("l")
    form = root.locator(".llmlabel-qf")
    expect(form).to_be_visible()
    form.locator(".llmlabel-qf-low").fill("0.9")
    form.locator(".llmlabel-qf-high").fill("0.5")
    form.locator(".llmlabel-qf-apply").click()
    expect(form.locator(".llmlabel-qf-problem")).to_contain_text("0 ≤ from ≤ to ≤ 1")
    form.locator(".llmlabel-qf-label").select_option("neutral_or_disagree")
    form.locator(".llmlabel-qf-low").fill("0.8")
    form.locator(".llmlabel-qf-high").fill("1")
    form.locator(".llmlabel-qf-state").select_option("undecided")
    form.locator(".llmlabel-qf-text").fill("WARMING")
    form.locator(".llmlabel-qf-apply").click()
    chips = root.locator(".llmlabel-qf-chip")
    expect(chips).to_have_count(4)
    expect(root).to_have_attribute("data-item-id", want[0])
    preview = root.locator(".llmlabel-queue-item")
    expect(preview.first).to_have_attribute("data-item-id", want[1])

    root.focus()
    rev = root.get_attribute("data-revision")
    page.keyboard.press("1")  # "agree" on the filtered pick
    expect(root).not_to_have_attribute("data-revision", rev)
    expect(root).to_have_attribute("data-item-id", want[1])
    db = notebook7.root / "nb7-filters.labels.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        item_id, raw = conn.execute(
            "SELECT item_id, context FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    ctx = json.loads(raw)
    assert item_id == want[0]
    assert ctx["filtered"] == {
        "labels": ["neutral_or_disagree"],
        "confidence": [0.8, 1.0],
        "states": ["undecided"],
        "text": "WARMING",
    }
    assert ctx["audit"] is False

    for _ in range(4):
        root.locator(".llmlabel-qf-remove").first.click()
    expect(chips).to_have_count(0)
    expect(root.locator(".llmlabel-qf-chips")).to_be_hidden()
    expect(root).to_have_attribute("data-item-id", first_unfiltered)
    assert page.evaluate(JS_NOTEBOOK_STATE) == before
    notebook7.close_sessions(name)
