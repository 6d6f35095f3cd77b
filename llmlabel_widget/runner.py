"""The async runner: drive an annotator over items and hand its proposals to be stored.

Live and recorded annotators go through :func:`run` alike: they yield proposals, and the
runner passes each batch, with the responses it came from, to one ``persist`` function.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from . import _loop, reading
from .annotators.base import Annotator, Demo, Estimate, Item, Proposal, RunReport
from .storage import StoreBackend
from .task import LabelTask

T = TypeVar("T")
Persist = Callable[[list[Proposal], dict[str, dict[str, Any]]], None]


class PendingCache:
    """A response cache read from the store, whose new entries wait for the next persist.

    A response is then stored in the same transaction as proposals of the same run, never
    on its own path.

    Examples
    --------
    >>> cache = PendingCache(lambda key: None)
    >>> cache.put("k", {"choices": []})
    >>> cache.get("k"), cache.take(), cache.take()
    ({'choices': []}, {'k': {'choices': []}}, {})
    """

    def __init__(self, stored: Callable[[str], dict[str, Any] | None]) -> None:
        self._stored = stored
        self._pending: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """A response kept by this run or stored earlier, or None."""
        return self._pending.get(key) or self._stored(key)

    def put(self, key: str, response: Mapping[str, Any]) -> None:
        """Keep ``response`` until the next persist."""
        self._pending[key] = dict(response)

    def take(self) -> dict[str, dict[str, Any]]:
        """The responses kept since the last call (and forget them)."""
        taken, self._pending = self._pending, {}
        return taken


class Proposer:
    """Runs annotators over one store's items; everything they propose is stored here.

    ``wrote`` is called after each write (the session's idle checkpointer).
    """

    def __init__(self, store: StoreBackend, task: LabelTask, wrote: Callable[[], None]) -> None:
        self.store = store
        self.task = task
        self._wrote = wrote

    def store_rows(
        self, rows: Sequence[Mapping[str, Any]], responses: Mapping[str, Mapping[str, Any]]
    ) -> int:
        """The one place proposals are stored: with the responses they came from, at once."""
        added = self.store.add_proposals(rows, responses)
        self._wrote()
        return added

    def persist(self, proposals: list[Proposal], responses: dict[str, dict[str, Any]]) -> None:
        self.store_rows([p.to_row() for p in proposals], responses)

    def pending(
        self, annotator: Annotator, keys: Sequence[str] | None, sample: int | None, seed: int
    ) -> tuple[list[str], int]:
        """Ids lacking a proposal of the annotator's prompt version, and how many had one."""
        return pending_ids(self.store, annotator.version(self.task), keys, sample, seed)

    def items(self, ids: Sequence[str]) -> list[Item]:
        texts = self.store.texts(ids)
        return [(i, texts[i]) for i in ids]

    def demos(self, annotator: object) -> list[Demo]:
        """Decided items as few-shot demonstrations, read only for an annotator that wants them."""
        if not getattr(annotator, "wants_demos", False):
            return []
        return reading.demo_pool(reading.read_annotations(self.store, self.task, with_meta=False))

    def cache(self) -> PendingCache:
        return PendingCache(self.store.cache_get)

    def estimate(self, annotator: Annotator, ids: Sequence[str]) -> Estimate:
        return annotator.estimate(self.items(ids), self.task, self.cache(), self.demos(annotator))

    async def arun(
        self,
        annotator: Annotator,
        wanted: list[str],
        skipped: int,
        *,
        progress: bool,
        run_prefix: str = "",
        on_progress: Callable[[RunReport], None] | None = None,
    ) -> RunReport:
        """:func:`run` over ``wanted``, storing here; at the end, checkpoint the store."""
        return await run(
            annotator,
            self.items(wanted),
            self.task,
            self.cache(),
            self.persist,
            demos=self.demos(annotator),
            skipped=skipped,
            progress=progress,
            run_prefix=run_prefix,
            on_progress=on_progress,
            on_end=self._ended,
        )

    def _ended(self, report: RunReport) -> None:
        """Remember what the server rejected; put the run's proposals into the store file."""
        if report.degraded:
            known = json.loads(self.store.get_meta("degraded") or "{}")
            self.store.set_meta("degraded", json.dumps({**known, **report.degraded}))
        self.store.checkpoint()


async def run(
    annotator: Annotator,
    items: Sequence[Item],
    task: LabelTask,
    cache: PendingCache,
    persist: Persist,
    *,
    demos: Sequence[Demo] = (),
    skipped: int = 0,
    progress: bool = True,
    run_prefix: str = "",
    on_progress: Callable[[RunReport], None] | None = None,
    on_end: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Propose for ``items``; every proposal is persisted as it arrives.

    An annotator either yields proposals (a live model: each is stored before the next is
    asked for) or returns them all at once (recorded answers: one transaction).
    ``report.done`` counts stored proposals, so an interrupted run reports what stayed.
    """
    report = RunReport(
        run_id=run_prefix + uuid.uuid4().hex[:12], requested=len(items), skipped=skipped
    )
    bar = _progress_bar(len(items), annotator) if progress else None

    def update(r: RunReport) -> None:
        if bar is not None:
            bar.n = r.done + r.failed
            spend = f"${r.cost:.4f}" if r.cost else "$0"
            bar.set_postfix_str(
                f"done={r.done} invalid={r.invalid} failed={r.failed} "
                f"cached={r.cached} spend={spend}",
                refresh=True,
            )
        if on_progress is not None:
            on_progress(r)

    async def store(batch: list[Proposal]) -> None:
        batch = [_with_run(p, report.run_id) for p in batch]
        # on a thread: the fsync overlaps with the requests still in flight
        saving = asyncio.ensure_future(asyncio.to_thread(persist, batch, cache.take()))
        try:
            await asyncio.shield(saving)
        except asyncio.CancelledError:
            # A cancel cannot stop the thread: wait for its write, so the report counts it.
            await asyncio.wait([saving])
            if saving.exception() is None:
                count(batch)
            raise
        count(batch)

    def count(batch: list[Proposal]) -> None:
        report.done += len(batch)
        report.invalid += sum(not p.valid for p in batch)
        update(report)

    answers = annotator.propose(items, task, cache, report, update, demos)
    try:
        if isinstance(answers, AsyncIterator):
            try:
                async for proposal in answers:  # one at a time: the annotator waits for it
                    await store([proposal])
            finally:
                aclose = getattr(answers, "aclose", None)
                if aclose is not None:  # stops its requests now, not when collected
                    await aclose()
        else:  # returned at once (recorded answers): stored in one transaction
            await store(list(answers))
    except (asyncio.CancelledError, KeyboardInterrupt):
        report.stopped = "interrupted"
        raise
    finally:
        if bar is not None:
            bar.close()
        if on_end is not None:
            on_end(report)
    return report


def pending_ids(
    store: StoreBackend,
    version: str | None,
    ids: Sequence[str] | None,
    sample: int | None,
    seed: int,
) -> tuple[list[str], int]:
    """Ids (all, or ``ids``) lacking a proposal of ``version``, optionally a seeded sample,
    and how many already had one."""
    have = store.proposed_ids(version)
    if ids is None:
        wanted = [i for i in store.all_ids() if i not in have]
        skipped = store.count_items() - len(wanted)
    else:
        wanted = [k for k in dict.fromkeys(ids) if k not in have]
        skipped = len(set(ids)) - len(wanted)
    if sample is not None and sample < len(wanted):
        rng = np.random.default_rng(seed)
        wanted = [wanted[i] for i in sorted(rng.choice(len(wanted), sample, replace=False))]
    return wanted, skipped


def _with_run(proposal: Proposal, run_id: str) -> Proposal:
    """The proposal tagged with the run that made it (annotators may leave it unset)."""
    return proposal if proposal.run_id is not None else replace(proposal, run_id=run_id)


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, in a script or a notebook cell.

    Every call goes to one long-lived event loop (:mod:`._loop`), so the annotator's pooled
    connections stay usable from one run to the next. Ctrl-C (kernel interrupt) cancels the
    run, and what was already stored stays.
    """
    return _loop.run(coro)


def _progress_bar(total: int, annotator: object) -> Any:
    from tqdm.auto import tqdm

    name = getattr(annotator, "model", None) or type(annotator).__name__
    return tqdm(total=total, desc=f"proposing ({name})", unit="item")
