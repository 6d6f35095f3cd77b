"""The LLM's confidence recalibrated on the audit sample: P(LLM label is right | confidence).

Method by sample size: Platt scaling (a logistic curve in the logit of the confidence, two
parameters) below ``ISOTONIC_FROM`` audit labels, isotonic regression (a monotone step
function, no shape assumed) from there on. Isotonic follows any monotone shape but, with few
labels, its steps follow the noise; two parameters are stable with a few dozen labels. On
held-out replays of the shipped sets (``bench/calibration.py``) Platt had the lower expected
calibration error at 50 to 200 audit labels and the two tied at 500. The
audit sample is a simple random sample of the pool, so the fitted curve is unbiased for the
pool; every other item is out of sample for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from .intervals import NOT_ENOUGH

MIN_LABELS = 20  # fewer audit labels than this: not calibrated
ISOTONIC_FROM = 500  # from this many audit labels on: isotonic instead of Platt
METHODS = ("auto", "isotonic", "platt")


@dataclass(frozen=True)
class Calibration:
    """A fitted map from raw confidence to the chance the LLM label is right.

    ``method`` is ``"isotonic"`` or ``"Platt"``, or ``""`` when nothing was fitted; then
    ``note`` says why (no audit labels, too few, one outcome only, a constant or missing
    raw confidence).
    """

    method: str
    n: int
    note: str = ""
    model: Any = None

    @property
    def fitted(self) -> bool:
        """Whether :meth:`predict` gives calibrated values."""
        return self.model is not None

    def predict(self, confidence: Any) -> np.ndarray:
        """Calibrated values (NaN where the raw confidence is missing or nothing is fitted)."""
        c = np.atleast_1d(np.asarray(confidence, dtype=float))
        out = np.full(c.shape, np.nan)
        ok = np.isfinite(c)
        if self.model is None or not ok.any():
            return out
        if self.method == "isotonic":
            out[ok] = self.model.predict(c[ok])
        else:
            out[ok] = self.model.predict_proba(_logit(c[ok])[:, None])[:, 1]
        return out

    def describe(self, raw: float | None) -> str:
        """One line for the card: "calibrated 0.71 (isotonic, 48 audit labels) · raw 0.95".

        Examples
        --------
        >>> Calibration("", 0, "not enough data: no audit labels").describe(0.9)
        'raw 0.90 · not calibrated (not enough data: no audit labels)'
        """
        if raw is None or not math.isfinite(raw):
            return "confidence not reported: nothing to calibrate"
        if not self.fitted:
            return f"raw {raw:.2f} · not calibrated ({self.note})"
        value = float(self.predict(raw)[0])
        return f"calibrated {value:.2f} ({self.method}, {self.n} audit labels) · raw {raw:.2f}"


def _logit(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 1e-4, 1 - 1e-4)
    return np.log(c / (1 - c))


def fit_calibration(
    audit_confidence: Any,
    audit_correct: Any,
    *,
    pool_confidence: Any = None,
    method: str = "auto",
) -> Calibration:
    """Fit the calibration map on the audit labels (``audit_correct``: LLM label = human).

    ``pool_confidence`` (optional) is the raw confidence on the whole pool: when it is
    missing or the same value everywhere, the map says so instead of fitting.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.5, 1, 200)
    >>> cal = fit_calibration(conf, rng.random(200) < conf - 0.2)
    >>> cal.method, cal.n
    ('Platt', 200)
    """
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; use one of {METHODS}")
    conf = np.asarray(audit_confidence, dtype=float)
    y = np.asarray(audit_correct, dtype=bool)
    if conf.shape != y.shape:
        raise ValueError("audit_confidence and audit_correct must have the same length")
    everywhere = conf if pool_confidence is None else np.asarray(pool_confidence, dtype=float)
    seen = everywhere[np.isfinite(everywhere)]
    if len(everywhere) and not len(seen):
        return Calibration("", 0, "the LLM reported no confidence")
    if len(seen) and np.ptp(seen) == 0:
        return Calibration("", 0, f"raw confidence is {seen[0]:g} on every item: it ranks nothing")
    ok = np.isfinite(conf)
    conf, y = conf[ok], y[ok]
    n = len(y)
    if n < MIN_LABELS:
        have = "no audit labels" if n == 0 else f"{n} audit labels, needs {MIN_LABELS}"
        return Calibration("", n, f"{NOT_ENOUGH}: {have}")
    if y.all() or not y.any():
        said = "agree" if y.all() else "disagree"
        return Calibration("", n, f"{NOT_ENOUGH}: all {n} audit labels {said} with the LLM")
    if method == "isotonic" or (method == "auto" and n >= ISOTONIC_FROM):
        model: Any = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(conf, y.astype(float))
        return Calibration("isotonic", n, model=model)
    model = LogisticRegression()
    model.fit(_logit(conf)[:, None], y.astype(int))
    return Calibration("Platt", n, model=model)
