"""Background refits in a separate, low-priority process, so they never hold the kernel's GIL.

A refit on a big pool is seconds of pandas/SciPy/scikit-learn work. Run in a thread of the
kernel it holds the GIL for stretches of up to ~100 ms, and a widget message arriving meanwhile
waits: on the 100,000-item pool of ``bench/ui_latency.py`` (a key every 0.5 s, refits running
during most of them) the key-to-paint p95 was 132 ms with refits in a kernel thread and 38 ms
with this worker. In a process of its own the refit only competes for a CPU, and only for CPU
time the browser, the server and the kernel leave idle.

One worker process serves every :class:`~llmlabel_widget.selection.shell.Selector` of this Python
process and keeps each one's featurised pool between refits. It is a fresh interpreter running
this module (``python -c "...serve()"``), not a ``multiprocessing`` child: ``spawn`` re-runs the
parent's ``__main__`` in the child, so a plain script without an ``if __name__ == "__main__":``
guard would run twice (deciding and calling the LLM again), and a script read from stdin
(``python -``) could not start the worker at all. Requests and replies are pickles, each
preceded by its length, on the worker's stdin and stdout. The worker gets the parent's
``sys.path``, so settings whose classes the parent imports from its own modules load there
too; settings that need the parent's ``__main__`` cannot, and the selector refits them in a
thread. The worker reads the store through its own read-only connection. If it dies, the
refit in progress fails (the selector logs it and keeps its last ranking) and the next one
starts a new worker.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .selection.rank import QueueItem, SelectorStatus
    from .task import LabelTask

NICE = 19  # where SCHED_IDLE is missing: below the interactive processes
# Results come back in pieces: unpickling holds the kernel's GIL, and 5,000 queue entries in one
# piece would hold it for tens of ms; a piece of 200 takes about 1 ms.
RANKING_PIECE = 200
PREDICTED_PIECE = 2_000
_HEADER = struct.Struct("<Q")  # the length of the pickle that follows
# The worker's entry point. Only ``sys`` (built in, never shadowed by a file in the working
# directory) is imported before the parent's ``sys.path`` (the arguments) is in place.
_BOOT = (
    "import sys; sys.path[:] = sys.argv[1:]; "
    "from llmlabel_widget.refit_worker import serve; serve()"
)


class WorkerError(RuntimeError):
    """A refit in the worker process failed, or the worker stopped."""


class SettingsError(WorkerError):
    """The worker process cannot load a selector's settings (e.g. a class from ``__main__``)."""


class _Worker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-c", _BOOT, *_search_path()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        if self.proc.stdin is None or self.proc.stdout is None:  # for the type checker
            raise WorkerError("the worker process has no pipe")
        self.requests: IO[bytes] = self.proc.stdin
        self.replies: IO[bytes] = self.proc.stdout
        self.known: set[str] = set()  # selectors whose settings the worker holds

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float) -> None:
        """Close the pipe (the worker exits when it sees it closed); kill it if it lingers."""
        with contextlib.suppress(OSError, ValueError):
            self.requests.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # only now: a thread still reading the replies holds the reader until the worker exits
        with contextlib.suppress(OSError, ValueError):
            self.replies.close()


def _search_path() -> list[str]:
    """This process's ``sys.path``: the worker finds the same modules (and llmlabel_widget)."""
    return [os.fspath(p) for p in sys.path if isinstance(p, (str, os.PathLike))]


def send(stream: IO[bytes], obj: object) -> None:
    """Write one message: its pickle's length, then the pickle."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def recv_bytes(stream: IO[bytes]) -> bytes:
    """Read one message's pickle; ``EOFError`` if the other side closed the pipe."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the pipe closed")
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the pipe closed mid-message")
    return data


_lock = threading.Lock()  # one request at a time on the pipe
_worker: _Worker | None = None
_forgotten: list[str] = []  # selectors gone since the last request (sent with the next one)
_closing = False  # the interpreter is exiting: a refit cut short is expected, not an error


def closing() -> bool:
    """True once this Python process has begun to exit."""
    return _closing


@atexit.register
def _close() -> None:
    global _closing
    _closing = True
    worker = _worker
    if worker is not None:
        worker.stop(timeout=2)


