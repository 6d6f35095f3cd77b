"""Cost of recomputing the quality figures after a decision, on 10,000 decided items.

Times ``quality_table`` (the headline figures with their bootstrap intervals), ``summarize``
(everything the dashboard shows: the table plus per-label, confusion, reliability, rolling
accuracy, correction patterns; its ``table`` is ``quality_table``'s, one computation),
``apply`` (writing it into the plotly figure) and ``prompt_lab.score`` (a prompt version
scored on the same items, with the same accuracy). The target is under 200 ms for the whole
recompute. ``--invalid`` makes that share of the LLM answers invalid (counted wrong).

With ``--session`` it also builds a real store with that many decisions (about 40 s at
10,000) and times what a live ``Dashboard.refresh()`` costs end to end, including reading
``session.annotations``.

Run: python bench/metrics.py [--rows 10000] [--repeat 7] [--n-boot 1000] [--invalid 0.02]
     [--session]
     [--data FILE.csv --text COL --gold COL --llm COL [--confidence COL]]
     (default: the shipped GWSD climate-stance set with recorded GPT-4o labels, repeated
     to --rows)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from llmlabel_widget import LabelTask, RecordedAnnotator, Session, datasets
from llmlabel_widget.dashboard import Dashboard, apply, build_figure
from llmlabel_widget.metrics import quality_table, summarize
from llmlabel_widget.prompt_lab import score

TARGET_MS = 200.0


def annotations(src: pd.DataFrame, rows: int, seed: int = 0, invalid: float = 0.0) -> pd.DataFrame:
    """A ``session.annotations``-shaped frame of ``rows`` decided items built from ``src``.

    Columns ``text, gold, llm[, confidence]``. The human label is the gold label; one
    decision in ten is a random audit (with its propensity), one in seven is blind; a share
    ``invalid`` of the LLM answers is invalid (no label, ``llm_valid`` False, decision
    ``label``), as the store keeps them.
    """
    reps = -(-rows // len(src))
    big = pd.concat([src] * reps, ignore_index=True).head(rows)
    rng = np.random.default_rng(seed)
    audit = rng.random(rows) < 0.1
    blind = rng.random(rows) < 1 / 7
    context = [
        {"strategy": "audit" if a else "hybrid", "audit": bool(a), "blind": bool(b),
         "propensity": 0.1 / rows if a else 0.9}
        for a, b in zip(audit, blind, strict=True)
    ]  # fmt: skip
    label = big["gold"].astype(object)
    bad = rng.random(rows) < invalid
    llm = big["llm"].astype(object).where(~bad, None)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "item_id": [f"r{i}" for i in range(rows)],
            "text": big["text"].to_numpy(),
            "state": "decided",
            "label": label.to_numpy(),
            "decision": np.where(bad, "label", np.where(label == llm, "accept", "correct")),
            "annotator": "bench",
            "decided_at": start + pd.to_timedelta(np.arange(rows), unit="s"),
            "decision_seq": pd.array(np.arange(1, rows + 1), dtype="Int64"),
            "context": context,
            "llm_label": llm.to_numpy(),
            "llm_valid": pd.array(~bad, dtype="boolean"),
            "llm_confidence": np.where(bad, np.nan, big["confidence"].to_numpy(float)),
        }
    )


def trial_frames(ann: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(proposals, human)`` as ``Session`` hands them to ``prompt_lab.score``."""
    labels = [json.dumps([v]) if v is not None else None for v in ann["llm_label"]]
    proposals = pd.DataFrame(
        {
            "item_id": ann["item_id"],
            "labels": labels,
            "valid": ann["llm_valid"].astype(int),
            "rationale": "",
            "confidence": ann["llm_confidence"],
            "demos": None,
        }
    )
    return proposals, ann[["item_id", "text", "label"]]


def live_session(ann: pd.DataFrame, labels: list[str], n_boot: int, repeat: int) -> None:
    """Store every row of ``ann`` as a decided item, then time a Dashboard refresh."""
    items = ann[["item_id", "text"]].assign(text=ann["text"] + " #" + ann["item_id"])
    path = Path(tempfile.mkdtemp()) / "bench.labels.db"
    rec = RecordedAnnotator(ann, id="item_id", label="llm_label", confidence="llm_confidence")
    t = time.perf_counter()
    s = Session.open(path, data=items, id="item_id", task=LabelTask(labels), annotator=rec)
    s.propose(progress=False)
    for item_id, label, ctx in zip(ann["item_id"], ann["label"], ann["context"], strict=True):
        s.decide(item_id, label, annotator="bench", context=ctx)
    print(f"built a store with {len(ann)} decisions in {time.perf_counter() - t:.1f} s")
    _, med_r, max_r, _ = timed(lambda: s.annotations, repeat)
    dash = Dashboard(s, n_boot=n_boot)
    _, med_d, max_d, _ = timed(dash.refresh, repeat)
    print(f"{'session.annotations':38s} {'':9s} {med_r:10.1f} {max_r:8.1f}")
    print(f"{'Dashboard.refresh (all of it)':38s} {'':9s} {med_d:10.1f} {max_d:8.1f}")
    s.close()


