"""The kernel side of moving around the work, on Banking77-sized and 100,000-item pools.

For each pool size: a store with one recorded proposal per item and ``--decided`` decisions
by the reviewer, then a Labeler on it (pool order, so no learner runs). It times, inside the
widget's message handler (what bench/ui_latency.py calls the Python share of a key press):

- a decision (accept), which now also re-reads the 20-row history list;
- ``back`` and ``forward`` steps through the reviewer's decided items;
- a ``search`` for a word, for a piece of text that matches nothing, and for an exact id;
- ``Session.history(n=20)`` and ``Session.search`` alone.

Figures are printed (p50 and p95 in ms); nothing is asserted. Usage:
``python bench/navigation.py [--pools 13083 100000] [--decided 5000] [--repeat 50]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import pool

from llmlabel_widget import LabelTask, Selector, Session
from llmlabel_widget.widget import Labeler


def figures(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms  (n={len(ms)})"


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def intent(w: Labeler, kind: str, **extra) -> None:
    msg = {"kind": kind, "revision": w.revision, **extra}
    msg.setdefault("item_id", (w.current or {}).get("item_id"))
    w._handle_custom_msg(msg, [])
    if w.error:
        raise RuntimeError(w.error)


def build(path: Path, n: int, decided: int) -> Session:
    df = pool(n, 77)
    task = LabelTask(labels=sorted(set(df.gold_label)))
    s = Session.open(
        path,
        data=df[["id", "text"]],
        task=task,
        selector=Selector(strategy="in_order", explore=0.0),
    )
    s.add_proposals(
        {"item_id": i, "labels": [g], "valid": True, "source": "recorded", "confidence": 0.9}
        for i, g in zip(df.id, df.gold_label, strict=True)
    )
    for i, g in zip(df.id[:decided], df.gold_label[:decided], strict=True):
        s.decide(i, g, reviewer="bench", context={"via": "labeler"})
    return s


def run(n: int, decided: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        s = build(Path(tmp) / "nav.labels.db", n, decided)
        print(f"\n{n:,} items, {decided:,} decided (built in {time.perf_counter() - t0:.1f} s)")
        w = Labeler(s, annotator="bench")
        word = s.item(w.current["item_id"])["text"].split()[-1]
        rows = {
            "Session.history(n=20)": timed(lambda: s.history(reviewer="bench"), repeat),
            "Session.search(word)": timed(lambda: s.search(word), repeat),
            "Session.search(no match)": timed(lambda: s.search("zz-no-such-text"), repeat),
            "decision (accept) intent": timed(lambda: intent(w, "accept"), repeat),
            "back intent": timed(lambda: intent(w, "back"), repeat),
            "forward intent": timed(lambda: intent(w, "forward"), repeat),
            "search intent (word)": timed(lambda: intent(w, "search", query=word), repeat),
            "search intent (exact id)": timed(lambda: intent(w, "search", query="s7"), repeat),
        }
        for name, samples in rows.items():
            print(f"  {name:28s} {figures(samples)}")
        w.close()
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", type=int, nargs="+", default=[13_083, 100_000])
    ap.add_argument("--decided", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    for n in args.pools:
        run(n, args.decided, args.repeat)


if __name__ == "__main__":
    main()
