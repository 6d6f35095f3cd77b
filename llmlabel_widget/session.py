"""Session: the headless façade a notebook or script labels through.

Every capability of the widget is a method here, so anything the view does can be scripted
and tested without a browser. The Session delegates: the Store reads and writes, annotators
propose (:mod:`.runner` drives them), :mod:`.trials` runs prompt trials, :mod:`.reading`
builds the annotations frame, the selector ranks the queue.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import export, queue_filter, reading, runner
from ._checkpoint import IdleCheckpointer
from .annotators.base import Annotator, Estimate, RunReport
from .auditing import PoolEstimates
from .batches import BatchJobs
from .certification import Certification
from .ingest import (
    AddPlan,
    AddReport,
    OnChanged,
    apply_add,
    check_on_changed,
    content_hash,
    item_key,
    open_session,
    plan_add,
    validate_frame,
)
from .navigation import Navigation
from .queue_filter import QueueFilter
from .reading import STATES
from .recording import Decision, Recorder, reviewer_name
from .selector import QueueItem, Selector
from .storage import StoreBackend
from .store import open_store, source_of
from .task import LabelTask
from .team import Team
from .trials import PromptTrials

ItemId = str | int
# Once decisions pause this long, the write-ahead log is copied into the .labels.db file.
CHECKPOINT_AFTER = 1.0
__all__ = ["STATES", "AddReport", "Decision", "Session", "content_hash"]


def _default_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "human"


class Session(PromptTrials, Navigation, BatchJobs, Team, Certification, PoolEstimates):
    """A labeling session stored in one SQLite file.

    Create or resume one with :meth:`Session.open`.

    Examples
    --------
    >>> session = Session.open("reviews.labels.db", data=df, text="review",
    ...                        id="review_id", task=task)              # doctest: +SKIP
    >>> session.decide("r1", label="negative", reviewer="alice")       # doctest: +SKIP
    """

    def __init__(
        self,
        store: StoreBackend,
        task: LabelTask,
        *,
        annotator: Any = None,
        user: str | None = None,
        selector: Selector | None = None,
    ) -> None:
        self.store = store
        self.task = task
        self.annotator = annotator
        self._selector = Selector() if selector is None else selector
        # Wired to this session (its refit() reads this store); it ranks the pool on the
        # first queue(). Decisions reach it (background refits) once it ranks, or at once
        # when it was passed in: the default one costs a script nothing until queue().
        self._selector._session = self
        self._selector._audit_seed = self.audit_seed()
        self._ranking = False
        self._live = selector is not None
        self.user = user or _default_user()
        self.last_add: AddReport | None = None
        self._closed = False
        self._checkpointer = IdleCheckpointer(store.checkpoint, CHECKPOINT_AFTER, str(store.path))
        wrote = self._checkpointer.wrote
        self._proposer = runner.Proposer(store, task, wrote)
        self._recorder = Recorder(
            store, task, wrote=wrote, predict=self._predict, changed=self._changed
        )
        _OPEN.add(self)

    # -- opening and adding ----------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        data: pd.DataFrame | None = None,
        *,
        text: str = "text",
        id: str | None = "id",
        task: LabelTask | None = None,
        annotator: Any = None,
        user: str | None = None,
        selector: Selector | None = None,
        on_changed: OnChanged = "error",
    ) -> Session:
        """Open (or create) the store at ``path`` and add the rows of ``data``.

        Re-running the same call resumes: unchanged rows are recognised by id and content
        hash, new rows are added, and a row whose text changed under the same id raises
        ``ValueError`` (``on_changed="keep"`` keeps the stored text instead).

        Parameters
        ----------
        path : the store file (created if missing), or a ``postgresql://…?project=NAME``
            URL: a project on a PostgreSQL server, for a team (``pip install
            'llmlabel-widget[postgres]'``; see the README's "Team labeling").
        data : items to label; every column besides ``text`` and ``id`` is kept as metadata.
        text, id : column names; ``id=None`` uses the DataFrame index.
        task : the label set; required for a new store, optional when resuming.
        annotator : the LLM annotator proposing labels (optional).
        selector : how to order the review queue (default: ``Selector()``, the hybrid
            active-learning strategy); it starts ranking on the first :meth:`queue`.
        user : default name recorded with decisions (defaults to the login name).
        """
        session = open_session(
            cls, os.fspath(path), data, text, id, task, annotator, user, selector, on_changed
        )
        session._resume_batches()  # batch jobs a restart interrupted: sent on, ended ones stored
        return session

    def add(
        self,
        data: pd.DataFrame,
        *,
        text: str = "text",
        id: str | None = "id",
        on_changed: OnChanged = "error",
    ) -> AddReport:
        """Add the rows of ``data`` that are not yet in the store; return what happened."""
        check_on_changed(on_changed)
        checked = validate_frame(data, text=text, id=id)
        return self._apply_add(self._plan_add(data, checked, text, id), on_changed)

    def _plan_add(
        self, data: pd.DataFrame, checked: tuple[list[str], list[str]], text: str, id: str | None
    ) -> AddPlan:
        known = (self.store.get_meta("data_fingerprints") or "").split()
        return plan_add(data, checked, text, id, existing=self.store.item_hashes, known=known)

    def _apply_add(
        self, plan: AddPlan | None, on_changed: OnChanged, *, task: LabelTask | None = None
    ) -> AddReport:
        report, wrote = apply_add(self.store, plan, on_changed, task)
        if wrote:
            self._checkpointer.wrote()
        if plan is not None:
            self.last_add = report
        return report

    # -- decisions (see .recording) ---------------------------------------------------------
    def decide(
        self,
        item_id: ItemId,
        label: str | Sequence[str] | None = None,
        *,
        reviewer: str | None = None,
        note: str | None = None,
        context: Mapping[str, Any] | None = None,
        annotator: str | None = None,
    ) -> Decision:
        """Record the reviewer's label for an item; durable when this returns.

        The decision is recorded as ``accept`` when it equals the item's latest valid LLM
        proposal, ``correct`` when it differs, and ``label`` when there was no proposal.
        ``reviewer`` defaults to the session's user (``annotator=`` is its old name).
        """
        who = self._who(reviewer, annotator)
        return self._recorder.decide(item_id, label, who, note, context)

    def accept(
        self,
        item_id: ItemId,
        *,
        reviewer: str | None = None,
        note: str | None = None,
        context: Mapping[str, Any] | None = None,
        annotator: str | None = None,
    ) -> Decision:
        """Accept the item's latest valid LLM proposal as the reviewer's label."""
        return self._recorder.accept(item_id, self._who(reviewer, annotator), note, context)

    def skip(
        self,
        item_id: ItemId,
        *,
        reviewer: str | None = None,
        note: str | None = None,
        context: Mapping[str, Any] | None = None,
        annotator: str | None = None,
    ) -> Decision:
        """Skip an item (it goes to the back of the queue)."""
        return self._recorder.skip(item_id, self._who(reviewer, annotator), note, context)

    def note(
        self,
        item_id: ItemId,
        text: str,
        *,
        reviewer: str | None = None,
        context: Mapping[str, Any] | None = None,
        annotator: str | None = None,
    ) -> Decision:
        """Attach a free-text note to an item (undoable like a decision)."""
        return self._recorder.note(item_id, text, self._who(reviewer, annotator), context)

    def undo(
        self, *, reviewer: str | None = None, via: str | None = None, annotator: str | None = None
    ) -> dict[str, Any] | None:
        """Cancel this reviewer's most recent decision, skip or note (unlimited).

        ``via`` limits the undo to events recorded with that ``via`` in their context:
        ``undo(via="labeler")`` cancels only what was done in a Labeler, never a scripted
        ``decide()`` made under the same name. Returns the cancelled event (``seq``,
        ``item_id``, ``kind``), or None if there is nothing left to undo.
        """
        return self._recorder.undo(self._who(reviewer, annotator), via)

    def _who(self, reviewer: str | None, annotator: str | None = None) -> str:
        return reviewer_name(reviewer, annotator, self.user)

    def _predict(self, key: str) -> dict[str, Any]:
        """What the learner predicts for the item now (recorded with a labelling decision)."""
        return self._selector.prediction()(key)

    def _changed(self, key: str, kind: str) -> None:
        """A decision reaches the selector once it ranks (see :meth:`queue`)."""
        if not self._live or kind == "note":
            return
        if kind == "skip":
            self._selector.skipped(key)
        elif kind == "undo":
            self._selector.undone(key)
        else:
            self._selector.notify(key)

    # -- proposals (see .runner) ------------------------------------------------------------
    def add_proposals(self, proposals: Iterable[Mapping[str, Any]]) -> int:
        """Store LLM proposals (dicts with item_id, labels, valid, source, ...)."""
        return self._proposer.store_rows(list(proposals), {})

    def proposal(self, item_id: ItemId) -> dict[str, Any] | None:
        """The latest LLM proposal for an item, or None."""
        return self.store.latest_proposal(self._recorder.existing(item_id))

    def _annotator(self) -> Annotator:
        if self.annotator is None:
            raise ValueError(
                "this session has no annotator: Session.open(..., annotator=OpenAIAnnotator(...)) "
                "or RecordedAnnotator(...) for recorded labels"
            )
        return self.annotator

    def _to_propose(
        self, ids: Iterable[ItemId] | None, sample: int | None, seed: int
    ) -> tuple[list[str], int]:
        keys = None if ids is None else [self._recorder.existing(i) for i in ids]
        return self._proposer.pending(self._annotator(), keys, sample, seed)

    def estimate(
        self,
        ids: Iterable[ItemId] | None = None,
        *,
        sample: int | None = None,
        seed: int = 0,
        batch: bool = False,
        batch_prices: Mapping[str, tuple[float, float]] | None = None,
    ) -> Estimate:
        """Requests, tokens and cost that :meth:`propose` would need, before spending anything
        (``batch=True``: the cost at batch prices).

        Examples
        --------
        >>> session.estimate()  # doctest: +SKIP
        Estimate(items=1302, requests=1302, cached=0, prompt_tokens=..., cost=0.05, ...)
        """
        wanted, _ = self._to_propose(ids, sample, seed)
        estimate = self._proposer.estimate(self._annotator(), wanted)
        return self._at_batch_prices(estimate, batch_prices) if batch else estimate

    def propose(
        self,
        ids: Iterable[ItemId] | None = None,
        *,
        sample: int | None = None,
        seed: int = 0,
        progress: bool = True,
        batch: bool = False,
        **batch_options: Any,
    ) -> Any:
        """Ask the annotator for proposals on the pool (or ``ids``, or a random ``sample``).

        Only items without a proposal of the current prompt version are sent; each proposal
        is stored as it arrives, so an interrupted run loses only requests in flight and
        re-running sends only what is missing. In a notebook, ``await session.apropose()``
        does the same without blocking the kernel.

        ``batch=True`` sends the same requests through the OpenAI Batch API instead and
        returns a :class:`~llmlabel_widget.batches.BatchJob` (options ``batch_prices``,
        ``max_requests``, ``max_bytes`` per file); see :meth:`batches`.
        """
        if batch:
            return self._propose_batch(ids, sample, seed, batch_options)
        if batch_options:
            raise TypeError(f"unknown arguments {sorted(batch_options)} (batch options?)")
        return runner.run_blocking(self.apropose(ids, sample=sample, seed=seed, progress=progress))

    async def apropose(
        self,
        ids: Iterable[ItemId] | None = None,
        *,
        sample: int | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> RunReport:
        """Async twin of :meth:`propose`."""
        annotator = self._annotator()
        wanted, skipped = self._to_propose(ids, sample, seed)
        return await self._proposer.arun(annotator, wanted, skipped, progress=progress)

    # -- quality -------------------------------------------------------------------------------
    def metrics(self, **options: Any) -> pd.DataFrame:
        """Agreement figures of the LLM vs the humans, one row each with interval and n.

        Options as for :func:`llmlabel_widget.metrics.quality_table` (raters, bins, level,
        n_boot, seed); ``accuracy_pool`` is the accuracy row of :meth:`pool_estimates`.

        Examples
        --------
        >>> session.metrics().loc["cohen_kappa", ["value", "low", "high", "n"]]  # doctest: +SKIP
        """
        table = self._quality_table(**options)  # with the pool estimate (auditing.py)
        if self.team_settings() is None:
            return table
        keep = {k: v for k, v in options.items() if k in ("level", "n_boot", "seed")}
        return pd.concat([table, self.team_metrics(**keep)])  # a team: reviewer agreement too

    def report(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write the quality charts and tables to one self-contained HTML file (opens offline).

        Examples
        --------
        >>> session.report("quality.html")  # doctest: +SKIP
        """
        from .dashboard import write_report  # plotly only when asked

        appendix = self.methods().html()  # the methods section a paper can cite
        return write_report(self, path, labels=self.task, appendix=appendix, **options)

    def usage(self) -> pd.DataFrame:
        """Requests, tokens and cost per run (cache hits excluded), newest last."""
        return self.store.usage()

    # -- reading -----------------------------------------------------------------------------
    @property
    def annotations(self) -> pd.DataFrame:
        """One row per item: its state, latest human decision, latest LLM proposal, provenance.

        Columns: ``item_id, text, state, label, decision, annotator`` (the reviewer's name),
        ``decided_at, decision_seq, context`` (why the item was shown, as recorded with the
        decision), ``note, llm_label, llm_valid, llm_confidence, llm_confidence_method,
        llm_match, llm_rationale, llm_source, llm_model, prompt_version, llm_raw`` and the
        metadata columns the items were added with (one named like a column above is kept as
        ``meta_<name>``, e.g. ``meta_label``). A read of the store, like :meth:`items`.
        """
        return self._annotations()

    def _annotations(self, *, with_meta: bool = True) -> pd.DataFrame:
        return reading.read_annotations(self.store, self.task, with_meta=with_meta)

    def items(self, state: str | None = None) -> pd.DataFrame:
        """The annotations rows, optionally only those in one state.

        States: ``pending`` (no proposal, no decision), ``proposed``, ``invalid`` (the LLM
        answer could not be used), ``skipped``, ``decided``.
        """
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}; use one of {list(STATES)}")
        df = self.annotations
        return df if state is None else df[df["state"] == state].reset_index(drop=True)

    def progress(self) -> dict[str, int]:
        """Counts of items per state, plus ``total``."""
        counts = self.store.state_counts()
        out = {s: counts.get(s, 0) for s in STATES}
        out["total"] = sum(counts.values())
        return out

    def agreement(self, counts: Mapping[str, int] | None = None) -> dict[str, float | int | None]:
        """The acceptance rate: how often reviewers kept the LLM's proposal, with a 95% interval.

        Counts items whose current decision is an accept or a correction of a valid
        proposal (``n``); ``rate`` is accepts / n, or None before the first such decision.
        Cheap (one SQL query), so a view can show it after every decision; ``counts`` (from
        ``store.decision_counts()``) saves even that when the caller has them.
        """
        return reading.acceptance_rate(self.store.decision_counts() if counts is None else counts)

    # -- review order ----------------------------------------------------------------------------
    @property
    def selector(self) -> Selector:
        """The review-order selector; it starts ranking this pool on the first :meth:`queue`."""
        return self._selector

    @selector.setter
    def selector(self, value: Selector) -> None:
        old, self._selector = self._selector, value
        if old is not value:
            old.close()
        self._ranking = self._live = False
        self._start_ranking()

    def _start_ranking(self, wait: bool = True) -> None:
        """Attach the selector (it ranks the pool); from then on decisions reach it."""
        if not self._ranking:
            self._selector.attach(self, wait=wait)
            self._ranking = self._live = True

    def queue(
        self,
        n: int = 10,
        *,
        filters: QueueFilter | Mapping[str, Any] | None = None,
        wait: bool = True,
        reviewer: str | None = None,
    ) -> list[QueueItem]:
        """The next ``n`` items to review, chosen by the selector, each with its reason.

        Cheap: reads the selector's last ranking. The first call starts the selector
        (``wait=False``: it ranks in the background, pool order meanwhile). ``filters`` (a
        :class:`QueueFilter` or a dict of its fields) keeps matching items. Pass
        ``item.context()`` to :meth:`decide`. ``reviewer``: lease them (see :meth:`team`)."""
        if reviewer is not None:
            ranked = lambda k: self.queue(k, filters=filters, wait=wait)  # noqa: E731
            return self.queue_for(n, reviewer, ranked, filters)
        self._start_ranking(wait)
        if not filters:
            return self._selector.queue(n)
        f = QueueFilter.of(filters).check_labels(self.task.names)
        return queue_filter.apply(f, self.store, self._selector, n)

    def next_items(self, n: int = 1) -> list[str]:
        """The next ``n`` items to review: undecided ones in order, skipped ones last."""
        return self.store.open_items(n)

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the annotations to ``.jsonl``, ``.csv`` or ``.parquet`` (by extension).

        The file is written next to its destination and renamed into place, so an existing
        export is never left half-written, and a failed export leaves no temporary file.
        JSONL and Parquet keep every value as it is. In CSV, list and dict cells (multi-label
        labels, ``context``) are JSON, e.g. ``["a|b", "c"]``, and a text cell starting with
        ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so a
        spreadsheet shows it instead of running it as a formula (plain numbers are left
        alone); see :mod:`llmlabel_widget.export`.

        Examples
        --------
        >>> session.export("labels.csv")  # doctest: +SKIP
        PosixPath('labels.csv')
        """
        return export.write(self.annotations, Path(path))

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop background work, copy the write-ahead log into the store file, close the store.

        Cancels the selector's pending refit and drops its listeners; every decision was
        already on disk. Closing twice is harmless. ``with Session.open(...) as session:``
        closes on leaving the block.

        Examples
        --------
        >>> with Session.open("reviews.labels.db") as session:  # doctest: +SKIP
        ...     session.decide("r1", label="negative")
        """
        if not self._checkpointer.stop():
            return
        self._closed = True
        self._selector.close()
        self._give_up_turn()
        try:
            self.store.checkpoint()
        finally:
            self.store.close()
            _OPEN.discard(self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        p, where = self.progress(), str(getattr(self.store, "url", self.store.path))
        return (
            f"Session({where!r}, {p['total']} items, {p['decided']} decided, "
            f"labels={list(self.task.names)})"
        )

    # -- for views ----------------------------------------------------------------------------
    # What Labeler, Dashboard and PromptLab need, so that no view touches the store; each is
    # usable from a script too.
    @property
    def path(self) -> Path:
        """The store file this session writes to."""
        return Path(self.store.path)

    def has_item(self, item_id: ItemId) -> bool:
        """Whether the item id is in this session's pool."""
        return self.store.has_item(item_key(item_id))

    def item(self, item_id: ItemId) -> dict[str, Any] | None:
        """One item's ``text`` and ``meta`` (a dict), or None if the id is not in the pool."""
        return self.store.item(item_key(item_id))

    def is_decided(self, item_id: ItemId) -> bool:
        """Whether the item's current decision is a label (not a skip, not undone)."""
        return self.store.is_decided(item_key(item_id))

    def decision_counts(self) -> dict[str, int]:
        """Items whose current decision is each kind (``accept``, ``correct``, ``label``, ``skip``).

        One query over the event log; pass it to :meth:`agreement` to save a second one."""
        return self.store.decision_counts()

    def pool_size(self) -> int:
        """Number of items in the pool (cheap: no scan)."""
        return self.store.count_items()

    def resume_point(self, reviewer: str) -> str | None:
        """The item ``reviewer`` last had on screen, if it is still in the pool and undecided."""
        item_id = self.store.get_meta(f"labeler:{reviewer}:current")
        if item_id and self.store.has_item(item_id) and not self.store.is_decided(item_id):
            return item_id
        return None

    def set_resume_point(self, reviewer: str, item_id: ItemId) -> None:
        """Remember the item ``reviewer`` has on screen, so a restarted kernel resumes there.

        View state, not a decision: written without an fsync.
        """
        self.store.set_meta(f"labeler:{reviewer}:current", item_key(item_id), durable=False)

    def on_queue_changed(self, fn: Callable[[], None], *, remove: bool = False) -> None:
        """Call ``fn()`` (from a background thread) after each refit reorders the queue.

        ``remove=True`` stops calling it; removing from a closed session is harmless.
        """
        self._selector.on_refit(fn, remove=remove)

    def on_decision(self, fn: Callable[[Any], None], *, remove: bool = False) -> None:
        """Call ``fn(event)`` on the deciding thread after each decision, skip, note or undo."""
        self._recorder.on_decision(fn, remove=remove)

    def reader(self) -> Session:
        """A second session on the same store file, with its own connection, for reading.

        For computing off the kernel's thread (charts, estimates) while this one records
        decisions. The caller closes it.
        """
        return Session(open_store(source_of(self.store)), self.task, user=self.user)


_OPEN: weakref.WeakSet[Session] = weakref.WeakSet()  # sessions not yet closed


@atexit.register
def _checkpoint_open_sessions() -> None:
    """At exit, the .labels.db files of sessions left open hold all their work."""
    for session in list(_OPEN):
        with contextlib.suppress(Exception):  # a store closed behind our back
            session.store.checkpoint()
