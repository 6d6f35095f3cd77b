"""Issue 14, line 3: below 30 audit items the complement gets Blaker's exact interval.

It keeps Clopper-Pearson's guarantee (coverage at least the level at every true value),
checked here exactly by enumerating every outcome, and is narrower.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from llmlabel_widget.estimation.audit import (
    BLAKER_GRID,
    AuditState,
    _blaker,
    _clopper_pearson,
    pool_estimates,
)


def _acceptability(p: float, k: int, n: int) -> float:
    """Blaker's acceptability of ``p`` for ``k`` of ``n``, written out item by item."""
    pmf = [binom.pmf(x, n, p) for x in range(n + 1)]
    tail = [min(sum(pmf[x:]), sum(pmf[: x + 1])) for x in range(n + 1)]
    return sum(pmf[x] for x in range(n + 1) if tail[x] <= tail[k] * (1 + 1e-9))


@pytest.mark.parametrize(("k", "n"), [(0, 5), (4, 5), (5, 5), (7, 10), (9, 10), (16, 20)])
def test_blaker_bounds_sit_where_the_acceptability_crosses_the_level(k, n):
    lo, hi = _blaker(k, n, 0.95)
    cp_lo, cp_hi = _clopper_pearson(k, n, 0.95)
    step = (cp_hi - cp_lo) / (BLAKER_GRID - 1)
    assert cp_lo <= lo <= hi <= cp_hi
    if k > 0:  # just outside: rejected; one grid step inside: accepted
        assert _acceptability(lo, k, n) <= 0.05 < _acceptability(lo + step, k, n)
    else:
        assert lo == 0.0
    if k < n:
        assert _acceptability(hi, k, n) <= 0.05 < _acceptability(hi - step, k, n)
    else:
        assert hi == 1.0


def test_blaker_covers_at_least_95_percent_at_every_true_value_up_to_29_items():
    worst = 1.0
    for n in range(1, 30):
        bounds = np.array([_blaker(k, n, 0.95) for k in range(n + 1)])
        for p in np.linspace(0.001, 0.999, 400):
            inside = (bounds[:, 0] <= p) & (p <= bounds[:, 1])
            worst = min(worst, float(binom.pmf(np.arange(n + 1), n, p)[inside].sum()))
    assert worst >= 0.95 - 1e-9


def test_blaker_is_narrower_than_clopper_pearson_on_average_at_5_to_29_items():
    for n in (5, 10, 20, 29):
        for p in (0.2, 0.5, 0.8, 0.95):
            pmf = binom.pmf(np.arange(n + 1), n, p)
            cp = [np.subtract(*_clopper_pearson(k, n, 0.95)[::-1]) for k in range(n + 1)]
            blaker = [np.subtract(*_blaker(k, n, 0.95)[::-1]) for k in range(n + 1)]
            assert pmf @ blaker < 0.97 * (pmf @ cp), (n, p)


def _state(human: list, llm: list, census: list[bool]) -> AuditState:
    n = len(llm)
    h, f = np.empty(n, dtype=object), np.empty(n, dtype=object)
    h[:], f[:] = human, llm
    return AuditState(
        h, f, np.full(n, np.nan), np.arange(n), np.zeros(n, bool), np.asarray(census, bool)
    )


def test_pool_accuracy_on_five_audit_items_is_blakers_interval_not_clopper_pearsons():
    # 100 items: 40 reviewed by the selector (all right), then the first 5 of the audit order
    # among the other 60 (4 right): the complement's 60 items from 4 of 5
    human = ["a"] * 40 + ["a", "a", "a", "a", "b"] + [None] * 55
    census = [True] * 40 + [False] * 60
    pos = [*range(5, 45), *range(5), *range(45, 100)]
    st = _state(human, ["a"] * 100, census)
    st = AuditState(st.human, st.llm, st.confidence, np.array(pos), st.skipped, st.census)
    acc = pool_estimates(st, ["a", "b"]).set_index("quantity").loc["accuracy"]
    assert acc["value"] == pytest.approx((40 + 60 * 0.8) / 100)
    lo, hi = _blaker(4, 5, 0.95)
    assert acc["low"] == pytest.approx((40 + 60 * lo) / 100)
    assert acc["high"] == pytest.approx((40 + 60 * hi) / 100)
    cp_lo, cp_hi = _clopper_pearson(4, 5, 0.95)
    assert acc["high"] - acc["low"] < 0.92 * 60 * (cp_hi - cp_lo) / 100
    assert "Blaker exact on 5 audit items" in acc["method"]


def test_from_ten_audit_items_the_complement_keeps_clopper_pearson():
    # Blaker's only below BLAKER_BELOW: from 10 items on Clopper-Pearson's extra width absorbs
    # the small bias adaptive review puts on the complement's audit sample
    human = ["a"] * 11 + ["b"] + [None] * 88
    st = _state(human, ["a"] * 100, [False] * 100)
    acc = pool_estimates(st, ["a", "b"]).set_index("quantity").loc["accuracy"]
    lo, hi = _clopper_pearson(11, 12, 0.95)
    assert (acc["low"], acc["high"]) == pytest.approx((lo, hi))
    assert "Clopper-Pearson on 12 audit items" in acc["method"]
