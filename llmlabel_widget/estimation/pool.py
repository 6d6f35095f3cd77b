"""The LLM's accuracy on the whole pool, corrected for how reviewed items were chosen."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .agreement import _accuracy
from .intervals import Measure, _proportion, wilson_interval
from .pairs import _Pairs, _pairs

NAIVE_ONLY = "naive only: reviewed items were not sampled at random"


# -- honest estimates of the LLM's accuracy on the whole pool ------------------------------
def pool_accuracy(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> pd.DataFrame:
    """The LLM's accuracy on the whole pool, corrected for how reviewed items were chosen.

    A selector shows the items it finds most useful, not a random sample, so accuracy on
    reviewed items is biased. From the decision ``context``:

    - ``audit``: accuracy on items drawn uniformly at random (``{"audit": true}``), Wilson.
    - ``ipw``: the Hájek inverse-probability-weighted accuracy over reviewed items with a
      ``propensity``; Wilson interval at the effective sample size (Kish's
      (Σw)²/Σw², or less when the linearised variance implies less), never narrower than
      the ``audit`` interval: audit items carry the largest weights, and when they all
      happen to be correct the weighted variance collapses. ``n`` is that effective
      sample size, not the number of items.
    - ``naive``: all reviewed items, unweighted (always shown, for comparison).

    ``used`` marks the estimate to report: ``ipw`` when every reviewed item has a
    propensity (or no audit items exist), else ``audit``, else only ``naive`` with
    ``attrs["note"]`` saying "naive only: reviewed items were not sampled at random".

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a"], "llm_label": ["a", "a", "a"],
    ...                    "context": [{"audit": True}, None, {"audit": True}]})
    >>> audit = pool_accuracy(df).loc["audit"]
    >>> float(audit["value"]), int(audit["n"]), bool(audit["used"])
    (1.0, 2, True)
    """
    return _pool_accuracy(_pairs(ann, human=human, llm=llm), level)


def _pool_accuracy(p: _Pairs, level: float) -> pd.DataFrame:
    ans = p.answers
    ctx = ans.context
    audit = ctx["audit"].to_numpy(bool)
    prop = ctx["propensity"].to_numpy(float)
    has_p = np.isfinite(prop)
    rows: dict[str, dict[str, Any]] = {}
    naive = _accuracy(p, level)
    rows["naive"] = {**_row(naive), "n_effective": float(ans.n), "note": "all reviewed items"}
    k_a, n_a = int(ans.correct[audit].sum()), int(audit.sum())
    a = _proportion("audit", k_a, n_a, "random audit items", level)
    rows["audit"] = {
        **_row(a),
        "n_effective": float(n_a),
        "note": "items drawn uniformly at random from the open pool"
        if n_a
        else "no random-audit items",
    }
    if has_p.any():
        rows["ipw"] = _hajek(1.0 / prop[has_p], ans.correct[has_p], a, level, ans.n)
    else:
        rows["ipw"] = {
            "value": math.nan,
            "low": math.nan,
            "high": math.nan,
            "n": 0,
            "n_effective": 0.0,
            "note": "no propensities recorded",
        }
    if has_p.any() and (has_p.all() or n_a == 0):
        used, note = "ipw", "inverse-probability weighted (Hájek) over reviewed items"
        note += f"; n is the effective sample size ({int(has_p.sum())} items reviewed)"
        if not has_p.all():
            note += "; some reviewed items have no propensity, so it may stay biased"
    elif n_a:
        used, note = "audit", "accuracy on the random-audit items"
    else:
        used, note = "naive", NAIVE_ONLY
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "method"
    out["used"] = out.index == used
    out = out[["value", "low", "high", "n", "n_effective", "used", "note"]]
    out.attrs.update(method=used, note=note)
    return out


def _hajek(
    w: np.ndarray, correct: np.ndarray, audit: Measure, level: float, n: int
) -> dict[str, Any]:
    """The Hájek estimate with weights ``w``, guarded against overstating its certainty.

    The interval is Wilson's at the effective sample size: Kish's (Σw)² / Σw², or less when
    the linearised variance implies less. Audit items carry the largest weights, so when
    they all happen to agree that variance collapses to nearly 0; the interval is therefore
    never narrower than the Wilson interval on the audit items alone (it spans both).
    """
    y = correct.astype(float)
    mu = float((w * y).sum() / w.sum())
    var = float((w**2 * (y - mu) ** 2).sum() / w.sum() ** 2)
    n_kish = float(w.sum() ** 2 / (w**2).sum())
    n_eff = min(mu * (1 - mu) / var, n_kish) if var > 0 else n_kish
    low, high = wilson_interval(mu * n_eff, n_eff, level=level)
    note = "Hájek weights 1/propensity"
    if len(w) < n:
        note += f" ({len(w)} of {n} reviewed items)"
    if audit.n:
        low, high = min(low, audit.low), max(high, audit.high)
        note += f"; interval at least the Wilson interval of the {audit.n} audit items"
    return {
        "value": mu,
        "low": low,
        "high": high,
        "n": max(1, round(n_eff)),
        "n_effective": n_eff,
        "note": note + f"; n is the effective sample size of {len(w)} weighted items",
    }


def _row(m: Measure) -> dict[str, Any]:
    return {"value": m.value, "low": m.low, "high": m.high, "n": m.n}
