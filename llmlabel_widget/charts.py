"""The quality figure: six plotly panels built once, then filled in place from a Summary.

:func:`build_figure` makes the empty figure with every trace keyed (``meta``); :func:`apply`
writes a :class:`~llmlabel_widget.metrics.Summary` into it. The live
:class:`~llmlabel_widget.dashboard.Dashboard` and
:func:`~llmlabel_widget.dashboard.write_report` both draw through these two.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .metrics import NOT_ENOUGH, Summary

LearningCurve = pd.DataFrame | Callable[[], pd.DataFrame | None] | None

TITLES = (
    "LLM-human agreement over decisions",
    "Confusion: human label (rows) vs LLM label",
    "Per-label precision / recall / F1 of the LLM",
    "Reliability of the LLM's confidence",
    "Learner's learning curve",
    "Headline figures",
)
# Rows of the headline panel, in order, with the name shown.
HEADLINE = (
    ("accuracy", "accuracy (reviewed, naive)"),
    ("accuracy_pool", "accuracy (whole pool)"),
    ("cohen_kappa", "Cohen's kappa"),
    ("macro_f1", "macro F1"),
    ("krippendorff_alpha", "Krippendorff's alpha"),
    ("ece", "calibration error (ECE)"),
    ("acceptance_rate", "acceptance rate"),
    ("anchoring_gap", "assisted - blind agreement"),
)
TABLE_HEADER = ("figure", "value · interval · n · how")
MAX_POINTS = 500  # per line in the agreement panel (the view gets no more than it can show)
BAND = "rgba(31, 119, 180, 0.18)"
COLORS = {"precision": "#4c78a8", "recall": "#f58518", "f1": "#54a24b"}


def _clean(values: Any) -> list[Any]:
    """A list for plotly with NaN as None (drawn as a gap, never as 'NaN')."""
    out: list[Any] = []
    for v in np.asarray(values, dtype=object).tolist():
        if isinstance(v, float) and not math.isfinite(v):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


def _fmt(v: float, digits: int = 3) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _error(values: Any, low: Any, high: Any) -> dict[str, Any]:
    """Asymmetric error bars from interval bounds (none where a bound is undefined)."""
    v, lo, hi = (np.asarray(a, dtype=float) for a in (values, low, high))
    up = np.nan_to_num(np.clip(hi - v, 0, None))
    down = np.nan_to_num(np.clip(v - lo, 0, None))
    return {"type": "data", "symmetric": False, "array": up, "arrayminus": down}


def _thin(frame: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Evenly spaced rows, always keeping the last: a line needs no more points than pixels."""
    if len(frame) <= max_points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep]


def build_figure(*, width: int = 1200, height: int = 760) -> go.Figure:
    """The empty six-panel figure with every trace in place (filled later by :func:`apply`).

    Examples
    --------
    >>> fig = build_figure(width=900, height=600)
    >>> len(fig.data), fig.layout.width
    (13, 900)
    """
    fig = make_subplots(
        rows=2,
        cols=3,
        specs=[[{}, {}, {}], [{}, {}, {"type": "table"}]],
        subplot_titles=TITLES,
        horizontal_spacing=0.08,
        vertical_spacing=0.16,
    )
    _agreement_traces(fig)
    _panel_traces(fig)
    _axes_and_notes(fig)
    fig.update_layout(
        width=width,
        height=height,
        barmode="group",
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "y": -0.08, "x": 0},
        template="plotly_white",
        title={"text": "Annotation quality", "x": 0.01},
    )
    return fig


def _agreement_traces(fig: go.Figure) -> None:
    """Panel 1: the interval band (upper bound, then the lower one filled up to it), lines."""
    fig.add_trace(
        go.Scatter(
            meta="band_high",
            name="upper",
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            meta="band_low",
            name="interval (Wilson)",
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=BAND,
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            meta="cumulative", name="cumulative agreement", mode="lines", line={"color": "#1f77b4"}
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            meta="rolling",
            name="rolling agreement",
            mode="lines",
            line={"color": "#7f7f7f", "dash": "dot", "width": 1},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            meta="pool",
            name="pool estimate",
            mode="lines",
            line={"color": "#d62728", "dash": "dash"},
        ),
        row=1,
        col=1,
    )


