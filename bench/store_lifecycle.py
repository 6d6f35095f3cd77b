"""Where committed work sits after the quickstart, and what open/close cycles leave behind.

Run: python bench/store_lifecycle.py [--cycles 200] [--skip-notebook]

1. Runs ``notebooks/quickstart.ipynb`` with ``jupyter execute`` (offline: recorded LLM labels)
   in a temporary directory, then prints the sizes of ``quickstart.labels.db``, its ``-wal``
   file, and the rows a copy of the ``.db`` file alone holds (without ``-wal``/``-shm``).
2. Runs ``--cycles`` cycles of open, queue, decide, ``close()`` on one store and prints this
   process's threads, open file descriptors and child processes after cycles 10, 50, 100 and
   the last, and how many background refits still reached a listener after ``close()``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from llmlabel_widget import LabelTask, Selector, Session, datasets

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"
TABLES = ("items", "proposals", "events", "meta")


def rows_in_db_file_alone(db: Path) -> dict[str, object]:
    copy = Path(tempfile.mkdtemp()) / db.name
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    try:
        out: dict[str, object] = {}
        for table in TABLES:
            try:
                out[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            except sqlite3.OperationalError as exc:
                out[table] = str(exc)
        return out
    finally:
        conn.close()


def quickstart() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="quickstart-"))
    shutil.copy(NOTEBOOK, workdir)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    t0 = time.perf_counter()
    subprocess.run(
        ["jupyter", "execute", NOTEBOOK.name],  # noqa: S607
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    print(f"quickstart ran in {time.perf_counter() - t0:.0f} s in {workdir}")
    for suffix in ("", "-wal", "-shm"):
        path = workdir / f"quickstart.labels.db{suffix}"
        size = f"{path.stat().st_size:,} bytes" if path.exists() else "absent"
        print(f"  {path.name:28} {size}")
    print(
        f"  rows in the .db file alone: {rows_in_db_file_alone(workdir / 'quickstart.labels.db')}"
    )


def children() -> int:
    me, n = os.getpid(), 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            n += int(stat.rsplit(")", 1)[1].split()[1]) == me
    return n


def resources() -> str:
    return (
        f"threads={threading.active_count()} "
        f"fds={len(list(Path('/proc/self/fd').iterdir()))} children={children()}"
    )


def cycles(n: int) -> None:
    df = datasets.load("gwsd_climate_stance_gpt4o")
    data = df[["id", "text"]].head(n + 20)
    gold = dict(zip(data["id"], df["gold_label"].head(n + 20), strict=True))
    task = LabelTask(labels=["agree", "neutral_or_disagree"])
    db = Path(tempfile.mkdtemp()) / "cycles.labels.db"
    after_close = [0]
    print(f"{n} cycles of open, queue, decide, close() (every 10th waits for its refit):")
    t0 = time.perf_counter()
    for cycle in range(1, n + 1):
        selector = Selector(strategy="llm_confidence", seed=cycle, debounce=0.05)
        s = Session.open(db, data=data, task=task, selector=selector)
        closed = [False]

        def refitted(closed: list[bool] = closed) -> None:
            after_close[0] += closed[0]

        s.selector.on_refit(refitted)
        item = s.queue(1)[0]
        s.decide(item.item_id, gold[item.item_id], annotator="cycler")
        if cycle % 10 == 0:
            s.selector.wait(60)
        s.close()
        closed[0] = True
        if cycle in (10, 50, 100, n):
            print(f"  after cycle {cycle:4}: {resources()}")
    time.sleep(1.0)  # past every debounce: a refit left pending would have run by now
    print(f"  background refits that reached a listener after close(): {after_close[0]}")
    print(f"  {time.perf_counter() - t0:.0f} s; after 1 s idle: {resources()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--skip-notebook", action="store_true")
    args = ap.parse_args()
    if not args.skip_notebook:
        quickstart()
    cycles(args.cycles)


if __name__ == "__main__":
    main()
