"""Session: the headless façade a notebook or script labels through.

Every capability of the widget is a method here, so anything the view does can be scripted
and tested without a browser.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import getpass
import hashlib
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import _loop, export, prompt_lab
from .annotators.base import Annotator, Estimate, RunReport
from .metrics import quality_table, wilson_interval
from .prompt_lab import PromptTrial
from .prompts import PromptSpec
from .selector import QueueItem, Selector
from .store import DECISION_KINDS, NOT_TRIAL, TRIAL_PREFIX, Store
from .task import LabelTask

if TYPE_CHECKING:
    from .annotators.openai import OpenAIAnnotator

ItemId = str | int
OnChanged = Literal["error", "keep"]
STATES = ("pending", "proposed", "invalid", "skipped", "decided")
log = logging.getLogger(__name__)
# Once decisions pause this long, the write-ahead log is copied into the .labels.db file.
CHECKPOINT_AFTER = 1.0


@dataclass(frozen=True)
class AddReport:
    """What :meth:`Session.add` did with a DataFrame."""

    added: int
    unchanged: int
    changed: tuple[str, ...]  # ids whose text differs from the stored text (kept as stored)


@dataclass(frozen=True)
class _AddPlan:
    """What adding a DataFrame would do, read before anything is written."""

    total: int
    rows: list[tuple[str, str, str, str | None]]  # new items: id, text, hash, metadata JSON
    changed: tuple[str, ...]
    fingerprint: str
    known: list[str]  # fingerprints of earlier identical adds


@dataclass(frozen=True)
class Decision:
    """A recorded human decision, as returned by :meth:`Session.decide`."""

    seq: int
    item_id: str
    kind: str
    labels: tuple[str, ...]
    annotator: str


def content_hash(text: str) -> str:
    """Stable fingerprint of an item's text, used to recognise unchanged items."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _key(item_id: object) -> str:
    """The stored form of an item id: ``7``, ``7.0`` and ``np.int64(7)`` are all ``"7"``.

    pandas turns an integer id column into floats when it gains a missing value, so a
    whole-number float must mean the same item as the integer it came from.
    """
    if item_id is None or (isinstance(item_id, float) and np.isnan(item_id)):
        raise ValueError("item id must not be None/NaN")
    if isinstance(item_id, np.generic):
        item_id = item_id.item()
    if isinstance(item_id, float):
        if not np.isfinite(item_id):
            raise ValueError(f"item id must be finite, got {item_id!r}")
        if item_id.is_integer():
            return str(int(item_id))
    if isinstance(item_id, bool):
        raise TypeError(f"item id must not be a bool, got {item_id!r}")
    key = str(item_id)
    _check_encodable(key, "item id")
    return key


