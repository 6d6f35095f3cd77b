"""Live quality charts: one plotly FigureWidget fed by :mod:`llmlabel_widget.metrics`.

Six panels in one figure (each FigureWidget ships plotly.js again, so there is exactly one):
LLM-vs-human agreement over decisions with its interval, the confusion matrix, per-label
precision/recall/F1, the LLM's reliability curve, the learner's learning curve, and the
headline figures. Updates change trace data in place inside ``batch_update()``; the figure
is never rebuilt. :func:`write_report` writes the same charts to a self-contained HTML file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import metrics
from .metrics import NOT_ENOUGH, Summary

if TYPE_CHECKING:
    import os

    from .task import LabelTask

log = logging.getLogger(__name__)

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
    # agreement over decisions: interval band (two traces), cumulative, rolling, pool estimate
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
            header={"values": ["figure", "value", "interval", "n", "how"], "align": "left"},
            cells={"values": [[], [], [], [], []], "align": "left", "height": 24},
            columnwidth=[3, 1.4, 2.2, 1, 5],
        ),
        row=2,
        col=3,
    )
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
            font={"size": 13, "color": "#888888"},
            name=f"empty-{row}-{col}",
        )
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
    >>> fig = build_figure()
    >>> apply(fig, metrics.summarize(pd.DataFrame({"label": [], "llm_label": []})))
    >>> fig.layout.annotations[6].text  # the agreement panel's note
    'not enough data: no reviewed item has an LLM label'
    """
    d = _traces(fig)
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

    # confusion matrix
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

    # per-label precision / recall / F1
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

    # reliability
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

    # learning curve
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

    # headline figures
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
    d["headline"].update(cells={"values": cells})
    rates = summary.rates.to_dict("index")
    total = int(rates["acceptance"]["n"]) + int(rates["no_proposal"]["k"])
    fig.layout.title.text = (
        f"Annotation quality · {summary.reviewed} reviewed item(s) with an LLM label"
        f" · {total} decided"
    )