def _panel_traces(fig: go.Figure) -> None:
    """Confusion, per-label bars, reliability, learning curve and the headline table."""
    fig.add_trace(
        go.Heatmap(
            meta="confusion",
            colorscale="Blues",
            showscale=False,
            texttemplate="%{z}",
            hovertemplate="human %{y}<br>LLM %{x}<br>%{z} items<extra></extra>",
        ),
        row=1,
        col=2,
    )
    for name in ("precision", "recall", "f1"):
        fig.add_trace(go.Bar(meta=name, name=name, marker_color=COLORS[name]), row=1, col=3)
    fig.add_trace(
        go.Scatter(
            meta="diagonal",
            name="perfect calibration",
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"color": "#bbbbbb", "dash": "dash", "width": 1},
            showlegend=False,
            hoverinfo="skip",
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            meta="reliability",
            name="LLM accuracy by confidence",
            mode="markers+lines",
            line={"color": "#9467bd"},
            hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.3f}<br>%{text}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            meta="learning",
            name="learner accuracy",
            mode="lines+markers",
            line={"color": "#17becf"},
        ),
        row=2,
        col=2,
    )
    fig.add_trace(
        go.Table(
            meta="headline",
            header={"values": list(TABLE_HEADER), "align": "left"},
            cells={"values": [[], []], "align": "left", "height": 24},
        ),
        row=2,
        col=3,
    )


def _axes_and_notes(fig: go.Figure) -> None:
    """Axis ranges and titles, and one 'not enough data' note per chart panel."""
    for row, col in ((1, 1), (1, 3), (2, 1), (2, 2)):
        fig.update_yaxes(range=[0, 1.02], row=row, col=col)
    fig.update_xaxes(title_text="decision", row=1, col=1)
    fig.update_xaxes(title_text="LLM label", row=1, col=2)
    fig.update_yaxes(title_text="human label", autorange="reversed", row=1, col=2)
    fig.update_xaxes(title_text="LLM confidence", range=[0, 1], row=2, col=1)
    fig.update_yaxes(title_text="accuracy", row=2, col=1)
    fig.update_xaxes(title_text="human labels", row=2, col=2)
    fig.update_yaxes(title_text="accuracy", row=2, col=2)
    # One "not enough data" note per chart panel, shown only while that panel has nothing.
    for row, col in ((1, 1), (1, 2), (1, 3), (2, 1), (2, 2)):
        sub = fig.get_subplot(row, col)
        fig.add_annotation(
            text=NOT_ENOUGH,
            xref=f"{sub.xaxis.plotly_name.replace('axis', '')} domain",
            yref=f"{sub.yaxis.plotly_name.replace('axis', '')} domain",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"size": 13, "color": "#666666"},
            name=f"empty-{row}-{col}",
        )


def _empty(fig: go.Figure, row: int, col: int, why: str | None) -> None:
    """Show (``why``) or hide (None) the panel's "not enough data" note."""
    fig.update_annotations(
        {"visible": why is not None, "text": why or ""}, selector={"name": f"empty-{row}-{col}"}
    )


def _traces(fig: go.Figure) -> dict[str, Any]:
    """The figure's traces by key, never by position.

    The key is each trace's ``meta`` (set in :func:`build_figure`): plotly shows ``name`` in
    the legend (the pool estimate's changes with its method) and a FigureWidget replaces
    every ``uid``.
    """
    return {str(t.meta): t for t in fig.data}


