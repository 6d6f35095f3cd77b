"""Expected calibration error of the LLM's confidence, raw and recalibrated on a random audit.

Per data set with a recorded confidence and per audit size, each replay draws a random audit
of the pool (gold plays the human), fits the product's ``fit_calibration`` on it (``auto``:
Platt below 100 labels, isotonic from 100; also each method forced), and measures the
expected calibration error (the product's ``expected_calibration_error``, 10 bins) of the
raw and the calibrated confidence on the held-out items (the rest of the pool). It prints
the mean ECE of each, and the share of replays where the calibrated ECE is lower.

Run: python bench/calibration.py [--runs 200]
     [--data FILE.csv --gold COL --llm COL --confidence COL]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from llmlabel_widget import datasets
from llmlabel_widget.estimation import expected_calibration_error
from llmlabel_widget.estimation.recalibration import fit_calibration

SETS = {
    "gwsd_climate_stance_gpt4o": ("gold_label", "llm_label", "llm_confidence"),
    "tornberg_us_senators_gpt4": ("gold_label", "llm_label", "llm_confidence"),
}
SIZES = (50, 100, 200, 500)


def ece(frame: pd.DataFrame, conf: np.ndarray) -> float:
    return expected_calibration_error(frame.assign(llm_confidence=conf), n_boot=0).value


def run(name: str, df: pd.DataFrame, gold: str, llm: str, conf_col: str, runs: int) -> None:
    frame = pd.DataFrame({"label": df[gold], "llm_label": df[llm]})
    conf = df[conf_col].to_numpy(float)
    correct = (df[gold] == df[llm]).to_numpy()
    for size in SIZES:
        if size >= len(df):
            print(f"{name:28s} {size:>5d}  (audit >= pool of {len(df)}: skipped)")
            continue
        rng = np.random.default_rng(0)
        raw, cal = [], {"auto": [], "platt": [], "isotonic": []}
        chosen = ""
        for _ in range(runs):
            order = rng.permutation(len(df))
            audit, held = order[:size], order[size:]
            raw.append(ece(frame.iloc[held], conf[held]))
            for method in cal:
                fit = fit_calibration(
                    conf[audit], correct[audit], pool_confidence=conf, method=method
                )
                if method == "auto":
                    chosen = fit.method or fit.note
                value = fit.predict(conf[held]) if fit.fitted else conf[held]
                cal[method].append(ece(frame.iloc[held], value))
        raw_a, auto = np.array(raw), np.array(cal["auto"])
        print(
            f"{name:28s} {size:>5d} {runs:>7d} {raw_a.mean():>8.4f} {auto.mean():>9.4f} "
            f"{np.mean(cal['platt']):>8.4f} {np.mean(cal['isotonic']):>9.4f} "
            f"{(auto < raw_a).mean():>11.1%}  {chosen}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--data")
    ap.add_argument("--gold", default="gold_label")
    ap.add_argument("--llm", default="llm_label")
    ap.add_argument("--confidence", default="llm_confidence")
    args = ap.parse_args()
    print("ECE on held-out items (mean over replays); 'auto' is what the product uses")
    print(f"{'data set':28s} {'audit':>5s} {'replays':>7s} {'raw':>8s} {'auto':>9s} "
          f"{'Platt':>8s} {'isotonic':>9s} {'auto < raw':>11s}  method")  # fmt: skip
    if args.data:
        sets = {args.data: (pd.read_csv(args.data), args.gold, args.llm, args.confidence)}
    else:
        sets = {n: (datasets.load(n), *cols) for n, cols in SETS.items()}
    for name, (df, gold, llm, conf) in sets.items():
        run(name, df, gold, llm, conf, args.runs)


if __name__ == "__main__":
    main()
