"""The Store interface: what a storage backend implements (SQLite today, PostgreSQL next).

Only a backend speaks SQL. Everything else writes through these methods and reads their
read models: DataFrames, dicts and small records. :class:`llmlabel_widget.store.Store` is
the SQLite implementation; a test checks that it provides every method listed here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd


class StoreBackend(Protocol):
    """Items, proposals, decision events, the response cache and settings, append-only."""

    path: Path

    # -- lifecycle -----------------------------------------------------------------------
    def checkpoint(self) -> bool:
        """Make every commit durable in the main file; True when nothing is left over."""

    def close(self) -> None:
        """Release the connection (the data are already durable)."""

    def remove_files(self) -> None:
        """Discard a store that a failed first open created."""

    # -- writes --------------------------------------------------------------------------
    def set_meta(self, key: str, value: str, *, durable: bool = True) -> None:
        """Store one session setting."""

    def add_items(
        self,
        rows: Iterable[tuple[str, str, str, str | None]],
        *,
        meta: Mapping[str, str] | None = None,
    ) -> int:
        """Insert ``(item_id, text, content_hash, meta_json)`` rows and settings, all or none."""

    def add_proposals(
        self,
        proposals: Iterable[Mapping[str, Any]],
        cache: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """Append proposals, and the responses they came from, in one transaction."""

    def save_prompt_version(self, version: str, spec: str) -> None:
        """Remember a prompt version's spec (first write wins)."""

    def add_event(
        self,
        item_id: str,
        annotator: str,
        kind: str,
        labels: Sequence[str] | None = None,
        note: str | None = None,
        proposal_seq: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one decision, skip or note by a reviewer; return its sequence number."""

    def undo_last(self, annotator: str, *, via: str | None = None) -> dict[str, Any] | None:
        """Cancel the reviewer's newest live event; return it, or None."""

    # -- point reads ---------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """One session setting, or None."""

    def item_hashes(self) -> dict[str, str]:
        """Every item id -> its content hash."""

    def all_ids(self) -> list[str]:
        """Every item id, in pool order."""

    def texts(self, item_ids: Sequence[str]) -> dict[str, str]:
        """Texts of the given items."""

    def has_item(self, item_id: str) -> bool:
        """Whether the item is in the pool."""

    def count_items(self) -> int:
        """Number of items in the pool."""

    def item(self, item_id: str) -> dict[str, Any] | None:
        """One item's ``seq, item_id, text, meta``."""

    def latest_proposal(self, item_id: str) -> dict[str, Any] | None:
        """An item's newest proposal (trials excluded), or None."""

    def cache_get(self, key: str) -> dict[str, Any] | None:
        """A stored model response by request key, or None."""

    def proposed_ids(self, prompt_version: str | None, *, trials: bool = False) -> set[str]:
        """Items with a proposal of this prompt version."""

    def prompt_versions(self) -> list[tuple[str, str, float]]:
        """``(version, spec_json, created_at)`` of every saved prompt version."""

    def is_decided(self, item_id: str) -> bool:
        """Whether the item's current decision is a label."""

    def count_events(self) -> int:
        """Rows in the event log, undo rows included."""

    # -- read models ---------------------------------------------------------------------
    def items_frame(self) -> pd.DataFrame:
        """``item_id, text, meta`` of every item, in pool order."""

    def latest_proposals(self) -> pd.DataFrame:
        """Each item's newest proposal, columns named ``llm_*`` (the annotations frame's)."""

    def live_events(self) -> pd.DataFrame:
        """Events not undone, oldest first."""

    def version_proposals(self, prompt_version: str) -> pd.DataFrame:
        """One prompt version's newest answer per item, trials included."""

    def usage(self) -> pd.DataFrame:
        """Requests, tokens and cost per annotator run."""

    def state_counts(self) -> dict[str, int]:
        """Items per state: the progress read model."""

    def decision_counts(self) -> dict[str, int]:
        """Items per current decision kind."""

    def open_items(self, n: int) -> list[str]:
        """The resume point: up to ``n`` open item ids in pool order, then skipped ones."""

    def filtered_items(
        self,
        *,
        labels: Sequence[str] = (),
        confidence: tuple[float, float] | None = None,
        states: Sequence[str] = (),
        text: str = "",
    ) -> list[str]:
        """The queue filter's read model: ids matching every criterion, in pool order."""

    def reviewer_history(
        self, annotator: str, n: int, item_id: str | None = None
    ) -> list[dict[str, Any]]:
        """A reviewer's decided items, newest first: ``{seq, item_id, kind, labels, time, note}``
        records."""

    def latest_note(self, annotator: str, item_id: str) -> str | None:
        """The reviewer's newest live note on the item, or None."""

    def search_items(self, query: str, n: int) -> pd.DataFrame:
        """Items whose id is ``query``, then whose text contains it: ``item_id, text, match``."""

    # -- batch jobs (the OpenAI Batch API) -----------------------------------------------
    def add_batch_job(
        self,
        job_id: str,
        spec: Mapping[str, Any],
        parts: Mapping[int, Sequence[tuple[str, str, str, Sequence[str], str]]],
    ) -> None:
        """Record a job before anything is uploaded: its spec and, per part, its requests
        ``(custom_id, item_id, cache_key, demos, line)``, all or none."""

    def update_batch_part(self, job_id: str, part: int, **fields: Any) -> None:
        """Set some of a part's ``state, file_id, batch_id, status, output_file_id,
        error_file_id, info``."""

    def batch_jobs(self) -> list[dict[str, Any]]:
        """Every batch job, oldest first: ``job_id, prompt_version, model, spec, created_at``."""

    def batch_parts(self, job_id: str) -> list[dict[str, Any]]:
        """A job's parts, each with ``requests``: its request counts per state."""

    def batch_requests(
        self, job_id: str, part: int | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        """A job's (or part's) requests, in the order they were written."""

    def batch_lines(self, job_id: str, part: int, state: str = "pending") -> list[str]:
        """The input-file lines of a part's requests in ``state``, in the order written."""

    def batch_items(self, states: Sequence[str] = ("pending",)) -> set[str]:
        """Items with a batch request in one of ``states``."""

    def ingest_batch_results(
        self,
        done: Mapping[str, Mapping[str, Any] | None],
        cache: Mapping[str, str],
        failed: Mapping[str, str],
    ) -> int:
        """Store the results of batch requests still pending, once, in one transaction:
        each done request's proposal (or None) with the ``cache`` responses (key -> JSON
        text), each failed request's reason; requests no longer pending are skipped. The
        proposals stored."""

    def mark_batch_resubmitted(self, custom_ids: Iterable[str]) -> None:
        """Failed requests sent again (a new job, or live): no longer counted as failed."""

    # -- team: leases (see llmlabel_widget.team) -------------------------------------------
    def lease(
        self,
        reviewer: str,
        candidates: Sequence[str],
        copies: Mapping[str, int],
        n: int,
        seconds: float,
        *,
        only_candidates: bool = False,
    ) -> list[str]:
        """Lease up to ``n`` items to the reviewer: their live leases (with
        ``only_candidates``, those among the candidates), then free candidates."""

    def lease_next(
        self, reviewer: str, n: int, copies_of: Callable[[str], int], seconds: float
    ) -> list[str]:
        """Lease up to ``n`` items to the reviewer in pool order (indexed queries only)."""

    def finish_lease(self, reviewer: str, item_id: str, copies: int) -> None:
        """The reviewer decided the item: hold its slot for good."""

    def reopen_lease(self, item_id: str, seconds: float) -> None:
        """An undo: a held slot without a live decision is a live lease again."""

    def second_copies(self, reviewer: str, n: int) -> list[str]:
        """Overlap items another reviewer decided whose next slot is free."""

    def leases(self) -> pd.DataFrame:
        """Every lease row: ``item_id, slot, reviewer, expires, done``."""

    def ranking_info(self) -> dict[str, Any] | None:
        """The team's shared ranking: ``{"version", "fitted_on", "size"}``, or None."""

    def claim_refit(self, who: str, hold: float, every: int) -> int | None:
        """Take or keep the refit turn; the decisions to fit on when a refit is due."""

    def release_refit(self, who: str) -> None:
        """Give up the refit turn if ``who`` holds it."""

    def write_ranking(self, rows: Sequence[tuple[str, str, str, float]], fitted_on: int) -> int:
        """Replace the shared ranking (``item_id, strategy, reason, score``); its version."""

    def ranking_top(self, reviewer: str, k: int) -> list[tuple[str, str, str, float]]:
        """The first ``k`` rows of the shared ranking the reviewer may lease."""

    # -- moving a project (llmlabel-widget copy) -------------------------------------------
    def table_rows(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """``(columns, rows)`` of a whole table, in key order."""

    def load_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert a table's rows (sequence numbers kept) in one transaction."""
