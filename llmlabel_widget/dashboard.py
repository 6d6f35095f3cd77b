"""Live quality charts for a session, and the same charts as a self-contained HTML report.

:class:`Dashboard` keeps one plotly FigureWidget (each ships plotly.js again, so there is
exactly one) and redraws it in place inside ``batch_update()`` as decisions arrive, at most
once per ``min_interval``, computing off the kernel's thread through ``session.reader()``.
The six panels themselves are built and filled in :mod:`llmlabel_widget.charts`.
:func:`write_report` writes the same charts to one HTML file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import dataclasses
import html
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from . import metrics
from .chart_layout import paint, reflow, renew_table
from .charts import HEADLINE, LearningCurve, apply, build_figure
from .dashboard_team import reviewers_panel
from .metrics import NOT_ENOUGH, Summary

__all__ = ["HEADLINE", "Dashboard", "apply", "build_figure", "write_report"]

if TYPE_CHECKING:
    import os

    from .task import LabelTask

log = logging.getLogger(__name__)


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
    >>> dash = Dashboard(session)   # doctest: +SKIP
    >>> dash                        # doctest: +SKIP

    It redraws after every decision made through ``session`` (a Labeler or
    ``session.decide(...)`` in a cell) until :meth:`close`.
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
        self._frame: Any = None  # the view's strip that reports width and theme (on display)
        self._box: Any = None
        self.auto_accept: Any = None  # the auto-accept bar, made with the view (dashboard_auto)
        self.figure = go.FigureWidget(build_figure(width=width, height=height))
        self.refresh()
        # Look on the class: a stand-in with only .annotations has nothing to subscribe to.
        self._subscribed = callable(getattr(type(session), "on_decision", None))
        if self._subscribed:
            session.on_decision(self._decided)

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
        summary = metrics.summarize(
            self.session.annotations, labels=self.labels, raters=self.raters, **self.options
        )
        return _with_pool_estimate(summary, self.session)

    def refresh(self) -> None:
        """Recompute every figure and update the charts in place now.

        Examples
        --------
        >>> dash.refresh()  # doctest: +SKIP
        """
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._draw(self.summary())

    def _draw(self, summary: Summary) -> None:
        """Update the charts in place, then sync the figure's full state (see :meth:`_keep`)."""
        with self.figure.batch_update():
            apply(self.figure, summary, self.learning_curve)
        self._keep()
        self._last = self._clock()
        self.draws += 1
        self.error = None
        reviewers_panel(self)  # a team project: the reviewers panel under the charts

    def _keep(self) -> None:
        """Make the whole figure the state a new view starts from.

        A FigureWidget sends in-place updates as one-off messages and syncs its full figure
        (``_widget_data``, ``_widget_layout``) only when displayed, so a view rendered later
        from the kernel's state (a page reload) drew the charts as they were at display time:
        empty axes, a blank table. Its view ignores changes of these two traits (the update
        message already redrew it); they only seed views rendered later.
        """
        fig = self.figure
        fig._widget_data = copy.deepcopy(fig._data)
        fig._widget_layout = copy.deepcopy(fig._layout_obj._props)

    def on_decision(self, decision: object = None) -> None:
        """Note that a decision was made; redraw now or coalesce into one trailing redraw.

        At most one redraw per ``min_interval``: within it, a trailing redraw is scheduled
        on the running asyncio loop (``loop.call_later``); with no running loop the charts
        are updated synchronously. Errors are logged and kept in ``error``, never raised
        into the caller (a widget callback would swallow them). Call it on the kernel's
        thread: the session calls it there after each decision (``session.on_decision``).

        Examples
        --------
        >>> dash.on_decision()  # doctest: +SKIP
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

    def _decided(self, event: object) -> None:
        """The session's listener: in a kernel (a running loop), redraw as :meth:`on_decision`.

        A plain script has no loop and shows nothing: it is not made to recompute every chart
        after each of its decisions; :meth:`refresh` draws the newest figures on demand.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.on_decision(event)

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
        summary = metrics.summarize(
            source.annotations, labels=self.labels, raters=self.raters, **self.options
        )
        return _with_pool_estimate(summary, source)

    def close(self) -> None:
        """Stop redrawing: unsubscribe, cancel a pending redraw, stop the worker, close the reader.

        The session itself stays open, and the figure keeps its last drawing. Closing twice
        is harmless.

        Examples
        --------
        >>> dash.close()  # doctest: +SKIP
        """
        self._closed = True
        if self._subscribed:
            self.session.on_decision(self._decided, remove=True)
            self._subscribed = False
        if self._frame is not None:
            self._frame.unobserve(self._fit, names=["width", "theme"])
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
            self._draw(future.result())
        except Exception as exc:  # keep labeling going if a chart update fails
            log.exception("dashboard refresh failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # keep labeling going if a chart update fails
            log.exception("dashboard refresh failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def view(self) -> Any:
        """The widget displayed for this dashboard: the figure, laid out for its cell's width
        and coloured like JupyterLab's theme (both reported by the view, kept on change).

        Examples
        --------
        >>> display(dash.view())  # the same as showing ``dash``  # doctest: +SKIP
        """
        if self._box is None:
            from .dashboard_frame import framed

            self._frame, self._box = framed(self.figure)
            self._frame.observe(self._fit, names=["width", "theme"])
            if callable(getattr(type(self.session), "auto_accept_plan", None)):
                from .dashboard_auto import AutoAcceptBox  # the certified auto-accept bar

                self.auto_accept = AutoAcceptBox(self.session)
                self._box.children = (self._box.children[0], self.auto_accept.box, self.figure)
            reviewers_panel(self)
        return self._box

    def _fit(self, change: object = None) -> None:
        """Lay the figure out for the reported width and paint it in the reported theme."""
        frame = self._frame
        try:
            with self.figure.batch_update():
                if frame.width > 0:
                    reflow(self.figure, int(frame.width))
                paint(self.figure, frame.theme)
            if frame.width > 0:
                renew_table(self.figure)
            self._keep()
        except Exception as exc:  # a bad report must not break the notebook
            log.exception("dashboard layout failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.view()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"Dashboard({self.draws} redraw(s), every ≥{self.min_interval:g} s)"


def _table_html(df: pd.DataFrame | None, title: str, note: str = "") -> str:
    if df is None or df.empty:
        body = f"<p class='note'>{html.escape(note or NOT_ENOUGH)}</p>"
    else:
        body = df.to_html(float_format=lambda v: f"{v:.3f}", na_rep="—", border=0)
        if note:
            body = f"<p class='note'>{html.escape(note)}</p>" + body
    return f"<h2>{html.escape(title)}</h2>{body}"


def write_report(
    ann: pd.DataFrame | Any,
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | LabelTask | None = None,
    raters: pd.DataFrame | None = None,
    learning_curve: LearningCurve = None,
    title: str = "Annotation quality",
    width: int = 1200,
    height: int = 760,
    appendix: str = "",
    **options: Any,
) -> Path:
    """Write the dashboard's charts and the figure tables to one self-contained HTML file.

    plotly.js is embedded (about 5 MB), so the file opens offline; nothing is loaded from a
    CDN. The file is written next to ``path`` and renamed into place.

    Parameters
    ----------
    ann : ``session.annotations``, or the session itself: then the pool accuracy is its
        :meth:`~llmlabel_widget.session.Session.pool_estimates` (as on the Dashboard).
    path : the ``.html`` file to write.
    labels, raters, learning_curve : as for :class:`Dashboard`.
    appendix : an HTML fragment added at the end (``Session.report`` adds its methods section).
    **options : passed to :func:`llmlabel_widget.metrics.summarize`.

    Examples
    --------
    >>> write_report(session.annotations, "quality.html", labels=session.task)  # doctest: +SKIP
    PosixPath('quality.html')
    """
    dest = Path(path)
    source, ann = (None, ann) if isinstance(ann, pd.DataFrame) else (ann, ann.annotations)
    summary = metrics.summarize(ann, labels=labels, raters=raters, **options)
    pool: pd.DataFrame | None = summary.pool
    pool_note = str(summary.pool.attrs.get("note", ""))
    if source is not None:  # a session: its certified pool estimate, not the older one
        summary = _with_pool_estimate(summary, source)
        pool_note = str(summary.table.loc["accuracy_pool", "note"])
        pool = None if source.task.multi_label else source.pool_estimates()
    fig = build_figure(width=width, height=height)
    apply(fig, summary, learning_curve)
    fig.layout.title.text = f"{title} · {fig.layout.title.text.split(' · ', 1)[-1]}"
    chart = fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        _table_html(summary.table, "Headline figures"),
        _table_html(pool, "LLM accuracy on the whole pool", pool_note),
        _table_html(summary.blind, "Blind vs assisted decisions", summary.blind.attrs["note"]),
        _table_html(summary.per_label, "Per label"),
        _table_html(
            summary.corrections,
            "Correction patterns",
            "" if len(summary.corrections) else "no corrections",
        ),
        _table_html(summary.reliability, "Reliability bins", summary.reliability.attrs["note"]),
        _table_html(summary.rates, "Decisions"),
        appendix,
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


def _with_pool_estimate(summary: Summary, source: Any) -> Summary:
    """The pool accuracy from ``source.pool_estimates()`` (a Session's: valid under adaptive
    review, see :mod:`llmlabel_widget.estimation.audit`) in place of the annotations' own,
    exactly as in ``session.metrics()`` (:func:`~llmlabel_widget.auditing.with_pool_accuracy`)."""
    if not callable(getattr(type(source), "pool_estimates", None)):
        return summary  # a stand-in with only .annotations
    from .auditing import with_pool_accuracy

    table = with_pool_accuracy(summary.table, source._pool_accuracy())
    return dataclasses.replace(summary, table=table)
