"""Background refits in a separate, low-priority process, so they never hold the kernel's GIL.

A refit on a big pool is seconds of pandas/SciPy/scikit-learn work. Run in a thread of the
kernel it holds the GIL for stretches of up to ~100 ms, and a widget message arriving meanwhile
waits: on the 100,000-item pool of ``bench/ui_latency.py`` (a key every 0.5 s, refits running
during most of them) the key-to-paint p95 was 132 ms with refits in a kernel thread and 38 ms
with this worker. In a process of its own the refit only competes for a CPU, and only for CPU
time the browser, the server and the kernel leave idle.

One worker process (started with ``spawn``: forking a kernel with threads is unsafe) serves
every :class:`~llmlabel_widget.selector.Selector` of this Python process and keeps each one's
featurised pool between refits. It reads the store through its own read-only connection, as the
refit thread did. If it dies, the refit in progress fails (the selector logs it and keeps its
last ranking) and the next one starts a new worker.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing as mp
import os
import signal
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .selector import QueueItem, SelectorStatus
    from .task import LabelTask

NICE = 19  # where SCHED_IDLE is missing: below the interactive processes
# Results come back in pieces: unpickling holds the kernel's GIL, and 5,000 queue entries in one
# piece would hold it for tens of ms; a piece of 200 takes about 1 ms.
RANKING_PIECE = 200
PREDICTED_PIECE = 2_000


class WorkerError(RuntimeError):
    """A refit in the worker process failed, or the worker stopped."""


class _Worker:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="llmlabel-refit")
        self.proc.start()
        child.close()
        self.known: set[str] = set()  # selectors whose settings the worker holds


_lock = threading.Lock()  # one request at a time on the pipe
_worker: _Worker | None = None
_forgotten: list[str] = []  # selectors gone since the last request (sent with the next one)
_closing = False  # the interpreter is exiting: a refit cut short is expected, not an error


def closing() -> bool:
    """True once this Python process has begun to exit."""
    return _closing


@atexit.register  # runs before multiprocessing's own exit handler, which kills the worker
def _close() -> None:
    global _closing
    _closing = True
    worker = _worker
    if worker is not None:
        with contextlib.suppress(OSError):
            worker.conn.close()  # the worker exits when it sees the pipe closed
        worker.proc.join(timeout=2)


def refit(
    key: str, settings: dict[str, Any], store_path: str, task: LabelTask
) -> tuple[list[QueueItem], dict[str, str], SelectorStatus]:
    """Run a refit for the selector ``key`` in the worker; return its ranking, predictions, status.

    Blocks the calling (background) thread, never the kernel's: waiting on a pipe releases the
    GIL.
    """
    global _worker
    with _lock:
        if _worker is None or not _worker.proc.is_alive():
            _worker = _Worker()
        worker = _worker
        gone = _forgotten[:]
        _forgotten.clear()
        request = (key, None if key in worker.known else settings, store_path, task, gone)
        ranking: list[QueueItem] = []
        predicted: dict[str, str] = {}
        try:
            worker.conn.send(request)
            while True:
                kind, piece = worker.conn.recv()
                if kind == "ranking":
                    ranking.extend(piece)
                elif kind == "predicted":
                    predicted.update(piece)
                else:
                    break
        except (EOFError, OSError) as exc:
            worker.proc.kill()
            _worker = None
            raise WorkerError(f"the selector's worker process stopped ({exc!r})") from None
        if kind == "done":  # the worker now holds this selector's settings
            worker.known.add(key)
        worker.known.difference_update(gone)
    if kind == "error":
        raise WorkerError(piece)
    return ranking, predicted, piece


def forget(key: str) -> None:
    """The selector ``key`` is gone: the worker may drop its features (at the next request)."""
    _forgotten.append(key)


def _serve(conn: Connection) -> None:
    """The worker's loop: one refit per request, until the parent closes the pipe."""
    from threadpoolctl import threadpool_limits

    from .selector import Selector

    # Refits are never urgent: run only when the browser, the server and the kernel leave a CPU
    # idle (Linux SCHED_IDLE; elsewhere the lowest nice level), and on one core.
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):  # no nice() on Windows
            os.nice(NICE)
    threadpool_limits(1)
    # Interrupting the kernel (SIGINT to its process group) must not kill the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selectors: dict[str, Selector] = {}
    while True:
        try:
            key, settings, store_path, task, gone = conn.recv()
        except (EOFError, OSError):
            return
        for k in gone:
            selectors.pop(k, None)
        try:
            selector = selectors.get(key)
            if selector is None:
                selector = selectors[key] = Selector(**settings, worker="thread")
            # refit() reads only the store's path and the task from its session
            selector._session = SimpleNamespace(store=SimpleNamespace(path=store_path), task=task)
            selector.refit()
        except Exception as exc:
            replies = [("error", f"{type(exc).__name__}: {exc}")]
        else:
            ranking = selector._ranking
            # The learner's label is recorded with a decision; decisions come from the queue.
            known = selector._predicted
            predicted = [(q.item_id, known[q.item_id]) for q in ranking if q.item_id in known]
            replies = [
                *(
                    ("ranking", ranking[i : i + RANKING_PIECE])
                    for i in range(0, len(ranking), RANKING_PIECE)
                ),
                *(
                    ("predicted", dict(predicted[i : i + PREDICTED_PIECE]))
                    for i in range(0, len(predicted), PREDICTED_PIECE)
                ),
                ("done", selector.status),
            ]
        try:
            for reply in replies:
                conn.send(reply)
        except OSError:  # the parent has gone
            return
