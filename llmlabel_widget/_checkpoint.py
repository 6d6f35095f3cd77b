"""Copy a store's write-ahead log into its file once writes pause (one thread per burst)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class IdleCheckpointer:
    """Calls ``checkpoint()`` once no write was reported for ``after`` seconds.

    One thread per burst of writes, not per write: it waits until the writes stop (the
    reviewer paused, or the kernel went idle), so the store file alone holds them.
    :meth:`stop` ends the thread; the caller then checkpoints itself.
    """

    def __init__(self, checkpoint: Callable[[], object], after: float, name: str) -> None:
        self._checkpoint = checkpoint
        self._after = after
        self._name = name
        self._writes = threading.Condition()  # guards the three fields below
        self._last_write = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False

    def wrote(self) -> None:
        """Something was stored: checkpoint once writes pause."""
        with self._writes:
            self._last_write = time.monotonic()
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="llmlabel-checkpoint", daemon=True
                )
                self._thread.start()

    def stop(self) -> bool:
        """End the thread (waiting for a checkpoint in progress); False if already stopped."""
        with self._writes:
            if self._stopped:
                return False
            self._stopped = True
            thread = self._thread
            self._writes.notify_all()
        if thread is not None:
            thread.join()
        return True

    def _run(self) -> None:
        while True:
            with self._writes:
                while not self._stopped:
                    pause = self._last_write + self._after - time.monotonic()
                    if pause <= 0:
                        break
                    self._writes.wait(pause)
                if self._stopped:  # the caller checkpoints itself
                    self._thread = None
                    return
                seen = self._last_write
            try:
                self._checkpoint()
            except Exception:  # e.g. a full disk: the next write reports it to the reviewer
                log.exception("could not checkpoint %s", self._name)
            with self._writes:
                if self._last_write == seen or self._stopped:  # else: a write came meanwhile
                    self._thread = None
                    return
