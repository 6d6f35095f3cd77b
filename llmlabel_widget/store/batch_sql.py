"""Batch jobs in the store (both backends): each job's files (parts), its requests, and ingesting
their results.

A job is split into parts, one input file and one server batch each. A part is written here
before anything is uploaded (its requests with their bodies), then gets its file id, then
its batch id. Its results are stored with the proposals in one transaction, which also marks
the part ingested, so results are stored exactly once. Tables are created on first use, so
stores made before batch jobs existed open unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

_BATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    job_id TEXT PRIMARY KEY,
    prompt_version TEXT,
    model TEXT,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_parts (
    job_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    state TEXT NOT NULL,
    file_id TEXT,
    batch_id TEXT,
    status TEXT,
    output_file_id TEXT,
    error_file_id TEXT,
    info TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (job_id, part)
);
CREATE TABLE IF NOT EXISTS batch_requests (
    custom_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    demos TEXT,
    body TEXT,
    state TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS batch_requests_part ON batch_requests(job_id, part, state);
CREATE INDEX IF NOT EXISTS batch_requests_item ON batch_requests(item_id, state);
"""
_PART_FIELDS = ("state", "file_id", "batch_id", "status", "output_file_id", "error_file_id", "info")


class BatchSQL:
    """The batch-job methods, written once for both backends (``?`` becomes the backend's
    placeholder); a backend gives its table definitions and its insertion order column."""

    _P = "?"  # the placeholder
    _ORDER = "rowid"  # the requests' insertion order
    _BATCH_SCHEMA = _BATCH_SCHEMA
    _batch_ready = False

    if TYPE_CHECKING:  # the backend's own

        def transaction(self) -> Any: ...

        def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

        @staticmethod
        def _insert_proposals(
            tx: Any,
            proposals: Iterable[Mapping[str, Any]],
            cache: Mapping[str, Mapping[str, Any]] | None,
        ) -> int: ...

    def _batch_tables_exist(self) -> bool:
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE name = 'batch_jobs'"))

    def _q(self, sql: str) -> str:
        return sql.replace("?", self._P)

    def _batch_conn(self) -> None:
        """Create the batch tables on first use (stores made before batch jobs open as-is)."""
        if not self._batch_ready:
            with self.transaction() as tx:
                for statement in self._BATCH_SCHEMA.split(";"):
                    if statement.strip():
                        tx.execute(statement)
            self._batch_ready = True

    def add_batch_job(
        self,
        job_id: str,
        spec: Mapping[str, Any],
        parts: Mapping[int, Sequence[tuple[str, str, str, Sequence[str], str]]],
    ) -> None:
        """Record a job before anything is uploaded: its spec and, per part, its requests
        ``(custom_id, item_id, cache_key, demos, line)``, all or none."""
        self._batch_conn()
        now, q = time.time(), self._q
        with self.transaction() as tx:
            tx.execute(
                q("INSERT INTO batch_jobs VALUES (?, ?, ?, ?, ?)"),
                (job_id, spec.get("prompt_version"), spec.get("model"), json.dumps(spec), now),
            )
            for part, requests in parts.items():
                tx.execute(
                    q("INSERT INTO batch_parts (job_id, part, state, updated_at) VALUES (?,?,?,?)"),
                    (job_id, part, "written", now),
                )
                tx.executemany(
                    q(
                        "INSERT INTO batch_requests (custom_id, job_id, part, item_id, cache_key, "
                        "demos, body, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')"
                    ),
                    [
                        (
                            cid,
                            job_id,
                            part,
                            item,
                            key,
                            json.dumps(list(demos)) if demos else None,
                            b,
                        )
                        for cid, item, key, demos, b in requests
                    ],
                )

    def update_batch_part(self, job_id: str, part: int, **fields: Any) -> None:
        """Set some of a part's ``state, file_id, batch_id, status, output_file_id,
        error_file_id, info`` (info: a dict, stored as JSON)."""
        unknown = set(fields) - set(_PART_FIELDS)
        if unknown:
            raise TypeError(f"unknown batch part fields {sorted(unknown)}")
        if "info" in fields:
            fields["info"] = json.dumps(fields["info"])
        names = ", ".join(f"{name} = ?" for name in fields)  # names checked above
        self._batch_conn()
        with self.transaction() as tx:
            tx.execute(
                self._q(
                    f"UPDATE batch_parts SET {names}, updated_at = ? WHERE job_id = ? AND part = ?"
                ),
                (*fields.values(), time.time(), job_id, part),
            )

    def batch_jobs(self) -> list[dict[str, Any]]:
        """Every batch job, oldest first: ``job_id, prompt_version, model, spec, created_at``."""
        if not self._batch_ready and not self._batch_tables_exist():
            return []  # a store that never had a batch job: read, don't create
        rows = self.query(
            "SELECT job_id, prompt_version, model, spec, created_at FROM batch_jobs "
            "ORDER BY created_at, job_id"
        )
        return [
            {
                "job_id": r[0],
                "prompt_version": r[1],
                "model": r[2],
                "spec": json.loads(r[3]),
                "created_at": r[4],
            }
            for r in rows
        ]

    def batch_parts(self, job_id: str) -> list[dict[str, Any]]:
        """A job's parts with their request counts per state (``pending, done, failed,
        resubmitted``)."""
        self._batch_conn()
        names = ("job_id", "part", *_PART_FIELDS, "updated_at")
        rows = self.query(
            self._q(f"SELECT {', '.join(names)} FROM batch_parts WHERE job_id = ? ORDER BY part"),
            (job_id,),
        )
        parts = [dict(zip(names, row, strict=True)) for row in rows]
        counts = self.query(
            self._q(
                "SELECT part, state, COUNT(*) FROM batch_requests WHERE job_id = ? "
                "GROUP BY part, state"
            ),
            (job_id,),
        )
        for p in parts:
            p["info"] = json.loads(p["info"]) if p["info"] else {}
            p["requests"] = {s: n for part, s, n in counts if part == p["part"]}
        return parts

    def batch_requests(
        self, job_id: str, part: int | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        """A job's (or part's) requests: ``custom_id, part, item_id, cache_key, demos, state,
        error``, in the order they were written."""
        names = ("custom_id", "part", "item_id", "cache_key", "demos", "state", "error")
        sql = f"SELECT {', '.join(names)} FROM batch_requests WHERE job_id = ?"
        params: list[Any] = [job_id]
        if part is not None:
            sql, params = sql + " AND part = ?", [*params, part]
        if state is not None:
            sql, params = sql + " AND state = ?", [*params, state]
        self._batch_conn()
        rows = [
            dict(zip(names, row, strict=True))
            for row in self.query(self._q(f"{sql} ORDER BY {self._ORDER}"), params)
        ]
        for r in rows:
            r["demos"] = tuple(json.loads(r["demos"])) if r["demos"] else ()
        return rows

    def batch_lines(self, job_id: str, part: int, state: str = "pending") -> list[str]:
        """The input-file lines of a part's requests in ``state``, in the order written."""
        self._batch_conn()
        rows = self.query(
            self._q(
                "SELECT body FROM batch_requests WHERE job_id = ? AND part = ? AND state = ? "
                f"AND body IS NOT NULL ORDER BY {self._ORDER}"
            ),
            (job_id, part, state),
        )
        return [r[0] for r in rows]

    def batch_items(self, states: Sequence[str] = ("pending",)) -> set[str]:
        """Items with a batch request in one of ``states``."""
        self._batch_conn()
        marks = ", ".join("?" for _ in states)
        rows = self.query(
            self._q(f"SELECT DISTINCT item_id FROM batch_requests WHERE state IN ({marks})"),
            tuple(states),
        )
        return {r[0] for r in rows}

    def ingest_batch_results(
        self,
        done: Mapping[str, Mapping[str, Any] | None],
        cache: Mapping[str, str],
        failed: Mapping[str, str],
    ) -> int:
        """Store results of batch requests still pending, once, in one transaction: for
        each ``done`` request its proposal (None: none to store), the responses in
        ``cache`` (key -> JSON text), each ``failed`` request's reason. Requests no longer
        pending (stored before, by this or another process) are skipped. Returns the
        proposals stored."""
        self._batch_conn()
        ids, q = [*done, *failed], self._q
        with self.transaction() as tx:
            pending: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                found = tx.execute(
                    q(
                        "SELECT custom_id FROM batch_requests WHERE state = 'pending' "
                        f"AND custom_id IN ({marks})"
                    ),
                    chunk,
                ).fetchall()
                pending.update(r[0] for r in found)
            rows = [p for c, p in done.items() if c in pending and p is not None]
            stored = self._insert_proposals(tx, rows, None)
            now = time.time()
            tx.executemany(
                q("INSERT INTO cache VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING"),
                [(k, text, now) for k, text in cache.items()],
            )
            tx.executemany(
                q("UPDATE batch_requests SET state = 'done', body = NULL WHERE custom_id = ?"),
                [(c,) for c in done if c in pending],
            )
            tx.executemany(
                q("UPDATE batch_requests SET state = 'failed', error = ? WHERE custom_id = ?"),
                [(e, c) for c, e in failed.items() if c in pending],
            )
        return stored

    def mark_batch_resubmitted(self, custom_ids: Iterable[str]) -> None:
        """Failed requests sent again (a new job, or live): no longer counted as failed."""
        self._batch_conn()
        with self.transaction() as tx:
            tx.executemany(
                self._q(
                    "UPDATE batch_requests SET state = 'resubmitted' "
                    "WHERE custom_id = ? AND state = 'failed'"
                ),
                [(cid,) for cid in custom_ids],
            )


class SQLiteBatches(BatchSQL):
    """The batch-job methods of :class:`~llmlabel_widget.store.Store`."""


class PostgresBatches(BatchSQL):
    """The batch-job methods of the PostgreSQL store: the same tables, PostgreSQL's types."""

    _P = "%s"
    _ORDER = "seq"
    _BATCH_SCHEMA = _BATCH_SCHEMA.replace("REAL", "DOUBLE PRECISION").replace(
        "custom_id TEXT PRIMARY KEY,",
        "custom_id TEXT PRIMARY KEY, seq BIGINT GENERATED BY DEFAULT AS IDENTITY,",
    )

    def _batch_tables_exist(self) -> bool:
        return self.query("SELECT to_regclass('batch_jobs') IS NOT NULL")[0][0] is True
