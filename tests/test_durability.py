"""Two writers at once, SIGKILL in the middle of decide(), and the .labels.db file alone:
nothing returned is lost."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from llmlabel_widget import RecordedAnnotator, Session

WRITER = textwrap.dedent(
    """
    import sys
    from llmlabel_widget import Session
    path, who, start, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = Session.open(path)
    ids = list(s.annotations["item_id"])
    for n in range(count):
        item = ids[(start + n) % len(ids)]
        d = s.decide(item, "agree" if n % 2 else "neutral_or_disagree", annotator=who)
        if n % 10 == 9:
            s.undo(annotator=who)
        # report only after decide() returned: the parent may kill us at any moment
        sys.stdout.write(f"{d.seq} {item}\\n")
        sys.stdout.flush()
    """
)


def spawn(db, who, start, count):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), who, str(start), str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_writing_at_once_lose_nothing(db, gwsd, gwsd_task):
    Session.open(db, data=gwsd.head(300), task=gwsd_task).close()
    a = spawn(db, "alice", 0, 300)
    b = spawn(db, "bob", 150, 300)  # overlapping items on purpose
    out_a, _ = a.communicate(timeout=120)
    out_b, _ = b.communicate(timeout=120)
    assert a.returncode == b.returncode == 0
    reported = [line.split() for line in (out_a + out_b).splitlines()]
    assert len(reported) == 600
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(conn.execute("SELECT seq, item_id FROM events WHERE kind != 'undo'"))
        per = dict(conn.execute("SELECT annotator, COUNT(*) FROM events GROUP BY annotator"))
    assert {int(seq): item for seq, item in reported} == rows
    assert per == {"alice": 330, "bob": 330}  # 300 decisions + 30 undos each
    s = Session.open(db)
    # each writer undid every tenth decision; both are interleaved but none is lost
    assert s.progress()["decided"] == len(set(s.items("decided")["item_id"]))
    s.close()


@pytest.mark.slow
def test_sigkill_during_decide_loses_no_returned_decision(db, gwsd, gwsd_task):
    Session.open(db, data=gwsd.head(500), task=gwsd_task).close()
    rng = random.Random(20261125)
    confirmed: dict[int, str] = {}
    runs = 25
    for run in range(runs):
        child = spawn(db, f"crash{run}", rng.randrange(500), 10_000)
        stop_after = rng.randint(1, 80)
        for _ in range(stop_after):
            line = child.stdout.readline()
            seq, item = line.split()
            confirmed[int(seq)] = item
        time.sleep(rng.random() * 0.005)  # land somewhere inside the next decide()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        for line in child.stdout:  # reports already in the pipe also count
            seq, item = line.split()
            confirmed[int(seq)] = item
        assert child.returncode == -signal.SIGKILL
        s = Session.open(db)  # reopening after a crash works
        s.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(conn.execute("SELECT seq, item_id FROM events"))
    missing = {seq: item for seq, item in confirmed.items() if stored.get(seq) != item}
    assert not missing, f"decisions lost after SIGKILL: {missing}"
    assert len(confirmed) >= runs


# -- the .labels.db file alone holds all committed work -------------------------------------
TABLES = ("items", "proposals", "events", "meta", "cache", "prompt_versions")


def rows_in(conn: sqlite3.Connection) -> dict[str, int | None]:
    """Rows per table (None: the table is not there)."""
    out: dict[str, int | None] = {}
    for table in TABLES:
        try:
            out[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # no such table
            out[table] = None
    return out


def only_the_db_file(db, tmp_path) -> dict[str, int | None]:
    """Row counts of a copy of the .labels.db file alone, without its -wal and -shm files."""
    copy = tmp_path / "copy" / "only.labels.db"
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    try:
        return rows_in(conn)
    finally:
        conn.close()


def committed(db) -> dict[str, int | None]:
    """Row counts as any connection sees them (database file and write-ahead log)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return rows_in(conn)
    finally:
        conn.close()


def reader(db) -> sqlite3.Connection:
    """Another connection that has read the store (so it holds the shared WAL index open)."""
    conn = sqlite3.connect(db)
    conn.execute("SELECT COUNT(*) FROM items").fetchone()
    return conn


def test_after_propose_the_db_file_alone_holds_the_proposals(db, gwsd, gwsd_task, tmp_path):
    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    s = Session.open(db, data=gwsd[["id", "text"]].head(300), task=gwsd_task, annotator=rec)
    s.propose(progress=False)
    want = committed(db)
    assert want["proposals"] == 300
    assert only_the_db_file(db, tmp_path) == want
    s.close()


def test_after_a_burst_of_decisions_the_db_file_alone_holds_them(db, gwsd, gwsd_task, tmp_path):
    s = Session.open(db, data=gwsd[["id", "text"]].head(300), task=gwsd_task)
    for n, item_id in enumerate(s.next_items(25)):
        s.decide(item_id, "agree" if n % 2 else "neutral_or_disagree", annotator="alice")
    s.undo(annotator="alice")
    want = committed(db)
    assert want["events"] == 26
    # the reviewer pauses (the kernel is idle): soon the file holds every decision
    deadline = time.monotonic() + 60
    while only_the_db_file(db, tmp_path) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    assert only_the_db_file(db, tmp_path) == want
    s.close()


def test_close_checkpoints_while_another_connection_stays_open(db, gwsd, gwsd_task, tmp_path):
    s = Session.open(db, data=gwsd[["id", "text"]].head(300), task=gwsd_task)
    other = reader(db)  # e.g. a second kernel on the same store
    try:
        s.decide(s.next_items(1)[0], "agree", annotator="alice")
        want = committed(db)
        s.close()
        s.close()  # closing twice is harmless
        assert only_the_db_file(db, tmp_path) == want
    finally:
        other.close()


EXITING = textwrap.dedent(
    """
    import sys
    from llmlabel_widget import Session
    s = Session.open(sys.argv[1])
    for item_id in s.next_items(5):
        s.decide(item_id, "agree", annotator="script")
    print("decided", flush=True)
    # no close(): the interpreter exits straight away, before any pause in the decisions
    """
)


def test_at_exit_the_db_file_alone_holds_the_work(db, gwsd, gwsd_task, tmp_path):
    Session.open(db, data=gwsd[["id", "text"]].head(300), task=gwsd_task).close()
    other = reader(db)  # the store stays open elsewhere while the script runs
    try:
        done = subprocess.run(
            [sys.executable, "-c", EXITING, str(db)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "decided\n"
        want = committed(db)
        assert want["events"] == 5
        assert only_the_db_file(db, tmp_path) == want
    finally:
        other.close()