def refit(
    key: str, settings: dict[str, Any], store_path: str, task: LabelTask
) -> tuple[list[QueueItem], dict[str, str], SelectorStatus]:
    """Run a refit for the selector ``key`` in the worker; return its ranking, predictions, status.

    Blocks the calling (background) thread, never the kernel's: waiting on a pipe releases the
    GIL. Raises :class:`SettingsError` when the worker cannot load ``settings``.
    """
    global _worker
    with _lock:
        if _closing:
            raise WorkerError("the process is exiting")
        if _worker is None or not _worker.alive():
            if _worker is not None:
                _worker.stop(timeout=0)
            _worker = _Worker()
        worker = _worker
        gone = _forgotten[:]
        _forgotten.clear()
        packed = None if key in worker.known else pickle.dumps(settings, pickle.HIGHEST_PROTOCOL)
        request = (key, packed, store_path, task, gone)
        ranking: list[QueueItem] = []
        predicted: dict[str, str] = {}
        try:
            send(worker.requests, request)
            while True:
                kind, piece = pickle.loads(recv_bytes(worker.replies))  # noqa: S301
                if kind == "ranking":
                    ranking.extend(piece)
                elif kind == "predicted":
                    predicted.update(piece)
                else:
                    break
        except (EOFError, OSError, ValueError) as exc:
            worker.proc.kill()
            worker.stop(timeout=5)
            _worker = None
            raise WorkerError(f"the selector's worker process stopped ({exc!r})") from None
        if kind == "done":  # the worker now holds this selector's settings
            worker.known.add(key)
        worker.known.difference_update(gone)
    if kind == "unloadable":
        raise SettingsError(piece)
    if kind == "error":
        raise WorkerError(piece)
    return ranking, predicted, piece


def forget(key: str) -> None:
    """The selector ``key`` is gone: the worker may drop its features (at the next request)."""
    _forgotten.append(key)


def serve() -> None:
    """The worker process: answer refit requests on stdin until the parent closes it."""
    # The protocol gets private copies of stdin and stdout; whatever a library prints goes
    # to stderr, and nothing else can read the requests.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _serve(requests, replies)


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The worker's loop: one refit per request, until the parent closes the pipe."""
    from threadpoolctl import threadpool_limits

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
    selectors: dict[str, Any] = {}
    while True:
        try:
            request = pickle.loads(recv_bytes(requests))  # noqa: S301 (from our parent)
        except (EOFError, OSError):
            return
        try:
            for reply in _answer(selectors, *request):
                send(replies, reply)
        except OSError:  # the parent has gone
            return


def _answer(
    selectors: dict[str, Any],
    key: str,
    settings: bytes | None,
    store_path: str,
    task: LabelTask,
    gone: list[str],
) -> list[tuple[str, Any]]:
    """One refit request's replies: the ranking and predictions in pieces, then the status."""
    from .selection.shell import FeatureCache, refit_once

    for k in gone:
        selectors.pop(k, None)
    held = selectors.get(key)
    if held is None:
        if settings is None:  # a worker started after the selector's first request
            return [("error", "the worker does not know this selector")]
        try:
            loaded = pickle.loads(settings)  # noqa: S301 (from our parent)
        except Exception as exc:
            return [("unloadable", f"{type(exc).__name__}: {exc}")]
        held = selectors[key] = (loaded["settings"], FeatureCache(loaded["embeddings"]))
    try:
        out = refit_once(held[0], held[1], store_path, task)
    except Exception as exc:
        return [("error", f"{type(exc).__name__}: {exc}")]
    ranking = out.items
    # The learner's label is recorded with a decision; decisions come from the queue.
    known = out.predicted
    predicted = [(q.item_id, known[q.item_id]) for q in ranking if q.item_id in known]
    return [
        *(
            ("ranking", ranking[i : i + RANKING_PIECE])
            for i in range(0, len(ranking), RANKING_PIECE)
        ),
        *(
            ("predicted", dict(predicted[i : i + PREDICTED_PIECE]))
            for i in range(0, len(predicted), PREDICTED_PIECE)
        ),
        ("done", out.status),
    ]
