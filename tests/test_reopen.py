"""A re-opened store means what it meant, a failed open changes nothing, errors name causes."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from llmlabel_widget import LabelTask, Session, StoreError
from llmlabel_widget.annotators.openai import _schema
from llmlabel_widget.prompts import PromptSpec, build_messages, prompt_version

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

ORDERED = LabelTask(
    labels={"zeta": "z things", "alpha": "a things", "mid": "m things"},
    instructions="Sort it.",
)


def frame(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"id": range(n), "text": [f"item number {i}" for i in range(n)]})


def open_fds(path: Path) -> list[str]:
    """This process's open file descriptors that point at the store or its side files."""
    out = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith(str(path)):
            out.append(target)
    return out


# -- line 5: a re-opened store means the same thing -----------------------------------------------
def test_label_order_survives_reopen_in_keys_prompt_and_schema(db):
    Session.open(db, data=frame(), task=ORDERED).close()
    again = Session.open(db)
    try:
        assert again.task.names == ("zeta", "alpha", "mid")
        system = build_messages(again.task, PromptSpec(), "x")[0]["content"]
        assert "Labels:\n- zeta: z things\n- alpha: a things\n- mid: m things\n" in system
        enum = _schema(again.task.names, False)["json_schema"]["schema"]["properties"]["label"]
        assert enum["enum"] == ["zeta", "alpha", "mid"]
        from llmlabel_widget import Labeler  # keys 1-9 follow the task's order

        view = Labeler(again)
        assert [(b["name"], b["key"]) for b in view.labels] == [
            ("zeta", "1"),
            ("alpha", "2"),
            ("mid", "3"),
        ]
        view.close()
    finally:
        again.close()


def test_prompt_version_changes_whenever_the_request_changes(monkeypatch):
    spec, extra = PromptSpec(), {}
    reordered = LabelTask(labels={"alpha": "a things", "zeta": "z things", "mid": "m things"})
    base = prompt_version(ORDERED, spec, "m", extra)
    assert prompt_version(ORDERED, spec, "m", extra) == base
    assert prompt_version(reordered, spec, "m", extra) != base
    # a change of template wording is a new version, with no revision number to remember
    import llmlabel_widget.prompts as prompts

    monkeypatch.setattr(prompts, "user_message", lambda text: "Item:\n" + json.dumps(text))
    assert prompt_version(ORDERED, spec, "m", extra) != base


def test_an_id_column_turned_float_maps_to_the_same_items(db):
    ints = frame()
    Session.open(db, data=ints, task=ORDERED).close()
    floats = ints.assign(id=ints["id"].astype(float))  # what a NaN elsewhere does to the column
    s = Session.open(db, data=floats)
    try:
        assert s.last_add.added == 0
        assert s.progress()["total"] == 20
        s.decide(7.0, "alpha", annotator="ann")
        assert s.annotations.set_index("item_id").loc["7", "label"] == "alpha"
    finally:
        s.close()


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_ids_stored_in_float_form_by_an_older_release_are_refused_not_doubled(db):
    s = Session.open(db, data=frame(3).assign(id=["0.0", "1.0", "2.0"]), task=ORDERED)
    s.close()
    with pytest.raises(ValueError, match=r"stored with a float id.*'0' \(stored as '0.0'\)"):
        Session.open(db, data=frame(3))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 3


# -- line 6: atomic open --------------------------------------------------------------------------
@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_failed_open_leaves_the_store_byte_for_byte_as_it_was(db):
    Session.open(db, data=frame(), task=ORDERED).close()
    before = db.read_bytes()
    wider = LabelTask(labels={**ORDERED.descriptions, "new": "added"}, instructions="Sort it.")
    changed = frame().assign(text=lambda d: d["text"].where(d["id"] != 3, "other text"))
    with pytest.raises(ValueError, match="changed text"):
        Session.open(db, data=changed, task=wider)
    assert db.read_bytes() == before
    assert open_fds(db) == []
    s = Session.open(db)
    try:
        assert s.task == ORDERED  # the task was not replaced
    finally:
        s.close()


