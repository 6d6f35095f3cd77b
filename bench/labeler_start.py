"""First render of a Labeler on a big pool: Python-side construction until the first state.

Builds a session of N items (texts from the shipped GWSD data set, made unique, each with a
recorded proposal), closes it, opens it again as a user would in a new kernel, and times
``Labeler(session)`` from the call until the widget holds its first state (item, queue
preview, progress: what its comm_open carries to the browser). It then reports how long the
selector takes to finish its first ranking in the background, and what the view said meanwhile.

Usage: ``python bench/labeler_start.py [--pool 13083 100000] [--strategy hybrid]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from llmlabel_widget import Labeler, LabelTask, Selector, Session, datasets

TASK = LabelTask(
    labels={
        "agree": "agrees it is a serious concern",
        "neutral_or_disagree": "neutral, or disagrees",
    }
)


def build(path: Path, pool: int) -> None:
    src = datasets.load("gwsd_climate_stance_gpt4o")
    texts, labels = src.text.tolist(), src.llm_label.tolist()
    ids = [f"item-{i:06d}" for i in range(pool)]
    items = pd.DataFrame(
        {"id": ids, "text": [f"{texts[i % len(texts)]} [{i}]" for i in range(pool)]}
    )
    with Session.open(path, data=items, task=TASK) as s:
        s.add_proposals(
            {
                "item_id": ids[i],
                "labels": [labels[i % len(labels)]],
                "valid": True,
                "confidence": 0.8,
                "confidence_method": "recorded",
                "source": "recorded",
            }
            for i in range(pool)
        )


def measure(path: Path, strategy: str) -> dict[str, object]:
    session = Session.open(path, task=TASK, selector=Selector(strategy=strategy))
    t0 = time.perf_counter()
    labeler = Labeler(session, annotator="bench")
    first = time.perf_counter() - t0
    said = (labeler.progress.get("preparing"), (labeler.current or {}).get("reason"))
    t1 = time.perf_counter()
    session.selector.wait(900)
    ranked = time.perf_counter() - t1
    labeler.close()
    session.close()
    return {
        "first_state_s": first,
        "ranking_after_s": ranked,
        "preparing": said[0],
        "reason": said[1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", type=int, nargs="+", default=[13_083, 100_000])
    ap.add_argument("--strategy", default="hybrid")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for pool in args.pool:
            path = Path(tmp) / f"start{pool}.labels.db"
            build(path, pool)
            out = measure(path, args.strategy)
            print(
                f"pool {pool:>7,}: Labeler(session) first state {out['first_state_s']:.3f} s; "
                f"background ranking done {out['ranking_after_s']:.2f} s later; "
                f"preparing={out['preparing']!r}; first reason {out['reason']!r}",
                flush=True,
            )


if __name__ == "__main__":
    main()
