"""The selector's shell: debounced background refits (worker process or thread), listeners.

The ranking itself is :func:`~llmlabel_widget.selection.rank.rank`, a pure function; this
shell reads the store's selector state, keeps the featurised pool between refits, runs the
ranking off the kernel and tells listeners when a new one is ready.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import refit_worker
from .learner import pool_features
from .rank import PoolState, QueueItem, Ranking, SelectorStatus, Settings, rank
from .strategies import BUILTIN, STRATEGIES

if TYPE_CHECKING:
    from ..session import Session
    from ..task import LabelTask

log = logging.getLogger("llmlabel_widget.selector")


class FeatureCache:
    """The featurised pool, kept between refits (the pool only grows: same size, same items)."""

    def __init__(self, embeddings: Mapping[str, Sequence[float]] | None = None) -> None:
        self.embeddings = embeddings
        self.size = -1
        self.features: Any = None

    def get(self, state: PoolState) -> Any:
        """The features of ``state``'s pool, computed again only when the pool grew."""
        if self.size != len(state.ids):
            self.features = pool_features(state.ids, state.texts, self.embeddings)
            self.size = len(state.ids)
        return self.features


def refit_once(
    settings: Settings, cache: FeatureCache, store_path: str, task: LabelTask
) -> Ranking:
    """Read the store's selector state at ``store_path`` and rank it (thread or worker)."""
    from ..store import read_selector_state

    t0 = time.perf_counter()
    learns = STRATEGIES[settings.strategy].learns
    frame = read_selector_state(store_path, texts=False)
    if learns and cache.size != len(frame):  # the pool grew: featurise it (the big cost)
        frame = read_selector_state(store_path)
    state = PoolState.from_frame(frame, list(task.names), task.multi_label)
    features = cache.get(state) if learns else None
    out = rank(state, settings, features)
    out.status.refit_seconds = time.perf_counter() - t0
    return out


PREPARING = "preparing the ranking…"
# Pools this small are ranked before a view's first render even with ``wait=False``: a
# fraction of a second (13,083 items took 3 to 9 s, the reason for not waiting at all).
QUICK_POOL = 2_000


