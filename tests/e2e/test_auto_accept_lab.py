"""Certified auto-accept in a real JupyterLab (issue 14): the Labeler's and the Dashboard's
buttons record the certified items, and the SQLite file then holds them as auto-accepts.

The pool is GWSD with recorded labels that are right wherever the confidence is >= 0.95, and
a random audit of 300 items; at max_error 10% the plan certifies 162 items at 0.95.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
    run_all,
    write_notebook,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SETUP = """\
import numpy as np
from llmlabel_widget import Dashboard, Labeler, RecordedAnnotator, Session, datasets
from llmlabel_widget import dashboard_auto, labeler_certified
from llmlabel_widget.task import LabelTask

labeler_certified.MAX_ERROR = dashboard_auto.MAX_ERROR = 0.10
df = datasets.load("gwsd_climate_stance_gpt4o")
df["llm_label"] = df["llm_label"].where(df["llm_confidence"] < 0.95, df["gold_label"])
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("{db}", data=df[["id", "text"]], task=task,
                       annotator=RecordedAnnotator(df, label="llm_label",
                                                   confidence="llm_confidence"))
session.propose(progress=False)
gold = dict(zip(df["id"].astype(str), df["gold_label"]))
from llmlabel_widget.selection.audit import audit_positions
ids = df["id"].astype(str).to_numpy()
order = ids[np.argsort(audit_positions(ids, session.audit_seed()))]  # the pool's audit order
for r, i in enumerate(order[:300]):
    session.decide(i, gold[i], reviewer="bob", context={{"audit": True, "audit_rank": r}})"""


def auto_accepts(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT e.annotator, e.context FROM events e WHERE e.kind = 'accept' "
            "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.seq)"
        ).fetchall()
    finally:
        conn.close()
    return [
        (who, json.loads(ctx)["certificate"]["method"][:15])
        for who, ctx in rows
        if ctx and json.loads(ctx).get("provenance") == "auto-accept"
    ]


@pytest.mark.parametrize("where", ["labeler", "dashboard"])
def test_auto_accept_button(lab: Lab, page: Page, where: str):
    name, db = f"auto_{where}.ipynb", lab.root / f"auto_{where}.labels.db"
    for stale in lab.root.glob(f"auto_{where}.labels.db*"):
        stale.unlink()
    view = (
        'labeler = Labeler(session, annotator="alice")\nlabeler'
        if where == "labeler"
        else "dash = Dashboard(session, n_boot=20)\ndash"
    )
    write_notebook(lab.root / name, [SETUP.format(db=db.name), view])
    try:
        goto_notebook(page, lab, name)
        run_all(page, name)
        assert page.evaluate(JS_ERROR_OUTPUTS) == []
        bar = page.locator(".llmlabel-auto").first
        expect(bar).to_be_visible(timeout=UI_TIMEOUT_MS)
        if where == "labeler":
            bar.locator(".llmlabel-auto-check").click()
        summary = "162 remaining proposals can be auto-accepted with error ≤ 10% (95%)"
        expect(bar).to_contain_text(summary, timeout=UI_TIMEOUT_MS)
        apply = bar.locator(".llmlabel-auto-apply")
        expect(apply).to_have_text("Auto-accept 162")
        assert auto_accepts(db) == []
        apply.click()
        said = bar if where == "dashboard" else page.locator(".llmlabel-notice").first
        expect(said).to_contain_text("Auto-accepted 162 items", timeout=UI_TIMEOUT_MS)
        got = auto_accepts(db)
        assert len(got) == 162
        assert {m for _, m in got} == {"Learn-then-Test"}
        if where == "labeler":
            assert {w for w, _ in got} == {"alice"}
        expect(apply).to_be_hidden()
    finally:
        lab.close_sessions(name)
