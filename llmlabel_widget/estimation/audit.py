"""Pool estimates under adaptive review: the reviewed items as a census, the audit as a sample.

The pool's items fall in two parts. The *reviewed stratum* holds items a reviewer decided
by any route other than an audit slot (selector, filter, search, history), plus audit items
the selector's ranking walked past (``covers``): their truth is known, so they count
exactly. The rest of the pool (the *complement*) is estimated from the audit items in it.
The audit sample is the first ``M`` items of a uniformly random order of the whole pool
(:mod:`llmlabel_widget.selection.audit`), so the audit items in the complement are a
simple random sample of it; the items the selector would have taken but found already
audited are moved into the reviewed stratum, so they do not bias the complement.

On the complement, the estimate is prediction-powered (PPI++, a difference estimator with
a tuned weight ``λ`` in [0, 1] and a finite-population correction): the LLM's labels and
confidence predict every item, the audit items correct the predictions. Its interval is
Wilson's at the effective sample size. With fewer than :data:`SMALL` audit items in the
complement the CLT is not trusted: the complement gets an exact interval on its audit items
alone (no prediction): below :data:`BLAKER_BELOW` items Blaker's, which keeps
Clopper-Pearson's guarantee (coverage at least the level at every true value) and is 8-12%
narrower there, else Clopper-Pearson's. An interval that uses the LLM's labels as
predictions on so few items is no narrower: the residuals' spread cannot be pinned down
(bench/small_intervals.py).
An audit item the reviewer skipped is a non-response: the interval spans both worst cases
(it counted as 0 and as 1).

Quantities: the LLM's accuracy (items with a valid LLM label), the share of each label in
the pool (the truth), and each label's precision (a domain mean over items the LLM gave
that label) and recall (a ratio of two domain estimates, each at level ``1 - (1 - level) / 2``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln, xlog1py, xlogy
from scipy.stats import beta

from .intervals import NOT_ENOUGH, _z, wilson_interval

SMALL = 30  # below this many audit items in the complement: exact interval, no prediction
BLAKER_GRID = 2001  # points between the Clopper-Pearson bounds where Blaker's are read
# Below this many audit items Blaker's interval, from it Clopper-Pearson's: its extra width
# absorbs the small bias adaptive review puts on the complement's audit items once the
# selector has learned from many labels (bench/certified.py: with Blaker's up to 29 items,
# share coverage on css_semeval at 200 reviewed fell to 0.925-0.930; with this, >= 0.95).
BLAKER_BELOW = 10
COLUMNS = ["quantity", "value", "low", "high", "level", "n_human", "n_effective", "method"]


@dataclass(frozen=True)
class AuditState:
    """The pool as the estimator reads it: one row per item, in any order.

    ``human`` is each item's decided label (None if undecided); ``llm`` its LLM label (None
    if it has no valid one); ``confidence`` the LLM's confidence (NaN if unknown);
    ``audit_pos`` its position in the audit order; ``skipped`` whether the current
    decision is a skip; ``census`` whether it is in the reviewed stratum (decided other
    than by an audit slot, or walked past by the selector).
    """

    human: np.ndarray
    llm: np.ndarray
    confidence: np.ndarray
    audit_pos: np.ndarray
    skipped: np.ndarray
    census: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.human)
        for name in ("llm", "confidence", "audit_pos", "skipped", "census"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"AuditState.{name} has {len(getattr(self, name))} rows, not {n}")

    @property
    def decided(self) -> np.ndarray:
        return np.array([h is not None for h in self.human], dtype=bool)

    @property
    def reach(self) -> int:
        """``M``: the length of the resolved prefix of the audit order."""
        todo = self.audit_pos[~(self.decided | self.skipped)]
        return int(todo.min()) if len(todo) else len(self.human)

    @property
    def sample(self) -> np.ndarray:
        """The audit sample: the first ``M`` items of the audit order."""
        return self.audit_pos < self.reach


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n_human: int
    n_effective: float
    method: str


@functools.lru_cache(maxsize=4096)
def _blaker(k: int, n: int, level: float) -> tuple[float, float]:
    """Blaker's exact bounds for ``k`` successes in ``n`` (coverage >= ``level`` at every p).

    Blaker (2000): ``p`` is in the interval when the observed count is no less likely than
    ``1 - level`` under ``p``, tails measured by the smaller one-sided p-value, so that
    ``P(min-tail(X) <= min-tail(k)) > 1 - level``. It lies inside Clopper-Pearson's interval
    (same guarantee) and is 5-10% narrower at 5-30 items. The bounds are read on a grid
    of :data:`BLAKER_GRID` points between Clopper-Pearson's and rounded outwards (to the
    last grid point outside), so the interval only errs on the wide side.

    Examples
    --------
    >>> [round(x, 3) for x in _blaker(4, 5, 0.95)]  # Clopper-Pearson: [0.284, 0.995]
    [0.342, 0.99]
    """
    a = 1 - level
    lo, hi = _clopper_pearson(k, n, level)
    p = np.linspace(lo, hi, BLAKER_GRID)[:, None]
    x = np.arange(n + 1)[None, :]
    log_comb = gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)
    pmf = np.exp(log_comb + xlogy(x, p) + xlog1py(n - x, -p))  # row: p, column: outcome
    up_to, from_ = np.cumsum(pmf, axis=1), np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    tail = np.minimum(up_to, from_)  # the smaller one-sided p-value of each outcome
    extreme = tail <= tail[:, [k]] * (1 + 1e-9)  # outcomes at most as likely as k's
    inside = np.flatnonzero((pmf * extreme).sum(axis=1) > a)
    if not len(inside):
        return lo, hi
    first, last = int(inside[0]), int(inside[-1])
    return float(p[max(first - 1, 0), 0]), float(p[min(last + 1, BLAKER_GRID - 1), 0])


def _clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    """Clopper-Pearson bounds for ``k`` successes in ``n`` (valid in finite samples)."""
    a = 1 - level
    low = 0.0 if k <= 0 else float(beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k >= n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return low, high


def _exact(k: int, n: int, level: float) -> tuple[float, float, str]:
    """Exact bounds: Blaker's below :data:`BLAKER_BELOW` items, else Clopper-Pearson's."""
    if n < BLAKER_BELOW:
        return (*_blaker(k, n, level), f"Blaker exact on {n} audit items")
    return (*_clopper_pearson(k, n, level), f"Clopper-Pearson on {n} audit items")


def _complement(
    z: np.ndarray, g: np.ndarray, s: np.ndarray, comp: np.ndarray, level: float
) -> tuple[float, float, float, str]:
    """Mean of ``z`` over the complement ``comp`` from its audit items ``s``: value, bounds."""
    n, nc = int(s.sum()), int(comp.sum())
    zs, gs = z[s], g[s]
    if n == nc:
        m = float(zs.mean())
        return m, m, m, "every item known"
    if n < SMALL or np.var(gs) == 0:
        k = round(float(zs.sum()))
        low, high, method = _exact(k, n, level)
        return k / n, low, high, method
    lam = float(np.clip(np.cov(zs, gs)[0, 1] / np.var(gs, ddof=1), 0.0, 1.0))
    resid = zs - lam * gs
    m = float(lam * g[comp].mean() + resid.mean())
    se2 = (1 - n / nc) * float(resid.var(ddof=1)) / n
    p = min(max(m, 0.0), 1.0)
    n_eff = p * (1 - p) / se2 if se2 > 0 and 0 < p < 1 else n / (1 - n / nc)
    low, high = wilson_interval(p * n_eff, n_eff, level=level)
    return m, low, high, f"PPI++ (λ={lam:.2f}) on {n} audit items"


def domain_mean(
    state: AuditState,
    z: np.ndarray,
    g: np.ndarray,
    domain: np.ndarray,
    level: float,
    strata: np.ndarray | None = None,
) -> Estimate:
    """The mean of ``z`` (0/1, NaN = unknown) over the items in ``domain``, with its interval.

    ``g`` predicts ``z`` on every item (from the LLM). Reviewed items count exactly; the
    complement is estimated from its audit items (see the module docstring). With
    ``strata`` (a code per item, known on the whole pool) and at least :data:`SMALL` audit
    items, the complement is estimated per stratum (strata with fewer than
    :data:`MIN_STRATUM` audit items pooled) and the parts combined by MOVER (Newcombe's
    square-and-add of each part's interval).
    """
    domain = np.asarray(domain, dtype=bool)
    n_d = int(domain.sum())
    if n_d == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, 0.0, f"{NOT_ENOUGH}: no such items")
    known = state.decided
    census = domain & state.census & known
    comp = domain & ~census
    s = comp & state.sample
    n_human = int((census | (s & known)).sum())
    total = float(z[census].sum())
    if not comp.any():
        v = total / n_d
        return Estimate(v, v, v, n_human, math.inf, "every item reviewed")
    if not (s & known).any():  # only the bounds: each item not reviewed may be 0 or 1
        why = f"{NOT_ENOUGH}: no audit item among the {int(comp.sum())} not reviewed"
        lo, hi = total / n_d, (total + int(comp.sum())) / n_d
        return Estimate(math.nan, lo, hi, n_human, 0.0, why + "; interval: worst cases")
    parts = _strata(comp, s & known, strata)
    results = [_part(z, g, part, s, known, level) for part in parts]
    nc = int(comp.sum())
    w = [int(part.sum()) / nc for part in parts]
    m = sum(wi * r[0] for wi, r in zip(w, results, strict=True))
    low = m - math.sqrt(sum((wi * (r[0] - r[1])) ** 2 for wi, r in zip(w, results, strict=True)))
    high = m + math.sqrt(sum((wi * (r[2] - r[0])) ** 2 for wi, r in zip(w, results, strict=True)))
    low, high = max(low, 0.0), min(high, 1.0)
    method = results[0][3] if len(results) == 1 else f"{len(results)} strata by LLM label: "
    if len(results) > 1:
        method += "; ".join(r[3] for r in results) + " (MOVER)"
    v, lo, hi = ((total + nc * x) / n_d for x in (m, low, high))
    z_ = _z(level)
    p = min(max(v, 0.0), 1.0)
    n_eff = p * (1 - p) * (2 * z_ / (hi - lo)) ** 2 if hi > lo else math.inf
    if census.any():
        method += f" + {int(census.sum())} reviewed items counted exactly"
    return Estimate(v, lo, hi, n_human, n_eff, method)


MIN_STRATUM = 10  # audit items a stratum needs to be estimated on its own


def _strata(comp: np.ndarray, resp: np.ndarray, strata: np.ndarray | None) -> list[np.ndarray]:
    """The complement split by ``strata``; strata with few audit items pooled together."""
    if strata is None or int(resp.sum()) < SMALL:
        return [comp]
    own, rest = [], np.zeros_like(comp)
    for h in np.unique(strata[comp]):
        part = comp & (strata == h)
        if int((part & resp).sum()) >= MIN_STRATUM:
            own.append(part)
        else:
            rest |= part
    if rest.any():
        if (rest & resp).any() or not own:
            own.append(rest)
        else:  # no audit item among them: fold them into the largest stratum
            big = max(range(len(own)), key=lambda k: int(own[k].sum()))
            own[big] = own[big] | rest
    return own


def _part(
    z: np.ndarray, g: np.ndarray, comp: np.ndarray, s: np.ndarray, known: np.ndarray, level: float
) -> tuple[float, float, float, str]:
    """Mean of ``z`` over ``comp`` from its audit items; skipped ones at both worst cases."""
    s = s & comp
    resp, missing = s & known, s & ~known
    m, low, high, method = _complement(z, g, resp, comp & ~missing, level)
    if missing.any():
        lows, highs = [], []
        for fill in (0.0, 1.0):
            zf = np.where(missing, fill, z)
            _, lo, hi, _ = _complement(zf, g, s, comp, level)
            lows.append(lo)
            highs.append(hi)
        low, high = min(lows), max(highs)
        method += f"; {int(missing.sum())} skipped audit item(s) taken at worst"
    return m, low, high, method


def pool_estimates(
    state: AuditState, classes: Sequence[str], *, level: float = 0.95
) -> pd.DataFrame:
    """The LLM's accuracy, each label's share, precision and recall, with intervals.

    Examples
    --------
    >>> st = AuditState(np.array(["a", "b", None], dtype=object),
    ...                 np.array(["a", "a", "b"], dtype=object), np.full(3, np.nan),
    ...                 np.array([0, 1, 2]), np.zeros(3, bool), np.zeros(3, bool))
    >>> est = pool_estimates(st, ["a", "b"]).set_index("quantity")
    >>> float(est.loc["accuracy", "value"])
    0.5
    """
    _z(level)
    rows = []
    conf = _filled(state.confidence)
    valid = np.array([v is not None for v in state.llm], dtype=bool)
    truth, llm = state.human, state.llm
    pairs = zip(truth, llm, strict=True)
    correct = np.array([np.nan if h is None else float(h == f) for h, f in pairs])
    rows.append(("accuracy", domain_mean(state, correct, conf, valid, level)))
    k = max(2, len(classes))
    for c in classes:
        is_c = np.array([np.nan if h is None else float(h == c) for h in truth])
        said = np.array([f == c for f in llm], dtype=bool)
        g_share = np.where(said, conf, np.where(valid, (1 - conf) / (k - 1), 1 / k))
        share = domain_mean(state, is_c, g_share, np.ones_like(valid), level, strata=said)
        rows.append((f"share[{c}]", share))
        rows.append((f"precision[{c}]", domain_mean(state, is_c, conf, said, level)))
        rows.append((f"recall[{c}]", _recall(state, is_c, said, g_share, conf, level)))
    out = pd.DataFrame(
        [(q, e.value, e.low, e.high, level, e.n_human, e.n_effective, e.method) for q, e in rows],
        columns=COLUMNS,
    )
    out.attrs.update(audit_reach=state.reach, pool=len(state.human))
    out.attrs["inclusion_probability"] = state.reach / max(1, len(state.human))
    return out


def _recall(
    state: AuditState,
    is_c: np.ndarray,
    said: np.ndarray,
    g_share: np.ndarray,
    conf: np.ndarray,
    level: float,
) -> Estimate:
    """Recall of label c: hits / (hits + misses), each a domain mean at ``(1 + level) / 2``."""
    inner = 1 - (1 - level) / 2
    hit = domain_mean(state, is_c, conf, said, inner)
    miss = domain_mean(state, is_c, g_share, ~said, inner)
    n1, n2 = float(said.sum()), float((~said).sum())
    n_human = hit.n_human + miss.n_human
    if n1 == 0:
        return Estimate(math.nan, math.nan, math.nan, n_human, 0.0, f"{NOT_ENOUGH}: never said")

    def ratio(h: float, m: float) -> float:
        a, b = h * n1, (m * n2 if n2 else 0.0)
        return a / (a + b) if a + b > 0 else math.nan

    parts = (hit, miss) if n2 else (hit, Estimate(0.0, 0.0, 0.0, 0, math.inf, ""))
    h, m = parts
    value = ratio(h.value, m.value)
    low, high = ratio(h.low, m.high), ratio(h.high, m.low)
    if math.isnan(value) or math.isnan(low) or math.isnan(high):
        why = f"{NOT_ENOUGH}: " + (h.method if math.isnan(h.value) else m.method)
        if math.isnan(low) or math.isnan(high):
            low, high = 0.0, 1.0
        return Estimate(math.nan, low, high, n_human, 0.0, why)
    method = f"ratio of two domain estimates at {inner:.1%} each ({h.method}; {m.method})"
    return Estimate(value, low, high, n_human, math.nan, method)


def _filled(conf: np.ndarray) -> np.ndarray:
    """Confidence with unknown values set to the mean of the known ones (0.5 if none)."""
    conf = np.asarray(conf, dtype=float)
    fill = float(np.nanmean(conf)) if np.isfinite(conf).any() else 0.5
    return np.where(np.isfinite(conf), conf, fill)


def audit_plan(state: AuditState, *, width: float = 0.05, level: float = 0.95) -> dict[str, object]:
    """How many more audit labels would bring the LLM-accuracy interval to ``width``.

    The variance per audit item is the current one (the PPI residual variance, else
    ``p(1 - p)`` at the current estimate, else 0.25); the reviewed stratum is held fixed.
    """
    if not 0 < width < 1:
        raise ValueError(f"width must be between 0 and 1, got {width!r}")
    valid = np.array([v is not None for v in state.llm], dtype=bool)
    known = state.decided
    census = valid & state.census & known
    comp = valid & ~census
    s = comp & state.sample & known
    n, nc, n_d = int(s.sum()), int(comp.sum()), int(valid.sum())
    est = pool_estimates(state, [], level=level).iloc[0]
    var = _unit_variance(state, s)
    need = 0
    if nc:  # (1/n - 1/nc) * var = (half width / z / share of the pool not reviewed)^2
        target = (width / 2 / (_z(level) * nc / n_d)) ** 2
        need = min(nc, math.ceil(1 / (target / var + 1 / nc)))
    more = max(0, need - n)
    return {
        "more_audit_labels": more,
        "drawn": "the next items of the pool's audit order (the queue's audit slots)",
        "current": (float(est["low"]), float(est["high"])),
        "target_width": width,
        "audit_items": n,
        "not_reviewed": nc,
        "variance_per_item": var,
    }


def _unit_variance(state: AuditState, s: np.ndarray) -> float:
    """The variance one audit item adds: the PPI residual's, or p(1 - p) with p smoothed."""
    z = np.array([float(h == f) for h, f in zip(state.human[s], state.llm[s], strict=True)])
    g = _filled(state.confidence)[s]
    if len(z) >= SMALL and np.var(g) > 0:
        lam = float(np.clip(np.cov(z, g)[0, 1] / np.var(g, ddof=1), 0.0, 1.0))
        return max(float((z - lam * g).var(ddof=1)), 1e-6)
    p = (z.sum() + 1) / (len(z) + 2)
    return float(p * (1 - p))
