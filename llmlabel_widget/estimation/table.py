"""The headline table and the dashboard's summary: one computation over the coded items."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .agreement import (
    _accuracy,
    _cohen_kappa,
    _confusion_frame,
    _correction_patterns,
    _macro_f1,
    _micro_f1,
    _per_label,
    krippendorff_alpha,
)
from .calibration import _ece, _edges, _reliability
from .decisions import _blind_vs_assisted, _rolling, decision_rates, learner_curve
from .intervals import NOT_ENOUGH, Measure, Seed
from .pairs import _Pairs, _pairs
from .pool import _pool_accuracy

if TYPE_CHECKING:
    from ..task import LabelTask


# -- what the table and the summary share -------------------------------------------------------
@dataclass(frozen=True)
class _Inputs:
    """The coded items, the options, and the frames both the table rows and the charts show."""

    ann: pd.DataFrame
    p: _Pairs
    raters: pd.DataFrame | None
    confidence: str
    edges: np.ndarray
    level: float
    n_boot: int
    seed: Seed
    pool: pd.DataFrame
    blind: pd.DataFrame
    rates: pd.DataFrame


def _inputs(
    ann: pd.DataFrame,
    labels: Sequence[str] | LabelTask | None,
    raters: pd.DataFrame | None,
    human: str,
    llm: str,
    confidence: str,
    bins: int | Sequence[float],
    level: float,
    n_boot: int,
    seed: Seed,
    multi_label: bool | None,
) -> _Inputs:
    p = _pairs(ann, human=human, llm=llm, labels=labels, multi_label=multi_label)
    edges = _edges(bins)
    pool, blind = _pool_accuracy(p, level), _blind_vs_assisted(p, level)
    rates = decision_rates(ann, level=level)
    return _Inputs(ann, p, raters, confidence, edges, level, n_boot, seed, pool, blind, rates)


def _table(x: _Inputs) -> pd.DataFrame:
    p, level, n_boot, seed = x.p, x.level, x.n_boot, x.seed
    rows = [_accuracy(p, level), *_pool_rows(x.pool, level)]
    rows.append(_cohen_kappa(p, level, n_boot, seed))
    rows.append(_macro_f1(p, level, n_boot, seed))
    if p.multi:  # for single-label items micro-F1 is the accuracy again
        rows.append(_micro_f1(p, level, n_boot, seed))
    rows.append(_alpha_row(x))
    rows.append(_ece(p, x.confidence, x.edges, level, n_boot, seed))
    rows += _rate_rows(x.rates, level)
    rows += _blind_rows(x.blind, level)
    out = pd.DataFrame([m.as_dict() for m in rows]).set_index("name")
    out.index.name = "metric"
    out["n"] = out["n"].astype(int)
    return out


def _measure(
    name: str, r: Mapping[Hashable, Any], method: str, interval: str, note: str
) -> Measure:
    """A table row from one row of a figure frame (``value, low, high, n``)."""
    n = int(r["n"])
    return Measure(
        name, float(r["value"]), float(r["low"]), float(r["high"]), n, method, interval, note
    )


def _pool_rows(pool: pd.DataFrame, level: float) -> list[Measure]:
    used = str(pool.attrs["method"])
    chosen = pool.loc[used].to_dict()
    wilson = f"Wilson {level:.0%}"
    ipw_interval = f"{wilson} at effective n, at least the audit items' Wilson"
    rows = [
        _measure(
            "accuracy_pool",
            chosen,
            {"ipw": "Hájek IPW", "audit": "random audit", "naive": "naive"}[used],
            (ipw_interval if used == "ipw" else wilson) if chosen["n"] else "",
            str(pool.attrs["note"]) if chosen["n"] else f"{NOT_ENOUGH}: no reviewed items",
        )
    ]
    for key, label in (("audit", "random-audit items"), ("ipw", "Hájek IPW, reviewed items")):
        r = pool.loc[key].to_dict()
        interval = ipw_interval if key == "ipw" else wilson
        note = str(r["note"]) if r["n"] else f"{NOT_ENOUGH}: {r['note']}"
        rows.append(_measure(f"accuracy_{key}", r, label, interval if r["n"] else "", note))
    return rows


def _alpha_row(x: _Inputs) -> Measure:
    p = x.p
    raters = x.raters
    if raters is None and p.multi:
        nan = math.nan
        return Measure("krippendorff_alpha", nan, nan, nan, p.n, "", "", "single-label only")
    pair = raters if raters is not None else pd.DataFrame({"human": p.human, "llm": p.llm})
    alpha = krippendorff_alpha(pair, level=x.level, n_boot=x.n_boot, seed=x.seed)
    if raters is not None:
        return alpha
    return Measure(**{**alpha.as_dict(), "method": "Krippendorff's alpha, human vs LLM"})


def _rate_rows(rates: pd.DataFrame, level: float) -> list[Measure]:
    rows = []
    for key, what in (("acceptance", "accepts"), ("correction", "corrections")):
        r = rates.loc[key].to_dict()
        n = int(r["n"])
        rows.append(
            _measure(
                f"{key}_rate",
                {**r, "value": r["rate"]},
                f"{what} / (accepts + corrections)",
                f"Wilson {level:.0%}" if n else "",
                "" if n else f"{NOT_ENOUGH}: no accepted or corrected proposal",
            )
        )
    return rows


def _blind_rows(bva: pd.DataFrame, level: float) -> list[Measure]:
    rows = []
    for key, name, method in (
        ("blind", "agreement_blind", "LLM = human where the human did not see the LLM label"),
        ("assisted", "agreement_assisted", "LLM = human where the human saw the LLM label"),
        ("gap", "anchoring_gap", "assisted - blind accuracy"),
    ):
        r = bva.loc[key].to_dict()
        defined = bool(np.isfinite(r["value"]))
        interval = ("Newcombe " if key == "gap" else "Wilson ") + f"{level:.0%}"
        note = "" if defined else f"{NOT_ENOUGH}: {bva.attrs['note']}"
        rows.append(_measure(name, r, method, interval if defined else "", note))
    return rows


# -- the public pair ------------------------------------------------------------------------------
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
    """The headline figures, one row each, with interval, n and method (``summarize().table``).

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
    ``correction_rate``, ``agreement_blind`` and ``agreement_assisted`` (the accuracy on blind
    and on assisted decisions; names kept from before the glossary), ``anchoring_gap``.
    Undefined figures are NaN with a note ("not enough data: ...").

    Examples
    --------
    >>> t = quality_table(session.annotations, labels=session.task)  # doctest: +SKIP
    >>> t.loc["cohen_kappa", ["value", "low", "high", "n"]]           # doctest: +SKIP
    """
    x = _inputs(ann, labels, raters, human, llm, confidence, bins, level, n_boot, seed, multi_label)
    return _table(x)


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

    Same parameters as :func:`quality_table`, plus ``window`` for :func:`rolling_accuracy`.
    ``table`` is exactly :func:`quality_table`: both come from one computation. Cheaper than
    calling each function, which would select and code the items each time.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a", "b"], "llm_label": ["a", "a", "a", "b"]})
    >>> s = summarize(df, n_boot=200)
    >>> s.reviewed, s.confusion.to_numpy().tolist()
    (4, [[2, 0], [1, 1]])
    """
    x = _inputs(ann, labels, raters, human, llm, confidence, bins, level, n_boot, seed, multi_label)
    p = x.p
    return Summary(
        table=_table(x),
        per_label=_per_label(p, level, n_boot, seed),
        confusion=_confusion_frame(p),
        reliability=_reliability(p, confidence, x.edges, level),
        rolling=_rolling(p, window, level),
        corrections=_correction_patterns(p, human, llm),
        pool=x.pool,
        blind=x.blind,
        rates=x.rates,
        labels=list(p.labels),
        multi_label=p.multi,
        reviewed=p.n,
        learning=learner_curve(ann, human=human, level=level),
    )
