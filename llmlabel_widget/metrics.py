"""Agreement and quality figures from the annotations DataFrame: pure functions, no state.

Every function takes ``session.annotations`` (or any frame with a human-label column and an
LLM-label column) and returns numbers with an interval and the sample size they rest on.
Intervals are Wilson score intervals for proportions and seeded percentile bootstraps for
kappa, alpha, F1 and ECE. Point estimates come from scikit-learn where it has them.

Which rows count: with a ``state`` column, only ``decided`` items; without one (a raw data
set), every row with a human label. LLM-vs-human figures further need a valid LLM label
(``llm_valid`` when present). Decision order is ``decision_seq``, else ``decided_at``.

Examples
--------
>>> from llmlabel_widget import datasets
>>> df = datasets.load("tornberg_us_senators_gpt4")
>>> round(accuracy(df, human="gold_label", llm="llm_label").value, 3)
0.934
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer

if TYPE_CHECKING:
    from .task import LabelTask

Seed = int | np.random.Generator

NOT_ENOUGH = "not enough data"
NAIVE_ONLY = "naive only: reviewed items were not sampled at random"
DECISION_KINDS = ("accept", "correct", "label")

__all__ = [
    "Measure",
    "Summary",
    "accuracy",
    "blind_vs_assisted",
    "cohen_kappa",
    "confusion",
    "correction_patterns",
    "decision_rates",
    "expected_calibration_error",
    "krippendorff_alpha",
    "macro_f1",
    "newcombe_interval",
    "per_label",
    "pool_accuracy",
    "quality_table",
    "reliability",
    "reviewed",
    "rolling_agreement",
    "summarize",
    "wilson_interval",
]


@dataclass(frozen=True)
class Measure:
    """One figure with its interval, sample size, and how both were computed.

    ``value`` is NaN only when the figure is undefined; ``note`` then says why.
    """

    name: str
    value: float
    low: float
    high: float
    n: int
    method: str
    interval: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (one row of :func:`quality_table`)."""
        return asdict(self)


