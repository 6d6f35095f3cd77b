"""Why the pool estimates cannot be narrower than an audit-only Wilson interval at 5-15 audit items.

Run: python bench/small_intervals.py [--n 5 10 15 20 29] [--p 0.2 0.5 0.8 0.9 0.95]

Exact figures (every outcome enumerated, no simulation) for a proportion from ``n`` audit
items: the coverage at the true value ``p`` and the mean width of Wilson's interval (the
bench's baseline), Clopper-Pearson's (the estimator before), Blaker's (the estimator now,
``llmlabel_widget.estimation.audit._blaker``), mid-p and Jeffreys'. Then the worst coverage
of each over a grid of ``p`` (Wilson, mid-p and Jeffreys dip below 94%; the exact ones do
not), and, for a label's share predicted by the LLM's label (precision ``--precision`` on a
share ``--said`` of the pool), the paired score interval (Tango) that uses the prediction.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import beta, binom, multinomial

from llmlabel_widget.estimation.audit import _blaker, _clopper_pearson
from llmlabel_widget.estimation.intervals import wilson_interval

LEVEL = 0.95
Z = 1.959963984540054


def mid_p(k: int, n: int) -> tuple[float, float]:
    a = (1 - LEVEL) / 2
    lo = 0.0 if k == 0 else brentq(lambda p: binom.sf(k, n, p) + binom.pmf(k, n, p) / 2 - a, 0, 1)
    hi = (
        1.0
        if k == n
        else brentq(lambda p: binom.cdf(k - 1, n, p) + binom.pmf(k, n, p) / 2 - a, 0, 1)
    )
    return lo, hi


def jeffreys(k: int, n: int) -> tuple[float, float]:
    a = (1 - LEVEL) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k + 0.5, n - k + 0.5))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 0.5, n - k + 0.5))
    return lo, hi


METHODS = {
    "Wilson": lambda k, n: wilson_interval(k, n, level=LEVEL),
    "Clopper-Pearson": lambda k, n: _clopper_pearson(k, n, LEVEL),
    "Blaker": lambda k, n: _blaker(k, n, LEVEL),
    "mid-p": mid_p,
    "Jeffreys": jeffreys,
}


def exact(method, n: int, p: float) -> tuple[float, float]:
    """Coverage at ``p`` and mean width, over every count of ``n`` items."""
    pmf = binom.pmf(np.arange(n + 1), n, p)
    bounds = np.array([method(k, n) for k in range(n + 1)])
    inside = (bounds[:, 0] <= p) & (p <= bounds[:, 1])
    return float(pmf[inside].sum()), float(pmf @ (bounds[:, 1] - bounds[:, 0]))


def tango(b: int, c: int, n: int) -> tuple[float, float]:
    """Score interval for P(z=1) - P(g=1) from ``b`` items with z=1, g=0 and ``c`` with z=0, g=1."""

    def score(d: float) -> float:
        q = -b - c + (2 * n - b + c) * d  # the restricted MLE of P(z=0, g=1) solves a quadratic
        q21 = (-q + math.sqrt(max(q * q + 8 * n * c * d * (1 - d), 0.0))) / (4 * n)
        v = n * (2 * q21 + d * (1 - d))
        num = b - c - n * d
        if v > 1e-15:
            return num / math.sqrt(v)
        return 0.0 if abs(num) < 1e-9 else math.copysign(math.inf, num)

    d0, eps = (b - c) / n, 1e-12
    lo = -1.0 if score(-1 + eps) <= Z else brentq(lambda d: score(d) - Z, -1 + eps, d0)
    hi = 1.0 if score(1 - eps) >= -Z else brentq(lambda d: score(d) + Z, d0, 1 - eps)
    return lo, hi


def with_prediction(n: int, said: float, precision: float, omission: float) -> tuple[float, ...]:
    """Coverage and mean width of Wilson (no prediction) and Tango (prediction) for a share."""
    cells = [said * precision, (1 - said) * omission, said * (1 - precision)]
    cells.append(1 - sum(cells))  # z=1 g=1, z=1 g=0, z=0 g=1, z=0 g=0
    p = cells[0] + cells[1]
    cov_w = width_w = cov_t = width_t = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            for k11 in range(n + 1 - b - c):
                pr = multinomial.pmf([k11, b, c, n - b - c - k11], n, cells)
                lo, hi = wilson_interval(k11 + b, n, level=LEVEL)
                cov_w, width_w = cov_w + pr * (lo <= p <= hi), width_w + pr * (hi - lo)
                lo, hi = tango(b, c, n)
                lo, hi = max(0.0, said + lo), min(1.0, said + hi)
                cov_t, width_t = cov_t + pr * (lo <= p <= hi), width_t + pr * (hi - lo)
    return cov_w, width_w, cov_t, width_t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, nargs="*", default=[5, 10, 15, 20, 29])
    ap.add_argument("--p", type=float, nargs="*", default=[0.2, 0.5, 0.8, 0.9, 0.95])
    ap.add_argument("--said", type=float, default=0.4, help="share the LLM gives the label")
    ap.add_argument("--precision", type=float, nargs="*", default=[0.8, 0.9])
    args = ap.parse_args()
    print("coverage / mean width (width relative to Wilson), exact")
    for n in args.n:
        for p in args.p:
            figs = {name: exact(m, n, p) for name, m in METHODS.items()}
            w = figs["Wilson"][1]
            row = "  ".join(f"{k} {c:.3f}/{x:.3f} ({x / w:.2f})" for k, (c, x) in figs.items())
            print(f"n={n:2d} p={p:.2f}  {row}")
    grid = np.linspace(0.01, 0.99, 197)
    print("\nworst coverage over p in [0.01, 0.99]")
    for n in args.n:
        worst = {name: min(exact(m, n, p)[0] for p in grid) for name, m in METHODS.items()}
        print(f"n={n:2d}  " + "  ".join(f"{k} {v:.3f}" for k, v in worst.items()))
    print(f"\na share with the LLM's label as prediction (said {args.said})")
    for precision in args.precision:
        for n in args.n:
            cw, ww, ct, wt = with_prediction(n, args.said, precision, 1 - precision)
            print(
                f"precision {precision:.2f} n={n:2d}: Wilson {cw:.3f}/{ww:.3f}, "
                f"Tango with prediction {ct:.3f}/{wt:.3f} ({wt / ww:.2f})"
            )


if __name__ == "__main__":
    main()
