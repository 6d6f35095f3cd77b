"""The Dashboard's auto-accept bar: the certified plan in words, with a button that applies it.

"1,240 remaining proposals can be auto-accepted with error ≤ 2% (95%)" and **Auto-accept
1,240**, from :meth:`Session.auto_accept_plan`; **Check again** recomputes it (a check reads
the whole pool, so it runs when the view opens and when asked, not after every decision).
Plain ipywidgets: the bar needs no JS of ours.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import ipywidgets

from .certification import AutoAcceptPlan
from .labeler_certified import LEVEL, MAX_ERROR

log = logging.getLogger(__name__)


class AutoAcceptBox:
    """The bar (``box``) for ``session``; ``reviewer`` is recorded with the auto-accepts."""

    def __init__(self, session: Any, reviewer: str | None = None) -> None:
        self.session = session
        self.reviewer = reviewer
        self.plan: AutoAcceptPlan | None = None
        self.text = ipywidgets.HTML()
        self.apply_button = ipywidgets.Button(description="Auto-accept", button_style="primary")
        self.check_button = ipywidgets.Button(description="Check again")
        self.apply_button.add_class("llmlabel-auto-apply")
        self.check_button.add_class("llmlabel-auto-check")
        self.apply_button.on_click(self.apply)
        self.check_button.on_click(self.check)
        self.box = ipywidgets.HBox([self.text, self.apply_button, self.check_button])
        self.box.add_class("llmlabel-auto")
        self.check()

    def check(self, _button: object = None) -> None:
        """Compute the plan and show it."""
        try:
            self.plan = self.session.auto_accept_plan(max_error=MAX_ERROR, level=LEVEL)
        except Exception as exc:  # a chart view must not break on a failed check
            log.exception("auto-accept check failed")
            self.plan = None
            self._show(f"Auto-accept check failed: {exc}", 0)
            return
        certified = self.plan.certificate.certified
        self._show(self.plan.summary(), self.plan.covered if certified else 0)

    def apply(self, _button: object = None) -> int:
        """Apply the shown plan; returns how many items were recorded."""
        plan, self.plan = self.plan, None
        if plan is None or not plan.certificate.certified:
            return 0
        n = plan.apply(reviewer=self.reviewer)
        self._show(
            f"Auto-accepted {n:,} items (provenance auto-accept; undo with "
            "session.undo_auto_accept()).",
            0,
        )
        return n

    def _show(self, text: str, covered: int) -> None:
        self.text.value = f"<span class='llmlabel-auto-text'>{html.escape(text)}</span>"
        self.apply_button.description = f"Auto-accept {covered:,}"
        self.apply_button.layout.display = "" if covered else "none"