def _check_encodable(text: str, what: str) -> None:
    """Refuse text that UTF-8 can not store (a lone surrogate from a broken decode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} {text[:40]!r} is not valid Unicode ({exc.reason} at position "
            f"{exc.start}); fix the text before adding it"
        ) from None


def _default_user() -> str:
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
    >>> session.decide("r1", label="negative", annotator="alice")      # doctest: +SKIP
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
        self._selector = selector
        self.user = user or _default_user()
        self.last_add: AddReport | None = None
        self._closed = False
        self._writes = threading.Condition()  # guards the three fields below
        self._last_write = 0.0
        self._checkpointer: threading.Thread | None = None
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
            active-learning strategy, created on the first call to :meth:`queue`).
        user : default name recorded with decisions (defaults to the login name).
        """
        if task is not None and not isinstance(task, LabelTask):
            raise TypeError(f"task must be a LabelTask, got {type(task).__name__}")
        _check_on_changed(on_changed)
        checked = None if data is None else _validate_frame(data, text=text, id=id)
        target = Path(path)
        is_new = not target.exists() or (target.is_file() and target.stat().st_size == 0)
        if is_new and task is None:
            raise ValueError(f"{path} is a new store: pass task=LabelTask(...)")
        # Everything that can fail is checked before the first write, and the task and the
        # new items are written in one transaction: a call that raises changes nothing.
        store = Store(target)
        session: Session | None = None
        try:
            stored = store.get_meta("task")
            old = None if stored is None else LabelTask.from_json(stored)
            if task is None:
                task = old
            elif old is not None and task != old:
                _check_compatible(old, task)
            if task is None:  # an empty file left by an earlier failed open
                raise ValueError(f"{path} is a new store: pass task=LabelTask(...)")
            session = cls(store, task, annotator=annotator, user=user, selector=selector)
            plan = (
                None
                if data is None or checked is None
                else session._plan_add(data, checked, text, id)
            )
            session._apply_add(plan, on_changed, task=None if task == old else task)
        except BaseException:
            if session is not None:
                session.close()  # nothing was written: the checkpoint in close() is a no-op
            else:
                store.close()
            if is_new:
                store.remove_files()
            raise
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
        _check_on_changed(on_changed)
        checked = _validate_frame(data, text=text, id=id)
        return self._apply_add(self._plan_add(data, checked, text, id), on_changed)

    def _plan_add(
        self,
        data: pd.DataFrame,
        checked: tuple[list[str], list[str]],
        text: str,
        id: str | None,
    ) -> _AddPlan:
        """Read which rows are new, unchanged or changed; write nothing."""
        ids, texts = checked
        hashes = [content_hash(t) for t in texts]
        # Re-running the same cell is the common case: if exactly these rows were stored
        # before, skip reading every stored hash (items are never changed or deleted).
        fingerprint = hashlib.blake2b(
            "\n".join(ids).encode() + b"\0" + "".join(hashes).encode(), digest_size=16
        ).hexdigest()
        known = (self.store.get_meta("data_fingerprints") or "").split()
        if fingerprint in known:
            return _AddPlan(len(ids), [], (), fingerprint, known)
        existing = self.store.item_hashes()
        new_mask = np.fromiter((i not in existing for i in ids), bool, len(ids))
        _check_legacy_float_ids(existing, [i for i, new in zip(ids, new_mask, strict=True) if new])
        changed = tuple(
            i
            for i, h, new in zip(ids, hashes, new_mask, strict=True)
            if not new and existing[i] != h
        )
        extra = [c for c in data.columns if c not in (text, id)]
        new_positions = np.flatnonzero(new_mask)
        metas: list[str | None] = [None] * len(new_positions)
        if extra and len(new_positions):
            lines = (
                data.iloc[new_positions][extra]
                .to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
                .splitlines()
            )
            metas = list(lines)
        rows = [(ids[p], texts[p], hashes[p], m) for p, m in zip(new_positions, metas, strict=True)]
        return _AddPlan(len(ids), rows, changed, fingerprint, known)

    def _apply_add(
        self, plan: _AddPlan | None, on_changed: OnChanged, *, task: LabelTask | None = None
    ) -> AddReport:
        """Write the new rows (and a changed task) in one transaction, or raise first."""
        if plan is not None and plan.changed and on_changed == "error":
            shown = ", ".join(repr(c) for c in plan.changed[:5])
            more = f" and {len(plan.changed) - 5} more" if len(plan.changed) > 5 else ""
            raise ValueError(
                f"{len(plan.changed)} item(s) changed text under the same id: {shown}{more}. "
                "Nothing was added. Give changed rows new ids, or pass on_changed='keep' to "
                "keep the stored text."
            )
        meta = {} if task is None else {"task": task.to_json()}
        if plan is not None and not plan.changed and plan.fingerprint not in plan.known:
            meta["data_fingerprints"] = " ".join([*plan.known[-9:], plan.fingerprint])
        rows = [] if plan is None else plan.rows
        added = self.store.add_items(rows, meta=meta) if rows or meta else 0
        if rows or meta:
            self._wrote()
        if plan is None:
            return AddReport(added=0, unchanged=0, changed=())
        report = AddReport(
            added=added,
            unchanged=plan.total - len(plan.rows) - len(plan.changed),
            changed=plan.changed,
        )
        self.last_add = report
        return report

    # -- decisions -------------------------------------------------------------------------
    def decide(
        self,
        item_id: ItemId,
        label: str | Sequence[str] | None = None,
        *,
        annotator: str | None = None,
        note: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Record a human label for an item; durable when this returns.

        The decision is recorded as ``accept`` when it equals the item's latest valid LLM
        proposal, ``correct`` when it differs, and ``label`` when there was no proposal.
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
        return self._record(key, kind, labels, annotator, note, proposal, context)

    def accept(
        self,
        item_id: ItemId,
        *,
        annotator: str | None = None,
        note: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Accept the item's latest valid LLM proposal as the human label."""
        key = self._existing(item_id)
        proposal = self.store.latest_proposal(key)
        if proposal is None or not proposal["valid"]:
            raise ValueError(f"item {key!r} has no valid LLM proposal to accept")
        labels = tuple(proposal["labels"])
        return self._record(key, "accept", labels, annotator, note, proposal, context)

    def skip(
        self,
        item_id: ItemId,
        *,
        annotator: str | None = None,
        note: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Skip an item (it goes to the back of the queue)."""
        key = self._existing(item_id)
        return self._record(key, "skip", (), annotator, note, None, context)

    def note(
        self,
        item_id: ItemId,
        text: str,
        *,
        annotator: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Attach a free-text note to an item (undoable like a decision)."""
        key = self._existing(item_id)
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a note must be a non-empty string")
        return self._record(key, "note", (), annotator, text, None, context)

    def undo(
        self, *, annotator: str | None = None, via: str | None = None
    ) -> dict[str, Any] | None:
        """Cancel this annotator's most recent decision, skip or note (unlimited).

        ``via`` limits the undo to events recorded with that ``via`` in their context:
        ``undo(via="labeler")`` cancels only what was done in a Labeler, never a scripted
        ``decide()`` made under the same name. Returns the cancelled event (``seq``,
        ``item_id``, ``kind``), or None if there is nothing left to undo.

        Examples
        --------
        >>> session.undo(annotator="alice")  # doctest: +SKIP
        {'seq': 12, 'item_id': 'r7', 'kind': 'accept'}
        """
        undone = self.store.undo_last(self._reviewer(annotator), via=via)
        if undone is not None:
            self._wrote()
        if undone is not None and self._selector is not None:
            self._selector.undone(undone["item_id"])
        return undone

    def _record(
        self,
        key: str,
        kind: str,
        labels: tuple[str, ...],
        annotator: str | None,
        note: str | None,
        proposal: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
    ) -> Decision:
        who = self._reviewer(annotator)
        if note is not None and not isinstance(note, str):
            raise ValueError("note must be a string")
        if self._selector is not None and kind in ("accept", "correct", "label"):
            # what the learner predicted before seeing the answer: its learning curve
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
        self._wrote()
        if self._selector is not None and kind == "skip":
            self._selector.skipped(key)
        elif self._selector is not None and kind != "note":
            self._selector.notify(key)
        return Decision(seq=seq, item_id=key, kind=kind, labels=labels, annotator=who)

    def _reviewer(self, annotator: str | None) -> str:
        """The name a decision is recorded under: ``annotator``, or the session's user."""
        who = self.user if annotator is None else annotator
        if not isinstance(who, str) or not who.strip():
            raise ValueError(f"annotator must be a non-empty string, got {who!r}")
        return who

    def _existing(self, item_id: ItemId) -> str:
        key = _key(item_id)
        if not self.store.has_item(key):
            raise KeyError(f"unknown item id {key!r}: it is not in this session's store")
        return key

    # -- proposals (written by annotators) ---------------------------------------------------
    def add_proposals(self, proposals: Iterable[Mapping[str, Any]]) -> int:
        """Store LLM proposals (dicts with item_id, labels, valid, source, ...)."""
        added = self.store.add_proposals(proposals)
        self._wrote()
        return added

    def proposal(self, item_id: ItemId) -> dict[str, Any] | None:
        """The latest LLM proposal for an item, or None."""
        return self.store.latest_proposal(self._existing(item_id))

    # -- asking the LLM -----------------------------------------------------------------------
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
        version = self._annotator().version(self)
        have = self.store.proposed_ids(version)
        if ids is None:
            wanted = [i for i in self.store.all_ids() if i not in have]
            skipped = self.store.count_items() - len(wanted)
        else:
            keys = [self._existing(i) for i in ids]
            wanted = [k for k in dict.fromkeys(keys) if k not in have]
            skipped = len(set(keys)) - len(wanted)
        if sample is not None and sample < len(wanted):
            rng = np.random.default_rng(seed)
            wanted = [wanted[i] for i in sorted(rng.choice(len(wanted), sample, replace=False))]
        return wanted, skipped

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
        return self._annotator().estimate(self, wanted)

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
        return _run_blocking(self.apropose(ids, sample=sample, seed=seed, progress=progress))

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
        run_id = run_prefix + uuid.uuid4().hex[:12]
        report = RunReport(run_id=run_id, requested=len(wanted), skipped=skipped)
        bar = _progress_bar(len(wanted), annotator) if progress else None

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

        try:
            await annotator.arun(self, wanted, report, update)
        except (asyncio.CancelledError, KeyboardInterrupt):
            report.stopped = "interrupted"
            raise
        finally:
            if bar is not None:
                bar.close()
            if report.degraded:
                known = json.loads(self.store.get_meta("degraded") or "{}")
                self.store.set_meta("degraded", json.dumps({**known, **report.degraded}))
            self.store.checkpoint()  # the proposals are in the .labels.db file, not only the WAL
        return report

    # -- prompt trials ------------------------------------------------------------------------
    def _trial_annotator(self, changes: Mapping[str, Any]) -> OpenAIAnnotator:
        from .annotators.openai import OpenAIAnnotator

        base = self._annotator()
        if not isinstance(base, OpenAIAnnotator):
            raise TypeError(
                "prompt trials need a live model: open the session with "
                "annotator=OpenAIAnnotator(...) (any OpenAI-compatible endpoint, or the "
                "loopback server in llmlabel_widget.testing for a simulated one)"
            )
        spec_fields = {"shots", "demonstrations", "chain_of_thought", "temperature", "seed"}
        spec_changes = {k: v for k, v in changes.items() if k in spec_fields and v is not None}
        other = {k: v for k, v in changes.items() if k not in spec_fields and v is not None}
        prompt = other.pop("prompt", base.prompt)
        if spec_changes:
            prompt = dataclasses.replace(prompt, **spec_changes)
        return base.variant(prompt=prompt, **other)

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
        return _run_blocking(
            self.atry_prompt(
                instructions=instructions,
                descriptions=descriptions,
                prompt=prompt,
                model=model,
                shots=shots,
                demonstrations=demonstrations,
                chain_of_thought=chain_of_thought,
                temperature=temperature,
                ids=ids,
                sample=sample,
                seed=seed,
                progress=progress,
            )
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
        annotator = self._trial_annotator(changes)
        version = annotator.version(self)
        spec = annotator.spec(self)
        self.store.save_prompt_version(version, json.dumps(spec, sort_keys=True))
        human = self._trial_items(ids, sample, seed)
        have = self.store.proposed_ids(version, trials=True)
        wanted = [i for i in human["item_id"] if i not in have]
        report = await self._arun(
            annotator,
            wanted,
            len(human) - len(wanted),
            progress=progress,
            run_prefix=TRIAL_PREFIX,
            on_progress=on_progress,
        )
        scores, items = prompt_lab.score(self.store.version_proposals(version), human)
        return PromptTrial(version=version, spec=spec, report=report, scores=scores, items=items)

    def render_prompt(self, item_id: ItemId, **changes: Any) -> list[dict[str, str]]:
        """The exact chat messages a draft prompt (same options as :meth:`try_prompt`) sends
        for one item, demonstrations included.

        Examples
        --------
        >>> session.render_prompt("r17", instructions="...", shots=2)  # doctest: +SKIP
        """
        key = self._existing(item_id)
        annotator = self._trial_annotator(changes)
        text = self.store.texts([key])[key]
        return annotator._messages(self, annotator._picker(self), key, text)[0]

    def estimate_prompt(
        self,
        *,
        ids: Iterable[ItemId] | None = None,
        sample: int | None = None,
        seed: int = 0,
        **changes: Any,
    ) -> Estimate:
        """What :meth:`try_prompt` with these options would send and cost, before sending."""
        annotator = self._trial_annotator(changes)
        human = self._trial_items(ids, sample, seed)
        have = self.store.proposed_ids(annotator.version(self), trials=True)
        return annotator.estimate(self, [i for i in human["item_id"] if i not in have])

    def _trial_items(
        self, ids: Iterable[ItemId] | None, sample: int | None, seed: int
    ) -> pd.DataFrame:
        human = self._human_labels()
        if ids is not None:
            keys = {self._existing(i) for i in ids}
            human = human[human["item_id"].isin(keys)]
        if sample is not None and sample < len(human):
            human = human.sample(n=sample, random_state=seed).sort_index()
        return human

    def _human_labels(self) -> pd.DataFrame:
        ann = self._annotations(with_meta=False)
        decided = ann[ann["state"] == "decided"]
        return decided[["item_id", "text", "label"]].reset_index(drop=True)

    def prompt_versions(self) -> pd.DataFrame:
        """Every prompt version tried or used, with its agreement on the human labels.

        Agreement is recomputed against the current human labels, with a 95% Wilson interval,
        the number of items scored and how many of them leaked in as demonstrations.
        """
        human = self._human_labels()
        promoted = self.store.get_meta("promoted")
        rows = []
        for version, spec_json, created in self.store.prompt_versions():
            spec = json.loads(spec_json)
            scores, _ = prompt_lab.score(self.store.version_proposals(version), human)
            rows.append(
                {
                    "version": version,
                    "created": pd.Timestamp(created, unit="s", tz="UTC"),
                    "model": spec.get("model"),
                    "strategy": spec.get("strategy"),
                    "instructions": spec.get("instructions"),
                    "n": scores["n"],
                    "agreement": scores["accuracy"],
                    "low": scores["low"],
                    "high": scores["high"],
                    "kappa": scores["kappa"],
                    "invalid": scores["invalid"],
                    "leaked": scores["leaked"],
                    "promoted": version == promoted,
                }
            )
        return pd.DataFrame(rows)

    def compare(self, v1: str, v2: str) -> pd.DataFrame:
        """Items whose LLM label differs between versions ``v1`` and ``v2``: fixed or broke."""
        human = self._human_labels()
        known = {v for v, _, _ in self.store.prompt_versions()}
        for v in (v1, v2):
            if v not in known:
                raise ValueError(f"unknown prompt version {v!r}; see session.prompt_versions()")
        _, a = prompt_lab.score(self.store.version_proposals(v1), human)
        _, b = prompt_lab.score(self.store.version_proposals(v2), human)
        return prompt_lab.compare(a, b)

    def promote(self, version: str) -> OpenAIAnnotator:
        """Make ``version`` the session's annotator; ``propose()`` then fills the pool with it.

        Items the trial already answered are not sent again: their answers come from the
        response cache.
        """
        specs = {v: json.loads(s) for v, s, _ in self.store.prompt_versions()}
        if version not in specs:
            raise ValueError(f"unknown prompt version {version!r}; see session.prompt_versions()")
        spec = specs[version]
        annotator = self._trial_annotator(
            {
                "model": spec["model"],
                "prompt": PromptSpec(**spec["prompt"]),
                "instructions": spec["instructions"],
                "descriptions": spec["descriptions"],
                "confidence": spec["confidence"],
                "samples": spec["samples"],
            }
        )
        if annotator.version(self) != version:
            raise ValueError(f"version {version!r} can not be rebuilt with this session's task")
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
        return self.store.frame(
            "SELECT run_id, model, prompt_version, "
            "SUM(NOT cached) AS requests, SUM(cached) AS cached, "
            "SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, "
            "SUM(cost) AS cost, MIN(created_at) AS started FROM proposals "
            "WHERE source != 'recorded' GROUP BY run_id ORDER BY started"
        )

    # -- reading -----------------------------------------------------------------------------
    @property
    def annotations(self) -> pd.DataFrame:
        """One row per item: its state, latest human decision, latest LLM proposal, provenance.

        Columns: ``item_id, text, state, label, decision, annotator, decided_at,
        decision_seq, context`` (why the item was shown, as recorded with the decision), ``note,
        llm_label, llm_valid, llm_confidence, llm_confidence_method, llm_match,
        llm_rationale, llm_source, llm_model, prompt_version, llm_raw`` and the metadata
        columns the items were added with (one named like a column above is kept as
        ``meta_<name>``, e.g. ``meta_label``).
        """
        return self._annotations()

    def _annotations(self, *, with_meta: bool = True) -> pd.DataFrame:
        items = self.store.frame("SELECT item_id, text, meta FROM items ORDER BY seq")
        props = self.store.frame(
            "SELECT p.item_id, p.labels AS llm_label, p.valid AS llm_valid, "
            "p.confidence AS llm_confidence, p.confidence_method AS llm_confidence_method, "
            "p.match AS llm_match, p.rationale AS llm_rationale, p.source AS llm_source, "
            "p.model AS llm_model, p.prompt_version, p.raw AS llm_raw, "
            "p.problem AS llm_problem FROM proposals p "
            f"JOIN (SELECT MAX(seq) AS m FROM proposals WHERE {NOT_TRIAL} GROUP BY item_id) l "
            "ON p.seq = l.m"
        )
        events = self.store.live_events()
        decisions = events[events["kind"].isin(DECISION_KINDS)]
        latest = decisions.drop_duplicates("item_id", keep="last")
        latest = latest.rename(
            columns={"kind": "decision", "labels": "label", "seq": "decision_seq"}
        )
        latest["decided_at"] = pd.to_datetime(latest["created_at"], unit="s", utc=True)
        notes = events[events["note"].notna()].drop_duplicates("item_id", keep="last")

        out = items[["item_id", "text"]].copy()
        out = out.merge(
            latest[
                [
                    "item_id",
                    "label",
                    "decision",
                    "annotator",
                    "decided_at",
                    "decision_seq",
                    "context",
                ]
            ],
            on="item_id",
            how="left",
        )
        out = out.merge(notes[["item_id", "note"]], on="item_id", how="left")
        out = out.merge(props, on="item_id", how="left")
        out["label"] = self._labels_column(out["label"])
        out["llm_label"] = self._labels_column(out["llm_label"])
        out["llm_valid"] = out["llm_valid"].astype("boolean")
        state = np.full(len(out), "pending", dtype=object)
        state[out["llm_valid"].fillna(False).to_numpy(bool)] = "proposed"
        state[(out["llm_valid"] == False).fillna(False).to_numpy(bool)] = "invalid"  # noqa: E712
        state[(out["decision"] == "skip").to_numpy(bool)] = "skipped"
        state[out["decision"].isin(["accept", "correct", "label"]).to_numpy(bool)] = "decided"
        out.insert(2, "state", state)
        out["decision_seq"] = out["decision_seq"].astype("Int64")
        out["context"] = out["context"].map(json.loads, na_action="ignore").astype(object)
        if with_meta and items["meta"].notna().any():
            lines = items["meta"].fillna("{}")
            meta = pd.read_json(_lines(lines), lines=True, dtype=False)
            meta = meta.rename(columns=_meta_names(meta.columns, out.columns))
            out = pd.concat([out, meta.set_index(out.index)], axis=1)
        return out

    def _labels_column(self, col: pd.Series) -> pd.Series:
        """JSON label lists -> a label string (single-label) or a list (multi-label)."""

        def convert(v: object) -> object:
            if not isinstance(v, str):
                return None
            labels = json.loads(v)
            if self.task.multi_label:
                return labels
            return labels[0] if labels else None

        return col.map(convert, na_action="ignore").astype(object)

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
        """How often humans kept the LLM's proposal, with a 95% Wilson interval.

        Counts items whose current decision is an accept or a correction of a valid
        proposal (``n``); ``rate`` is accepts / n, or None before the first such decision.
        Cheap (one SQL query), so a view can show it after every decision; ``counts`` (from
        ``store.decision_counts()``) saves even that when the caller has them.
        """
        if counts is None:
            counts = self.store.decision_counts()
        k, n = counts.get("accept", 0), counts.get("accept", 0) + counts.get("correct", 0)
        if n == 0:
            return {"rate": None, "low": None, "high": None, "n": 0}
        low, high = wilson_interval(k, n)
        return {"rate": k / n, "low": low, "high": high, "n": n}

    @property
    def selector(self) -> Selector:
        """The review-order selector (created and fitted on first use)."""
        if self._selector is None:
            self._selector = Selector()
        if self._selector._session is not self:
            self._selector.attach(self)
        return self._selector

    @selector.setter
    def selector(self, value: Selector) -> None:
        self._selector = value
        value.attach(self)

    def queue(self, n: int = 10) -> list[QueueItem]:
        """The next ``n`` items to review, chosen by the selector, each with its reason.

        Cheap: it reads the selector's last ranking; refits happen in the background after
        decisions. Pass ``item.context()`` to :meth:`decide` to record why it was shown.
        """
        return self.selector.queue(n)

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
        return export.write(self.annotations, path)

    # -- lifecycle ----------------------------------------------------------------------------
    def _wrote(self) -> None:
        """Something was stored: checkpoint once writes pause for ``CHECKPOINT_AFTER`` s.

        One thread per burst of writes, not per write: it waits until the writes stop (the
        reviewer paused, or the kernel went idle), so the .labels.db file alone holds them.
        """
        with self._writes:
            self._last_write = time.monotonic()
            if self._checkpointer is None and not self._closed:
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_when_idle, name="llmlabel-checkpoint", daemon=True
                )
                self._checkpointer.start()

    def _checkpoint_when_idle(self) -> None:
        while True:
            with self._writes:
                while not self._closed:
                    pause = self._last_write + CHECKPOINT_AFTER - time.monotonic()
                    if pause <= 0:
                        break
                    self._writes.wait(pause)
                if self._closed:  # close() checkpoints itself
                    self._checkpointer = None
                    return
                seen = self._last_write
            try:
                self.store.checkpoint()
            except Exception:  # e.g. a full disk: the next write reports it to the reviewer
                log.exception("could not checkpoint %s", self.store.path)
            with self._writes:
                if self._last_write == seen or self._closed:  # else: a write came meanwhile
                    self._checkpointer = None
                    return

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
        with self._writes:
            if self._closed:
                return
            self._closed = True
            checkpointer = self._checkpointer
            self._writes.notify_all()
        if checkpointer is not None:
            checkpointer.join()
        if self._selector is not None:
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
        return self.store.has_item(_key(item_id))

    def item(self, item_id: ItemId) -> dict[str, Any] | None:
        """One item's ``text`` and ``meta`` (a dict), or None if the id is not in the pool.

        Examples
        --------
        >>> session.item("r1")["text"]  # doctest: +SKIP
        'Great value.'
        """
        return self.store.item(_key(item_id))

    def is_decided(self, item_id: ItemId) -> bool:
        """Whether the item's current decision is a label (not a skip, not undone)."""
        return self.store.is_decided(_key(item_id))

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
        self.store.set_meta(f"labeler:{reviewer}:current", _key(item_id), durable=False)

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


_OPEN: weakref.WeakSet[Session] = weakref.WeakSet()  # sessions not yet closed


@atexit.register
def _checkpoint_open_sessions() -> None:
    """At exit, the .labels.db files of sessions left open hold all their work."""
    for session in list(_OPEN):
        with contextlib.suppress(Exception):  # a store closed behind our back
            session.store.checkpoint()


def _run_blocking(coro: Coroutine[Any, Any, RunReport]) -> RunReport:
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


def _meta_names(meta: Iterable[str], taken: Iterable[str]) -> dict[str, str]:
    """New names for metadata columns that collide with annotation columns: ``meta_<name>``.

    A user's ``label`` or ``state`` column is kept as ``meta_label`` / ``meta_state`` (with
    more ``meta_`` prefixes while that name is taken too), never dropped.
    """
    meta, taken = list(meta), set(taken)
    used = taken | set(meta)
    renames: dict[str, str] = {}
    for col in meta:
        if col in taken:
            new = f"meta_{col}"
            while new in used:
                new = f"meta_{new}"
            used.add(new)
            renames[col] = new
    return renames


def _lines(values: pd.Series) -> Any:
    from io import StringIO

    return StringIO("\n".join(values))


def _validate_frame(data: object, *, text: str, id: str | None) -> tuple[list[str], list[str]]:
    """Check a DataFrame of items; return (ids, texts) or raise naming the problem."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.empty:
        raise ValueError("data is empty: the DataFrame has no rows")
    if text not in data.columns:
        raise ValueError(f"text column {text!r} not found; columns are {list(data.columns)}")
    if id is not None and id not in data.columns:
        raise ValueError(
            f"id column {id!r} not found; columns are {list(data.columns)} "
            "(pass id=None to use the DataFrame index)"
        )
    raw_ids = data.index if id is None else data[id]
    if pd.isna(raw_ids).any():
        bad = np.flatnonzero(pd.isna(raw_ids))[:5].tolist()
        raise ValueError(f"id column {id!r} has missing values at rows {bad}")
    ids = [_key(v) for v in raw_ids]
    dupes = pd.Series(ids).duplicated(keep=False)
    if dupes.any():
        shown = sorted(set(pd.Series(ids)[dupes]))[:5]
        raise ValueError(f"duplicate ids in column {id!r}: {shown}")
    col = data[text]
    if isinstance(col.dtype, pd.StringDtype):  # pandas' string dtype: only NA can be wrong
        not_str = col.isna().to_numpy(bool)
    else:
        not_str = ~col.map(lambda v: isinstance(v, str)).to_numpy(bool)
    if not_str.any():
        rows = np.flatnonzero(not_str)[:5]
        examples = [f"{ids[r]!r}: {col.iloc[r]!r}" for r in rows]
        raise ValueError(
            f"text column {text!r} has {int(not_str.sum())} value(s) that are not strings "
            f"(NaN/None/numbers), e.g. {'; '.join(examples)}"
        )
    texts = col.tolist()
    try:  # one pass in C; only on failure look for the culprit
        "\n".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        for item_id, value in zip(ids, texts, strict=True):
            _check_encodable(value, f"the text of item {item_id!r}")
    return ids, texts


def _check_on_changed(on_changed: object) -> None:
    if on_changed not in ("error", "keep"):
        raise ValueError(f"on_changed must be 'error' or 'keep', got {on_changed!r}")


def _check_legacy_float_ids(existing: Mapping[str, str], new_ids: Sequence[str]) -> None:
    """Refuse ids that an older release stored in float form ("7.0" for item 7)."""
    if not new_ids:
        return
    as_float = {i[:-2]: i for i in existing if i.endswith(".0") and i[:-2].lstrip("-").isdigit()}
    clash = [(i, as_float[i]) for i in new_ids if i in as_float]
    if clash:
        shown = ", ".join(f"{new!r} (stored as {old!r})" for new, old in clash[:5])
        raise ValueError(
            f"{len(clash)} id(s) match items stored with a float id: {shown}. Nothing was "
            "added. Pass those ids as strings in the stored form "
            "(df[id] = df[id].map('{:.1f}'.format)) or start a new store."
        )


def _check_compatible(old: LabelTask, new: LabelTask) -> None:
    """Instructions and descriptions may change; labels already used must stay."""
    removed = [n for n in old.names if n not in new.names]
    if removed:
        raise ValueError(
            f"the store's task has labels {list(old.names)}; the new task drops {removed}. "
            "Labels may be added or re-described, not removed."
        )
    if old.multi_label != new.multi_label:
        raise ValueError("the store's task and the new task differ in multi_label")
