"""Lay the quality figure out for a width, and paint it in a JupyterLab theme's colours.

:func:`reflow` places the five chart panels on a grid of one, two or three columns (by the
width the view reports) with room for each panel's title, tick labels and axis titles, and
gives the headline table a full-width row below them, so nothing is clipped or overlaps.
:func:`paint` applies colours read from JupyterLab's CSS variables by the dashboard's front
end. Both change the figure in place; call them inside ``fig.batch_update()``.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from .charts import NARROW, TITLES, title_text

# Pixels. Each chart panel: its title above, the plot, then tick labels and the x-axis title.
MARGIN = {"l": 16, "r": 24, "t": 70, "b": 150}  # the legend sits in the bottom margin
TOP_NARROW = 100  # the title takes three lines
PLOT_HEIGHT = 250
ABOVE = 56  # the panel's title (two lines when narrow)
BELOW = 120  # x tick labels (rotated when long) and the x-axis title
CHAR = 7.5  # pixels per character of a 14 px panel title, to wrap it
PAD_LEFT = {1: 170}  # the confusion panel's y tick labels are label names
PAD_LEFT_DEFAULT = 72  # "0.8" ticks and the y-axis title
PAD_RIGHT = 12
TABLE_HEIGHT = 460  # eight rows whose notes wrap to three lines
TABLE_HEIGHT_NARROW = 1400  # two columns: value, interval, n and note wrap in one
LEGEND_NARROW = 250  # a narrow legend takes one or two entries a line
COLUMNS = ((1150, 3), (760, 2))  # at least this wide -> this many columns; else one
CHARTS = 5  # panels 0-4 are charts; TITLES[5] is the table's
ERROR_BARS = ("precision", "recall", "f1", "reliability", "learning")  # traces (by meta)


def columns_for(width: int) -> int:
    """How many chart columns fit ``width`` pixels (1, 2 or 3).

    Examples
    --------
    >>> columns_for(700), columns_for(900), columns_for(1400)
    (1, 2, 3)
    """
    return next((n for least, n in COLUMNS if width >= least), 1)


def _axis(kind: str, panel: int) -> str:
    return f"{kind}axis" if panel == 0 else f"{kind}axis{panel + 1}"


def reflow(fig: go.Figure, width: int) -> None:
    """Size ``fig`` to ``width`` pixels and place its panels on a grid that fits it.

    Examples
    --------
    >>> from llmlabel_widget.charts import build_figure
    >>> fig = build_figure()
    >>> reflow(fig, 700)
    >>> fig.layout.width, fig.layout.height, [round(v, 3) for v in fig.layout.xaxis.domain]
    (700, 3396, [0.109, 0.982])
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive number of pixels, got {width!r}")
    cols = columns_for(width)
    rows = math.ceil(CHARTS / cols)
    pitch = ABOVE + PLOT_HEIGHT + BELOW
    inner_w = width - MARGIN["l"] - MARGIN["r"]
    narrow = width < NARROW
    inner_h = rows * pitch + ABOVE + (TABLE_HEIGHT_NARROW if narrow else TABLE_HEIGHT)
    slot = inner_w / cols
    titles = {a.text.replace("<br>", " "): a for a in fig.layout.annotations}
    for panel in range(CHARTS):
        row, col = divmod(panel, cols)
        left = col * slot + PAD_LEFT.get(panel, PAD_LEFT_DEFAULT)
        right = (col + 1) * slot - PAD_RIGHT
        top = row * pitch + ABOVE
        x = (left / inner_w, right / inner_w)
        y = (1 - (top + PLOT_HEIGHT) / inner_h, 1 - top / inner_h)
        fig.layout[_axis("x", panel)].domain = x
        fig.layout[_axis("y", panel)].domain = y
        _title(titles.get(TITLES[panel]), TITLES[panel], sum(x) / 2, y[1], slot)
    table_top = rows * pitch + ABOVE
    table = next(t for t in fig.data if t.type == "table")
    table.domain = {"x": (0, 1), "y": (0, 1 - table_top / inner_h)}
    _title(titles.get(TITLES[CHARTS]), TITLES[CHARTS], 0.5, 1 - table_top / inner_h, inner_w)
    margin = {**MARGIN, "t": TOP_NARROW, "b": LEGEND_NARROW} if narrow else MARGIN
    title = re.split(r" · |<br>", fig.layout.title.text or "")
    fig.update_layout(
        width=width,
        height=inner_h + margin["t"] + margin["b"],
        margin=margin,
        legend={"orientation": "h", "x": 0, "y": -0.01, "yanchor": "top"},
        title_text=title_text(title, width),
    )


