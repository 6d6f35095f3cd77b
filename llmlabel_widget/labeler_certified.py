"""The Labeler's certified-quality parts: the card's calibration line, the auto-accept bar.

:class:`AutoAcceptBar` is a mixin of :class:`~llmlabel_widget.widget.Labeler`: its trait
``auto_accept`` holds what the bar shows, and one intent kind, ``auto_accept``, either
checks (``step: "check"``: computes :meth:`Session.auto_accept_plan`) or applies the checked
plan (``step: "apply"``, with the revision the reviewer saw). A check reads the whole pool,
so it runs when asked, not after every decision.
"""

from __future__ import annotations

from typing import Any

import traitlets

from .certification import AutoAcceptPlan

MAX_ERROR = 0.02
LEVEL = 0.95


def with_calibration(
    view: dict[str, Any] | None, session: Any, calibration: Any = None
) -> dict[str, Any] | None:
    """The card's proposal view plus ``calibration``: "calibrated 0.71 (Platt, 48 audit
    labels) · raw 0.95", or what stands in its way; None when there is nothing to say.
    ``calibration``: the fit to use (the Labeler's, made in the background), if it has one."""
    if view is not None and view.get("valid"):
        raw = view.get("confidence")
        view["calibration"] = session.confidence_line(raw, calibration=calibration)
    return view


class AutoAcceptBar(traitlets.HasTraits):
    """The bar above the card: "1,240 remaining proposals can be auto-accepted with error
    ≤ 2% (95%)" and a button that records them (see :class:`AutoAcceptPlan`)."""

    #: the auto-accept bar: ``{checked, certified, summary, covered, max_error, level}``.
    auto_accept = traitlets.Dict().tag(sync=True)
    _plan: AutoAcceptPlan | None = None

    def _auto_accept(self, content: dict[str, Any]) -> None:
        session: Any = self._session  # type: ignore[attr-defined]
        if content.get("step") == "check":
            self._plan = session.auto_accept_plan(max_error=MAX_ERROR, level=LEVEL)
            self.auto_accept = _bar(self._plan)
            return
        plan, revision = self._plan, content.get("revision")
        if content.get("step") != "apply" or plan is None or not plan.certificate.certified:
            return  # a repeat after applying, or nothing checked: nothing to do
        if type(revision) is not int or revision != self.revision:  # type: ignore[attr-defined]
            return
        self._plan = None
        n = plan.apply(reviewer=self._annotator)  # type: ignore[attr-defined]
        self.auto_accept = {**_bar(plan), "checked": False, "applied": n}
        undo = "session.undo_auto_accept()"
        notice = f"Auto-accepted {n:,} items (provenance auto-accept; undo with {undo})."
        self._show(notice=notice)  # type: ignore[attr-defined]


def _bar(plan: AutoAcceptPlan) -> dict[str, Any]:
    c = plan.certificate
    return {
        "checked": True,
        "certified": c.certified,
        "summary": plan.summary(),
        "covered": c.covered,
        "max_error": c.max_error,
        "level": c.level,
    }
