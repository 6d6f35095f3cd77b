"""Certified auto-accept in simulation: how often the realised error exceeds ``max_error``.

Per data set with recorded LLM labels and per audit size (50, 100, 200, 500 items), each
replay draws a random audit of the pool (gold plays the human), asks the product's
``certify_threshold`` for a threshold on the open items, and auto-accepts the open items at
or above it. It prints, per data set and audit size: replays, the share certifying a
threshold, the share of replays whose realised error among auto-accepted items exceeds
``max_error`` (target: at most 1 - level = 5%), the mean number of items auto-accepted and
their mean realised error. A data set without a confidence column is one candidate (all
proposals).

Run: python bench/auto_accept.py [--runs 200] [--max-error 0.02] [--level 0.95]
     [--data FILE.csv --text COL --gold COL --llm COL [--confidence COL]]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from llmlabel_widget import datasets
from llmlabel_widget.estimation.auto_accept import certify_threshold

SETS = {  # name: (gold, llm, confidence or None); multi-label cells are "a|b" strings
    "gwsd_climate_stance_gpt4o": ("gold_label", "llm_label", "llm_confidence"),
    "tornberg_us_senators_gpt4": ("gold_label", "llm_label", "llm_confidence"),
    "css_emotion_llm": ("gold_label", "llm_label", None),
    "css_semeval_stance_trump_llm": ("gold_label", "llm_label", None),
    "t2i_prompt_modifiers_gpt4_cot": ("gold_labels", "llm_labels", None),
}
SIZES = (50, 100, 200, 500)


def pool(df: pd.DataFrame, gold: str, llm: str, conf: str | None) -> tuple[np.ndarray, ...]:
    """(correct, valid, confidence) per item; an LLM answer that is missing is invalid."""

    def norm(v: object) -> object:
        return frozenset(str(v).split("|")) if isinstance(v, str) and "|" in v else v

    valid = df[llm].notna().to_numpy()
    correct = np.array([norm(g) == norm(x) for g, x in zip(df[gold], df[llm], strict=True)])
    c = df[conf].to_numpy(float) if conf else np.full(len(df), np.nan)
    return correct & valid, valid, c


def replay(correct, valid, conf, size, rng, max_error, level):
    n = len(correct)
    order = rng.permutation(n)
    audit, rest = order[:size], order[size:]
    a = audit[valid[audit]]
    open_ = rest[valid[rest]]
    cert = certify_threshold(conf[open_], correct[a], conf[a], n, max_error, level)
    if not cert.certified:
        return False, 0, 0.0
    c = conf[open_]
    took = open_[np.isfinite(c) & (c >= cert.threshold)] if np.isfinite(c).any() else open_
    return True, len(took), float(1 - correct[took].mean()) if len(took) else 0.0


def run(name, correct, valid, conf, runs, max_error, level, seed=0):
    for size in SIZES:
        if size >= len(correct):
            print(f"{name:32s} {size:>5d}  (audit >= pool of {len(correct)}: skipped)")
            continue
        rng = np.random.default_rng(seed)
        started = time.perf_counter()
        out = [replay(correct, valid, conf, size, rng, max_error, level) for _ in range(runs)]
        ok = np.array([o[0] for o in out])
        took = np.array([o[1] for o in out])
        err = np.array([o[2] for o in out])
        over = (err > max_error) & ok
        mean_err = f"{err[ok].mean():.4f}" if ok.any() else "   —  "
        print(
            f"{name:32s} {size:>5d} {runs:>7d} {ok.mean():>9.1%} {over.mean():>10.1%} "
            f"{took.mean():>10.1f} {mean_err:>9s} {time.perf_counter() - started:>6.1f}s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--max-error", type=float, default=0.02)
    ap.add_argument("--level", type=float, default=0.95)
    ap.add_argument("--data")
    ap.add_argument("--text", default="text")
    ap.add_argument("--gold", default="gold_label")
    ap.add_argument("--llm", default="llm_label")
    ap.add_argument("--confidence")
    args = ap.parse_args()
    print(f"max_error {args.max_error:g}, level {args.level:g}: target over-max <= "
          f"{1 - args.level:.0%} of replays")  # fmt: skip
    print(f"{'data set':32s} {'audit':>5s} {'replays':>7s} {'certified':>9s} "
          f"{'over max':>10s} {'mean auto':>10s} {'mean err':>9s} {'time':>7s}")  # fmt: skip
    if args.data:
        df = pd.read_csv(args.data)
        sets = {args.data: (df, args.gold, args.llm, args.confidence)}
    else:
        sets = {n: (datasets.load(n), *cols) for n, cols in SETS.items()}
    for name, (df, gold, llm, conf) in sets.items():
        run(name, *pool(df, gold, llm, conf), args.runs, args.max_error, args.level)


if __name__ == "__main__":
    main()
