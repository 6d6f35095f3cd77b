"""Session: the headless façade a notebook or script labels through.

Every capability of the widget is a method here, so anything the view does can be scripted
and tested without a browser. The Session delegates: the Store reads and writes, annotators
propose (:mod:`.runner` drives them), :mod:`.trials` runs prompt trials, :mod:`.reading`
builds the annotations frame, the selector ranks the queue.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import export, reading, runner, trials
from ._checkpoint import IdleCheckpointer
from .annotators.base import Annotator, Demo, Estimate, Proposal, RunReport
from .ingest import (
    AddPlan,
    AddReport,
    OnChanged,
    apply_add,
    check_on_changed,
    content_hash,
    item_key,
    plan_add,
    resolve_task,
    validate_frame,
)
from .metrics import quality_table
from .prompt_lab import PromptTrial
from .prompts import PromptSpec
from .reading import STATES
from .selector import QueueItem, Selector
from .store import Store
from .task import LabelTask

if TYPE_CHECKING:
    from .annotators.openai import OpenAIAnnotator

ItemId = str | int
# Once decisions pause this long, the write-ahead log is copied into the .labels.db file.
CHECKPOINT_AFTER = 1.0
__all__ = ["STATES", "AddReport", "Decision", "Session", "content_hash"]


@dataclass(frozen=True)
class Decision:
    """A recorded reviewer decision, as returned by :meth:`Session.decide`."""

    seq: int
    item_id: str
    kind: str
    labels: tuple[str, ...]
    reviewer: str

    @property
    def annotator(self) -> str:
        """Deprecated name of :attr:`reviewer` (the human who decided)."""
        return self.reviewer


def _default_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "human"


class Session:
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
        store: Store,
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
        self._ranking = False
        self._live = selector is not None
        self.user = user or _default_user()
        self.last_add: AddReport | None = None
        self._closed = False
        self._checkpointer = IdleCheckpointer(store.checkpoint, CHECKPOINT_AFTER, str(store.path))
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
        path : the store file (created if missing).
        data : items to label; every column besides ``text`` and ``id`` is kept as metadata.
        text, id : column names; ``id=None`` uses the DataFrame index.
        task : the label set; required for a new store, optional when resuming.
        annotator : the LLM annotator proposing labels (optional).
        selector : how to order the review queue (default: ``Selector()``, the hybrid
            active-learning strategy); it starts ranking on the first :meth:`queue`.
        user : default name recorded with decisions (defaults to the login name).
        """
        return _open(cls, Path(path), data, text, id, task, annotator, user, selector, on_changed)

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

    # -- decisions -------------------------------------------------------------------------
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
        key = self._existing(item_id)
        if label is None:
            raise ValueError("decide() needs a label; use accept() to take the LLM's proposal")
        labels = self.task.validate(label)
        proposal = self.store.latest_proposal(key)
        if proposal is not None and proposal["valid"]:
            kind = "accept" if set(proposal["labels"]) == set(labels) else "correct"
        else:
            kind = "label"
        who = _reviewer(reviewer, annotator)
        return self._record(key, kind, labels, who, note, proposal, context)

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
        key = self._existing(item_id)
        proposal = self.store.latest_proposal(key)
        if proposal is None or not proposal["valid"]:
            raise ValueError(f"item {key!r} has no valid LLM proposal to accept")
        labels = tuple(proposal["labels"])
        who = _reviewer(reviewer, annotator)
        return self._record(key, "accept", labels, who, note, proposal, context)

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
        key = self._existing(item_id)
        who = _reviewer(reviewer, annotator)
        return self._record(key, "skip", (), who, note, None, context)

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
        key = self._existing(item_id)
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a note must be a non-empty string")
        who = _reviewer(reviewer, annotator)
        return self._record(key, "note", (), who, text, None, context)

    def undo(
        self, *, reviewer: str | None = None, via: str | None = None, annotator: str | None = None
    ) -> dict[str, Any] | None:
        """Cancel this reviewer's most recent decision, skip or note (unlimited).

        ``via`` limits the undo to events recorded with that ``via`` in their context:
        ``undo(via="labeler")`` cancels only what was done in a Labeler, never a scripted
        ``decide()`` made under the same name. Returns the cancelled event (``seq``,
        ``item_id``, ``kind``), or None if there is nothing left to undo.

        Examples
        --------
        >>> session.undo(reviewer="alice")  # doctest: +SKIP
        {'seq': 12, 'item_id': 'r7', 'kind': 'accept'}
        """
        who = self._who(_reviewer(reviewer, annotator))
        undone = self.store.undo_last(who, via=via)
        if undone is not None:
            self._checkpointer.wrote()
            if self._live:
                self._selector.undone(undone["item_id"])
        return undone

    def _record(
        self,
        key: str,
        kind: str,
        labels: tuple[str, ...],
        reviewer: str | None,
        note: str | None,
        proposal: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
    ) -> Decision:
        who = self._who(reviewer)
        if note is not None and not isinstance(note, str):
            raise ValueError("note must be a string")
        if kind in ("accept", "correct", "label"):
            # what the learner predicted before seeing the answer (its learning curve),
            # whenever it has a prediction: after any refit, however it was started
            context = {**self._selector.prediction()(key), **(context or {})} or None
        seq = self.store.add_event(
            key,
            who,
            kind,
            labels=labels if kind not in ("skip", "note") else None,
            note=note,
            proposal_seq=None if proposal is None else proposal["seq"],
            context=context,
        )
        self._checkpointer.wrote()
        if self._live and kind == "skip":
            self._selector.skipped(key)
        elif self._live and kind != "note":
            self._selector.notify(key)
        return Decision(seq=seq, item_id=key, kind=kind, labels=labels, reviewer=who)

    def _who(self, reviewer: str | None) -> str:
        """The name a decision is recorded under: ``reviewer``, or the session's user."""
        who = self.user if reviewer is None else reviewer
        if not isinstance(who, str) or not who.strip():
            raise ValueError(f"reviewer must be a non-empty string, got {who!r}")
        return who

    def _existing(self, item_id: ItemId) -> str:
        key = item_key(item_id)
        if not self.store.has_item(key):
            raise KeyError(f"unknown item id {key!r}: it is not in this session's store")
        return key

    # -- proposals -----------------------------------------------------------------------------
    def add_proposals(self, proposals: Iterable[Mapping[str, Any]]) -> int:
        """Store LLM proposals (dicts with item_id, labels, valid, source, ...)."""
        return self._store_proposals(list(proposals), {})

    def _store_proposals(
        self, rows: Sequence[Mapping[str, Any]], responses: Mapping[str, Mapping[str, Any]]
    ) -> int:
        """The one place proposals are stored: with the responses they came from, at once."""
        added = self.store.add_proposals(rows, responses)
        self._checkpointer.wrote()
        return added

    def _persist(self, proposals: list[Proposal], responses: dict[str, dict[str, Any]]) -> None:
        self._store_proposals([p.to_row() for p in proposals], responses)

    def proposal(self, item_id: ItemId) -> dict[str, Any] | None:
        """The latest LLM proposal for an item, or None."""
        return self.store.latest_proposal(self._existing(item_id))

    # -- asking the LLM annotator ---------------------------------------------------------------
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
        """Ids still lacking a proposal of the annotator's prompt version, and how many had one."""
        keys = None if ids is None else [self._existing(i) for i in ids]
        version = self._annotator().version(self.task)
        return runner.pending_ids(self.store, version, keys, sample, seed)

    def _demos(self, annotator: object) -> list[Demo]:
        """Decided items as few-shot demonstrations, read only for an annotator that wants them."""
        if not getattr(annotator, "wants_demos", False):
            return []
        return reading.demo_pool(self._annotations(with_meta=False))

    def _items(self, ids: Sequence[str]) -> list[tuple[str, str]]:
        texts = self.store.texts(ids)
        return [(i, texts[i]) for i in ids]

    def _estimate(self, annotator: Annotator, ids: Sequence[str]) -> Estimate:
        cache = runner.PendingCache(self.store.cache_get)
        return annotator.estimate(self._items(ids), self.task, cache, self._demos(annotator))

    def estimate(
        self, ids: Iterable[ItemId] | None = None, *, sample: int | None = None, seed: int = 0
    ) -> Estimate:
        """Requests, tokens and cost that :meth:`propose` would need, before spending anything.

        Examples
        --------
        >>> session.estimate()  # doctest: +SKIP
        Estimate(items=1302, requests=1302, cached=0, prompt_tokens=..., cost=0.05, ...)
        """
        wanted, _ = self._to_propose(ids, sample, seed)
        return self._estimate(self._annotator(), wanted)

    def propose(
        self,
        ids: Iterable[ItemId] | None = None,
        *,
        sample: int | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> RunReport:
        """Ask the annotator for proposals on the pool (or ``ids``, or a random ``sample``).

        Only items without a proposal of the current prompt version are sent; each proposal
        is stored as it arrives, so an interrupted run loses only requests in flight and
        re-running sends only what is missing. In a notebook, ``await session.apropose()``
        does the same without blocking the kernel.
        """
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
        return await self._arun(annotator, wanted, skipped, progress=progress)

    async def _arun(
        self,
        annotator: Annotator,
        wanted: list[str],
        skipped: int,
        *,
        progress: bool,
        run_prefix: str = "",
        on_progress: Callable[[RunReport], None] | None = None,
    ) -> RunReport:
        return await runner.run(
            annotator,
            self._items(wanted),
            self.task,
            runner.PendingCache(self.store.cache_get),
            self._persist,
            demos=self._demos(annotator),
            skipped=skipped,
            progress=progress,
            run_prefix=run_prefix,
            on_progress=on_progress,
            on_end=self._run_ended,
        )

    def _run_ended(self, report: RunReport) -> None:
        """Remember what the server rejected; put the run's proposals into the store file."""
        if report.degraded:
            known = json.loads(self.store.get_meta("degraded") or "{}")
            self.store.set_meta("degraded", json.dumps({**known, **report.degraded}))
        self.store.checkpoint()

    # -- prompt trials (see .trials) --------------------------------------------------------------
    def try_prompt(
        self,
        *,
        instructions: str | None = None,
        descriptions: Mapping[str, str] | None = None,
        prompt: PromptSpec | None = None,
        model: str | None = None,
        shots: int | None = None,
        demonstrations: str | None = None,
        chain_of_thought: bool | None = None,
        temperature: float | None = None,
        ids: Iterable[ItemId] | None = None,
        sample: int | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> PromptTrial:
        """Run a draft prompt on the human-labelled items (or ``ids``/a ``sample``) and score it.

        Anything left as None keeps the session annotator's setting. Only items without an
        answer of this exact version are sent (an unchanged version costs nothing), and
        trial answers never replace the proposals the labeling view shows.

        Examples
        --------
        >>> trial = session.try_prompt(instructions="Sarcasm is criticism.")  # doctest: +SKIP
        >>> trial.scores["accuracy"], trial.scores["n"]                       # doctest: +SKIP
        """
        changes: dict[str, Any] = {
            "instructions": instructions,
            "descriptions": descriptions,
            "prompt": prompt,
            "model": model,
            "shots": shots,
            "demonstrations": demonstrations,
            "chain_of_thought": chain_of_thought,
            "temperature": temperature,
        }
        return runner.run_blocking(
            self.atry_prompt(ids=ids, sample=sample, seed=seed, progress=progress, **changes)
        )

    async def atry_prompt(
        self,
        *,
        ids: Iterable[ItemId] | None = None,
        sample: int | None = None,
        seed: int = 0,
        progress: bool = True,
        on_progress: Callable[[RunReport], None] | None = None,
        **changes: Any,
    ) -> PromptTrial:
        """Async twin of :meth:`try_prompt` (cancel the task to stop; finished answers stay)."""
        return await trials.atry_prompt(
            self,
            changes,
            ids=ids,
            sample=sample,
            seed=seed,
            progress=progress,
            on_progress=on_progress,
        )

    def render_prompt(self, item_id: ItemId, **changes: Any) -> list[dict[str, str]]:
        """The exact chat messages a draft prompt (same options as :meth:`try_prompt`) sends
        for one item, demonstrations included.

        Examples
        --------
        >>> session.render_prompt("r17", instructions="...", shots=2)  # doctest: +SKIP
        """
        return trials.render_prompt(self, item_id, changes)

    def estimate_prompt(
        self,
        *,
        ids: Iterable[ItemId] | None = None,
        sample: int | None = None,
        seed: int = 0,
        **changes: Any,
    ) -> Estimate:
        """What :meth:`try_prompt` with these options would send and cost, before sending."""
        return trials.estimate_prompt(self, changes, ids=ids, sample=sample, seed=seed)

    def prompt_versions(self) -> pd.DataFrame:
        """Every prompt version tried or used, with its agreement on the human labels.

        Agreement is recomputed against the current human labels, with a 95% Wilson interval,
        the number of items scored and how many of them leaked in as demonstrations.
        """
        return trials.prompt_versions(self)

    def compare(self, v1: str, v2: str) -> pd.DataFrame:
        """Items whose LLM label differs between versions ``v1`` and ``v2``: fixed or broke."""
        return trials.compare(self, v1, v2)

    def promote(self, version: str) -> OpenAIAnnotator:
        """Make ``version`` the session's annotator; ``propose()`` then fills the pool with it.

        Items the trial already answered are not sent again: their answers come from the
        response cache.
        """
        annotator = trials.promoted_annotator(self, version)
        self.annotator = annotator
        self.store.set_meta("promoted", version)
        return annotator

    # -- quality -------------------------------------------------------------------------------
    def metrics(self, **options: Any) -> pd.DataFrame:
        """Agreement figures of the LLM vs the humans, one row each with interval and n.

        Options as for :func:`llmlabel_widget.metrics.quality_table` (raters, bins, level,
        n_boot, seed).

        Examples
        --------
        >>> session.metrics().loc["cohen_kappa", ["value", "low", "high", "n"]]  # doctest: +SKIP
        """
        return quality_table(self.annotations, labels=self.task, **options)

    def report(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write the quality charts and tables to one self-contained HTML file (opens offline).

        Examples
        --------
        >>> session.report("quality.html")  # doctest: +SKIP
        """
        from .dashboard import write_report  # plotly only when asked

        return write_report(self.annotations, path, labels=self.task, **options)

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
        store = self.store
        return reading.annotations_frame(
            store.items_frame(),
            store.latest_proposals(),
            store.live_events(),
            self.task,
            with_meta=with_meta,
        )

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

    def _start_ranking(self) -> None:
        """Attach the selector (it ranks the pool); from then on decisions reach it."""
        if not self._ranking:
            self._selector.attach(self)
            self._ranking = self._live = True

    def queue(self, n: int = 10) -> list[QueueItem]:
        """The next ``n`` items to review, chosen by the selector, each with its reason.

        Cheap: it reads the selector's last ranking; refits happen in the background after
        decisions. The first call starts the selector. Pass ``item.context()`` to
        :meth:`decide` to record why it was shown.
        """
        self._start_ranking()
        return self._selector.queue(n)

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
        p = self.progress()
        return (
            f"Session({str(self.store.path)!r}, {p['total']} items, {p['decided']} decided, "
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
        """Whether the item id is in this session's pool.

        Examples
        --------
        >>> session.has_item("r1")  # doctest: +SKIP
        True
        """
        return self.store.has_item(item_key(item_id))

    def item(self, item_id: ItemId) -> dict[str, Any] | None:
        """One item's ``text`` and ``meta`` (a dict), or None if the id is not in the pool.

        Examples
        --------
        >>> session.item("r1")["text"]  # doctest: +SKIP
        'Great value.'
        """
        return self.store.item(item_key(item_id))

    def is_decided(self, item_id: ItemId) -> bool:
        """Whether the item's current decision is a label (not a skip, not undone)."""
        return self.store.is_decided(item_key(item_id))

    def decision_counts(self) -> dict[str, int]:
        """Items whose current decision is each kind (``accept``, ``correct``, ``label``, ``skip``).

        One query over the event log; pass it to :meth:`agreement` to save a second one.

        Examples
        --------
        >>> session.decision_counts()  # doctest: +SKIP
        {'accept': 12, 'skip': 2}
        """
        return self.store.decision_counts()

    def pool_size(self) -> int:
        """Number of items in the pool (cheap: no scan)."""
        return self.store.count_items()

    def resume_point(self, reviewer: str) -> str | None:
        """The item ``reviewer`` last had on screen, if it is still in the pool and undecided.

        Examples
        --------
        >>> session.resume_point("alice")  # doctest: +SKIP
        'r17'
        """
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

        Examples
        --------
        >>> session.on_queue_changed(lambda: print(session.queue(1)))  # doctest: +SKIP
        """
        if remove:
            if self._selector is not None:
                self._selector.on_refit(fn, remove=True)
            return
        self.selector.on_refit(fn)

    def reader(self) -> Session:
        """A second session on the same store file, with its own connection, for reading.

        For computing off the kernel's thread (charts, estimates) while this one records
        decisions. The caller closes it.

        Examples
        --------
        >>> with session.reader() as r:  # doctest: +SKIP
        ...     frame = r.annotations
        """
        return Session(Store(self.store.path), self.task, user=self.user)


def _open(
    cls: type[Session],
    path: Path,
    data: pd.DataFrame | None,
    text: str,
    id: str | None,
    task: LabelTask | None,
    annotator: Any,
    user: str | None,
    selector: Selector | None,
    on_changed: OnChanged,
) -> Session:
    """:meth:`Session.open`: a call that raises changes nothing."""
    if task is not None and not isinstance(task, LabelTask):
        raise TypeError(f"task must be a LabelTask, got {type(task).__name__}")
    check_on_changed(on_changed)
    checked = None if data is None else validate_frame(data, text=text, id=id)
    target = path
    is_new = not target.exists() or (target.is_file() and target.stat().st_size == 0)
    if is_new and task is None:
        raise ValueError(f"{path} is a new store: pass task=LabelTask(...)")
    # Everything that can fail is checked before the first write, and the task and the
    # new items are written in one transaction: a call that raises changes nothing.
    store = Store(target)
    session: Session | None = None
    try:
        stored = store.get_meta("task")
        task = resolve_task(stored, task, path)
        session = cls(store, task, annotator=annotator, user=user, selector=selector)
        plan = (
            None if data is None or checked is None else session._plan_add(data, checked, text, id)
        )
        changed = stored is None or task != LabelTask.from_json(stored)
        session._apply_add(plan, on_changed, task=task if changed else None)
    except BaseException:
        if session is not None:
            session.close()  # nothing was written: the checkpoint in close() is a no-op
        else:
            store.close()
        if is_new:
            store.remove_files()
        raise
    return session


def _reviewer(reviewer: str | None, annotator: str | None) -> str | None:
    """``reviewer=``, or its deprecated name ``annotator=`` (not both, unless equal)."""
    if annotator is not None and reviewer is not None and annotator != reviewer:
        raise TypeError("pass the reviewer's name once, as reviewer= (annotator= is its old name)")
    return reviewer if reviewer is not None else annotator


_OPEN: weakref.WeakSet[Session] = weakref.WeakSet()  # sessions not yet closed


@atexit.register
def _checkpoint_open_sessions() -> None:
    """At exit, the .labels.db files of sessions left open hold all their work."""
    for session in list(_OPEN):
        with contextlib.suppress(Exception):  # a store closed behind our back
            session.store.checkpoint()
