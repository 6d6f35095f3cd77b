"""LLM against reviewer: accuracy, Cohen's kappa, F1, per label, confusion, corrections, alpha."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support

from .intervals import (
    NOT_ENOUGH,
    Measure,
    Seed,
    _boot_label,
    _percentiles,
    _proportion,
    _resample_counts,
    _rng,
    _unique_rows,
    _wilson,
)
from .pairs import _is_multi, _Pairs, _pairs

if TYPE_CHECKING:
    from ..task import LabelTask


def _accuracy(p: _Pairs, level: float, name: str = "accuracy", method: str = "") -> Measure:
    a = p.answers
    notes = [] if a.n else [f"{NOT_ENOUGH}: no reviewed item has an LLM label"]
    if p.multi and a.n:
        notes.append("exact match of the label sets")
    if a.invalid:
        notes.append(f"{a.invalid} invalid answer(s) counted wrong")
    return _proportion(
        name,
        int(a.correct.sum()),
        a.n,
        method or "LLM label = human label, over all reviewed items (naive)",
        level,
        "; ".join(notes),
    )


def accuracy(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> Measure:
    """Share of reviewed items where the LLM's label equals the human's (Wilson interval).

    The glossary's accuracy: over the reviewed items the LLM answered, an invalid answer
    (``llm_valid`` False) counting as wrong. Prompt trials are scored with this same
    function. This is the naive figure over the reviewed items; see :func:`pool_accuracy`
    for an estimate that corrects for how the items were chosen.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "a", "a", "b"]})
    >>> accuracy(df).value
    0.75
    """
    return _accuracy(_pairs(ann, human=human, llm=llm), level)


def _kappa_from_cm(cm: np.ndarray) -> np.ndarray:
    """Cohen's kappa of stacked confusion matrices (..., K, K); NaN where chance agreement = 1.

    scikit-learn scores one pair of label vectors per call; the bootstrap needs a thousand
    resampled matrices at once, and the point estimate still comes from scikit-learn.
    """
    cm = cm.astype(float)
    n = cm.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        po = np.trace(cm, axis1=-2, axis2=-1) / n
        pe = (cm.sum(axis=-1) * cm.sum(axis=-2)).sum(axis=-1) / n**2
        kappa = (po - pe) / (1 - pe)
    return np.where(np.isclose(pe, 1.0) | (n == 0), np.nan, kappa)


def _f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per-label F1 = 2tp / (2tp + fp + fn); NaN for labels absent from both sides."""
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def _cohen_kappa(p: _Pairs, level: float, n_boot: int, seed: Seed) -> Measure:
    method = "Cohen's kappa, LLM vs human (scikit-learn)"
    if p.multi:
        return Measure(
            "cohen_kappa", math.nan, math.nan, math.nan, p.n, method, "", "single-label only"
        )
    if p.n == 0:
        return Measure("cohen_kappa", math.nan, math.nan, math.nan, 0, method, "", NOT_ENOUGH)
    cm = p.confusion
    if np.isnan(_kappa_from_cm(cm)):
        note = f"{NOT_ENOUGH}: kappa is undefined while both sides use one label only"
        return Measure("cohen_kappa", math.nan, math.nan, math.nan, p.n, method, "", note)
    value = cohen_kappa_score(p.human, p.llm, labels=np.arange(len(p.labels)))
    low = high = math.nan
    if n_boot > 0:
        draws = _resample_counts(cm.ravel(), n_boot, _rng(seed)).reshape(n_boot, *cm.shape)
        low, high = _percentiles(_kappa_from_cm(draws), level)
    interval = _boot_label(n_boot, seed, level)
    return Measure("cohen_kappa", float(value), low, high, p.n, method, interval)


def cohen_kappa(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
) -> Measure:
    """Cohen's kappa of LLM vs human labels (scikit-learn), with a bootstrap interval.

    Single-label only. Undefined (NaN, with a note) while both sides use a single label.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "b", "a", "a"]})
    >>> cohen_kappa(df).value
    0.5
    """
    p = _pairs(ann, human=human, llm=llm)
    return _cohen_kappa(p, level, n_boot, seed)


