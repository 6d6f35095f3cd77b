"""Who knows what: only the Store speaks SQL, annotators see no Session or Store, and the
Session is a thin façade whose getters do no work."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pandas as pd
import pytest

import llmlabel_widget
from llmlabel_widget import LabelTask, RecordedAnnotator, Session
from llmlabel_widget.annotators.base import MemoryCache, RunReport
from llmlabel_widget.selector import Selector
from llmlabel_widget.storage import StoreBackend
from llmlabel_widget.store import Store

PACKAGE = Path(llmlabel_widget.__file__).parent
STORE = PACKAGE / "store"  # the one package that speaks SQL (SQLite today, PostgreSQL next)
MODULES = sorted(
    p.relative_to(PACKAGE).as_posix()
    for p in PACKAGE.rglob("*.py")
    if STORE not in p.parents and "static" not in p.parts
)
SQL = re.compile(
    r"\bSELECT\b[^\n]*\bFROM\b|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\bPRAGMA\s+\w+|\bCREATE\s+(?:TABLE|INDEX)\b|\bread_sql\w*\("
    r"|\bsqlite3\.connect\("
)


@pytest.mark.parametrize("module", MODULES)
def test_only_the_store_speaks_sql(module):
    source = (PACKAGE / module).read_text(encoding="utf-8")
    found = [m.group(0) for m in SQL.finditer(source)]
    assert found == [], f"{module} contains SQL {found[:3]}: move it into a Store method"


def test_the_sql_check_finds_sql():
    assert SQL.search('x = store.frame("SELECT item_id FROM items")')
    assert SQL.search("conn.execute('INSERT OR IGNORE INTO cache VALUES (?)')")
    assert not SQL.search("Select the items from the pool (a docstring)")


def test_the_sql_check_covers_every_module_but_the_store_package():
    assert "session.py" in MODULES
    assert "storage.py" in MODULES  # the interface, written without SQL
    assert not [m for m in MODULES if m.startswith("store/")]
    store_modules = sorted(p.name for p in STORE.glob("*.py"))
    assert {"sqlite.py", "sqlite_reads.py", "sqlite_schema.py"} <= set(store_modules)
    # where the SQL went: the check above would flag these modules anywhere else
    for name in ("sqlite.py", "sqlite_reads.py", "sqlite_schema.py"):
        assert SQL.search((STORE / name).read_text(encoding="utf-8")), name
    assert not SQL.search((STORE / "base.py").read_text(encoding="utf-8"))


def test_the_store_implements_the_written_down_interface():
    wanted = [n for n, v in vars(StoreBackend).items() if callable(v) and not n.startswith("_")]
    assert len(wanted) > 20
    for name in wanted:
        ours = inspect.signature(getattr(Store, name))
        spec = inspect.signature(getattr(StoreBackend, name))
        assert list(ours.parameters) == list(spec.parameters), name


@pytest.mark.parametrize(
    "module", ["base.py", "openai.py", "recorded.py", "parse.py", "request.py", "response.py"]
)
def test_annotators_see_no_session_and_no_store(module):
    tree = ast.parse((PACKAGE / "annotators" / module).read_text(encoding="utf-8"))
    imported = {
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0
    }
    assert not {"session", "store"} & {m.split(".")[0] for m in imported}, imported
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert "Session" not in names
    assert "store" not in attrs


def test_a_recorded_annotator_runs_without_a_session():
    task = LabelTask(["pos", "neg"])
    answers = pd.DataFrame({"id": ["a", "b", "c"], "label": ["pos", "banana", "neg"]})
    ann = RecordedAnnotator(answers)
    report = RunReport(run_id="r")

    items = [("a", "fine"), ("b", "odd"), ("c", "bad")]
    got = ann.propose(items, task, MemoryCache(), report, print)  # returned at once
    assert [(p.item_id, p.labels, p.valid) for p in got] == [
        ("a", ("pos",), True),
        ("b", (), False),
        ("c", ("neg",), True),
    ]


@pytest.fixture
def small(tmp_path):
    data = pd.DataFrame({"id": [f"i{k}" for k in range(30)], "text": [f"t {k}" for k in range(30)]})
    task = LabelTask(["a", "b"])
    s = Session.open(tmp_path / "s.labels.db", data=data, task=task, user="u")
    yield s
    s.close()


def test_reading_the_selector_property_does_no_work(small):
    assert small.selector.queue(3) == []  # nothing ranked: the getter attached nothing
    assert len(small.queue(3)) == 3  # queue() starts the selector
    assert len(small.selector.queue(3)) == 3


def test_decisions_before_the_first_queue_reach_a_passed_selector_cleanly(tmp_path):
    data = pd.DataFrame({"id": ["x", "y"], "text": ["one", "two"]})
    selector = Selector(debounce=0.0, worker="thread")
    with Session.open(
        tmp_path / "t.labels.db", data=data, task=LabelTask(["a", "b"]), selector=selector
    ) as s:
        s.decide("x", "a")
        s.skip("y")
        s.undo()
        selector.wait(30)
        assert selector.status.errors == []
        assert pd.isna(s.annotations.set_index("item_id").loc["x", "context"])


def test_reviewer_names_the_human_and_annotator_is_its_old_name(small):
    d = small.decide("i1", "a", reviewer="alice")
    assert (d.reviewer, d.annotator) == ("alice", "alice")
    small.decide("i2", "b", annotator="bob")  # the old keyword still works
    small.skip("i3", reviewer="carol")
    small.note("i4", "odd one", reviewer="carol")
    assert small.undo(reviewer="carol")["kind"] == "note"
    who = small.annotations.set_index("item_id")["annotator"]
    assert (who["i1"], who["i2"], who["i3"]) == ("alice", "bob", "carol")
    with pytest.raises(TypeError, match="reviewer="):
        small.decide("i5", "a", reviewer="alice", annotator="bob")