class Dashboard:
    """Live agreement charts for a session, in one plotly ``FigureWidget``.

    Parameters
    ----------
    session : anything with an ``annotations`` DataFrame (a :class:`~llmlabel_widget.Session`);
        its ``task`` (if any) fixes the label order.
    learning_curve : a DataFrame with ``n_labels`` and ``accuracy`` (optional ``low``,
        ``high``), or a callable returning one (read at every refresh), or None.
    raters : items x raters for Krippendorff's alpha (default: human vs LLM).
    min_interval : at most one redraw per this many seconds; later decisions are coalesced
        into one trailing redraw on the running asyncio loop.
    width, height : the figure size in pixels (plotly ignores resizes without them).
    **options : passed to :func:`llmlabel_widget.metrics.summarize` (``window``, ``bins``,
        ``level``, ``n_boot``, ``seed``).

    Examples
    --------
    >>> dash = Dashboard(session)                 # doctest: +SKIP
    >>> labeler.on_decision(dash.on_decision)     # doctest: +SKIP
    >>> dash                                      # doctest: +SKIP
    """

    def __init__(
        self,
        session: Any,
        *,
        learning_curve: LearningCurve = None,
        raters: pd.DataFrame | None = None,
        min_interval: float = 0.5,
        width: int = 1200,
        height: int = 760,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        allowed = {"window", "bins", "level", "n_boot", "seed", "human", "llm", "confidence"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"Dashboard() got unexpected keyword argument(s) {sorted(unknown)}")
        # Look on the class first: hasattr on a Session instance would read the whole store.
        if not hasattr(type(session), "annotations") and not hasattr(session, "annotations"):
            raise TypeError("Dashboard needs a Session (or an object with .annotations)")
        self.session = session
        self.learning_curve = learning_curve
        self.raters = raters
        self.min_interval = float(min_interval)
        self.options = options
        self.draws = 0  # redraws so far
        self.error: str | None = None  # the last refresh failure, if any
        self._clock = clock
        self._last = -math.inf
        self._pending: asyncio.TimerHandle | asyncio.Future[Summary] | None = None
        self._pending_loop: asyncio.AbstractEventLoop | None = None
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._reader: Any = None
        self._closed = False
        self.figure = go.FigureWidget(build_figure(width=width, height=height))
        self.refresh()

    @property
    def labels(self) -> Sequence[str] | LabelTask | None:
        """The session's task (label order, single/multi-label), if it has one."""
        return getattr(self.session, "task", None)

    def summary(self) -> Summary:
        """The figures for the session's current annotations.

        Examples
        --------
        >>> dash.summary().table.loc["accuracy", "value"]  # doctest: +SKIP
        """
        return metrics.summarize(
            self.session.annotations, labels=self.labels, raters=self.raters, **self.options
        )

    def refresh(self) -> None:
        """Recompute every figure and update the charts in place now.

        Examples
        --------
        >>> dash.refresh()  # doctest: +SKIP
        """
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        summary = self.summary()
        with self.figure.batch_update():
            apply(self.figure, summary, self.learning_curve)
        self._last = self._clock()
        self.draws += 1
        self.error = None

    def on_decision(self, decision: object = None) -> None:
        """Note that a decision was made; redraw now or coalesce into one trailing redraw.

        At most one redraw per ``min_interval``: within it, a trailing redraw is scheduled
        on the running asyncio loop (``loop.call_later``); with no running loop the charts
        are updated synchronously. Errors are logged and kept in ``error``, never raised
        into the caller (a widget callback would swallow them). Call it on the kernel's
        thread, as ``Labeler.on_decision`` callbacks are.

        Examples
        --------
        >>> labeler.on_decision(dash.on_decision)  # doctest: +SKIP
        """
        if self._closed:
            return
        if self._pending is not None:
            loop = self._pending_loop
            if loop is not None and loop.is_running() and not self._pending.cancelled():
                return  # a trailing redraw is already coming and will read the newest data
            self._pending = None  # its loop stopped: that redraw will never run
        wait = self._last + self.min_interval - self._clock()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # a plain script: draw now
            self._safe_refresh()
            return
        # In a kernel the redraw never runs inside the decision's callback: it is scheduled,
        # and its reading and computing happen on a worker thread (see _trailing).
        self._pending = loop.call_later(max(wait, 0.0), self._trailing)
        self._pending_loop = loop

    def _trailing(self) -> None:
        """On the loop: compute off the loop, then draw here (traits stay on the loop)."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        if self._worker is None:
            self._worker = concurrent.futures.ThreadPoolExecutor(1, "llmlabel-dashboard")
        future = loop.run_in_executor(self._worker, self._compute)
        self._pending = future
        future.add_done_callback(self._draw_computed)

    def _compute(self) -> Summary:
        """Worker thread: read the annotations on a private connection, compute the figures.

        Its own connection (``session.reader()``, closed by :meth:`close`) lets it read
        while the kernel thread records decisions.
        """
        if self._reader is None and callable(getattr(self.session, "reader", None)):
            self._reader = self.session.reader()
        source = self._reader if self._reader is not None else self.session
        return metrics.summarize(
            source.annotations, labels=self.labels, raters=self.raters, **self.options
        )

    def close(self) -> None:
        """Stop redrawing: cancel a pending redraw, stop the worker, close the private reader.

        The session itself stays open, and the figure keeps its last drawing. Closing twice
        is harmless.

        Examples
        --------
        >>> dash.close()  # doctest: +SKIP
        """
        self._closed = True
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)  # a redraw computing now finishes on the reader first
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def _draw_computed(self, future: asyncio.Future[Summary]) -> None:
        self._pending = None
        if future.cancelled() or self._closed:
            return
        try:
            summary = future.result()
            with self.figure.batch_update():
                apply(self.figure, summary, self.learning_curve)
            self._last = self._clock()
            self.draws += 1
            self.error = None
        except Exception as exc:  # keep labeling going if a chart update fails
            log.exception("dashboard refresh failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # keep labeling going if a chart update fails
            log.exception("dashboard refresh failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.figure._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"Dashboard({self.draws} redraw(s), every ≥{self.min_interval:g} s)"


def _table_html(df: pd.DataFrame, title: str, note: str = "") -> str:
    if df is None or df.empty:
        body = f"<p class='note'>{html.escape(note or NOT_ENOUGH)}</p>"
    else:
        body = df.to_html(float_format=lambda v: f"{v:.3f}", na_rep="—", border=0)
        if note:
            body = f"<p class='note'>{html.escape(note)}</p>" + body
    return f"<h2>{html.escape(title)}</h2>{body}"


def write_report(
    ann: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | LabelTask | None = None,
    raters: pd.DataFrame | None = None,
    learning_curve: LearningCurve = None,
    title: str = "Annotation quality",
    width: int = 1200,
    height: int = 760,
    **options: Any,
) -> Path:
    """Write the dashboard's charts and the figure tables to one self-contained HTML file.

    plotly.js is embedded (about 5 MB), so the file opens offline; nothing is loaded from a
    CDN. The file is written next to ``path`` and renamed into place.

    Parameters
    ----------
    ann : ``session.annotations``.
    path : the ``.html`` file to write.
    labels, raters, learning_curve : as for :class:`Dashboard`.
    **options : passed to :func:`llmlabel_widget.metrics.summarize`.

    Examples
    --------
    >>> write_report(session.annotations, "quality.html", labels=session.task)  # doctest: +SKIP
    PosixPath('quality.html')
    """
    dest = Path(path)
    summary = metrics.summarize(ann, labels=labels, raters=raters, **options)
    fig = build_figure(width=width, height=height)
    apply(fig, summary, learning_curve)
    fig.layout.title.text = f"{title} · {fig.layout.title.text.split(' · ', 1)[-1]}"
    chart = fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    pool_note = str(summary.pool.attrs.get("note", ""))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        _table_html(summary.table, "Headline figures"),
        _table_html(summary.pool, "LLM accuracy on the whole pool", pool_note),
        _table_html(summary.blind, "Blind vs assisted decisions", summary.blind.attrs["note"]),
        _table_html(summary.per_label, "Per label"),
        _table_html(
            summary.corrections,
            "Correction patterns",
            "" if len(summary.corrections) else "no corrections",
        ),
        _table_html(summary.reliability, "Reliability bins", summary.reliability.attrs["note"]),
        _table_html(summary.rates, "Decisions"),
    ]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}"
        "table{border-collapse:collapse;font-size:13px;margin-bottom:1rem}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
        ".note{color:#555}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='note'>Written {stamp}. "
        f"Pool accuracy: {html.escape(pool_note)}.</p>"
        f"{chart}{''.join(sections)}</body></html>\n"
    )
    from .export import write_atomically

    return write_atomically(dest, lambda tmp: tmp.write_text(page, encoding="utf-8"))