def _learning_frame(curve: LearningCurve) -> tuple[pd.DataFrame | None, str | None]:
    frame = curve() if callable(curve) else curve
    if frame is None:
        return None, f"{NOT_ENOUGH}: no learning curve yet (it comes from the selector)"
    missing = {"n_labels", "accuracy"} - set(frame.columns)
    if missing:
        return None, f"{NOT_ENOUGH}: learning curve lacks column(s) {sorted(missing)}"
    frame = frame.dropna(subset=["n_labels", "accuracy"]).sort_values("n_labels")
    if len(frame) < 2:
        return None, f"{NOT_ENOUGH}: the learning curve needs two or more points"
    return frame, None


def apply(fig: go.Figure, summary: Summary, learning_curve: LearningCurve = None) -> None:
    """Write a :class:`~llmlabel_widget.metrics.Summary` into the traces of ``fig`` in place.

    Call it inside ``fig.batch_update()`` on a FigureWidget so the view redraws once.

    Examples
    --------
    >>> from llmlabel_widget import metrics
    >>> fig = build_figure()
    >>> apply(fig, metrics.summarize(pd.DataFrame({"label": [], "llm_label": []})))
    >>> fig.layout.annotations[6].text  # the agreement panel's note
    'not enough data: no reviewed item has an LLM label'
    """
    d = _traces(fig)
    _apply_agreement(fig, d, summary)
    _apply_confusion(fig, d, summary)
    _apply_per_label(fig, d, summary)
    _apply_reliability(fig, d, summary)
    lc, why = _learning_frame(learning_curve if learning_curve is not None else summary.learning)
    if lc is None:
        d["learning"].update(x=[], y=[], visible=False)
    else:
        err = (
            _error(lc["accuracy"], lc["low"], lc["high"])
            if {"low", "high"} <= set(lc.columns)
            else None
        )
        d["learning"].update(
            x=_clean(lc["n_labels"]), y=_clean(lc["accuracy"]), error_y=err, visible=True
        )
    _empty(fig, 2, 2, why)

    _apply_headline(fig, d, summary)


def _apply_agreement(fig: go.Figure, d: dict[str, Any], summary: Summary) -> None:
    """The agreement lines and the Wilson band around the cumulative one."""
    # Agreement over decisions: every point rests on n >= 1 items, so none is NaN.
    roll = _thin(summary.rolling)
    x = roll["order"].to_numpy()
    d["band_high"].update(x=x, y=roll["cumulative_high"].to_numpy())
    d["band_low"].update(x=x, y=roll["cumulative_low"].to_numpy())
    d["cumulative"].update(
        x=x,
        y=roll["cumulative"].to_numpy(),
        customdata=roll[["cumulative_low", "cumulative_high"]].to_numpy(),
        hovertemplate="after %{x} decisions: %{y:.3f} "
        "(%{customdata[0]:.3f} to %{customdata[1]:.3f})<extra></extra>",
    )
    d["rolling"].update(x=x, y=roll["rolling"].to_numpy())
    pool = summary.table.loc["accuracy_pool"].to_dict()
    if len(roll) and np.isfinite(pool["value"]):
        d["pool"].update(
            x=[1, int(roll["order"].iloc[-1])],
            y=[float(pool["value"])] * 2,
            name=f"pool estimate ({pool['method']})",
            visible=True,
        )
    else:
        d["pool"].update(x=[], y=[], visible=False)
    _empty(fig, 1, 1, None if len(roll) else f"{NOT_ENOUGH}: no reviewed item has an LLM label")


def _apply_confusion(fig: go.Figure, d: dict[str, Any], summary: Summary) -> None:
    """The confusion matrix (single-label tasks only)."""
    cm = summary.confusion
    if summary.multi_label:
        d["confusion"].update(z=[], x=[], y=[], visible=False)
        _empty(fig, 1, 2, "single-label only")
    elif summary.reviewed == 0:
        d["confusion"].update(z=[], x=[], y=[], visible=False)
        _empty(fig, 1, 2, f"{NOT_ENOUGH}: no reviewed item has an LLM label")
    else:
        labels = [str(v) for v in cm.columns]
        d["confusion"].update(z=cm.to_numpy().tolist(), x=labels, y=labels, visible=True)
        _empty(fig, 1, 2, None)


