"""Certified auto-accept: a confidence threshold whose accepted items err at most ``max_error``.

Learn-then-Test (Angelopoulos et al. 2021) on the audit sample, a simple random sample of
the pool drawn without replacement (inclusion probability M/N, known exactly).

For a threshold ``t`` the *region* is every item with a valid proposal and confidence ≥ t
that is either still open (the items it would accept) or in the audit. Given how many audit
items fall in the region (``m``), they are a simple random sample of it, so the number of
LLM errors among them, ``x``, is hypergeometric. The null hypothesis "the open items of the
region hold more than ``max_error`` x ``accepted`` errors" is tested with the exact
hypergeometric p-value at its boundary (the CDF falls as the errors grow, so the boundary is
the worst case). Thresholds are tested from the highest confidence down, and testing stops
at the first one not rejected (fixed-sequence testing: no multiplicity correction needed);
thresholds that could not be rejected even with no audit error (too few audit items above
them) are passed over, a choice that reads no label. The lowest rejected threshold is
certified: with probability at least ``level``, the items it accepts err at most
``max_error``.

The thresholds are on the raw confidence: a calibration map fitted to the same audit labels
is monotone, so it would order the items the same way, and fitting it on the labels that
test it would break the exactness of the p-values. Without any confidence, all proposals
form one candidate (accept all or none).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import hypergeom

from .intervals import NOT_ENOUGH

MAX_CANDIDATES = 100  # more distinct confidences than this: their percentiles are the candidates
METHOD = (
    "Learn-then-Test: exact hypergeometric p-values on the random audit, fixed-sequence "
    "testing from the highest confidence down"
)


@dataclass(frozen=True)
class Certificate:
    """The outcome of :func:`certify_threshold`.

    ``threshold`` is None when no threshold qualifies; ``covered`` counts the open items it
    accepts; ``bound`` is the upper confidence bound (at ``level``) on their error rate, at
    most ``max_error`` when certified; ``audit_errors`` / ``audit_in_region`` are what the
    audit saw above the threshold; ``more_audit_labels`` is, when nothing qualifies, about
    how many more audit labels would certify a threshold if they erred as often as the audit
    so far did (None when no number would); ``note`` says why in words.
    """

    threshold: float | None
    covered: int
    bound: float
    max_error: float
    level: float
    n_audit: int
    audit_in_region: int
    audit_errors: int
    method: str
    more_audit_labels: int | None = None
    note: str = ""
    tested: list[dict[str, float]] = field(default_factory=list, repr=False)

    @property
    def certified(self) -> bool:
        """Whether a threshold qualified."""
        return self.threshold is not None

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain values (recorded in each auto-accepted item's context)."""
        out = asdict(self)
        out.pop("tested")
        return out


def _p_value(x: int, m: int, accepted: int, max_error: float) -> float:
    """P(X <= x) at the null's boundary: just over ``max_error`` x ``accepted`` open errors."""
    n = m + accepted
    errors = x + math.floor(max_error * accepted + 1e-12) + 1
    if errors > n:
        return 0.0  # the null cannot hold: there are not that many items
    return float(hypergeom.cdf(x, n, errors, m))


def _upper_bound(x: int, m: int, accepted: int, level: float) -> float:
    """Upper confidence bound on the error rate among the ``accepted`` open items."""
    if accepted == 0:
        return math.nan
    extra = np.arange(accepted + 1)
    p = hypergeom.cdf(x, m + accepted, x + extra, m)
    plausible = extra[p > 1 - level]
    return float(plausible.max() / accepted) if len(plausible) else 0.0


def _counts(
    confidence: np.ndarray, audit_conf: np.ndarray, audit_wrong: np.ndarray
) -> list[tuple[float, int, int, int]]:
    """Per candidate threshold, high to low: (threshold, accepted, audit in region, errors)."""
    a_sorted = np.sort(confidence[np.isfinite(confidence)])
    cands = np.unique(a_sorted)[::-1]
    if len(cands) > MAX_CANDIDATES:  # quantiles of the open items' confidence (no label read)
        steps = np.linspace(1, 0, MAX_CANDIDATES + 1)
        cands = np.unique(np.quantile(a_sorted, steps, method="lower"))[::-1]
    order = np.argsort(audit_conf)
    ac, aw = audit_conf[order], np.cumsum(audit_wrong[order][::-1])[::-1]
    out = []
    for t in cands:
        accepted = len(a_sorted) - int(np.searchsorted(a_sorted, t, side="left"))
        first = int(np.searchsorted(ac, t, side="left"))
        m = len(ac) - first
        x = int(aw[first]) if m else 0
        out.append((float(t), accepted, m, x))
    return out


