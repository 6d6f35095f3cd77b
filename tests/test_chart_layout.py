"""The dashboard's layout for a cell's width and its colours for a JupyterLab theme."""

from __future__ import annotations

import itertools

import pytest

from llmlabel_widget import Dashboard, RecordedAnnotator, Session
from llmlabel_widget.chart_layout import columns_for, paint, reflow, theme_colors
from llmlabel_widget.charts import TITLES, build_figure

DARK = {
    "paper": "#111111",
    "plot": "#111111",
    "font": "rgba(255, 255, 255, 0.87)",
    "muted": "rgba(255, 255, 255, 0.54)",
    "grid": "#424242",
    "line": "#616161",
    "header": "#2a2a2a",
    "cell": "#1e1e1e",
    "family": "system-ui, -apple-system, sans-serif",
    "light": "false",
}


def boxes(fig) -> list[tuple[float, float, float, float]]:
    """Each chart panel's domain (x0, x1, y0, y1) in paper fractions."""
    out = []
    for i in range(5):
        x = fig.layout["xaxis" if i == 0 else f"xaxis{i + 1}"].domain
        y = fig.layout["yaxis" if i == 0 else f"yaxis{i + 1}"].domain
        out.append((x[0], x[1], y[0], y[1]))
    return out


@pytest.mark.parametrize(("width", "cols"), [(332, 1), (700, 1), (900, 2), (1400, 3)])
def test_reflow_places_panels_apart_and_the_table_full_width(width, cols):
    fig = build_figure()
    reflow(fig, width)
    assert columns_for(width) == cols
    assert fig.layout.width == width
    panels = boxes(fig)
    assert len({round(p[1], 6) for p in panels}) == cols  # right edges: one per column
    for a, b in itertools.combinations(panels, 2):
        apart = a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2]
        assert apart, (a, b)
    table = next(t for t in fig.data if t.type == "table")
    assert tuple(table.domain.x) == (0, 1)
    assert table.domain.y[1] < min(p[2] for p in panels)  # below every chart
    titles = [a for a in fig.layout.annotations if a.text.replace("<br>", " ") in TITLES]
    assert len(titles) == len(TITLES)
    for note, panel in zip(titles, panels, strict=False):
        assert panel[0] <= note.x <= panel[1]
        assert note.y == pytest.approx(panel[3])


def test_a_narrow_figure_wraps_its_titles():
    fig = build_figure()
    fig.layout.title.text = "Annotation quality · 3 reviewed item(s) with an LLM label · 3 decided"
    reflow(fig, 332)
    assert fig.layout.title.text.count("<br>") == 2
    assert any("<br>" in a.text for a in fig.layout.annotations)
    reflow(fig, 1400)
    assert "<br>" not in fig.layout.title.text


def test_reflow_refuses_a_bad_width():
    with pytest.raises(ValueError, match="width must be a positive number of pixels"):
        reflow(build_figure(), 0)


def test_paint_applies_theme_colours_and_ignores_bad_values():
    fig = build_figure()
    paint(fig, {**DARK, "grid": "url(javascript:x)", "line": "red; background: x"})
    assert (fig.layout.paper_bgcolor, fig.layout.plot_bgcolor) == ("#111111", "#111111")
    assert fig.layout.font.color == "rgba(255, 255, 255, 0.87)"
    assert fig.layout.font.family == "system-ui, -apple-system, sans-serif"
    assert fig.layout.xaxis.gridcolor is None  # refused: not a colour
    table = next(t for t in fig.data if t.type == "table")
    assert table.header.fill.color == "#2a2a2a"
    assert table.cells.fill.color == "#1e1e1e"
    assert table.cells.font.color == "rgba(255, 255, 255, 0.87)"
    assert theme_colors({"font": " #fff "}) == {"font": "#fff"}
    bars = next(t for t in fig.data if t.meta == "recall")
    assert bars.error_y.color == "rgba(255, 255, 255, 0.87)"


def test_the_dashboard_follows_what_its_view_reports(db, gwsd, gwsd_task):
    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    with Session.open(db, data=gwsd[["id", "text"]].head(50), task=gwsd_task, annotator=rec) as s:
        s.propose(progress=False)
        dash = Dashboard(s, n_boot=20)
        frame = dash.view().children[0]
        frame.width = 700
        frame.theme = DARK
        assert dash.error is None
        assert dash.figure.layout.width == 700
        assert dash.figure.layout.paper_bgcolor == "#111111"
        # ...and it is the synced state a reloaded page draws from.
        assert dash.figure._widget_layout["width"] == 700
        assert dash.figure._widget_layout["paper_bgcolor"] == "#111111"
        table = [t for t in dash.figure._widget_data if t["type"] == "table"]
        assert table[0]["cells"]["fill"]["color"] == "#1e1e1e"
        assert dash.view() is dash.view()
        for i, g in zip(gwsd["id"][:10], gwsd["gold_label"][:10], strict=True):
            s.decide(i, g)
        dash.refresh()  # a redraw keeps the theme
        recall = next(t for t in dash.figure.data if t.meta == "recall")
        assert recall.error_y.color == DARK["font"]
        assert dash.figure.layout.paper_bgcolor == "#111111"
        dash.close()
