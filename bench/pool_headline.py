"""The Labeler's pool-estimate headline: what it costs, and that decisions do not pay for it.

For each pool size (GWSD sentences with GPT-4o's recorded labels, repeated to the size):

1. ``session.pool_estimates()`` after 200 decisions made in queue order (audit slots
   included): median of 5 calls. This is what the headline shows, and why it is not
   computed inside a decision.
2. The Labeler's message handler on an ``accept`` intent (what bench/ui_latency.py calls the
   Python share of a key press), ``--pace`` seconds apart, so the headline's background
   computations run while the reviewer decides, as they would. In ``--rounds`` rounds, blocks
   of ``--block`` decisions take turns: ``baseline`` (``session.accept()`` called directly:
   the store write every decision needs), ``headline off`` (the Labeler with its background
   work switched off: no new pool estimate, no refit of the card's calibration) and
   ``headline on`` (as shipped). Each block waits for the headline's last computation
   first, so none leaks into the next.

The blocks interleave in one process, so the ratios against the baseline compare like with
like on a loaded machine. On the code before the change (``PYTHONPATH=<old checkout>``) there
is no headline: ``headline off`` is then the decision path as it was (with the card's
calibration refitted inside every tenth decision). Nothing is asserted.

Usage: ``python bench/pool_headline.py [--pools 1302 20000] [--rounds 4] [--block 50]
[--pace 0.05]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from llmlabel_widget import LabelTask, Selector, Session, datasets
from llmlabel_widget.widget import Labeler


def ms(samples: list[float]) -> str:
    xs = sorted(s * 1000 for s in samples)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    p50, mean = statistics.median(xs), statistics.mean(xs)
    return f"p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  mean {mean:7.2f} ms"


def build(path: Path, n: int, decided: int) -> tuple[Session, pd.Series]:
    src = datasets.load("gwsd_climate_stance_gpt4o")
    df = pd.concat([src] * -(-n // len(src)), ignore_index=True).head(n)
    df["id"] = [f"i{k:06d}" for k in range(n)]
    task = LabelTask(labels=["agree", "neutral_or_disagree"])
    s = Session.open(
        path, data=df[["id", "text"]], task=task, selector=Selector(strategy="in_order")
    )
    s.add_proposals(
        {"item_id": i, "labels": [lab], "valid": True, "source": "recorded", "confidence": c}
        for i, lab, c in zip(df.id, df.llm_label, df.llm_confidence.fillna(0.5), strict=True)
    )
    gold = df.set_index("id")["gold_label"]
    for q in s.queue(decided):
        s.decide(q.item_id, gold[q.item_id], reviewer="bench", context=q.context())
    return s, gold


def accept_block(w: Labeler, n: int, pace: float, headline: bool) -> list[float]:
    """``n`` accept intents through the handler, with the background headline on or off."""
    h = getattr(w, "_headline", None)
    if h is not None:
        h.wait()  # the last block's computation is over before this block starts
        if not headline:
            h.request = lambda: None  # this instance only: no new computation
    out = []
    for _ in range(n):
        msg = {"kind": "accept", "item_id": w.current["item_id"], "revision": w.revision}
        t0 = time.perf_counter()
        w._handle_custom_msg(msg, [])
        out.append(time.perf_counter() - t0)
        if w.error:
            raise RuntimeError(w.error)
        time.sleep(pace)
    if h is not None and not headline:
        del h.request
    return out


def run(n: int, rounds: int, block: int, pace: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s, _gold = build(Path(tmp) / "h.labels.db", n, 200)
        s.pool_estimates()
        cost = []
        for _ in range(5):
            t0 = time.perf_counter()
            s.pool_estimates()
            cost.append(time.perf_counter() - t0)
        print(f"\n{n:,} items, 200 decided")
        print(f"  session.pool_estimates()      median {statistics.median(cost) * 1000:7.1f} ms")
        w = Labeler(s, annotator="bench")
        has = getattr(w, "_headline", None) is not None
        times: dict[str, list[float]] = {"baseline": [], "headline off": [], "headline on": []}
        computed = 0
        for _ in range(rounds):
            if has:
                w._headline.wait()
            for q in s.queue(block):
                t0 = time.perf_counter()
                s.accept(q.item_id, reviewer="base", context=q.context())
                times["baseline"].append(time.perf_counter() - t0)
                time.sleep(pace)
            w.refresh()  # the baseline's decisions moved the queue
            times["headline off"] += accept_block(w, block, pace, headline=False)
            if has:
                before = w._headline.computed
                times["headline on"] += accept_block(w, block, pace, headline=True)
                computed += w._headline.computed - before
        base = times["baseline"]
        for name, xs in times.items():
            if not xs:
                continue
            p50 = statistics.median(xs) / statistics.median(base)
            mean = statistics.mean(xs) / statistics.mean(base)
            print(f"  {name:13s} {ms(xs)}   / baseline: p50 {p50:5.2f}  mean {mean:5.2f}")
        if has:
            print(
                f"  headline: {computed} background computations during "
                f"{len(times['headline on'])} decisions with it on"
            )
        w.close()
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, nargs="+", default=[1302, 20_000])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--pace", type=float, default=0.05)
    args = ap.parse_args()
    for n in args.pools:
        run(n, args.rounds, args.block, args.pace)


if __name__ == "__main__":
    main()
