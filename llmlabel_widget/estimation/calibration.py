"""Calibration of the LLM's stated confidence: reliability bins and expected calibration error."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .intervals import (
    NOT_ENOUGH,
    Measure,
    Seed,
    _boot_label,
    _percentiles,
    _resample_counts,
    _rng,
    _wilson,
)
from .pairs import _Pairs, _pairs


# -- calibration ---------------------------------------------------------------------------------
def _edges(bins: int | Sequence[float]) -> np.ndarray:
    if isinstance(bins, int | np.integer):
        if bins < 1:
            raise ValueError("bins must be at least 1")
        return np.linspace(0.0, 1.0, int(bins) + 1)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bin edges must be an increasing sequence of at least two numbers")
    return edges


def _binned(p: _Pairs, confidence: str, edges: np.ndarray) -> tuple[pd.DataFrame, str]:
    """Per reviewed item: its bin, confidence and correctness (items without one dropped)."""
    conf = (
        pd.to_numeric(p.frame[confidence], errors="coerce").to_numpy(float)
        if confidence in p.frame.columns
        else np.full(p.n, np.nan)
    )
    b = np.asarray(pd.cut(conf, list(edges), right=True, include_lowest=True, labels=False))
    keep = np.isfinite(conf) & ~pd.isna(b)
    note = ""
    if (~keep).any():
        note = (
            f"{int((~keep).sum())} reviewed item(s) without an LLM confidence in "
            f"[{edges[0]:g}, {edges[-1]:g}] left out"
        )
    return (
        pd.DataFrame({"bin": b[keep].astype(int), "conf": conf[keep], "y": p.correct[keep]}),
        note,
    )


def reliability(
    ann: pd.DataFrame,
    *,
    bins: int | Sequence[float] = 10,
    human: str = "label",
    llm: str = "llm_label",
    confidence: str = "llm_confidence",
    level: float = 0.95,
) -> pd.DataFrame:
    """Reliability bins: the LLM's accuracy against its stated confidence.

    Parameters
    ----------
    bins : number of equal-width bins on [0, 1], or the bin edges. Bins are closed on the
        right (``0.7 < c <= 0.8``); the first also holds its left edge.

    Returns
    -------
    DataFrame, one row per bin (empty bins included, with NaN figures): ``bin``, ``lower``,
    ``upper``, ``n``, ``confidence`` (mean), ``accuracy`` with Wilson ``low``/``high``, and
    ``gap`` = accuracy - confidence. ``attrs["note"]`` counts items left out.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a"], "llm_label": ["a", "a", "a"],
    ...                    "llm_confidence": [0.9, 0.6, 0.95]})
    >>> reliability(df, bins=[0, 0.7, 1])[["n", "accuracy"]].values.tolist()
    [[1.0, 0.0], [2.0, 1.0]]
    """
    p = _pairs(ann, human=human, llm=llm)
    return _reliability(p, confidence, _edges(bins), level)


def _reliability(p: _Pairs, confidence: str, edges: np.ndarray, level: float) -> pd.DataFrame:
    items, note = _binned(p, confidence, edges)
    nb = len(edges) - 1
    b = items["bin"].to_numpy()
    n = np.bincount(b, minlength=nb)
    k = np.bincount(b, weights=items["y"].to_numpy(float), minlength=nb).astype(int)
    conf_sum = np.bincount(b, weights=items["conf"].to_numpy(), minlength=nb)
    low, high = _wilson(k, n, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        mean_conf = np.where(n > 0, conf_sum / np.maximum(n, 1), np.nan)
    names = [f"{'[' if i == 0 else '('}{edges[i]:g}, {edges[i + 1]:g}]" for i in range(nb)]
    out = pd.DataFrame(
        {
            "bin": names,
            "lower": edges[:-1],
            "upper": edges[1:],
            "n": n,
            "confidence": mean_conf,
            "accuracy": acc,
            "low": low,
            "high": high,
            "gap": acc - mean_conf,
        }
    )
    out.attrs["note"] = note
    return out


def expected_calibration_error(
    ann: pd.DataFrame,
    *,
    bins: int | Sequence[float] = 10,
    human: str = "label",
    llm: str = "llm_label",
    confidence: str = "llm_confidence",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
) -> Measure:
    """Expected calibration error: sum over bins of (n_b / n) x |accuracy_b - confidence_b|.

    The bootstrap redraws how many items fall in each (bin, correct) cell exactly, and the
    sum of confidences inside a cell from its normal approximation (within a bin they
    spread little next to the 0/1 outcome); this keeps it cheap at any n.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "a"], "llm_label": ["a", "a", "a", "a"],
    ...                    "llm_confidence": [0.9, 0.9, 0.9, 0.9]})
    >>> round(expected_calibration_error(df).value, 3)
    0.15
    """
    p = _pairs(ann, human=human, llm=llm)
    return _ece(p, confidence, _edges(bins), level, n_boot, seed)


def _ece(
    p: _Pairs, confidence: str, edges: np.ndarray, level: float, n_boot: int, seed: Seed
) -> Measure:
    items, note = _binned(p, confidence, edges)
    n = len(items)
    method = f"expected calibration error, {len(edges) - 1} bins"
    if n == 0:
        why = f"{NOT_ENOUGH}: no reviewed item with an LLM confidence"
        return Measure("ece", math.nan, math.nan, math.nan, 0, method, "", why)
    nb = len(edges) - 1
    b, conf, y = items["bin"].to_numpy(), items["conf"].to_numpy(), items["y"].to_numpy(int)
    gap = np.bincount(b, weights=conf, minlength=nb) - np.bincount(b, weights=y, minlength=nb)
    value = float(np.abs(gap).sum() / n)
    low = high = math.nan
    if n_boot > 0:
        cell = b * 2 + y  # (bin, correct) cells
        size = np.bincount(cell, minlength=2 * nb).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(cell, weights=conf, minlength=2 * nb) / size
            sd = np.sqrt(
                np.maximum(np.bincount(cell, weights=conf**2, minlength=2 * nb) / size - mean**2, 0)
            )
        mean, sd = np.nan_to_num(mean), np.nan_to_num(sd)
        rng = _rng(seed)
        counts = _resample_counts(size, n_boot, rng)
        conf_sum = counts * mean + np.sqrt(counts) * sd * rng.standard_normal(counts.shape)
        by_bin_conf = conf_sum.reshape(n_boot, nb, 2).sum(axis=2)
        by_bin_right = counts.reshape(n_boot, nb, 2)[:, :, 1]
        low, high = _percentiles(np.abs(by_bin_conf - by_bin_right).sum(axis=1) / n, level)
    return Measure("ece", value, low, high, n, method, _boot_label(n_boot, seed, level), note)
