"""Estimation: accuracy, agreement and calibration figures from the annotations frame.

Pure functions, no state, no Session and no Store: every function takes
``session.annotations`` (or any frame with a human-label column and an LLM-label column)
and returns numbers with an interval and the sample size they rest on. Words as in
``docs/glossary.md``: *accuracy* is the share of reviewed items where the LLM label equals
the final human label (an invalid answer counts as wrong); the *acceptance rate* is the
share of decisions that accepted the proposal.

Intervals are Wilson score intervals for proportions and seeded percentile bootstraps for
kappa, alpha, F1 and ECE. Point estimates come from scikit-learn where it has them.

Which rows count: with a ``state`` column, only ``decided`` items; without one (a raw data
set), every row with a human label. LLM-vs-human figures further need an LLM answer: a
label, or an invalid answer (``llm_valid`` False), which accuracy counts as wrong and the
label-wise figures (kappa, F1, confusion, calibration) leave out. Decision order is
``decision_seq``, else ``decided_at``.

Modules: ``intervals`` (Measure, Wilson, Newcombe, bootstrap), ``pairs`` (which rows
count), ``agreement`` (accuracy, kappa, F1, confusion, alpha), ``decisions`` (acceptance
rate, accuracy over time, anchoring, learner curve), ``calibration``, ``pool`` (corrected
pool accuracy) and ``table`` (``quality_table`` and ``summarize``, one computation).

Examples
--------
>>> from llmlabel_widget import datasets
>>> df = datasets.load("tornberg_us_senators_gpt4")
>>> round(accuracy(df, human="gold_label", llm="llm_label").value, 3)
0.934
"""

from __future__ import annotations

from .agreement import (
    accuracy,
    cohen_kappa,
    confusion,
    correction_patterns,
    krippendorff_alpha,
    macro_f1,
    per_label,
)
from .calibration import expected_calibration_error, reliability
from .decisions import (
    blind_vs_assisted,
    decision_rates,
    learner_curve,
    rolling_accuracy,
    rolling_agreement,
)
from .intervals import NOT_ENOUGH, Measure, Seed, newcombe_interval, wilson_interval
from .pairs import reviewed, reviewed_items
from .pool import NAIVE_ONLY, pool_accuracy
from .table import Summary, quality_table, summarize

__all__ = [
    "NAIVE_ONLY",
    "NOT_ENOUGH",
    "Measure",
    "Seed",
    "Summary",
    "accuracy",
    "blind_vs_assisted",
    "cohen_kappa",
    "confusion",
    "correction_patterns",
    "decision_rates",
    "expected_calibration_error",
    "krippendorff_alpha",
    "learner_curve",
    "macro_f1",
    "newcombe_interval",
    "per_label",
    "pool_accuracy",
    "quality_table",
    "reliability",
    "reviewed",
    "reviewed_items",
    "rolling_accuracy",
    "rolling_agreement",
    "summarize",
    "wilson_interval",
]
