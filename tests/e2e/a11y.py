"""Accessibility checks in the real browser: axe-core (npm) run on a part of the page, and the
WCAG contrast of SVG text (plotly's), which axe does not check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
SMALL_TEXT_CONTRAST = 4.5  # WCAG 2 AA for text under 18pt (14pt bold)
JS_THEME_IS_DARK = "() => document.body.dataset.jpThemeLight === 'false'"
JS_THEME_IS_LIGHT = "() => document.body.dataset.jpThemeLight === 'true'"

JS_AXE = """async (sel) => {
  const res = await window.axe.run({ include: [[sel]] });
  const contrast = [...res.passes, ...res.violations, ...res.incomplete]
    .filter((r) => r.id === "color-contrast")
    .reduce((n, r) => n + r.nodes.length, 0);
  const violations = res.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => ({
      target: n.target.join(" "), summary: n.failureSummary,
    })),
  }));
  return { contrast, violations };
}"""


def _script(name: str) -> str:
    """A function from a .js file next to this one, without its header comment."""
    text = (Path(__file__).parent / name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("//"))


JS_SVG_CONTRAST = _script("svg_contrast.js")
JS_HTML_CONTRAST = _script("html_contrast.js")
LARGE_TEXT_CONTRAST = 3.0  # WCAG 2 AA for large text


def _load_axe(page: Any) -> None:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `npm ci` (axe-core is a dev dependency)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))


def accessibility_problems(page: Any, selector: str, *, svg: bool = False) -> list[str]:
    """Serious and critical axe-core violations inside ``selector``, visible text below WCAG
    AA contrast (4.5:1, large text 3:1), and with ``svg=True`` SVG text below 4.5:1; one
    readable line each. A view with no text checked is a problem too (an empty or missing
    view must not pass)."""
    _load_axe(page)
    found = page.evaluate(JS_AXE, selector)
    problems = [
        f"{v['impact']} {v['id']} ({v['help']}): {n['target']} — {n['summary']}"
        for v in found["violations"]
        if v["impact"] in BLOCKING
        for n in v["nodes"]
    ]
    texts = page.evaluate(JS_HTML_CONTRAST, selector)
    checked = len(texts)
    problems += [
        f"text {t['text']!r}: contrast {t['ratio']:.2f} ({t['fill']} on {t['bg']})"
        for t in texts
        if t["ratio"] < (LARGE_TEXT_CONTRAST if t["large"] else SMALL_TEXT_CONTRAST)
    ]
    if svg:
        texts = page.evaluate(JS_SVG_CONTRAST, selector)
        checked += len(texts)
        problems += [
            f"SVG text {t['text']!r}: contrast {t['ratio']:.2f} ({t['fill']} on {t['bg']})"
            for t in texts
            if t["ratio"] < SMALL_TEXT_CONTRAST
        ]
    if checked == 0:
        problems.append(f"no text was checked in {selector!r}: is the view shown?")
    return problems


def set_theme(page: Any, dark: bool) -> None:
    """Switch JupyterLab's theme and wait until the page shows it."""
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate(
        "(t) => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: t}); }",
        theme,
    )
    page.wait_for_function(JS_THEME_IS_DARK if dark else JS_THEME_IS_LIGHT)
    page.wait_for_timeout(300)  # the theme's CSS variables apply after the attribute flips
