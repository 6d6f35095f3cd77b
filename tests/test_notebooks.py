"""Every shipped notebook runs headless, offline, top to bottom."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_offline(path: Path, tmp_path: Path, monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMLABEL_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit notebooks with outputs cleared"
    )
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    # run twice: re-running every cell resumes the same store instead of failing
    NotebookClient(
        nbformat.read(path, as_version=4),
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    assert list(tmp_path.glob("*.labels.db"))


def test_quickstart_is_present():
    assert any(p.name == "quickstart.ipynb" for p in NOTEBOOKS)


def _execute(nb: nbformat.NotebookNode, where: Path) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel (as Restart & Run All does)."""
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(where)}}
    ).execute()
    return nb


def _events(db: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT seq, item_id, annotator, kind, labels, undoes FROM events ORDER BY seq"
        ).fetchall()


def test_quickstart_keeps_scripted_and_human_work_apart(tmp_path: Path, monkeypatch):
    """The demo decides under its own name, once per store; the Labeler's z never undoes it."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMLABEL_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    path = next(p for p in NOTEBOOKS if p.name == "quickstart.ipynb")
    # What the reviewer would do next: press z in the Labeler (the intent the view sends).
    probe = nbformat.v4.new_code_cell(
        "print(labeler.annotator)\n"
        'labeler._handle_custom_msg({"kind": "undo", "revision": labeler.revision}, [])\n'
        "print(labeler.notice)"
    )
    nb = nbformat.read(path, as_version=4)
    first = _execute(nb, tmp_path)
    db = tmp_path / "quickstart.labels.db"
    rows = _events(db)
    assert rows, "the quickstart's scripted demo decided nothing"
    assert {r[2] for r in rows} == {"demo-script"}

    # Restart & Run All on the same store adds no decision.
    again = nbformat.read(path, as_version=4)
    again.cells.append(probe)
    _execute(again, tmp_path)
    reviewer, notice = again.cells[-1].outputs[0]["text"].splitlines()
    assert reviewer != "demo-script"
    assert notice == "Nothing to undo."
    assert _events(db) == rows
    errors = [o for c in first.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
