"""Accessibility checks in the real browser: axe-core (npm) run on a part of the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
JS_THEME_IS_DARK = "() => document.body.dataset.jpThemeLight === 'false'"
JS_THEME_IS_LIGHT = "() => document.body.dataset.jpThemeLight === 'true'"


def axe_violations(page: Any, selector: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations inside ``selector``: rule, impact, nodes."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `npm ci` (axe-core is a dev dependency)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (sel) => {
          const res = await window.axe.run(
            { include: [[sel]] },
            { resultTypes: ["violations"] },
          );
          return res.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => ({
              target: n.target.join(" "), summary: n.failureSummary,
            })),
          }));
        }""",
        selector,
    )
    return [v for v in found if v["impact"] in BLOCKING]


def set_theme(page: Any, dark: bool) -> None:
    """Switch JupyterLab's theme and wait until the page shows it."""
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate(
        "(t) => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: t}); }",
        theme,
    )
    page.wait_for_function(JS_THEME_IS_DARK if dark else JS_THEME_IS_LIGHT)
    page.wait_for_timeout(300)  # the theme's CSS variables apply after the attribute flips


def describe(violations: list[dict[str, Any]]) -> str:
    """One readable line per violation and node, for an assertion message."""
    lines = []
    for v in violations:
        for n in v["nodes"]:
            lines.append(f"{v['impact']} {v['id']} ({v['help']}): {n['target']} — {n['summary']}")
    return "\n".join(lines)