# -- intervals ------------------------------------------------------------------------------
def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def _wilson(k: Any, n: Any, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson score bounds; NaN where n == 0 (k and n may be non-integer)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def wilson_interval(k: float, n: float, *, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n``; ``(nan, nan)`` when ``n == 0``.

    Parameters
    ----------
    k, n : successes and trials (may be non-integer, e.g. an effective sample size).
    level : coverage of the interval.

    Examples
    --------
    >>> [round(x, 3) for x in wilson_interval(8, 10)]
    [0.49, 0.943]
    """
    low, high = _wilson(k, n, level)
    return float(low), float(high)


def newcombe_interval(
    k1: float, n1: float, k2: float, n2: float, *, level: float = 0.95
) -> tuple[float, float]:
    """Interval for the difference ``k1/n1 - k2/n2`` of two independent proportions.

    Newcombe's hybrid score method (his method 10), built from the two Wilson intervals.

    Examples
    --------
    >>> [round(x, 4) for x in newcombe_interval(56, 70, 48, 80)]  # Newcombe (1998), table II
    [0.0524, 0.3339]
    """
    if n1 <= 0 or n2 <= 0:
        return math.nan, math.nan
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, level=level)
    l2, u2 = wilson_interval(k2, n2, level=level)
    d = p1 - p2
    return (
        float(d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
        float(d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)),
    )


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _boot_label(n_boot: int, seed: Seed, level: float, what: str = "items") -> str:
    if n_boot <= 0:
        return "none (n_boot=0)"
    s = f", seed {seed}" if not isinstance(seed, np.random.Generator) else ""
    return f"percentile bootstrap {level:.0%} over {what} ({n_boot} resamples{s})"


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _resample_counts(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap over items, expressed as multinomial draws over their distinct patterns.

    Resampling n items with replacement is the same as drawing n times from the observed
    pattern frequencies, and costs n_boot x patterns instead of n_boot x n.
    """
    total = int(counts.sum())
    return rng.multinomial(total, counts / total, size=n_boot)


# -- selecting and coding the reviewed items ------------------------------------------------------
_MULTI = (list, tuple, set, frozenset, np.ndarray)


def _is_multi(v: object) -> bool:
    return isinstance(v, _MULTI)


def _present(col: pd.Series) -> np.ndarray:
    """Which values are labels: not None/NaN/NA/"" (an empty list is a multi-label "none")."""
    return (col.notna() & col.ne("")).to_numpy(bool)


def _in_order(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in decision order: decision_seq, else decided_at, else as given."""
    for col in ("decision_seq", "decided_at"):
        if col in df.columns and df[col].notna().any():
            return df.sort_values(col, kind="stable", na_position="last")
    return df


def _decided_mask(ann: pd.DataFrame, human: str) -> np.ndarray:
    if human not in ann.columns:
        raise KeyError(f"no human-label column {human!r}; columns are {list(ann.columns)}")
    mask = _present(ann[human])
    if "state" in ann.columns:
        mask = mask & (ann["state"] == "decided").to_numpy(bool)
    return mask


_NO_CONTEXT = (False, False, math.nan)


def _context_row(v: object) -> tuple[bool, bool, float]:
    """(audit, blind, propensity) of one decision context: a dict, JSON text, or nothing."""
    if type(v) is not dict:  # dicts are the common case; the checks below are slower
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                return _NO_CONTEXT
        if not isinstance(v, Mapping):
            return _NO_CONTEXT
    p = v.get("propensity")
    prop = math.nan
    if isinstance(p, int | float) and not isinstance(p, bool) and 0 < p <= 1:
        prop = float(p)
    return v.get("audit") is True, v.get("blind") is True, prop


def _context_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """audit / blind flags and propensity from the decision context (dict or JSON string)."""
    raw = frame["context"].tolist() if "context" in frame.columns else []
    rows = [_context_row(v) for v in raw] or [_NO_CONTEXT] * len(frame)
    audit, blind, prop = (np.array(x) for x in zip(*rows, strict=True)) if rows else ([],) * 3
    return pd.DataFrame(
        {
            "audit": np.asarray(audit, bool),
            "blind": np.asarray(blind, bool),
            "propensity": np.asarray(prop, float),
        },
        index=frame.index,
    )


def _names(labels: Sequence[str] | LabelTask | None) -> tuple[list[str], bool | None]:
    if labels is None:
        return [], None
    if hasattr(labels, "names"):  # a LabelTask
        return list(labels.names), bool(getattr(labels, "multi_label", False))
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence of label names or a LabelTask, not a str")
    return list(labels), None


@dataclass
class _Pairs:
    """Reviewed items with both a human and an LLM label, in decision order, coded."""

    frame: pd.DataFrame
    labels: list[str]
    multi: bool
    human: np.ndarray  # codes (single-label) or an n x K indicator matrix (multi-label)
    llm: np.ndarray
    correct: np.ndarray  # bool: the LLM's label (set) equals the human's

    @property
    def n(self) -> int:
        return len(self.frame)

    @cached_property
    def context(self) -> pd.DataFrame:
        return _context_fields(self.frame)

    @cached_property
    def confusion(self) -> np.ndarray:
        """Single-label confusion counts, human (rows) x LLM (columns)."""
        k = len(self.labels)
        if self.n == 0 or self.multi:
            return np.zeros((k, k), dtype=np.int64)
        return np.asarray(confusion_matrix(self.human, self.llm, labels=np.arange(k)))


def _pairs(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    labels: Sequence[str] | LabelTask | None = None,
    multi_label: bool | None = None,
) -> _Pairs:
    if llm not in ann.columns:
        raise KeyError(f"no LLM-label column {llm!r}; columns are {list(ann.columns)}")
    mask = _decided_mask(ann, human) & _present(ann[llm])
    if "llm_valid" in ann.columns and llm == "llm_label":
        mask = mask & ann["llm_valid"].fillna(False).to_numpy(bool)
    frame = _in_order(ann.loc[mask])
    given, task_multi = _names(labels)
    h_vals, l_vals = frame[human].tolist(), frame[llm].tolist()
    if multi_label is None:
        multi_label = task_multi
    if multi_label is None:
        multi_label = any(
            pd.api.types.infer_dtype(frame[c], skipna=True) not in ("string", "empty")
            and any(_is_multi(v) for v in frame[c])
            for c in (human, llm)
        )
    if multi_label:
        h_vals = [list(v) if _is_multi(v) else [v] for v in h_vals]
        l_vals = [list(v) if _is_multi(v) else [v] for v in l_vals]
        seen = {x for v in h_vals + l_vals for x in v}
    else:
        seen = set(h_vals) | set(l_vals)
    names = given + sorted((s for s in seen if s not in set(given)), key=str)
    if multi_label:
        mlb = MultiLabelBinarizer(classes=names)
        h = mlb.fit_transform(h_vals) if h_vals else np.zeros((0, len(names)), int)
        lv = mlb.transform(l_vals) if l_vals else np.zeros((0, len(names)), int)
        correct = (h == lv).all(axis=1)
    else:
        cats = pd.CategoricalDtype(names)
        h = pd.Series(h_vals, dtype=object).astype(cats).cat.codes.to_numpy()
        lv = pd.Series(l_vals, dtype=object).astype(cats).cat.codes.to_numpy()
        correct = h == lv
    return _Pairs(frame, names, bool(multi_label), h, lv, np.asarray(correct, bool))


def reviewed(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
) -> pd.DataFrame:
    """The reviewed items that have an LLM label, in decision order, with an ``agree`` column.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", None], "llm_label": ["a", "a", "b"]})
    >>> reviewed(df)["agree"].tolist()
    [True, False]
    """
    p = _pairs(ann, human=human, llm=llm)
    return p.frame.assign(agree=p.correct)


# -- agreement -----------------------------------------------------------------------------------
def _proportion(name: str, k: float, n: int, method: str, level: float, note: str = "") -> Measure:
    if n == 0:
        return Measure(name, math.nan, math.nan, math.nan, 0, method, "", note or NOT_ENOUGH)
    low, high = wilson_interval(k, n, level=level)
    return Measure(name, k / n, low, high, n, method, f"Wilson {level:.0%}", note)


def _accuracy(p: _Pairs, level: float, name: str = "accuracy", method: str = "") -> Measure:
    note = "" if p.n else f"{NOT_ENOUGH}: no reviewed item has an LLM label"
    if p.multi and p.n:
        note = "exact match of the label sets"
    return _proportion(
        name,
        int(p.correct.sum()),
        p.n,
        method or "LLM label = human label, over all reviewed items (naive)",
        level,
        note,
    )


def accuracy(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> Measure:
    """Share of reviewed items where the LLM's label equals the human's (Wilson interval).

    This is the naive figure over the reviewed items; see :func:`pool_accuracy` for an
    estimate that corrects for how the items were chosen.

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


def decision_rates(ann: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Acceptance, correction, skip and no-proposal rates of the human decisions.

    ``acceptance`` = accepts / (accepts + corrections) and ``correction`` its complement;
    ``skip`` = skips / all decisions; ``no_proposal`` = labels given without a valid LLM
    proposal / decided items. Each with its count ``k``, denominator ``n`` and Wilson interval.

    Examples
    --------
    >>> df = pd.DataFrame({"decision": ["accept", "accept", "correct", "skip"]})
    >>> decision_rates(df).loc["acceptance", ["k", "n"]].tolist()
    [2, 3]
    """
    counts = (
        ann["decision"].value_counts() if "decision" in ann.columns else pd.Series(dtype="int64")
    )
    c = {kind: int(counts.get(kind, 0)) for kind in (*DECISION_KINDS, "skip")}
    reviewed_llm = c["accept"] + c["correct"]
    decided = reviewed_llm + c["label"]
    rows = {
        "acceptance": (c["accept"], reviewed_llm),
        "correction": (c["correct"], reviewed_llm),
        "skip": (c["skip"], decided + c["skip"]),
        "no_proposal": (c["label"], decided),
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


def rolling_agreement(
    ann: pd.DataFrame,
    *,
    window: int = 50,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> pd.DataFrame:
    """LLM-vs-human agreement over decision order: cumulative and over a rolling window.

    Returns
    -------
    DataFrame with one row per reviewed item in decision order: ``order`` (1, 2, ...),
    ``item_id``, ``agree``, ``cumulative`` with ``cumulative_low/high`` and ``rolling`` (the
    last ``window`` decisions) with ``rolling_low/high`` and ``rolling_n``; Wilson intervals.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "a", "a", "b"]})
    >>> rolling_agreement(df, window=2)["rolling"].tolist()
    [1.0, 0.5, 0.5, 1.0]
    """
    p = _pairs(ann, human=human, llm=llm)
    return _rolling(p, window, level)


def _rolling(p: _Pairs, window: int, level: float) -> pd.DataFrame:
    if window < 1:
        raise ValueError("window must be at least 1")
    agree = pd.Series(p.correct.astype(int))
    order = np.arange(1, p.n + 1)
    cum = agree.cumsum().to_numpy()
    roll = agree.rolling(window, min_periods=1).sum().to_numpy()
    roll_n = np.minimum(order, window)
    c_low, c_high = _wilson(cum, order, level)
    r_low, r_high = _wilson(roll, roll_n, level)
    ids = p.frame["item_id"] if "item_id" in p.frame.columns else p.frame.index.to_series()
    out = pd.DataFrame(
        {
            "order": order,
            "item_id": ids.to_numpy(),
            "agree": p.correct,
            "cumulative": cum / np.maximum(order, 1),
            "cumulative_low": c_low,
            "cumulative_high": c_high,
            "rolling": roll / np.maximum(roll_n, 1),
            "rolling_low": r_low,
            "rolling_high": r_high,
            "rolling_n": roll_n,
        }
    )
    if "decided_at" in p.frame.columns:
        out.insert(2, "decided_at", p.frame["decided_at"].to_numpy())
    return out


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


# -- Krippendorff's alpha ----------------------------------------------------------------------
def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a small non-negative int matrix and their counts."""
    base = int(rows.max(initial=0)) + 1
    if rows.shape[1] * math.log2(base) < 62:  # one int64 key per row: far faster than axis=0
        weights = base ** np.arange(rows.shape[1], dtype=np.int64)
        _, first, freq = np.unique(rows @ weights, return_index=True, return_counts=True)
        return rows[first], freq
    return np.unique(rows, axis=0, return_counts=True)


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


# -- honest estimates of the LLM's accuracy on the whole pool ------------------------------
def pool_accuracy(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> pd.DataFrame:
    """The LLM's accuracy on the whole pool, corrected for how reviewed items were chosen.

    A selector shows the items it finds most useful, not a random sample, so agreement on
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
    ctx = p.context
    audit = ctx["audit"].to_numpy(bool)
    prop = ctx["propensity"].to_numpy(float)
    has_p = np.isfinite(prop)
    rows: dict[str, dict[str, Any]] = {}
    naive = _accuracy(p, level)
    rows["naive"] = {**_row(naive), "n_effective": float(p.n), "note": "all reviewed items"}
    k_a, n_a = int(p.correct[audit].sum()), int(audit.sum())
    a = _proportion("audit", k_a, n_a, "random audit items", level)
    rows["audit"] = {
        **_row(a),
        "n_effective": float(n_a),
        "note": "items drawn uniformly at random from the open pool"
        if n_a
        else "no random-audit items",
    }
    if has_p.any():
        rows["ipw"] = _hajek(1.0 / prop[has_p], p.correct[has_p], a, level, p.n)
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


def blind_vs_assisted(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
) -> pd.DataFrame:
    """Human-LLM agreement where the human did not see the LLM's label, and where they did.

    Blind decisions carry ``{"blind": true}`` in their context. ``gap`` = assisted - blind
    agreement (Newcombe interval): how much seeing the suggestion sways human labels
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
    blind = p.context["blind"].to_numpy(bool)
    kb, nb = int(p.correct[blind].sum()), int(blind.sum())
    ka, na = int(p.correct[~blind].sum()), int((~blind).sum())
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


# -- the table ------------------------------------------------------------------------------------
def quality_table(
    ann: pd.DataFrame,
    *,
    labels: Sequence[str] | LabelTask | None = None,
    raters: pd.DataFrame | None = None,
    human: str = "label",
    llm: str = "llm_label",
    confidence: str = "llm_confidence",
    bins: int | Sequence[float] = 10,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
    multi_label: bool | None = None,
) -> pd.DataFrame:
    """The headline agreement figures, one row each, with interval, n and method.

    Parameters
    ----------
    ann : ``session.annotations`` (or any frame with the ``human`` and ``llm`` columns).
    labels : label names in display order, or the ``LabelTask``.
    raters : items x raters for Krippendorff's alpha (e.g. crowd workers, LLM versions);
        by default alpha is computed over the human and the LLM on reviewed items.
    bins : reliability bins for the ECE (count or edges).
    level, n_boot, seed : interval coverage, bootstrap resamples, and the seed of the
        ``np.random.Generator`` (or a Generator).

    Returns
    -------
    DataFrame indexed by ``metric`` with ``value, low, high, n, method, interval, note``.
    Rows: ``accuracy`` (naive), ``accuracy_pool`` (the corrected estimate; ``method`` says
    how), ``accuracy_audit``, ``accuracy_ipw``, ``cohen_kappa``, ``macro_f1``, ``micro_f1``
    (multi-label tasks only), ``krippendorff_alpha``, ``ece``, ``acceptance_rate``,
    ``correction_rate``, ``agreement_blind``, ``agreement_assisted``, ``anchoring_gap``.
    Undefined figures are NaN with a note ("not enough data: ...").

    Examples
    --------
    >>> t = quality_table(session.annotations, labels=session.task)  # doctest: +SKIP
    >>> t.loc["cohen_kappa", ["value", "low", "high", "n"]]           # doctest: +SKIP
    """
    p = _pairs(ann, human=human, llm=llm, labels=labels, multi_label=multi_label)
    return _quality_table(p, ann, raters, confidence, _edges(bins), level, n_boot, seed)


def _quality_table(
    p: _Pairs,
    ann: pd.DataFrame,
    raters: pd.DataFrame | None,
    confidence: str,
    edges: np.ndarray,
    level: float,
    n_boot: int,
    seed: Seed,
    pool: pd.DataFrame | None = None,
    bva: pd.DataFrame | None = None,
    rates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    rows: list[Measure] = [_accuracy(p, level)]
    pool = _pool_accuracy(p, level) if pool is None else pool
    used = str(pool.attrs["method"])
    chosen = pool.loc[used].to_dict()
    ipw_interval = f"Wilson {level:.0%} at effective n, at least the audit items' Wilson"
    rows.append(
        Measure(
            "accuracy_pool",
            float(chosen["value"]),
            float(chosen["low"]),
            float(chosen["high"]),
            int(chosen["n"]),
            {"ipw": "Hájek IPW", "audit": "random audit", "naive": "naive"}[used],
            (ipw_interval if used == "ipw" else f"Wilson {level:.0%}") if chosen["n"] else "",
            str(pool.attrs["note"]) if chosen["n"] else f"{NOT_ENOUGH}: no reviewed items",
        )
    )
    for key, label in (("audit", "random-audit items"), ("ipw", "Hájek IPW, reviewed items")):
        r = pool.loc[key].to_dict()
        interval = ipw_interval if key == "ipw" else f"Wilson {level:.0%}"
        rows.append(
            Measure(
                f"accuracy_{key}",
                float(r["value"]),
                float(r["low"]),
                float(r["high"]),
                int(r["n"]),
                label,
                interval if r["n"] else "",
                str(r["note"]) if r["n"] else f"{NOT_ENOUGH}: {r['note']}",
            )
        )
    rows.append(_cohen_kappa(p, level, n_boot, seed))
    rows.append(_macro_f1(p, level, n_boot, seed))
    if p.multi:  # for single-label items micro-F1 is the accuracy again
        rows.append(_micro_f1(p, level, n_boot, seed))
    if raters is not None:
        rows.append(krippendorff_alpha(raters, level=level, n_boot=n_boot, seed=seed))
    elif p.multi:
        rows.append(
            Measure(
                "krippendorff_alpha", math.nan, math.nan, math.nan, p.n, "", "", "single-label only"
            )
        )
    else:
        pair = pd.DataFrame({"human": p.human, "llm": p.llm})
        alpha = krippendorff_alpha(pair, level=level, n_boot=n_boot, seed=seed)
        rows.append(Measure(**{**alpha.as_dict(), "method": "Krippendorff's alpha, human vs LLM"}))
    rows.append(_ece(p, confidence, edges, level, n_boot, seed))
    rates = decision_rates(ann, level=level) if rates is None else rates
    for key in ("acceptance", "correction"):
        r = rates.loc[key].to_dict()
        n = int(r["n"])
        rows.append(
            Measure(
                f"{key}_rate",
                float(r["rate"]),
                float(r["low"]),
                float(r["high"]),
                n,
                f"{'accepts' if key == 'acceptance' else 'corrections'} / (accepts + corrections)",
                f"Wilson {level:.0%}" if n else "",
                "" if n else f"{NOT_ENOUGH}: no accepted or corrected proposal",
            )
        )
    bva = _blind_vs_assisted(p, level) if bva is None else bva
    for key, name, method in (
        ("blind", "agreement_blind", "LLM = human where the human did not see the LLM label"),
        ("assisted", "agreement_assisted", "LLM = human where the human saw the LLM label"),
        ("gap", "anchoring_gap", "assisted - blind agreement"),
    ):
        r = bva.loc[key].to_dict()
        n = int(r["n"])
        interval = ("Newcombe " if key == "gap" else "Wilson ") + f"{level:.0%}"
        note = "" if np.isfinite(r["value"]) else f"{NOT_ENOUGH}: {bva.attrs['note']}"
        rows.append(
            Measure(
                name,
                float(r["value"]),
                float(r["low"]),
                float(r["high"]),
                n,
                method,
                interval if np.isfinite(r["value"]) else "",
                note,
            )
        )
    out = pd.DataFrame([m.as_dict() for m in rows]).set_index("name")
    out.index.name = "metric"
    out["n"] = out["n"].astype(int)
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


@dataclass(frozen=True)
class Summary:
    """Every figure the dashboard and the report show, computed from one pass over the data."""

    table: pd.DataFrame  # quality_table
    per_label: pd.DataFrame
    confusion: pd.DataFrame
    reliability: pd.DataFrame
    rolling: pd.DataFrame
    corrections: pd.DataFrame
    pool: pd.DataFrame
    blind: pd.DataFrame
    rates: pd.DataFrame
    labels: list[str]
    multi_label: bool
    reviewed: int  # decided items that have an LLM label
    learning: pd.DataFrame | None = None  # learner_curve(ann), when decisions recorded it


def summarize(
    ann: pd.DataFrame,
    *,
    labels: Sequence[str] | LabelTask | None = None,
    raters: pd.DataFrame | None = None,
    human: str = "label",
    llm: str = "llm_label",
    confidence: str = "llm_confidence",
    bins: int | Sequence[float] = 10,
    window: int = 50,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
    multi_label: bool | None = None,
) -> Summary:
    """All figures at once (the table, per-label, confusion, reliability, rolling, ...).

    Same parameters as :func:`quality_table`, plus ``window`` for :func:`rolling_agreement`.
    Cheaper than calling each function, which would select and code the items each time.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "a", "a", "b"]})
    >>> s = summarize(df, n_boot=200)
    >>> s.reviewed, s.confusion.to_numpy().tolist()
    (4, [[2, 0], [1, 1]])
    """
    p = _pairs(ann, human=human, llm=llm, labels=labels, multi_label=multi_label)
    edges = _edges(bins)
    pool, bva = _pool_accuracy(p, level), _blind_vs_assisted(p, level)
    rates = decision_rates(ann, level=level)
    return Summary(
        table=_quality_table(
            p, ann, raters, confidence, edges, level, n_boot, seed, pool, bva, rates
        ),
        per_label=_per_label(p, level, n_boot, seed),
        confusion=_confusion_frame(p),
        reliability=_reliability(p, confidence, edges, level),
        rolling=_rolling(p, window, level),
        corrections=_correction_patterns(p, human, llm),
        pool=pool,
        blind=bva,
        rates=rates,
        labels=list(p.labels),
        multi_label=p.multi,
        reviewed=p.n,
        learning=learner_curve(ann, human=human, level=level),
    )
