"""Session methods for certified quality: calibrated confidence, auto-accept, anchoring, methods.

:class:`Certification` is a mixin of :class:`~llmlabel_widget.Session` (like
``trials.PromptTrials``): it reads the annotations frame, hands arrays to the pure functions
in :mod:`llmlabel_widget.estimation` and records auto-accepts as ordinary decision events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .estimation.anchoring import anchoring_estimates
from .estimation.audit_labels import audit_sample
from .estimation.auto_accept import Certificate, certify_threshold
from .estimation.pairs import AUTO_ACCEPT
from .estimation.recalibration import Calibration, fit_calibration

if TYPE_CHECKING:
    from .methods import MethodsAppendix
    from .recording import Decision

OPEN_STATES = ("proposed", "skipped")
REFIT_EVERY = 10  # decisions between two refits of the card's calibration
VIA = "auto-accept"  # context["via"] of auto-accepts: a Labeler's undo never cancels them


@dataclass
class AutoAcceptPlan:
    """What :meth:`Session.auto_accept_plan` certified, and the items it would accept.

    ``threshold`` (None when nothing qualifies), ``covered`` (open items it accepts),
    ``bound`` (upper confidence bound on their error rate), ``method``, ``n_audit`` (audit
    labels used) and ``more_audit_labels`` come from the :class:`Certificate`.
    """

    certificate: Certificate
    item_ids: tuple[str, ...]
    session: Any = field(repr=False)
    applied: list[Decision] = field(default_factory=list, repr=False)

    threshold = property(lambda self: self.certificate.threshold)
    covered = property(lambda self: self.certificate.covered)
    bound = property(lambda self: self.certificate.bound)
    method = property(lambda self: self.certificate.method)
    n_audit = property(lambda self: self.certificate.n_audit)
    more_audit_labels = property(lambda self: self.certificate.more_audit_labels)

    def summary(self) -> str:
        """One line for the views.

        Examples
        --------
        >>> plan.summary()  # doctest: +SKIP
        '1,240 remaining proposals can be auto-accepted with error ≤ 2% (95%)'
        """
        c = self.certificate
        if c.certified:
            return (
                f"{c.covered:,} remaining proposals can be auto-accepted with error "
                f"≤ {c.max_error:.0%} ({c.level:.0%})"
            )
        return f"No auto-accept with error ≤ {c.max_error:.0%} ({c.level:.0%}): {c.note}"

    def apply(self, *, annotator: str | None = None, reviewer: str | None = None) -> int:
        """Record each covered item that is still open as an accept of the LLM label.

        The events are ordinary decisions (exported, undoable) whose context says
        ``provenance: "auto-accept"`` and holds the certificate; the quality figures leave
        them out, as they are not human labels. Returns how many were recorded.

        Examples
        --------
        >>> plan.apply(annotator="alice")  # doctest: +SKIP
        1240
        """
        if not self.certificate.certified:
            raise ValueError(f"nothing to apply: {self.certificate.note}")
        s = self.session
        who = s._who(reviewer, annotator)
        context = {"provenance": AUTO_ACCEPT, "via": VIA, "certificate": self.certificate.as_dict()}
        recorded = [
            s.accept(i, reviewer=who, context=context) for i in self.item_ids if _still_open(s, i)
        ]
        self.applied = [*self.applied, *recorded]
        return len(recorded)

    def undo(self) -> int:
        """Cancel this plan's auto-accepts (the newest auto-accept events of that reviewer)."""
        undone = 0
        for d in reversed(self.applied):
            if self.session.undo(reviewer=d.reviewer, via=VIA) is not None:
                undone += 1
        self.applied = []
        return undone


def _still_open(session: Any, item_id: str) -> bool:
    return not session.is_decided(item_id)


