"""What the walked audit items' out-of-fold probabilities add to a refit.

Run: python bench/refit_oof.py [--rounds 10]
On GWSD (1,302 items, the product's TF-IDF features), with the first 20 and 60 items of the
audit order decided and all right (so the `disagreement` strategy's error model is not
ready: the case where the out-of-fold fits are new), times `selection.rank` with the walked
items ranked out-of-fold (the product) against the same call ranking them in-sample (as
before), interleaved; prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

import llmlabel_widget.selection.rank  # noqa: F401 (the module, for its _fit_predict)
from llmlabel_widget.datasets import load
from llmlabel_widget.selection import PoolState, Settings, rank
from llmlabel_widget.selection.audit import audit_positions
from llmlabel_widget.selection.learner import text_features

RANK: Any = sys.modules["llmlabel_widget.selection.rank"]
REAL = RANK._fit_predict


def in_sample(*args: object) -> object:
    return REAL(*args[:-1], False)  # walked=False: the old in-sample probabilities


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    d = load()
    n = len(d)
    ids = np.array([str(i) for i in range(n)], dtype=object)
    x = text_features(d["text"].tolist())
    llm = np.empty(n, dtype=object)
    llm[:] = [[v] for v in d["llm_label"]]
    order = np.argsort(audit_positions(ids, 1))
    for k in (20, 60):
        human = np.empty(n, dtype=object)
        for i in order[:k]:
            human[i] = llm[i]
        state = PoolState(
            ids=ids,
            texts=[""] * n,
            human=human,
            skipped=np.zeros(n, bool),
            llm=llm,
            llm_confidence=d["llm_confidence"].to_numpy(float),
            llm_agreement=np.full(n, np.nan),
            classes=["agree", "neutral_or_disagree"],
        )
        times: dict[bool, list[float]] = {True: [], False: []}
        for r in range(args.rounds):
            for oof in (True, False):
                RANK._fit_predict = REAL if oof else in_sample
                settings = Settings(strategy="disagreement", explore=0.1, seed=r, audit_seed=1)
                t0 = time.perf_counter()
                rank(state, settings, x)
                times[oof].append(time.perf_counter() - t0)
        RANK._fit_predict = REAL
        new, old = np.median(times[True]) * 1000, np.median(times[False]) * 1000
        print(
            f"{k} audit items decided: refit {new:.0f} ms out-of-fold, {old:.0f} ms in-sample, "
            f"ratio {new / old:.2f}"
        )


if __name__ == "__main__":
    main()
