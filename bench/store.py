"""Store benchmark: decide() latency, opening a 1,000,000-item store, building annotations.

Run: python bench/store.py [--items 100000] [--big 1000000] [--decisions 2000]
Texts are real SST-2 sentences (shipped), repeated with a row suffix to reach the sizes.
Each measurement that reports peak memory runs in a fresh child process (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from llmlabel_widget import LabelTask, Session, datasets

TASK = LabelTask(labels={"positive": "praises the film", "negative": "criticises it"})


def frame(n: int) -> pd.DataFrame:
    sst = datasets.load("sst2")
    reps = -(-n // len(sst))
    texts = np.tile(sst["text"].to_numpy(), reps)[:n]
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [f"{t} #{i}" for i, t in enumerate(texts)],
            "source": np.tile(sst["source_split"].to_numpy(), reps)[:n],
        }
    )


def child(step: str, path: str, n: int) -> None:
    """One measured step in a fresh process; prints JSON."""
    out: dict[str, float] = {}
    if step in ("open_with_data", "open_with_new_rows"):
        df = frame(n + (1000 if step == "open_with_new_rows" else 0))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        s = Session.open(path, data=df, task=TASK)
        out["seconds"] = time.perf_counter() - t
        out["rss_before_mb"] = rss_before / 1024
    elif step == "open":
        t = time.perf_counter()
        s = Session.open(path)
        s.progress()
        out["seconds"] = time.perf_counter() - t
    elif step == "annotations":
        s = Session.open(path)
        t = time.perf_counter()
        ann = s.annotations
        out["seconds"] = time.perf_counter() - t
        out["rows"] = len(ann)
    else:
        raise SystemExit(f"unknown step {step}")
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_child(step: str, path: Path, n: int) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, __file__, "--child", step, str(path), str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--decisions", type=int, default=2000)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    tmp = Path(tempfile.mkdtemp(prefix="llmlabel-bench-"))

    # decide() latency on a 100k-item store
    s = Session.open(tmp / "100k.db", data=frame(args.items), task=TASK)
    ids = list(s.annotations["item_id"])
    rng = np.random.default_rng(0)
    lat = []
    for k in range(args.decisions):
        item = ids[int(rng.integers(len(ids)))]
        t = time.perf_counter()
        s.decide(item, "positive" if k % 2 else "negative", annotator="bench")
        lat.append(time.perf_counter() - t)
    s.close()
    ms = np.array(lat) * 1000
    print(
        f"decide latency on {args.items:,} items ({args.decisions} decisions, "
        f"synchronous=FULL): p50 {np.percentile(ms, 50):.2f} ms, "
        f"p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.1f} ms   [target p95 < 5 ms]"
    )

    # 1M-item store: create, then re-open (as re-running the notebook cell does)
    big = tmp / "1m.db"
    first = run_child("open_with_data", big, args.big)
    print(
        f"create {args.big:,}-item store from a DataFrame: {first['seconds']:.2f} s, "
        f"peak RSS {first['peak_rss_mb']:.0f} MB"
    )
    again = run_child("open_with_data", big, args.big)
    print(
        f"re-open {args.big:,}-item store with the same DataFrame (hash check): "
        f"{again['seconds']:.2f} s, peak RSS {again['peak_rss_mb']:.0f} MB "
        f"(of which the DataFrame itself ~{again['rss_before_mb']:.0f} MB)   "
        "[target < 5 s, < 2 GB]"
    )
    grown = run_child("open_with_new_rows", big, args.big)
    print(
        f"re-open with 1,000 new rows appended (full id/hash comparison): "
        f"{grown['seconds']:.2f} s, peak RSS {grown['peak_rss_mb']:.0f} MB"
    )
    plain = run_child("open", big, args.big)
    print(
        f"re-open {args.big:,}-item store without data: {plain['seconds']:.2f} s, "
        f"peak RSS {plain['peak_rss_mb']:.0f} MB"
    )
    ann = run_child("annotations", big, args.big)
    print(
        f"annotations DataFrame at {int(ann['rows']):,} items: {ann['seconds']:.2f} s, "
        f"peak RSS {ann['peak_rss_mb']:.0f} MB"
    )
    print(f"store file: {big.stat().st_size / 1e6:.0f} MB ({tmp})")


if __name__ == "__main__":
    main()