class Selector:
    """Ranks a session's open items for review; refits in the background after decisions.

    Parameters
    ----------
    strategy : a name in ``STRATEGIES`` (``hybrid``, ``margin``, ``entropy``,
        ``least_confidence``, ``disagreement``, ``llm_confidence``, ``diversity``, ``random``,
        ``in_order``).
    estimator : any classifier with ``predict_proba`` (cloned at every fit).
    embeddings : ``{item_id: vector}`` features instead of TF-IDF.
    explore : share of queue slots given to uniformly random "audit" items.
    min_labels : below this many human labels (or with one class) the learner is not used.
    distill : also train on valid LLM proposals, weighted by their confidence.
    seed : the same seed and the same decisions give the same queue.
    worker : where background refits run: ``"process"`` (default; a low-priority worker process,
        so a refit never holds the kernel's GIL while the view waits, see ``refit_worker.py``)
        or ``"thread"``. Strategies registered in the notebook, and estimators or embeddings
        that cannot be pickled, always refit in a thread.

    Examples
    --------
    >>> selector = Selector(strategy="hybrid", seed=0)          # doctest: +SKIP
    >>> session.selector = selector; session.queue(5)           # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        strategy: str = "hybrid",
        estimator: Any = None,
        embeddings: Mapping[str, Sequence[float]] | None = None,
        explore: float = 0.1,
        min_labels: int = 10,
        distill: bool = False,
        seed: int = 0,
        debounce: float = 0.3,
        sync_limit: int = 20_000,
        worker: str = "process",
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose from {sorted(STRATEGIES)}")
        if not 0.0 <= explore <= 1.0:
            raise ValueError("explore must be between 0 and 1")
        if estimator is not None and not hasattr(estimator, "predict_proba"):
            raise TypeError("estimator must have predict_proba")
        if worker not in ("process", "thread"):
            raise ValueError(f"worker must be 'process' or 'thread', got {worker!r}")
        self.strategy = strategy
        self.estimator = estimator
        self.embeddings = embeddings
        self.explore = explore
        self.min_labels = max(2, min_labels)
        self.distill = distill
        self.seed = seed
        self.debounce = debounce
        self.sync_limit = sync_limit
        self.worker = worker
        self.status = SelectorStatus(strategy=strategy)
        self._session: Session | None = None
        self._cache = FeatureCache(embeddings)
        self._ranking: list[QueueItem] = []
        self._done: set[str] = set()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._running = False
        self._dirty = False
        self._listeners: list[Callable[[], None]] = []
        self._predicted: dict[str, str] = {}  # the learner's label for each open item
        self._key = uuid.uuid4().hex  # this selector's name in the worker process
        self._picklable = False  # settings known to pickle (for the worker process)
        self._closed = False
        self._forget = weakref.finalize(self, refit_worker.forget, self._key)
        self._audit_seed: int | None = None  # the attached pool's audit order

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, session: Session, *, wait: bool = True) -> Selector:
        """Read the pool of ``session`` and rank it.

        Pools up to ``sync_limit`` items (``QUICK_POOL`` with ``wait=False``, a view's first
        render) are ranked before this returns; larger ones are featurised in the
        background (seconds at 13,000 items, tens at 100,000) while the queue serves pool
        order, so a view never waits for it; :attr:`ready` tells when the ranking is in.
        """
        if self._closed:  # closed with an earlier session: a fresh start in the worker
            self._closed = False
            self._key = uuid.uuid4().hex
            self._forget = weakref.finalize(self, refit_worker.forget, self._key)
        self._session = session
        self._audit_seed = session.audit_seed()
        n = session.store.count_items()
        if n <= (self.sync_limit if wait else min(self.sync_limit, QUICK_POOL)):
            self.refit()
            return self
        open_ids = session.store.open_items(5000)
        reason = f"pool order: {PREPARING}"
        self._ranking = [QueueItem(i, "pool order", reason, 0.0) for i in open_ids]
        self.status = SelectorStatus(strategy=self.strategy, note=f"{PREPARING} ({n:,} items)")
        self.notify()
        return self

    @property
    def ready(self) -> bool:
        """Whether a ranking is in (False while the first one is prepared in the background)."""
        return self.status.refits > 0

    def on_refit(self, fn: Callable[[], None], *, remove: bool = False) -> None:
        """Call ``fn()`` (from the refit thread) after each background refit.

        ``remove=True`` stops calling it.
        """
        if remove:
            with contextlib.suppress(ValueError):
                self._listeners.remove(fn)
        else:
            self._listeners.append(fn)

    def close(self) -> None:
        """Cancel the pending refit, drop the listeners and the worker's copy of the pool.

        A refit already running finishes, but its ranking reaches no listener. Idempotent;
        :meth:`Session.close <llmlabel_widget.Session.close>` calls it. Attaching the selector
        to a session again starts it afresh.

        Examples
        --------
        >>> session.selector.close()  # doctest: +SKIP
        """
        with self._lock:
            self._closed = True
            self._dirty = False
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()  # returns at once: a cancelled timer's thread just ends
        self._listeners.clear()
        self._forget()

    def notify(self, item_id: str | None = None) -> None:
        """A decision was recorded: drop the item from the queue now, refit soon (debounced)."""
        if item_id is not None:
            self._done.add(item_id)
        with self._lock:
            if self._closed:
                return
            if self._running:
                self._dirty = True
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self._background_refit)
            self._timer.daemon = True
            self._timer.start()

    def skipped(self, item_id: str) -> None:
        """A skip: the item goes to the back of the queue now, and stays there after refits."""
        self._done.discard(item_id)
        rest = [q for q in self._ranking if q.item_id != item_id]
        self._ranking = [*rest, QueueItem(item_id, "skipped", "skipped earlier", 0.0)]
        self.notify()

    def undone(self, item_id: str) -> None:
        """An undo put the item back among the open ones."""
        self._done.discard(item_id)
        self.notify()

    def _background_refit(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._running, self._dirty, self._timer = True, False, None
        try:
            if self._use_worker_process():
                try:
                    self._refit_in_worker()
                except refit_worker.SettingsError as exc:
                    log.info(
                        "the worker process cannot load the selector's settings (%s): "
                        "refitting in a thread",
                        exc,
                    )
                    self.worker = "thread"
                    self.refit()
            else:
                self.refit()
        except Exception as exc:  # a failed refit must never break labeling
            if refit_worker.closing():
                return  # the process is exiting; nobody waits for this ranking
            log.exception("selector refit failed")
            self.status.errors = [*self.status.errors[-4:], f"{type(exc).__name__}: {exc}"]
        finally:
            with self._lock:
                self._running = False
                again = self._dirty
        for fn in list(self._listeners):
            fn()
        if again:
            self.notify()

    def _use_worker_process(self) -> bool:
        if self.worker != "process" or STRATEGIES.get(self.strategy) is not BUILTIN.get(
            self.strategy
        ):
            return False  # a strategy defined in the notebook exists only in this process
        if not self._picklable:  # checked once: embeddings can be large
            try:
                pickle.dumps((self.estimator, self.embeddings))
            except Exception:
                log.info("selector settings cannot be pickled: refitting in a thread")
                self.worker = "thread"
                return False
            self._picklable = True
        return True

    def _refit_in_worker(self) -> None:
        if self._session is None:
            raise RuntimeError("attach the selector to a session first")
        from ..store import source_of

        seen_done = set(self._done)  # decisions made during the refit are not in its ranking
        ranking, predicted, status = refit_worker.refit(
            self._key,
            {"settings": self.settings(), "embeddings": self.embeddings},
            source_of(self._session.store),
            self._session.task,
        )
        self._ranking, self._predicted = ranking, predicted
        self._done -= seen_done
        self.status = replace(status, refits=self.status.refits + 1, errors=self.status.errors)

    def wait(self, timeout: float = 30.0) -> None:
        """Block until no refit is pending or running (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running and self._timer is None and not self._dirty:
                    return
            time.sleep(0.01)

    def prediction(self) -> Callable[[str], dict[str, Any]]:
        """What the learner predicted for an item, to record with its decision (learning curve)."""
        predicted, labels = self._predicted, self.status.labels

        def lookup(item_id: str) -> dict[str, Any]:
            label = predicted.get(item_id)
            return {} if label is None else {"learner": str(label), "learner_labels": labels}

        return lookup

    # -- the hot path -----------------------------------------------------------------------------
    def queue(self, n: int = 10) -> list[QueueItem]:
        """The next ``n`` open items in review order, from the last ranking (no refit here)."""
        out: list[QueueItem] = []
        for q in self._ranking:
            if q.item_id not in self._done:
                out.append(q)
                if len(out) == n:
                    break
        return out

    # -- refit ------------------------------------------------------------------------------------
    def settings(self) -> Settings:
        """How this selector ranks, as the pure :func:`rank` takes it."""
        return Settings(
            strategy=self.strategy,
            estimator=self.estimator,
            explore=self.explore,
            min_labels=self.min_labels,
            distill=self.distill,
            seed=self.seed,
            audit_seed=self._audit_seed,
        )

    def refit(self) -> None:
        """Read labels and proposals, train the learner, rank every open item (in this thread)."""
        if self._session is None:
            raise RuntimeError("attach the selector to a session first")
        from ..store import source_of

        seen_done = set(self._done)  # decisions made during the refit are not in its ranking
        out = refit_once(
            self.settings(), self._cache, source_of(self._session.store), self._session.task
        )
        self._ranking, self._predicted = out.items, out.predicted
        self._done -= seen_done
        self.status = replace(out.status, refits=self.status.refits + 1, errors=self.status.errors)
