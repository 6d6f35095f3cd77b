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