def timed(fn, repeat: int) -> tuple[float, float, float, object]:
    """(first call ms, median ms, max ms, result) over ``repeat`` calls after the first."""
    t = time.perf_counter()
    result = fn()
    first = (time.perf_counter() - t) * 1000
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - t) * 1000)
    return first, statistics.median(runs), max(runs), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", help="CSV with recorded LLM labels (default: shipped GWSD)")
    ap.add_argument("--text", default="text")
    ap.add_argument("--gold", default="gold_label")
    ap.add_argument("--llm", default="llm_label")
    ap.add_argument("--confidence", default=None, help="LLM confidence column (optional)")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--invalid", type=float, default=0.02, help="share of invalid answers")
    ap.add_argument("--session", action="store_true", help="also time a real store")
    args = ap.parse_args()
    if args.data:
        src = pd.read_csv(args.data, keep_default_na=False, na_values=[""])
        name = args.data
        conf_col = args.confidence
    else:
        src = datasets.load("gwsd_climate_stance_gpt4o")
        name = "gwsd_climate_stance_gpt4o (shipped)"
        conf_col = args.confidence or "llm_confidence"
    missing = [c for c in (args.text, args.gold, args.llm, conf_col) if c and c not in src]
    if missing:
        raise SystemExit(f"column(s) {missing} not in {name}; columns are {list(src.columns)}")
    src = pd.DataFrame(
        {
            "text": src[args.text],
            "gold": src[args.gold],
            "llm": src[args.llm],
            "confidence": src[conf_col] if conf_col else np.nan,
        }
    ).dropna(subset=["gold", "llm"])
    ann = annotations(src, args.rows, invalid=args.invalid)
    labels = sorted(set(src["gold"]) | set(src["llm"]), key=str)
    opts = {"labels": labels, "n_boot": args.n_boot}

    print(f"data: {name}; {len(src)} rows with gold and LLM labels, repeated to {len(ann)}")
    print(f"labels: {labels}; bootstrap resamples: {args.n_boot}; repeats: {args.repeat}")
    print(f"invalid LLM answers: {int((~ann['llm_valid']).sum())} (counted wrong)")
    first_q, med_q, max_q, table = timed(lambda: quality_table(ann, **opts), args.repeat)
    first_s, med_s, max_s, summary = timed(lambda: summarize(ann, **opts), args.repeat)
    fig = build_figure()
    first_a, med_a, max_a, _ = timed(lambda: apply(fig, summary), args.repeat)
    proposals, human = trial_frames(ann)
    first_p, med_p, max_p, (scores, _) = timed(lambda: score(proposals, human), args.repeat)
    rows = [
        ("quality_table", first_q, med_q, max_q),
        ("summarize (table + all chart data)", first_s, med_s, max_s),
        ("apply to the plotly figure", first_a, med_a, max_a),
        ("prompt_lab.score (a trial's figures)", first_p, med_p, max_p),
    ]
    print(f"{'step':38s} {'first ms':>9s} {'median ms':>10s} {'max ms':>8s}")
    for step, first, med, worst in rows:
        print(f"{step:38s} {first:9.1f} {med:10.1f} {worst:8.1f}")
    total = med_s + med_a
    verdict = "within" if total < TARGET_MS else "OVER"
    print(
        f"recompute after a decision (summarize + apply), median: {total:.1f} ms "
        f"({verdict} the {TARGET_MS:.0f} ms target)"
    )
    same = scores["accuracy"] == table.loc["accuracy", "value"]
    print(f"prompt score accuracy {scores['accuracy']:.4f}: same as the table's: {same}")
    if args.session:
        live_session(ann, labels, args.n_boot, args.repeat)
    print()
    shown = table[["value", "low", "high", "n", "method"]].copy()
    with pd.option_context("display.width", 160, "display.max_colwidth", 40):
        print(shown.round(3).to_string())


if __name__ == "__main__":
    main()