def renew_table(fig: go.Figure) -> None:
    """Take the table out and put the same table back, as the last trace.

    plotly.js lays a table's columns out when it first draws it and keeps them through later
    changes of its domain or of the figure's width; a table added anew is laid out again.
    Call it after :func:`reflow`, outside ``batch_update()``.
    """
    table = next(t for t in fig.data if t.type == "table")
    spec = table.to_plotly_json()
    fig.data = [t for t in fig.data if t is not table]
    fig.add_trace(go.Table(spec))


def _title(note: go.layout.Annotation | None, text: str, x: float, y: float, room: float) -> None:
    """Place a panel's title above it, wrapped to the ``room`` (pixels) its slot has."""
    if note is not None:
        lines = textwrap.wrap(text, max(12, int(room / CHAR)))
        note.update(
            text="<br>".join(lines),
            x=x,
            y=y,
            xanchor="center",
            yanchor="bottom",
            yshift=6,
            font={"size": 14},
        )


# A CSS colour as JupyterLab's variables hold one; anything else is ignored, never drawn.
_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}|(?:rgb|rgba|hsl|hsla)\([0-9.,%\s/]+\)|[a-zA-Z]{3,20}")
_FAMILY = re.compile(r"[\w\s,'\"-]{1,200}")


def theme_colors(theme: Mapping[str, str]) -> dict[str, str]:
    """The usable entries of a theme reported by the front end (bad values are dropped).

    Examples
    --------
    >>> theme_colors({"paper": " #111111", "font": "url(x)", "family": "system-ui, sans-serif"})
    {'paper': '#111111', 'family': 'system-ui, sans-serif'}
    """
    out: dict[str, str] = {}
    for role, value in theme.items():
        text = str(value).strip()
        pattern = _FAMILY if role == "family" else _COLOR
        if pattern.fullmatch(text):
            out[role] = text
    return out


def paint(fig: go.Figure, theme: Mapping[str, str]) -> None:
    """Colour ``fig`` like the notebook around it: backgrounds, text, grid lines, the table.

    ``theme`` maps roles (``paper``, ``plot``, ``font``, ``muted``, ``grid``, ``line``,
    ``header``, ``cell``, ``family``) to CSS values; missing or unusable roles keep plotly's.
    """
    c = theme_colors(theme)
    if not c:
        return
    bgs = {"paper_bgcolor": c.get("paper"), "plot_bgcolor": c.get("plot")}
    layout: dict[str, Any] = {k: v for k, v in bgs.items() if v}
    font = {k: v for k, v in (("color", c.get("font")), ("family", c.get("family"))) if v}
    if font:
        layout["font"] = font
    fig.update_layout(layout)
    axes = {"gridcolor": c.get("grid"), "zerolinecolor": c.get("grid"), "linecolor": c.get("line")}
    axes = {k: v for k, v in axes.items() if v}
    if axes:
        fig.update_xaxes(**axes)
        fig.update_yaxes(**axes)
    if "muted" in c:
        fig.update_annotations(font={"color": c["muted"]}, selector=lambda a: bool(a.name))
    if "font" in c:  # error bars drawn in the text colour stay visible on either background
        fig.update_traces(error_y={"color": c["font"]}, selector=lambda t: t.meta in ERROR_BARS)
    line = {"color": c["line"]} if "line" in c else {}
    text = {"color": c["font"]} if "font" in c else {}
    for part, fill in (("header", c.get("header")), ("cells", c.get("cell"))):
        style = {"line": line, "font": text, "fill": {"color": fill} if fill else {}}
        fig.update_traces({part: style}, selector={"type": "table"})
