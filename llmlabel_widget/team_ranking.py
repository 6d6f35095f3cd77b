"""The team's shared ranking, on the reviewer's side: one process refits for everyone.

With a learning selector, a team reviewer's queue is leased from the store's ``ranking``
table (see ``store/ranking_sql.py``), not from a ranking of this process. The process that
holds the refit turn (kept while it keeps asking for items, taken over by another when it
lapses) refits its selector in a background thread when the project has ``refit_every`` new
decisions (everyone's) and writes the top ``ranking_size`` items to the table; the others
never rank the pool.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING

from .selection.shell import QUICK_POOL
from .selector import QueueItem

if TYPE_CHECKING:
    from .selector import Selector
    from .storage import StoreBackend

log = logging.getLogger("llmlabel_widget.team")

REFIT_EVERY = 20  # new decisions in the project (anyone's) between two shared refits
RANKING_SIZE = 5_000  # items of a refit's ranking written to the shared table
TURN_SECONDS = 60.0  # the refit turn lapses when its holder stops asking this long
CHECK_SECONDS = 1.0  # a process asks for the turn at most this often


class SharedRanking:
    """A Session mixin: whose turn it is to refit, the refit, and reading the table."""

    store: StoreBackend
    _selector: Selector
    refit_every: int = REFIT_EVERY
    ranking_size: int = RANKING_SIZE
    _turn_check: float = CHECK_SECONDS
    _turn_id: str | None = None
    _turn_asked: float = 0.0
    _refitting: threading.Thread | None = None

    def _shared_refit(self) -> None:
        """Start a shared refit in the background if this process holds the turn and one
        is due (debounced: at most one look every ``_turn_check`` seconds)."""
        now = time.monotonic()
        busy = self._refitting is not None and self._refitting.is_alive()
        if busy or now - self._turn_asked < self._turn_check:
            return
        self._turn_asked = now
        if self._turn_id is None:
            self._turn_id = uuid.uuid4().hex
        hold = max(TURN_SECONDS, 4 * self._turn_check)
        fitted_on = self.store.claim_refit(self._turn_id, hold, self.refit_every)
        if fitted_on is None:
            return
        first = self.store.ranking_info() is None
        self._refitting = threading.Thread(target=self._refit_shared, args=(fitted_on,))
        self._refitting.daemon = True
        self._refitting.start()
        if first and self.store.count_items() <= QUICK_POOL:
            self._refitting.join()  # a small pool: ranked before its first items go out

    def _refit_shared(self, fitted_on: int) -> None:
        """Refit this process's selector and write the top of its ranking for the team."""
        selector = self._selector
        before = selector.status.refits
        selector._background_refit()  # in a worker process or a thread, as the selector says
        if selector.status.refits == before or selector._closed:
            return  # failed (the selector logged it), or the session closed meanwhile
        rows = [
            (q.item_id, q.strategy, q.reason, q.score) for q in selector.queue(self.ranking_size)
        ]
        try:
            self.store.write_ranking(rows, fitted_on)
        except Exception:  # the session closed meanwhile: the next turn's holder writes one
            log.warning("the shared ranking could not be written", exc_info=True)

    def _give_up_turn(self) -> None:
        """On close: free the refit turn for another process now (it would lapse in
        ``TURN_SECONDS``; meanwhile nobody would refit)."""
        if self._turn_id is None:
            return
        try:
            self.store.release_refit(self._turn_id)
        except Exception:  # the database is gone: the turn lapses by itself
            log.warning("the refit turn could not be released", exc_info=True)

    def wait_shared_ranking(self, timeout: float = 60.0) -> None:
        """Block until this process's shared refit (if one runs) has written its ranking."""
        if self._refitting is not None:
            self._refitting.join(timeout)

    def _shared_top(self, reviewer: str, k: int) -> list[QueueItem]:
        """The first ``k`` items of the shared ranking the reviewer may lease (none when the
        project has no shared ranking yet)."""
        if self.store.ranking_info() is None:
            return []
        rows = self.store.ranking_top(reviewer, k)
        return [QueueItem(i, s, r, v) for i, s, r, v in rows]

    def queue_ready(self, reviewer: str | None = None) -> bool:
        """Whether the queue is ranked (a view shows "preparing" until then): for a team
        reviewer, once the project has a shared ranking (pool order needs none)."""
        if reviewer is None:
            return self._selector.ready
        if self._selector.strategy == "in_order":
            return True
        return self._selector.ready or self.store.ranking_info() is not None