class Certification:
    """Calibrated confidence, certified auto-accept, the anchoring meter, the methods appendix."""

    _calibration_memo: tuple[Any, Calibration] | None = None

    def _audit_labels(self, ann: pd.DataFrame) -> pd.DataFrame:
        """The decided items of the audit sample (the first M of the pool's audit order,
        however each was decided); a multi-label task has no audit order: its audit slots."""
        if self.task.multi_label:  # type: ignore[attr-defined]
            return audit_sample(ann)
        state = self.audit_state(ann)  # type: ignore[attr-defined]
        return audit_sample(ann, rows=state.sample & state.decided)

    def calibration(self, *, method: str = "auto") -> Calibration:
        """The LLM's confidence recalibrated on the audit labels (see
        :mod:`llmlabel_widget.estimation.recalibration`).

        Examples
        --------
        >>> session.calibration().describe(0.95)  # doctest: +SKIP
        'calibrated 0.71 (Platt, 48 audit labels) · raw 0.95'
        """
        ann = self._annotations(with_meta=False)  # type: ignore[attr-defined]
        audit = self._audit_labels(ann)
        audit = audit[audit["valid"]]
        pool = _confidence(ann[ann["llm_valid"].fillna(False).to_numpy(bool)])
        return fit_calibration(
            audit["confidence"].to_numpy(float),
            audit["correct"].to_numpy(bool),
            pool_confidence=pool,
            method=method,
        )

    def confidence_line(
        self, raw: float | None, *, calibration: Calibration | None = None
    ) -> str | None:
        """The card's calibration line for a proposal with raw confidence ``raw``, or None.

        Refitted once every ``REFIT_EVERY`` (10) decisions: a fit reads the whole
        annotations frame (about 0.2 s at 10,000 items); ``calibration``: use this fit instead
        (the Labeler's, made in the background). None when the raw confidence is missing
        (the card says "confidence not reported") or before any audit label, unless the
        confidence is the same on every item (then it says so).
        """
        cal = calibration if calibration is not None else self._memo_calibration()
        if raw is None or not math.isfinite(raw):
            return None
        if not cal.fitted and cal.n == 0 and "every item" not in cal.note:
            return None
        return cal.describe(raw)

    def _memo_calibration(self) -> Calibration:
        counts = self.decision_counts()  # type: ignore[attr-defined]
        key = sum(counts.values()) // REFIT_EVERY
        memo = self._calibration_memo
        if memo is None or memo[0] != key:
            memo = self._calibration_memo = (key, self.calibration())
        return memo[1]

    def auto_accept_plan(self, max_error: float = 0.02, level: float = 0.95) -> AutoAcceptPlan:
        """Certify a confidence threshold for auto-accepting the open proposals.

        Learn-then-Test on the random audit only (:func:`certify_threshold`): with
        probability at least ``level``, the open items the plan accepts err at most
        ``max_error``. When nothing qualifies the plan says how many more audit labels would.

        Examples
        --------
        >>> plan = session.auto_accept_plan(max_error=0.02, level=0.95)  # doctest: +SKIP
        >>> plan.threshold, plan.covered, plan.bound  # doctest: +SKIP
        >>> plan.apply(annotator="alice")  # doctest: +SKIP
        """
        ann = self._annotations(with_meta=False)  # type: ignore[attr-defined]
        audit = self._audit_labels(ann)
        audit = audit[audit["valid"]]
        valid = ann["llm_valid"].fillna(False).to_numpy(bool)
        open_ = ann[ann["state"].isin(OPEN_STATES).to_numpy(bool) & valid]
        conf = _confidence(open_)
        cert = certify_threshold(
            conf,
            audit["correct"].to_numpy(bool),
            audit["confidence"].to_numpy(float),
            len(ann),
            max_error,
            level,
        )
        ids: Sequence[str] = ()
        if cert.certified:
            finite = np.isfinite(conf)
            take = (finite & (conf >= cert.threshold)) if finite.any() else np.ones(len(conf), bool)
            ids = open_["item_id"].astype(str).to_numpy()[take].tolist()
        return AutoAcceptPlan(cert, tuple(ids), self)

    def undo_auto_accept(self, *, reviewer: str | None = None) -> int:
        """Cancel every auto-accept this reviewer recorded (newest first); return how many.

        Examples
        --------
        >>> session.undo_auto_accept(reviewer="alice")  # doctest: +SKIP
        1240
        """
        undone = 0
        while self.undo(reviewer=reviewer, via=VIA) is not None:  # type: ignore[attr-defined]
            undone += 1
        return undone

    def anchoring_estimates(self, level: float = 0.95) -> pd.DataFrame:
        """Blind against assisted agreement and how often a wrong proposal was accepted
        (see :mod:`llmlabel_widget.estimation.anchoring`).

        Examples
        --------
        >>> session.anchoring_estimates()  # doctest: +SKIP
        """
        ann = self._annotations(with_meta=False)  # type: ignore[attr-defined]
        return anchoring_estimates(ann, level=level)

    def methods(self, *, max_error: float = 0.02, level: float = 0.95) -> MethodsAppendix:
        """A methods section a paper can cite: prompts and models, the audit design, every
        estimate with its interval and method, the auto-accept certificate, anchoring.

        Examples
        --------
        >>> print(session.methods().markdown())  # doctest: +SKIP
        """
        from .methods import build_appendix

        return build_appendix(self, max_error=max_error, level=level)


def _confidence(frame: pd.DataFrame) -> np.ndarray:
    if "llm_confidence" not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame["llm_confidence"], errors="coerce").to_numpy(float)
