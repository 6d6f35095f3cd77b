"""The Dashboard in a real JupyterLab, driven by headless Debian Chromium.

Decisions made in code and in a Labeler redraw it with no wiring; a page reload and a second
display show the same complete charts (label names on the axes, a filled headline table, a level
pool-estimate line); in a 700 px window its panels reflow with nothing clipped or overlapping;
in JupyterLab's dark theme its backgrounds and text follow the theme.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
    kernel_eval,
    run_all,
    run_command,
    save_notebook,
    write_notebook,
)
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parent / "artifacts"
NAME = "dash.ipynb"
NOTEBOOK = [
    """\
from llmlabel_widget import Dashboard, Labeler, RecordedAnnotator, Session, datasets
from llmlabel_widget.task import LabelTask

df = datasets.load("gwsd_climate_stance_gpt4o").head(120)
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("dash.labels.db", data=df[["id", "text"]], task=task,
                       annotator=RecordedAnnotator(df, label="llm_label",
                                                   confidence="llm_confidence"))
session.propose(progress=False)
gold = dict(zip(df["id"], df["gold_label"]))
import numpy as np
from llmlabel_widget.selection.audit import audit_positions
ids = df["id"].astype(str).to_numpy()
order = list(ids[np.argsort(audit_positions(ids, session.audit_seed()))])  # the audit order
for r, i in enumerate(order[:20]):  # random-audit decisions: the pool estimate has a sample
    session.decide(i, gold[i], reviewer="code", context={"audit": True, "audit_rank": r})""",
    'labeler = Labeler(session, annotator="e2e")\nlabeler',
    "dash = Dashboard(session, n_boot=50, min_interval=0.2)\ndash",
]
DECIDE_TEN = (
    "for r, i in list(enumerate(order))[20:30]:\n"
    "    session.decide(i, gold[i], reviewer='code', context={'audit': True, 'audit_rank': r})"
)

# What the figure in a view shows, read from plotly's graph div and its SVG.
JS_FIGURE = """(gd) => {
  const texts = (sel) => [...gd.querySelectorAll(sel)].map(n => n.textContent);
  const pool = gd.data.find(t => t.meta === 'pool') || {};
  return {
    title: texts('.gtitle').join(''),
    confusion_x: texts('.xaxislayer-above .x2tick text'),
    confusion_y: texts('.yaxislayer-above .y2tick text'),
    table: texts('.table .cell-text'),
    pool_x: Array.from(pool.x || []),
    pool_y: Array.from(pool.y || []),
    width: gd.getBoundingClientRect().width,
  };
}"""
# Boxes of everything that must not overlap or be clipped: axis titles, panel titles, notes
# shown, tick labels of each axis, table cells; and the box of the figure and of its cell.
JS_BOXES = """(gd) => {
  const box = (n) => { const r = n.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height}; };
  const group = (sel) => [...gd.querySelectorAll(sel)]
    .filter(n => n.textContent.trim() && n.getBoundingClientRect().width > 0).map(box);
  const titles = [...gd.querySelectorAll('.infolayer g[class^="g-"][class$="title"] text')];
  return {
    figure: box(gd.querySelector('.main-svg')),
    cell: box(gd.closest('.jp-OutputArea-output')),
    titles: titles.filter(n => n.textContent.trim()).map(n => ({t: n.textContent, ...box(n)})),
    annotations: [...gd.querySelectorAll('.annotation')]
      .filter(n => n.getBoundingClientRect().width > 0)
      .map(n => ({t: n.textContent, ...box(n)})),
    ticks: group('.xaxislayer-above text, .yaxislayer-above text'),
    legend: [...gd.querySelectorAll('.legend .legendtext')]
      .map(n => ({t: n.textContent, ...box(n)})),
    cells: [...gd.querySelectorAll('.table .cell-text')].map(n => ({t: n.textContent, ...box(n)})),
    columns: [...gd.querySelectorAll('.table .y-column')].map(box),
  };
}"""
# True once the text at `sel` is drawn in `color` (plotly puts the alpha in fill-opacity).
JS_TEXT_IN = """([gd, sel, color]) => {
  const rgb = (c) => (c.match(/[0-9.]+/g) || []).slice(0, 3).join(',');
  const node = gd.querySelector(sel);
  return !!node && rgb(getComputedStyle(node).fill) === rgb(color);
}"""
# A CSS variable of the current theme, resolved to the rgb() form computed styles use.
JS_THEME_COLOR = """(name) => {
  const probe = document.createElement('div');
  probe.style.backgroundColor = `var(${name})`;
  document.body.appendChild(probe);
  const value = getComputedStyle(probe).backgroundColor;
  probe.remove();
  return value;
}"""


def graph(page: Page, nth: int = 0) -> Locator:
    return page.locator(".llmlabel-dashboard .js-plotly-plot").nth(nth)


def figure(page: Page, nth: int = 0) -> dict[str, Any]:
    return graph(page, nth).evaluate(JS_FIGURE)


def wait_title(page: Page, text: str, nth: int = 0) -> None:
    expect(graph(page, nth).locator(".gtitle")).to_contain_text(text, timeout=UI_TIMEOUT_MS)


def overlaps(a: dict[str, float], b: dict[str, float], slack: float = 1.0) -> bool:
    return (
        a["x"] + slack < b["x"] + b["w"]
        and b["x"] + slack < a["x"] + a["w"]
        and a["y"] + slack < b["y"] + b["h"]
        and b["y"] + slack < a["y"] + a["h"]
    )


def inside(a: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (
        a["x"] >= outer["x"] - slack
        and a["y"] >= outer["y"] - slack
        and a["x"] + a["w"] <= outer["x"] + outer["w"] + slack
        and a["y"] + a["h"] <= outer["y"] + outer["h"] + slack
    )


def assert_complete(shown: dict[str, Any], decided: int) -> None:
    """Label names on the confusion axes, a filled headline table, a level pool line."""
    assert f"{decided} reviewed" in shown["title"]
    assert sorted(shown["confusion_x"]) == ["agree", "neutral_or_disagree"]
    assert sorted(shown["confusion_y"]) == ["agree", "neutral_or_disagree"]
    assert "accuracy (reviewed, naive)" in shown["table"]
    assert "macro F1" in shown["table"]
    assert shown["pool_x"] == [1, decided]
    assert len(shown["pool_y"]) == 2
    assert shown["pool_y"][0] == shown["pool_y"][1]


def assert_nothing_overlaps(boxes: dict[str, Any]) -> None:
    fig = boxes["figure"]
    assert fig["w"] <= boxes["cell"]["w"] + 1, (fig, boxes["cell"])  # fits its cell
    labels = boxes["titles"] + boxes["annotations"] + boxes["legend"]
    assert len(boxes["legend"]) >= 6
    assert len(boxes["titles"]) >= 8, [t["t"] for t in boxes["titles"]]  # 7 axes + figure
    for i, a in enumerate(labels):
        assert inside(a, fig), f"clipped: {a}"
        for b in labels[i + 1 :]:
            assert not overlaps(a, b), f"{a} overlaps {b}"
        for tick in boxes["ticks"]:
            assert not overlaps(a, tick), f"{a} overlaps tick label {tick}"
    # Table cells: each inside its column and its figure, none over another.
    assert boxes["cells"]
    for i, a in enumerate(boxes["cells"]):
        assert inside(a, fig), f"clipped: {a}"
        assert any(inside(a, c, slack=2) for c in boxes["columns"]), f"cell outside its column {a}"
        for b in boxes["cells"][i + 1 :]:
            assert not overlaps(a, b), f"{a} overlaps {b}"


@pytest.fixture
def dash_notebook(lab: Lab) -> str:
    write_notebook(lab.root / NAME, NOTEBOOK)
    for stale in lab.root.glob("dash.labels.db*"):
        stale.unlink()
    yield NAME
    lab.close_sessions(NAME)


def test_dashboard_live_reload_narrow_and_dark(lab: Lab, page: Page, dash_notebook: str):
    goto_notebook(page, lab, dash_notebook)
    run_all(page, dash_notebook)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    expect(graph(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    wait_title(page, "20 reviewed")

    # Decisions made in code (a cell) reach the displayed dashboard with no wiring...
    kernel_eval(lab, dash_notebook, "len(session.annotations)", code=DECIDE_TEN)
    wait_title(page, "30 reviewed")
    assert_complete(figure(page), 30)
    # ... and so do decisions made in the Labeler.
    root = page.locator(".llmlabel-root").first
    root.locator(".llmlabel-progress").click()
    page.keyboard.press("a")
    wait_title(page, "31 reviewed")
    assert_complete(figure(page), 31)

    # A page reload draws the same complete charts from the kernel's state.
    save_notebook(page)
    page.reload()
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=UI_TIMEOUT_MS
    )
    expect(graph(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    wait_title(page, "31 reviewed")
    assert_complete(figure(page), 31)
    # A second display of the same object, in a new cell, shows the same.
    run_command(page, "notebook:insert-cell-below")
    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel"
        ".setSource('dash')"
    )
    run_command(page, "notebook:run-cell")
    expect(page.locator(".llmlabel-dashboard .js-plotly-plot")).to_have_count(2)
    wait_title(page, "31 reviewed", nth=1)
    assert_complete(figure(page, 1), 31)
    kernel_eval(lab, dash_notebook, "0", code=DECIDE_TEN.replace("[20:30]", "[40:42]"))
    wait_title(page, "33 reviewed", nth=0)
    wait_title(page, "33 reviewed", nth=1)

    # A 700 px window: the figure fits its cell, panels reflow, nothing clipped or overlapping.
    page.set_viewport_size({"width": 700, "height": 1000})
    _settle(page)
    graph(page).scroll_into_view_if_needed()
    boxes = graph(page).evaluate(JS_BOXES)
    ARTIFACTS.mkdir(exist_ok=True)
    graph(page).screenshot(path=str(ARTIFACTS / "dashboard-700px-light.png"))
    assert_nothing_overlaps(boxes)
    page.set_viewport_size({"width": 1400, "height": 1000})
    _settle(page)
    assert_nothing_overlaps(graph(page).evaluate(JS_BOXES))

    # JupyterLab's dark theme: backgrounds and text follow it; and back to light.
    light_bg = page.evaluate(JS_THEME_COLOR, "--jp-layout-color0")
    for theme in ("JupyterLab Dark", "JupyterLab Light"):
        page.evaluate(
            "(t) => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: t}); }",
            theme,
        )
        page.wait_for_function(
            "(dark) => document.body.dataset.jpThemeLight === (dark ? 'false' : 'true')",
            arg=theme.endswith("Dark"),
        )
        bg = page.evaluate(JS_THEME_COLOR, "--jp-layout-color0")
        font = page.evaluate(JS_THEME_COLOR, "--jp-ui-font-color1")
        svg = graph(page).locator(".main-svg").first
        expect(svg).to_have_css("background-color", bg, timeout=15_000)
        gd = graph(page).element_handle()
        for sel in (".gtitle", ".table .cell-text", ".g-xtitle text"):
            page.wait_for_function(JS_TEXT_IN, arg=[gd, sel, font], timeout=15_000)
        if theme.endswith("Dark"):
            assert bg != light_bg
            graph(page).screenshot(path=str(ARTIFACTS / "dashboard-dark.png"))
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    assert kernel_eval(lab, dash_notebook, "dash.error") == "None"


def _settle(page: Page) -> None:
    """Wait until the figure has the width of its cell."""
    expect(graph(page)).to_have_js_property("layout.width", _cell_width(page), timeout=15_000)
    page.wait_for_timeout(1000)  # the table is drawn again for the new width


def _cell_width(page: Page) -> int:
    """The width the dashboard's strip measures: its cell's, after the resize settles."""
    frame = page.locator(".llmlabel-dashboard-frame").first
    page.wait_for_timeout(400)  # the strip reports one width per pause (150 ms)
    return round(frame.evaluate("n => n.getBoundingClientRect().width"))
