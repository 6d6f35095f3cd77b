"""The Labeler's headline: the LLM's accuracy on the whole pool, computed off the decision path.

The figure is the accuracy row of :meth:`Session.pool_estimates` (valid however the reviewer
moved through the queue), the same one the Dashboard and ``session.metrics()`` show. It costs
about 0.1 s at 1,300 items and 0.7 s at 20,000 (``bench/pool_headline.py``), far more than a
decision, so :class:`PoolHeadline` computes it on a worker thread, on its own connection
(``session.reader()``), and a decision only asks for a new one. The card's calibrated
confidence (``session.calibration()``, which reads the whole pool too) is refitted there as
well, instead of inside every tenth decision. Requests made while it computes are served by one
more computation; between two, it rests at least ``MIN_INTERVAL`` seconds and ``REST`` times
as long as the last one took, so the worker holds the interpreter at most a fifth of the time
while the reviewer keeps deciding. The thread exists only while there is work: an idle or
forgotten Labeler holds no thread and no connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .session import Session

logger = logging.getLogger(__name__)

MIN_INTERVAL = 1.0  # seconds between two computations, at least
REST = 4.0  # and at least this many times the last computation's duration


class PoolHeadline:
    """The newest pool-accuracy figure of a session, recomputed in the background on request.

    ``notify`` is called on the worker thread after each new figure (the Labeler hops back to
    the kernel's loop from there). :meth:`view` is cheap: the last figure, as the view shows it.

    Examples
    --------
    >>> headline = PoolHeadline(session)  # doctest: +SKIP
    >>> headline.request(); headline.wait()["value"]  # doctest: +SKIP
    """

    def __init__(self, session: Session, *, notify: Callable[[], None] | None = None) -> None:
        self._session = session
        self.notify = notify
        self.computed = 0  # figures computed so far
        #: the newest fit of the card's calibrated confidence (``session.calibration()``),
        #: made with each figure, so a decision never refits it; None before the first.
        self.calibration: Any = None
        self._figure: dict[str, Any] | None = None
        self._cond = threading.Condition()
        self._dirty = False  # asked for a figure newer than the last one started
        self._busy = False  # computing one now
        self._thread: threading.Thread | None = None
        self._next_at = 0.0  # monotonic time before which the worker rests
        self._single = not session.task.multi_label  # pool estimates are single-label only
        self._closed = False

    def view(self) -> dict[str, Any] | None:
        """The last figure, ``pending`` when a newer one is on its way; None before the first."""
        with self._cond:
            if self._figure is None:
                return None
            return {**self._figure, "pending": self._dirty or self._busy}

    def request(self) -> None:
        """Ask for a new figure (the pool changed); returns at once."""
        with self._cond:
            if self._closed:
                return
            self._dirty = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="llmlabel-pool-headline", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until every request so far is served (now, without the rest); the figure."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._thread is not None:
                self._next_at = 0.0  # a caller waits: no rest before the next computation
                self._cond.notify_all()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
        return self.view()

    def close(self) -> None:
        """Stop: no new computation; one running now finishes on its own connection."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # -- the worker thread -------------------------------------------------------------------
    def _run(self) -> None:
        reader: Session | None = None
        try:
            while self._next_job():
                if reader is None:
                    reader = self._session.reader()
                self._compute(reader)
        except Exception:  # a closed or removed store: keep the last figure, log why
            logger.exception("Labeler could not compute the pool estimate")
        finally:
            with self._cond:
                self._thread, self._busy = None, False
                self._cond.notify_all()
            if reader is not None:
                reader.close()

    def _next_job(self) -> bool:
        """Rest as long as asked, then take the request; False when there is none."""
        with self._cond:
            while not self._closed and self._dirty:
                rest = self._next_at - time.monotonic()
                if rest <= 0:
                    self._dirty, self._busy = False, True
                    return True
                self._cond.wait(rest)
            return False

    def _compute(self, reader: Session) -> None:
        started = time.monotonic()
        figure = None
        if self._single:
            figure = headline_figure(reader.pool_estimates().set_index("quantity").loc["accuracy"])
        calibration = reader.calibration()
        took = time.monotonic() - started
        with self._cond:
            self._figure, self._busy, self.calibration = figure, False, calibration
            self.computed += 1
            self._next_at = time.monotonic() + max(MIN_INTERVAL, REST * took)
            self._cond.notify_all()
        if self.notify is not None:
            self.notify()


def headline_figure(est: Any) -> dict[str, Any]:
    """The view's copy of a ``pool_estimates`` row: plain numbers, None for NaN."""

    def number(x: Any) -> float | None:
        x = float(x)
        return x if math.isfinite(x) else None

    return {
        "value": number(est["value"]),
        "low": number(est["low"]),
        "high": number(est["high"]),
        "level": float(est["level"]),
        "n_human": int(est["n_human"]),
        "n_effective": number(est["n_effective"]),
        "method": str(est["method"]),
    }


class HeadlineView:
    """Mixin of :class:`~llmlabel_widget.widget.Labeler`: its ``progress["pool"]`` (the
    headline) comes from a :class:`PoolHeadline`, asked for a new figure on every redraw and
    pushed to the view on the kernel's loop when ready (a plain script picks it up on the next
    redraw, or waits for it in :meth:`Labeler.refresh`)."""

    _session: Session
    progress: dict[str, Any]
    _headline: PoolHeadline

    def _start_headline(self) -> None:
        self._headline = PoolHeadline(self._session)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # plain scripts and tests: the next redraw shows it
            loop = None
        if loop is not None:
            self._headline.notify = lambda: _call_soon(loop, self._pool_ready)
        self._headline.request()

    def _pool_ready(self, *, wait: bool = False) -> None:
        """Show the newest figure; ``wait``: first wait for every request to be served."""
        view = self._headline.wait() if wait else self._headline.view()
        try:
            self.progress = {**self.progress, "pool": view}
        except Exception:  # a closed comm must not break the kernel loop
            logger.exception("Labeler could not show the pool estimate")


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody to show it to
        loop.call_soon_threadsafe(fn)