def _sequence(
    counts: list[tuple[float, int, int, int]], max_error: float, level: float
) -> tuple[int | None, list[dict[str, float]]]:
    """Fixed-sequence testing; the index of the last rejected candidate and every test."""
    delta, chosen, tested = 1 - level, None, []
    for i, (t, accepted, m, x) in enumerate(counts):
        if accepted == 0 or _p_value(0, m, accepted, max_error) > delta:
            continue  # could not be rejected whatever the audit saw: passed over
        p = _p_value(x, m, accepted, max_error)
        tested.append({"threshold": t, "accepted": accepted, "audit": m, "errors": x, "p": p})
        if p > delta:
            break
        chosen = i
    return chosen, tested


def certify_threshold(
    confidence: Any,
    audit_correct: Any,
    audit_confidence: Any,
    n_pool: int,
    max_error: float = 0.02,
    level: float = 0.95,
) -> Certificate:
    """The lowest confidence threshold whose auto-accepted items err at most ``max_error``.

    Parameters
    ----------
    confidence : the LLM's confidence on each open item with a valid proposal (the items
        that could be auto-accepted); NaN where the LLM gave none (never accepted, unless no
        item has one: then all proposals are one candidate).
    audit_correct : per audit item with a valid proposal, whether the LLM label equals the
        human label.
    audit_confidence : the LLM's confidence on those audit items.
    n_pool : the number of items in the pool (for the "more audit labels" estimate).
    max_error, level : the error rate to guarantee, and with what probability.

    Examples
    --------
    >>> conf = np.full(1000, 0.9)
    >>> cert = certify_threshold(conf, np.ones(200, bool), np.full(200, 0.9), 1200)
    >>> cert.threshold, cert.covered, round(cert.bound, 3)
    (0.9, 1000, 0.016)
    """
    if not 0 <= max_error < 1:
        raise ValueError(f"max_error must be in [0, 1), got {max_error!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    conf = np.asarray(confidence, dtype=float)
    a_conf = np.asarray(audit_confidence, dtype=float)
    a_wrong = ~np.asarray(audit_correct, dtype=bool)
    if a_conf.shape != a_wrong.shape:
        raise ValueError("audit_correct and audit_confidence must have the same length")
    method = METHOD
    if len(conf) and not np.isfinite(conf).any():
        conf, a_conf = np.ones(len(conf)), np.ones(len(a_conf))
        method += "; no confidence reported, so all proposals are one candidate"
    counts = _counts(conf, a_conf, a_wrong.astype(int))
    chosen, tested = _sequence(counts, max_error, level)
    n_audit = len(a_wrong)
    if chosen is not None:
        t, accepted, m, x = counts[chosen]
        note = (
            f"{accepted:,} open proposals with confidence ≥ {t:g} err at most {max_error:.0%} "
            f"with probability ≥ {level:.0%} (audit: {x} errors in {m} items above it)"
        )
        bound = _upper_bound(x, m, accepted, level)
        return Certificate(
            t, accepted, bound, max_error, level, n_audit, m, x, method, None, note, tested
        )
    more, note = _more_labels(counts, n_pool, n_audit, max_error, level)
    return Certificate(
        None, 0, math.nan, max_error, level, n_audit, 0, 0, method, more, note, tested
    )


def _more_labels(
    counts: list[tuple[float, int, int, int]],
    n_pool: int,
    n_audit: int,
    max_error: float,
    level: float,
) -> tuple[int | None, str]:
    """How many more audit labels would certify a threshold, if they erred as the audit did."""
    if not counts or counts[0][1] == 0:
        return None, f"{NOT_ENOUGH}: no open item with a proposal to auto-accept"
    unaudited = max(n_pool - n_audit, 1)

    def certifies(k: int) -> bool:
        grown = []
        for t, accepted, m, x in counts:
            new = k * accepted / unaudited  # new audit items expected above t
            rate = x / m if m else 0.0
            grown.append((t, round(accepted - new), round(m + new), round(x + new * rate)))
        return _sequence(grown, max_error, level)[0] is not None

    high = 1
    while high < unaudited and not certifies(high):
        high *= 2
    if high >= unaudited or not certifies(high):
        return None, (
            f"no threshold qualifies: above every threshold the audit's error rate is too close "
            f"to {max_error:.0%} (or over it) for more audit labels from this pool to certify one"
        )
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if certifies(mid) else (mid, high)
    note = (
        f"no threshold qualifies yet: about {high:,} more audit labels would certify one, "
        "if they err as often as the audit so far"
    )
    if n_audit == 0:
        note = (
            f"{NOT_ENOUGH}: no audit labels; about {high:,} audit labels would certify a "
            "threshold if the LLM made no error on them"
        )
    return high, note