def _apply_per_label(fig: go.Figure, d: dict[str, Any], summary: Summary) -> None:
    """Precision, recall and F1 per label, with their intervals."""
    pl = summary.per_label
    show = pl[(pl["support"] + pl["predicted"]) > 0]
    names = [str(v) for v in show.index]
    for col in ("precision", "recall", "f1"):
        d[col].update(
            x=names,
            y=_clean(show[col]),
            error_y=_error(show[col], show[f"{col}_low"], show[f"{col}_high"]),
            customdata=_clean(show["support"]),
            hovertemplate=f"{col} %{{y:.3f}}<br>human support %{{customdata}}<extra>%{{x}}</extra>",
            visible=bool(len(show)),
        )
    _empty(fig, 1, 3, None if len(show) else f"{NOT_ENOUGH}: no reviewed item has an LLM label")


def _apply_reliability(fig: go.Figure, d: dict[str, Any], summary: Summary) -> None:
    """The LLM's accuracy by confidence bin."""
    rel = summary.reliability[summary.reliability["n"] > 0]
    if len(rel):
        size = 7 + 13 * np.sqrt(rel["n"] / rel["n"].max())
        d["reliability"].update(
            x=_clean(rel["confidence"]),
            y=_clean(rel["accuracy"]),
            error_y=_error(rel["accuracy"], rel["low"], rel["high"]),
            marker={"size": _clean(size)},
            text=[f"bin {b}: n={n}" for b, n in zip(rel["bin"], rel["n"], strict=True)],
            visible=True,
        )
        _empty(fig, 2, 1, None)
    else:
        d["reliability"].update(x=[], y=[], text=[], visible=False)
        _empty(fig, 2, 1, f"{NOT_ENOUGH}: no reviewed item with an LLM confidence")


def _apply_headline(fig: go.Figure, d: dict[str, Any], summary: Summary) -> None:
    """The headline table and the figure title."""
    t = summary.table
    cells: list[list[str]] = [[], [], [], [], []]
    for key, shown in HEADLINE:
        r = t.loc[key].to_dict()
        ok = bool(np.isfinite(r["value"]))
        cells[0].append(shown)
        cells[1].append(_fmt(r["value"]) if ok else "—")
        cells[2].append(f"{_fmt(r['low'])} to {_fmt(r['high'])}" if ok else "")
        cells[3].append(str(int(r["n"])))
        cells[4].append(
            str(r["note"] or r["method"]) if not ok or key == "accuracy_pool" else r["method"]
        )
    # Two columns at every width: a narrow cell fits them, and plotly.js keeps a table's
    # first column widths when they are restyled, so the columns never change.
    rest = zip(*cells[1:], strict=True)
    details = [" · ".join(p for p in (v, i, f"n={n}", how) if p) for v, i, n, how in rest]
    d["headline"].update(cells={"values": [cells[0], details]})
    rates = summary.rates.to_dict("index")
    total = int(rates["acceptance"]["n"]) + int(rates["no_proposal"]["k"])
    parts = [
        "Annotation quality",
        f"{summary.reviewed} reviewed item(s) with an LLM label",
        f"{total} decided",
    ]
    fig.layout.title.text = title_text(parts, fig.layout.width)


NARROW = 760  # pixels: a figure narrower than this puts each part of its title on a line


def title_text(parts: list[str], width: int | None) -> str:
    """The figure title from its parts: one line, or one line per part when narrow.

    Examples
    --------
    >>> title_text(["a", "b"], 1200), title_text(["a", "b"], 500)
    ('a · b', 'a<br>b')
    """
    return ("<br>" if width is not None and width < NARROW else " · ").join(parts)
