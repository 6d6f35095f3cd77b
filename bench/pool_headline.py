"""The Labeler's pool-estimate headline: what it costs, and that decisions do not pay for it.

For each pool size (GWSD sentences with GPT-4o's recorded labels, repeated to the size):

1. ``session.pool_estimates()`` after 200 decisions made in queue order (audit slots
   included): median of 5 calls. This is what the headline shows, and why it is not
   computed inside a decision.
2. Baseline: ``session.accept()`` called directly (the store write every decision needs).
3. The Labeler's message handler on an ``accept`` intent (what bench/ui_latency.py calls the
   Python share of a key press), ``--decisions`` of them ``--pace`` seconds apart, so the
   headline's background computations run while the reviewer decides, as they would.

Step 2 and 3 run in the same process, one after the other, and the handler is reported as a
ratio against the baseline, so figures from runs on a loaded machine stay comparable. Run it
on the code before the change with ``PYTHONPATH=<old checkout>`` for the before figures (it
reports ``headline: none`` there). Figures are printed; nothing is asserted.

Usage: ``python bench/pool_headline.py [--pools 1302 20000] [--decisions 300] [--pace 0.05]``
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


def run(n: int, decisions: int, pace: float) -> None:
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
        base = []
        for q in s.queue(decisions):
            t0 = time.perf_counter()
            s.accept(q.item_id, reviewer="base", context=q.context())
            base.append(time.perf_counter() - t0)
            time.sleep(pace)
        w = Labeler(s, annotator="bench")
        handler = []
        for _ in range(decisions):
            msg = {"kind": "accept", "item_id": w.current["item_id"], "revision": w.revision}
            t0 = time.perf_counter()
            w._handle_custom_msg(msg, [])
            handler.append(time.perf_counter() - t0)
            if w.error:
                raise RuntimeError(w.error)
            time.sleep(pace)
        headline = getattr(w, "_headline", None)
        print(f"  baseline session.accept()     {ms(base)}")
        print(f"  Labeler accept intent         {ms(handler)}")
        p50 = statistics.median(handler) / statistics.median(base)
        mean = statistics.mean(handler) / statistics.mean(base)
        print(f"  ratio handler / baseline      p50 {p50:5.2f}  mean {mean:5.2f}")
        if headline is None:
            print("  headline: none (the status line shows the acceptance rate only)")
        else:
            shown = (w.progress.get("pool") or {}).get("n_human")
            print(
                f"  headline: {headline.computed} background computations during "
                f"{decisions} decisions; last shown rests on {shown} human labels "
                f"(of {200 + 2 * decisions})"
            )
        w.close()
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, nargs="+", default=[1302, 20_000])
    ap.add_argument("--decisions", type=int, default=300)
    ap.add_argument("--pace", type=float, default=0.05)
    args = ap.parse_args()
    for n in args.pools:
        run(n, args.decisions, args.pace)


if __name__ == "__main__":
    main()
