"""The quickstart run as people run notebooks: Shift+Enter, cell by cell, past the Labeler.

Running cells must never label anything: the Labeler's view appears while the user has already
moved on to the next cell, so it must not take the keyboard, and the next Shift+Enter must run
that next cell (the export) instead of accepting a proposal nobody has read.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    REPO,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

FOLDER = "shift_enter"  # its own folder, so its store is not the other quickstart test's
NAME = f"{FOLDER}/quickstart.ipynb"

JS_ACTIVE = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"
# The first n cells' code cells all ran and the kernel is idle.
JS_ALL_RAN = """(n) => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.slice(0, n);
  return !!k && k.status === 'idle' &&
    cells.every(c => c.model.type !== 'code' || c.model.executionCount !== null);
}"""
# The code cell at index i has run and the kernel is idle again.
JS_CELL_RAN = """(i) => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const cell = w.content.widgets[i];
  return !!k && k.status === 'idle' && cell.model.executionCount !== null;
}"""


def events(db: Path) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT seq, item_id, annotator, kind, undoes FROM events ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


@pytest.fixture
def quickstart(lab: Lab):
    """The shipped quickstart, outputs cleared, in a fresh folder."""
    nb = json.loads((REPO / "notebooks" / "quickstart.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    folder = lab.root / FOLDER
    folder.mkdir(exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    (lab.root / NAME).write_text(json.dumps(nb))
    yield nb["cells"]
    lab.close_sessions(NAME)


def test_shift_enter_through_the_quickstart_decides_nothing(
    lab: Lab, page: Page, quickstart: list[dict]
):
    kinds = [c["cell_type"] for c in quickstart]
    sources = ["".join(c["source"]) for c in quickstart]
    at_labeler = next(i for i, s in enumerate(sources) if "Labeler(session" in s)
    assert at_labeler < len(sources) - 1, "the quickstart must go on after the Labeler"
    db = lab.root / FOLDER / "quickstart.labels.db"

    goto_notebook(page, lab, NAME)
    page.locator(".jp-Notebook .jp-Cell").first.click()  # select cell 1, command mode
    assert page.evaluate(JS_ACTIVE) == 0
    scripted: list[tuple] | None = None
    for i, kind in enumerate(kinds):
        assert page.evaluate(JS_ACTIVE) == i, f"Shift+Enter did not move on from cell {i - 1}"
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(f"() => ({JS_ACTIVE})() === {i + 1}")
        if kind == "code":  # wait for the output, as a person reading it does
            page.wait_for_function(JS_CELL_RAN, arg=i, timeout=UI_TIMEOUT_MS, polling=100)
        if i == at_labeler:
            scripted = events(db)  # everything the scripted cells decided
            root = page.locator(".llmlabel-root")
            expect(root).to_be_visible()
            expect(root).to_have_attribute("data-revision", "0")  # the view is live
            expect(root).not_to_be_focused()

    # Every cell ran, the export too, and nothing failed. (The last Shift+Enter added an
    # empty cell below, as it always does at the end of a notebook.)
    assert page.evaluate(JS_ACTIVE) == len(kinds)
    page.wait_for_function(JS_ALL_RAN, arg=len(kinds), timeout=UI_TIMEOUT_MS, polling=100)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    assert (lab.root / FOLDER / "quickstart_labels.jsonl").exists()
    assert (lab.root / FOLDER / "quickstart_labels.csv").exists()
    # The store holds only what the scripted cells made: not one decision from a key.
    assert scripted
    assert events(db) == scripted
    assert {r[2] for r in scripted} == {"demo-script"}
    root = page.locator(".llmlabel-root")
    expect(root).to_have_attribute("data-revision", "0")
    expect(root).not_to_be_focused()

    # Going back and running the Labeler cell in place (Ctrl+Enter): the new view is shown
    # to a user who stays on its cell, so it takes the keyboard.
    root.evaluate("n => n.setAttribute('data-e2e-old', '1')")
    page.locator(".jp-Notebook .jp-Cell").nth(at_labeler).locator(".jp-InputPrompt").click()
    assert page.evaluate(JS_ACTIVE) == at_labeler
    page.keyboard.press("Control+Enter")
    fresh = page.locator(".llmlabel-root:not([data-e2e-old])")
    expect(fresh).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(fresh).to_be_focused()
    assert page.evaluate(JS_ACTIVE) == at_labeler
    assert events(db) == scripted