def test_failed_open_of_a_new_path_creates_no_file(tmp_path):
    path = tmp_path / "new.labels.db"
    with pytest.raises(ValueError, match="new store"):
        Session.open(path, data=frame())
    # (object dtype: pandas' own string dtype can not even hold a lone surrogate)
    broken = frame().assign(text=pd.Series(["broken \ud800 text"] * 20, dtype=object))
    with pytest.raises(ValueError, match="not valid Unicode"):
        Session.open(path, data=broken, task=ORDERED)
    with pytest.raises(ValueError, match="on_changed"):
        Session.open(path, data=frame(), task=ORDERED, on_changed="overwrite")
    assert list(tmp_path.iterdir()) == []
    assert open_fds(path) == []


# -- line 12: clear errors, with causes -----------------------------------------------------------
SCRIPT = textwrap.dedent(
    """
    import pandas as pd, subprocess, sys
    from llmlabel_widget import LabelTask, Session, StoreError
    mnt = sys.argv[1]
    task = LabelTask(labels=["a", "b"])
    small = pd.DataFrame({"id": range(5), "text": ["t"] * 5})
    Session.open(mnt + "/ro.labels.db", data=small, task=task).close()
    big = pd.DataFrame({"id": range(10, 4010), "text": ["x" * 200 + str(i) for i in range(4000)]})
    for label, call in [
        ("full-new", lambda: Session.open(mnt + "/full.labels.db", data=big, task=task)),
        ("full-add", lambda: Session.open(mnt + "/ro.labels.db", data=big)),
    ]:
        try:
            call()
            print(label, "no error")
        except StoreError as exc:
            print(label, exc)
    subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
    try:
        Session.open(mnt + "/ro.labels.db")
        print("ro no error")
    except StoreError as exc:
        print("ro", exc)
    """
)


@pytest.fixture(scope="module")
def small_disk_outcomes(tmp_path_factory) -> dict[str, str]:
    """Run the store on a real 512 KiB file system, then on the same one read-only."""
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux's unshare for a private tmpfs")
    mnt = tmp_path_factory.mktemp("mnt")
    script = tmp_path_factory.mktemp("script") / "disk.py"
    script.write_text(SCRIPT)
    # A user namespace lets any user mount a private tmpfs; nothing outside sees it.
    cmd = f"mount -t tmpfs -o size=512k tmpfs {mnt} && {sys.executable} {script} {mnt}"
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, timeout=300
    )
    if "Operation not permitted" in done.stderr and not done.stdout:
        pytest.skip(f"this machine refuses private mounts: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


def test_a_full_disk_is_reported_as_a_full_disk(small_disk_outcomes):
    assert "disk is full" in small_disk_outcomes["full-new"]
    assert "disk is full" in small_disk_outcomes["full-add"]
    assert "not an llmlabel-widget store" not in small_disk_outcomes["full-add"]


def test_a_read_only_store_is_reported_as_read_only(small_disk_outcomes):
    assert "read-only" in small_disk_outcomes["ro"]
    assert "not an llmlabel-widget store" not in small_disk_outcomes["ro"]


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_corruption_is_found_at_open(db):
    big = pd.DataFrame({"id": range(3000), "text": [f"text {i} " * 20 for i in range(3000)]})
    Session.open(db, data=big, task=ORDERED).close()
    raw = bytearray(db.read_bytes())
    page = 4096
    raw[page * 20 : page * 20 + 200] = b"\xff" * 200  # a torn write in the middle of the file
    db.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="damaged"):
        Session.open(db)


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_a_non_integer_schema_version_is_a_store_error(db):
    Session.open(db, data=frame(), task=ORDERED).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = 'two' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 'two'"):
        Session.open(db)


def test_bad_decision_arguments_name_the_problem(session):
    item = session.next_items(1)[0]
    with pytest.raises(TypeError, match="dict"):
        session.decide(item, {"agree": True}, annotator="ann")
    with pytest.raises(ValueError, match="reviewer must be a non-empty string"):
        session.decide(item, "agree", annotator="")
    with pytest.raises(ValueError, match="reviewer must be a non-empty string"):
        session.skip(item, annotator="")
    with pytest.raises(ValueError, match="reviewer must be a non-empty string"):
        session.undo(annotator="")
    assert session.annotations["decision"].isna().all()
