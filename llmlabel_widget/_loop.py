"""One long-lived event loop on a daemon thread, where the sync façade runs its coroutines.

An ``openai.AsyncOpenAI`` client keeps its pooled (kept-alive) connections on the loop that
opened them. A new loop per call (``asyncio.run``) would hand run 2 the connections of run
1's closed loop: ``RuntimeError: Event loop is closed``. So every sync call, from a script or
from a notebook cell (where the kernel's loop is already running), goes to this one loop, and
connections are reused across runs as a server expects.

The loop starts on first use and stops at interpreter exit (or in a forked child, where the
thread does not exist, a new one starts).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_state: dict[str, Any] = {}  # loop, thread, pid


def _loop() -> asyncio.AbstractEventLoop:
    with _lock:
        loop = _state.get("loop")
        thread = _state.get("thread")
        if (
            loop is None
            or thread is None
            or _state.get("pid") != os.getpid()
            or not thread.is_alive()
        ):
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="llmlabel-loop", daemon=True)
            thread.start()
            _state.update(loop=loop, thread=thread, pid=os.getpid())
        return loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the shared loop and wait for its result.

    Ctrl-C (a kernel interrupt) cancels it and waits for its cleanup before re-raising, so
    what it already stored stays and nothing keeps running behind the user's back.
    """
    loop = _loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError(
            "a blocking call was made from inside a running run (e.g. from a progress "
            "callback); use the async twin instead (await session.apropose(...))"
        )
    done = threading.Event()
    box: dict[str, asyncio.Task[T]] = {}

    def start() -> None:
        task = loop.create_task(coro)
        task.add_done_callback(lambda _: done.set())
        box["task"] = task

    loop.call_soon_threadsafe(start)
    try:
        done.wait()
    except KeyboardInterrupt:
        # callbacks run in order: start() has run before this cancel does
        loop.call_soon_threadsafe(lambda: box["task"].cancel())
        done.wait(timeout=30)
        raise
    return box["task"].result()


@atexit.register
def _stop() -> None:
    with _lock:
        loop, thread = _state.get("loop"), _state.get("thread")
        if loop is None or thread is None or _state.get("pid") != os.getpid():
            return
        _state.clear()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
