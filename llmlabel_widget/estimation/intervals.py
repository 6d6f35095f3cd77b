"""Figures with intervals: the ``Measure`` record, Wilson/Newcombe intervals, bootstrap helpers."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

Seed = int | np.random.Generator

NOT_ENOUGH = "not enough data"


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


def _proportion(name: str, k: float, n: int, method: str, level: float, note: str = "") -> Measure:
    if n == 0:
        return Measure(name, math.nan, math.nan, math.nan, 0, method, "", note or NOT_ENOUGH)
    low, high = wilson_interval(k, n, level=level)
    return Measure(name, k / n, low, high, n, method, f"Wilson {level:.0%}", note)


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a small non-negative int matrix and their counts."""
    base = int(rows.max(initial=0)) + 1
    if rows.shape[1] * math.log2(base) < 62:  # one int64 key per row: far faster than axis=0
        weights = base ** np.arange(rows.shape[1], dtype=np.int64)
        _, first, freq = np.unique(rows @ weights, return_index=True, return_counts=True)
        return rows[first], freq
    return np.unique(rows, axis=0, return_counts=True)
