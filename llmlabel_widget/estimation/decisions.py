"""Figures over the decisions: acceptance rate, accuracy over time, anchoring, the learner."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..task import DECISION_KINDS
from .intervals import NOT_ENOUGH, _proportion, _wilson, newcombe_interval, wilson_interval
from .pairs import _Pairs, _pairs, auto_accepted


def decision_rates(ann: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Acceptance, correction, skip and no-proposal rates of the human decisions.

    ``acceptance`` = accepts / (accepts + corrections) and ``correction`` its complement;
    ``skip`` = skips / all decisions; ``no_proposal`` = labels given without a valid LLM
    proposal / decided items. Each with its count ``k``, denominator ``n`` and Wilson interval.
    Certified auto-accepts are not human decisions: they count in none of these, only in
    ``auto_accept`` = auto-accepted / (decided + auto-accepted) items.

    Examples
    --------
    >>> df = pd.DataFrame({"decision": ["accept", "accept", "correct", "skip"]})
    >>> decision_rates(df).loc["acceptance", ["k", "n"]].tolist()
    [2, 3]
    """
    auto = auto_accepted(ann["context"]) if "context" in ann.columns else np.zeros(len(ann), bool)
    counts = (
        ann.loc[~auto, "decision"].value_counts()
        if "decision" in ann.columns
        else pd.Series(dtype="int64")
    )
    c = {kind: int(counts.get(kind, 0)) for kind in DECISION_KINDS}
    reviewed_llm = c["accept"] + c["correct"]
    decided = reviewed_llm + c["label"]
    rows = {
        "acceptance": (c["accept"], reviewed_llm),
        "correction": (c["correct"], reviewed_llm),
        "skip": (c["skip"], decided + c["skip"]),
        "no_proposal": (c["label"], decided),
        "auto_accept": (int(auto.sum()), decided + int(auto.sum())),  # not human labels
    }
    k = np.array([v[0] for v in rows.values()])
    n = np.array([v[1] for v in rows.values()])
    low, high = _wilson(k, n, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    out = pd.DataFrame(
        {"k": k, "n": n, "rate": rate, "low": low, "high": high},
        index=pd.Index(list(rows), name="rate"),
    )
    if "decision" not in ann.columns:
        out.attrs["note"] = f"{NOT_ENOUGH}: no decision column"
    return out


def rolling_accuracy(
    ann: pd.DataFrame,
    *,
    window: int = 50,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> pd.DataFrame:
    """The LLM's accuracy over decision order: cumulative and over a rolling window.

    (``rolling_agreement`` is the old name of this function and stays as an alias.)

    Returns
    -------
    DataFrame with one row per reviewed item in decision order: ``order`` (1, 2, ...),
    ``item_id``, ``agree``, ``cumulative`` with ``cumulative_low/high`` and ``rolling`` (the
    last ``window`` decisions) with ``rolling_low/high`` and ``rolling_n``; Wilson intervals.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "a", "a", "b"]})
    >>> rolling_accuracy(df, window=2)["rolling"].tolist()
    [1.0, 0.5, 0.5, 1.0]
    """
    p = _pairs(ann, human=human, llm=llm)
    return _rolling(p, window, level)


rolling_agreement = rolling_accuracy  # the name before the glossary


def _rolling(p: _Pairs, window: int, level: float) -> pd.DataFrame:
    a = p.answers
    if window < 1:
        raise ValueError("window must be at least 1")
    agree = pd.Series(a.correct.astype(int))
    order = np.arange(1, a.n + 1)
    cum = agree.cumsum().to_numpy()
    roll = agree.rolling(window, min_periods=1).sum().to_numpy()
    roll_n = np.minimum(order, window)
    c_low, c_high = _wilson(cum, order, level)
    r_low, r_high = _wilson(roll, roll_n, level)
    ids = a.frame["item_id"] if "item_id" in a.frame.columns else a.frame.index.to_series()
    out = pd.DataFrame(
        {
            "order": order,
            "item_id": ids.to_numpy(),
            "agree": a.correct,
            "cumulative": cum / np.maximum(order, 1),
            "cumulative_low": c_low,
            "cumulative_high": c_high,
            "rolling": roll / np.maximum(roll_n, 1),
            "rolling_low": r_low,
            "rolling_high": r_high,
            "rolling_n": roll_n,
        }
    )
    if "decided_at" in a.frame.columns:
        out.insert(2, "decided_at", a.frame["decided_at"].to_numpy())
    return out


def blind_vs_assisted(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> pd.DataFrame:
    """The LLM's accuracy where the reviewer did not see its label, and where they did.

    Blind decisions carry ``{"blind": true}`` in their context. ``gap`` = assisted - blind
    accuracy (Newcombe interval): how much seeing the suggestion sways human labels
    towards it. ``attrs["note"]`` explains when there are no blind items.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "a"], "llm_label": ["a", "a", "a", "a"],
    ...                    "context": [{"blind": True}, {"blind": True}, None, None]})
    >>> blind_vs_assisted(df)["value"].tolist()
    [0.5, 1.0, 0.5]
    """
    return _blind_vs_assisted(_pairs(ann, human=human, llm=llm), level)


def _blind_vs_assisted(p: _Pairs, level: float) -> pd.DataFrame:
    ans = p.answers
    blind = ans.context["blind"].to_numpy(bool)
    kb, nb = int(ans.correct[blind].sum()), int(blind.sum())
    ka, na = int(ans.correct[~blind].sum()), int((~blind).sum())
    b = _proportion("blind", kb, nb, "LLM = human on blind items", level)
    a = _proportion("assisted", ka, na, "LLM = human on assisted items", level)
    gap_low, gap_high = newcombe_interval(ka, na, kb, nb, level=level)
    gap = ka / na - kb / nb if na and nb else math.nan
    out = pd.DataFrame(
        {
            "value": [b.value, a.value, gap],
            "low": [b.low, a.low, gap_low],
            "high": [b.high, a.high, gap_high],
            "n": [nb, na, min(na, nb)],
        },
        index=pd.Index(["blind", "assisted", "gap"], name="subset"),
    )
    out.attrs["note"] = (
        ""
        if nb and na
        else "no blind items: record some decisions with context={'blind': True} to "
        "measure how suggestions sway human labels"
        if not nb
        else "no assisted items"
    )
    return out


def learner_curve(
    ann: pd.DataFrame, *, human: str = "label", bins: int = 10, level: float = 0.95
) -> pd.DataFrame | None:
    """The task learner's accuracy against the number of labels it was trained on.

    Prequential ("test, then train"): each decision's context records what the learner
    predicted for the item before the human answered (``learner``) and how many human labels
    it had then (``learner_labels``). Decisions are grouped into up to ``bins`` bins of that
    count; each bin gives the accuracy with a Wilson interval. None before any prediction.

    Examples
    --------
    >>> ctx = [{"learner": "a", "learner_labels": n} for n in (10, 10, 20, 20)]
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "context": ctx})
    >>> learner_curve(df)[["n_labels", "accuracy", "n"]].values.tolist()
    [[10.0, 0.5, 2.0], [20.0, 0.5, 2.0]]
    """
    if "context" not in ann.columns or human not in ann.columns:
        return None
    rows = [
        (c["learner_labels"], c["learner"] == (h[0] if isinstance(h, list) and len(h) == 1 else h))
        for c, h in zip(ann["context"], ann[human], strict=True)
        if isinstance(c, dict) and c.get("learner") is not None and h is not None
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["n_labels", "correct"])
    edges = np.unique(np.quantile(frame["n_labels"], np.linspace(0, 1, bins + 1)))
    frame["bin"] = np.digitize(frame["n_labels"], edges[1:-1], right=True)
    grouped = frame.groupby("bin").agg(
        n_labels=("n_labels", "median"), k=("correct", "sum"), n=("correct", "size")
    )
    grouped["accuracy"] = grouped["k"] / grouped["n"]
    bounds = [
        wilson_interval(k, n, level=level) for k, n in zip(grouped["k"], grouped["n"], strict=True)
    ]
    grouped["low"], grouped["high"] = zip(*bounds, strict=True)
    return (
        grouped[["n_labels", "accuracy", "low", "high", "n"]].astype(float).reset_index(drop=True)
    )