def _per_label_counts(p: _Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if p.multi:
        h, lv = p.human.astype(bool), p.llm.astype(bool)
        return (h & lv).sum(0), (~h & lv).sum(0), (h & ~lv).sum(0)
    cm = p.confusion
    tp = np.diag(cm)
    return tp, cm.sum(0) - tp, cm.sum(1) - tp


def _count_draws(
    p: _Pairs, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap per-label true positives, false positives and false negatives, n_boot x K."""
    k = len(p.labels)
    if p.multi:
        h, lv = p.human.astype(bool), p.llm.astype(bool)
        rows = np.hstack([h & lv, ~h & lv, h & ~lv]).astype(np.int64)
        patterns, counts = _unique_rows(rows)
        totals = _resample_counts(counts, n_boot, rng) @ patterns
        return totals[:, :k], totals[:, k : 2 * k], totals[:, 2 * k :]
    draws = _resample_counts(p.confusion.ravel(), n_boot, rng).reshape(n_boot, k, k)
    tp = np.diagonal(draws, axis1=1, axis2=2)
    return tp, draws.sum(1) - tp, draws.sum(2) - tp


def _f1_draws(p: _Pairs, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap per-label F1, n_boot x K."""
    return _f1_from_counts(*_count_draws(p, n_boot, rng))


def _micro_f1(p: _Pairs, level: float, n_boot: int, seed: Seed) -> Measure:
    method = "micro-averaged F1 over all (item, label) decisions (scikit-learn)"
    if p.n == 0:
        return Measure("micro_f1", math.nan, math.nan, math.nan, 0, method, "", NOT_ENOUGH)
    value = f1_score(p.human, p.llm, average="micro", zero_division=0)
    low = high = math.nan
    if n_boot > 0:
        tp, fp, fn = (c.sum(axis=1) for c in _count_draws(p, n_boot, _rng(seed)))
        low, high = _percentiles(_f1_from_counts(tp, fp, fn), level)
    interval = _boot_label(n_boot, seed, level)
    return Measure("micro_f1", float(value), low, high, p.n, method, interval, "multi-label")


def _macro_f1(p: _Pairs, level: float, n_boot: int, seed: Seed) -> Measure:
    method = "macro-averaged F1 over labels used by either side (scikit-learn)"
    if p.n == 0:
        return Measure("macro_f1", math.nan, math.nan, math.nan, 0, method, "", NOT_ENOUGH)
    tp, fp, fn = _per_label_counts(p)
    used = np.flatnonzero(2 * tp + fp + fn > 0)
    value = f1_score(p.human, p.llm, labels=used, average="macro", zero_division=0)
    low = high = math.nan
    if n_boot > 0:
        f1 = _f1_draws(p, n_boot, _rng(seed))
        used_in_draw = np.isfinite(f1).sum(axis=1)  # labels absent from a resample drop out
        macro = np.where(
            used_in_draw > 0, np.nansum(f1, axis=1) / np.maximum(used_in_draw, 1), np.nan
        )
        low, high = _percentiles(macro, level)
    note = "per-label binary F1 (multi-label)" if p.multi else ""
    return Measure(
        "macro_f1", float(value), low, high, p.n, method, _boot_label(n_boot, seed, level), note
    )


def macro_f1(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
) -> Measure:
    """Macro-averaged F1 of the LLM against the human labels, with a bootstrap interval.

    Averages over the labels that occur on either side (scikit-learn's default). For
    multi-label items each label is scored as its own binary decision.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "b", "a", "a"]})
    >>> round(macro_f1(df).value, 3)
    0.733
    """
    return _macro_f1(_pairs(ann, human=human, llm=llm), level, n_boot, seed)


def per_label(
    ann: pd.DataFrame,
    *,
    labels: Sequence[str] | LabelTask | None = None,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
) -> pd.DataFrame:
    """Per-label precision, recall, F1 and support of the LLM, treating the human as truth.

    Precision and recall are proportions (Wilson intervals over the LLM's uses of the label
    and over the human's, respectively); F1 has a bootstrap interval. Precision is NaN for a
    label the LLM never used, recall for a label the humans never used.

    Returns
    -------
    DataFrame indexed by label with ``support`` (human count), ``predicted`` (LLM count),
    ``precision``, ``recall``, ``f1`` and ``*_low`` / ``*_high`` for each.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "b", "a", "a"]})
    >>> per_label(df)[["precision", "recall", "support"]].round(3).to_dict("index")["a"]
    {'precision': 0.667, 'recall': 1.0, 'support': 2}
    """
    p = _pairs(ann, human=human, llm=llm, labels=labels)
    return _per_label(p, level, n_boot, seed)


def _per_label(p: _Pairs, level: float, n_boot: int, seed: Seed) -> pd.DataFrame:
    k = len(p.labels)
    tp, fp, fn = _per_label_counts(p)
    support, predicted = tp + fn, tp + fp
    if p.n:
        prec, rec, f1, _ = precision_recall_fscore_support(
            p.human, p.llm, labels=np.arange(k), zero_division=np.nan
        )
    else:
        prec = rec = f1 = np.full(k, np.nan)
    f1 = np.where(support + predicted > 0, f1, np.nan)
    p_low, p_high = _wilson(tp, predicted, level)
    r_low, r_high = _wilson(tp, support, level)
    f_low = f_high = np.full(k, np.nan)
    if n_boot > 0 and p.n:
        draws = _f1_draws(p, n_boot, _rng(seed))
        bounds = np.array([_percentiles(draws[:, j], level) for j in range(k)]).reshape(k, 2)
        f_low, f_high = bounds[:, 0], bounds[:, 1]
        f_low = np.where(np.isfinite(f1), f_low, np.nan)
        f_high = np.where(np.isfinite(f1), f_high, np.nan)
    return pd.DataFrame(
        {
            "support": support.astype(int),
            "predicted": predicted.astype(int),
            "precision": prec,
            "precision_low": p_low,
            "precision_high": p_high,
            "recall": rec,
            "recall_low": r_low,
            "recall_high": r_high,
            "f1": f1,
            "f1_low": f_low,
            "f1_high": f_high,
        },
        index=pd.Index(p.labels, name="label", dtype=object),
    )


def confusion(
    ann: pd.DataFrame,
    *,
    labels: Sequence[str] | LabelTask | None = None,
    human: str = "label",
    llm: str = "llm_label",
) -> pd.DataFrame:
    """Confusion matrix of reviewed items: rows are the human's label, columns the LLM's.

    Single-label only: for a multi-label task the frame is empty and ``attrs["note"]`` says so.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "b", "a", "a"]})
    >>> confusion(df).to_numpy().tolist()
    [[2, 0], [1, 1]]
    """
    p = _pairs(ann, human=human, llm=llm, labels=labels)
    return _confusion_frame(p)


def _confusion_frame(p: _Pairs) -> pd.DataFrame:
    if p.multi:
        out = pd.DataFrame()
        out.attrs["note"] = "single-label only"
        return out
    return pd.DataFrame(
        p.confusion,
        index=pd.Index(p.labels, name="human", dtype=object),
        columns=pd.Index(p.labels, name="llm", dtype=object),
    )


def _label_text(v: Any) -> str:
    if _is_multi(v):
        return " | ".join(map(str, v)) if len(v) else "(none)"
    return str(v)


def correction_patterns(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
) -> pd.DataFrame:
    """Which LLM label the humans changed into which, most frequent first.

    Returns
    -------
    DataFrame with ``llm_label``, ``human_label``, ``n``, ``share_of_llm_label`` (of the
    reviewed items carrying that LLM label), ``share_of_corrections`` and ``example`` (an
    item id).

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "b"], "llm_label": ["a", "a", "a"]})
    >>> correction_patterns(df)[["llm_label", "human_label", "n"]].values.tolist()
    [['a', 'b', 2]]
    """
    p = _pairs(ann, human=human, llm=llm)
    return _correction_patterns(p, human, llm)


def _correction_patterns(p: _Pairs, human: str, llm: str) -> pd.DataFrame:
    cols = ["llm_label", "human_label", "n", "share_of_llm_label", "share_of_corrections"]
    if p.n == 0 or p.correct.all():
        return pd.DataFrame(columns=[*cols, "example"])
    l_names: Sequence[Any] = p.labels
    h_names: Sequence[Any] = p.labels
    lc, hc = p.llm, p.human
    if p.multi:  # label sets become text ("a | b") and are coded here
        lc, l_uniques = pd.factorize(p.frame[llm].map(_label_text))
        hc, h_uniques = pd.factorize(p.frame[human].map(_label_text))
        l_names, h_names = list(l_uniques), list(h_uniques)
    wrong = np.flatnonzero(~p.correct)
    keys, first, n = np.unique(
        lc[wrong] * len(h_names) + hc[wrong], return_index=True, return_counts=True
    )
    ids = p.frame["item_id"] if "item_id" in p.frame.columns else p.frame.index.to_series()
    llm_code, human_code = np.divmod(keys, len(h_names))
    out = pd.DataFrame(
        {
            "llm_label": np.asarray(l_names, dtype=object)[llm_code],
            "human_label": np.asarray(h_names, dtype=object)[human_code],
            "n": n,
            "share_of_llm_label": n / np.bincount(lc, minlength=len(l_names))[llm_code],
            "share_of_corrections": n / len(wrong),
            "example": ids.astype(str).to_numpy()[wrong[first]],
        }
    )
    out = out.sort_values(["n", "llm_label"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)


def _alpha_from_totals(nc: np.ndarray, occ: np.ndarray) -> np.ndarray:
    """Nominal alpha from value totals n_c and coincidence-matrix diagonal o_cc (..., K)."""
    n = nc.sum(axis=-1)
    expected = n**2 - (nc**2).sum(axis=-1)  # sum over c != k of n_c n_k
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1 - (n - 1) * (n - occ.sum(axis=-1)) / expected
    return np.where(expected > 0, alpha, np.nan)


def krippendorff_alpha(
    raters: pd.DataFrame | np.ndarray,
    *,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
) -> Measure:
    """Krippendorff's alpha for nominal data, any number of raters, missing values allowed.

    Parameters
    ----------
    raters : items x raters (humans, LLM prompt versions, models); NaN/None where a rater
        gave no label. Labels may be any hashable values.

    Notes
    -----
    The coincidence-matrix formulation: each unit u with m_u >= 2 values adds
    n_uc (n_uk - [c == k]) / (m_u - 1) to o_ck; with n_c = sum_k o_ck and n = sum_c n_c,
    alpha = 1 - (n - 1) (n - sum_c o_cc) / (n^2 - sum_c n_c^2). Units with fewer than two
    values are not pairable and drop out. The interval resamples units.

    Examples
    --------
    >>> raters = pd.DataFrame({"r1": ["a", "a", "b", "b"], "r2": ["a", "a", "b", None],
    ...                        "r3": ["a", "b", "b", "b"]})
    >>> round(krippendorff_alpha(raters).value, 3)
    0.667
    """
    frame = pd.DataFrame(raters)
    method = f"Krippendorff's alpha (nominal), {frame.shape[1]} raters"
    values = frame.to_numpy(dtype=object)
    missing = pd.isna(values)
    rows, _ = np.nonzero(~missing)
    codes, uniques = pd.factorize(pd.Series(values[~missing], dtype=object))
    k = max(len(uniques), 1)
    counts = np.bincount(rows * k + codes, minlength=len(frame) * k).reshape(len(frame), k)
    counts = counts[counts.sum(axis=1) >= 2]  # only pairable units carry information
    units = len(counts)

    def totals(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = c.sum(axis=1, keepdims=True)
        return c.astype(float), c * (c - 1) / np.maximum(m - 1, 1)

    nc_u, occ_u = totals(counts)
    value = float(_alpha_from_totals(nc_u.sum(0), occ_u.sum(0)))
    if not np.isfinite(value):
        why = (
            f"{NOT_ENOUGH}: no unit has two or more values"
            if units == 0
            else f"{NOT_ENOUGH}: alpha is undefined when every value is the same"
        )
        return Measure("krippendorff_alpha", math.nan, math.nan, math.nan, units, method, "", why)
    low = high = math.nan
    if n_boot > 0:
        patterns, freq = _unique_rows(counts)
        p_nc, p_occ = totals(patterns)
        draws = _resample_counts(freq, n_boot, _rng(seed))
        low, high = _percentiles(_alpha_from_totals(draws @ p_nc, draws @ p_occ), level)
    note = f"{int(counts.sum())} pairable values in {units} units"
    interval = _boot_label(n_boot, seed, level, "units")
    return Measure("krippendorff_alpha", value, low, high, units, method, interval, note)
