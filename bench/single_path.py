"""The SQLite single-user path, this tree against another (e.g. main), in the same run.

Run: git archive main | tar -x -C /tmp/old_main
     python bench/single_path.py --old /tmp/old_main [--items 100000] [--decisions 300]
     [--rounds 3]
Each round runs both trees one after the other, each in a fresh process on its own copy of
the same store (``--items`` synthetic items, default selector, its first ranking in): the
next-items call (``session.queue(5)``) and ``decide`` with no reviewer, as one person labels.
Prints each tree's p50/p95 over all rounds and the ratio this tree / the other (below 1:
faster here). Rounds alternate which tree goes first, so load on the machine hits both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
from llmlabel_widget import Session
s = Session.open(sys.argv[1])
s.queue(5)
s.selector.wait(600)
nexts, decides = [], []
while len(decides) < int(sys.argv[2]):
    t0 = time.perf_counter()
    queue = s.queue(5)
    nexts.append(time.perf_counter() - t0)
    for item in queue:
        t0 = time.perf_counter()
        s.decide(item.item_id, "positive")
        decides.append(time.perf_counter() - t0)
s.close()
print(json.dumps({"next": nexts, "decide": decides}))
"""


def build(path: Path, n: int) -> None:
    import pandas as pd

    sys.path.insert(0, str(HERE))
    from llmlabel_widget import LabelTask, Session

    task = LabelTask(labels={"positive": "praises it", "negative": "criticises it"})
    ids = [f"r{i}" for i in range(n)]
    data = pd.DataFrame({"id": ids, "text": [f"item {i}" for i in range(n)]})
    Session.open(path, data=data, task=task).close()


def measure(tree: Path, template: Path, folder: Path, decisions: int) -> dict[str, list[float]]:
    store = folder / f"run-{time.monotonic_ns()}.labels.db"
    shutil.copy(template, store)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(store), str(decisions)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=folder,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--old", required=True, help="the other tree (a checkout of main)")
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--decisions", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="llmlabel-single-"))
    try:
        template = folder / "template.labels.db"
        build(template, args.items)
        trees = {"this": HERE, "old": Path(args.old).resolve()}
        got: dict[str, dict[str, list[float]]] = {k: {"next": [], "decide": []} for k in trees}
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                one = measure(trees[name], template, folder, args.decisions)
                for key in ("next", "decide"):
                    got[name][key] += one[key]
        print(f"SQLite, one user, {args.items:,} items, {args.rounds} rounds x {args.decisions}")
        print("tree   next p50  next p95  decide p50  decide p95")
        for name in trees:
            n, d = (np.array(got[name][k]) * 1000 for k in ("next", "decide"))
            print(
                f"{name:<5} {np.percentile(n, 50):>7.2f}ms {np.percentile(n, 95):>7.2f}ms "
                f"{np.percentile(d, 50):>9.2f}ms {np.percentile(d, 95):>9.2f}ms"
            )
        for key in ("next", "decide"):
            for q in (50, 95):
                a, b = (np.percentile(got[t][key], q) for t in ("this", "old"))
                print(f"ratio this/old, {key} p{q}: {a / b:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
