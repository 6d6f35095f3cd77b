"""The SQLite store: items, LLM proposals and human decisions, append-only.

Nothing is ever updated in place: a decision, a skip, a note and an undo are each a new row in
``events``; an undo names the event it cancels. The current state of an item is derived from
the log, so the full history stays auditable and two processes can append at once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .base import EVENT_KINDS, StoreError, _cacheable, proposal_row
from .batch_sql import SQLiteBatches
from .sqlite_reads import NOT_TRIAL, SQLiteReadModels
from .sqlite_schema import check_schema, create_schema
from .team_sql import SQLiteTeam
from .transfer import Transfer


def _cause(exc: sqlite3.Error) -> str:
    """Say what an SQLite error means for the user, not just what SQLite said."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"it is read-only: no write permission on the file or its folder ({text})"
    if "disk is full" in text or getattr(exc, "sqlite_errorcode", None) == 13:  # SQLITE_FULL
        return f"the disk is full ({text})"
    if "malformed" in text or "corrupt" in text:
        return f"the file is damaged ({text}); restore it from a backup"
    if "not a database" in text:
        return f"it is not an llmlabel-widget store, nor any SQLite database ({text})"
    if "unable to open" in text:
        return f"it can not be opened: does its folder exist? ({text})"
    if "locked" in text or "busy" in text:
        return f"another process holds a lock on it ({text})"
    return text


class Store(SQLiteReadModels, SQLiteBatches, SQLiteTeam, Transfer):
    """One SQLite file holding a labeling session.

    Every write is one transaction, committed (and, with ``synchronous=FULL``, on disk)
    before the method returns.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).absolute()  # refits read it from other threads and processes
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a store file")
        existed = self.path.exists() and self.path.stat().st_size > 0
        folder = self.path.parent
        for where in (self.path, folder) if self.path.exists() else (folder,):
            if where.exists() and not os.access(where, os.W_OK):
                raise StoreError(
                    f"can not use store {self.path}: it is read-only (no write permission on "
                    f"{'the file' if where == self.path else 'its folder'} {where}, or a "
                    "read-only file system); a store is written on every decision"
                )
        self._lock = threading.RLock()
        try:
            # Autocommit mode: transactions are explicit (see _Transaction). The connection
            # may be used from a background thread (proposals arriving), hence the lock.
            self._conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"can not open store {self.path}: {_cause(exc)}") from exc
        try:
            if existed:
                check_schema(self._conn, self.path)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            if not existed:
                with self.transaction() as conn:
                    create_schema(conn)
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"can not use store {self.path}: {_cause(exc)}") from exc
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing ------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        """``with store.transaction() as conn:`` runs one write transaction (BEGIN IMMEDIATE)."""
        return _Transaction(self._conn, self._lock)

    def close(self) -> None:
        """Close the connection (the data are already on disk)."""
        self._conn.close()

    def remove_files(self) -> None:
        """Delete the store file and its WAL side files (after a failed first open)."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database file, so the file alone holds every commit.

        Tries ``TRUNCATE`` (the ``-wal`` file shrinks to 0 bytes) without waiting; while another
        connection reads or writes, falls back to ``PASSIVE`` (copies what it can, never
        blocks). Returns True when the whole log is in the database file; False when some of
        it is not yet (try again later) or the store is closed.
        """
        with self._lock:  # no write on this connection may run with the short busy timeout
            try:
                (timeout,) = self._conn.execute("PRAGMA busy_timeout").fetchone()
            except sqlite3.ProgrammingError:  # closed
                return False
            self._conn.execute("PRAGMA busy_timeout=0")
            try:
                row = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if row[0]:
                    row = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.OperationalError:  # a read still in progress on this connection
                return False
            finally:
                self._conn.execute(f"PRAGMA busy_timeout={int(timeout)}")
        busy, log, done = row
        return not busy and log == done

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored session setting, or None."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, *, durable: bool = True) -> None:
        """Store a session setting.

        ``durable=False`` skips the fsync, for view state such as the item on screen: the value
        survives the process being killed, not a power cut (the next durable write flushes it).
        """
        with self._lock:  # the pragma is per connection: no other write may slip in meanwhile
            if not durable:
                self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with self.transaction() as conn:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            finally:
                if not durable:
                    self._conn.execute("PRAGMA synchronous=FULL")

    # -- items ---------------------------------------------------------------------------
    def item_hashes(self) -> dict[str, str]:
        """Map of every stored item id to its content hash."""
        return dict(self._conn.execute("SELECT item_id, content_hash FROM items").fetchall())

    def add_items(
        self,
        rows: Iterable[tuple[str, str, str, str | None]],
        *,
        meta: Mapping[str, str] | None = None,
    ) -> int:
        """Insert ``(item_id, text, content_hash, meta_json)`` rows, and set ``meta`` settings,
        in one transaction: all of it is stored, or none."""
        now = time.time()
        with self.transaction() as conn:
            cur = conn.executemany(
                "INSERT INTO items (item_id, text, content_hash, meta, added_at) "
                "VALUES (?, ?, ?, ?, ?)",
                ((i, t, h, m, now) for i, t, h, m in rows),
            )
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", (meta or {}).items())
            return max(cur.rowcount, 0)

    def all_ids(self) -> list[str]:
        """Every item id, in pool order."""
        return [r[0] for r in self.query("SELECT item_id FROM items ORDER BY seq")]

    def texts(self, item_ids: Sequence[str]) -> dict[str, str]:
        """Texts of the given items, in one pass over the table per 900 ids."""
        out: dict[str, str] = {}
        ids = list(item_ids)
        for start in range(0, len(ids), 900):  # SQLite's default bound-parameter limit is 999
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            out.update(
                self.query(f"SELECT item_id, text FROM items WHERE item_id IN ({marks})", chunk)
            )
        return out

    def has_item(self, item_id: str) -> bool:
        """Whether the item id is in the store."""
        row = self._conn.execute("SELECT 1 FROM items WHERE item_id = ?", (item_id,))
        return row.fetchone() is not None

    def count_items(self) -> int:
        """Number of items in the pool."""
        # Items are only ever appended (never deleted) and seq is the rowid, so the largest seq
        # is the count: an index lookup instead of a scan of the pool on every redraw.
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM items").fetchone()[0])

    def item(self, item_id: str) -> dict[str, Any] | None:
        """One item's text and metadata."""
        row = self._conn.execute(
            "SELECT seq, item_id, text, meta FROM items WHERE item_id = ?", (item_id,)
        ).fetchone()
        if row is None:
            return None
        return {
            "seq": row[0],
            "item_id": row[1],
            "text": row[2],
            "meta": json.loads(row[3]) if row[3] else {},
        }

    # -- proposals -----------------------------------------------------------------------
    def add_proposals(
        self,
        proposals: Iterable[Mapping[str, Any]],
        cache: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """Append LLM proposals, and the raw responses they came from, in one transaction.

        ``raw`` (and ``rationale`` and ``problem``, which may quote it) is capped at
        ``MAX_RAW`` characters, the cut marked with the original length, and a response
        whose answer is longer than that is not cached: one runaway answer cannot bloat
        the store.
        """
        with self.transaction() as conn:
            return self._insert_proposals(conn, proposals, cache)

    @staticmethod
    def _insert_proposals(
        conn: sqlite3.Connection,
        proposals: Iterable[Mapping[str, Any]],
        cache: Mapping[str, Mapping[str, Any]] | None,
    ) -> int:
        """Insert proposals and their responses inside the caller's transaction."""
        now = time.time()
        rows = [proposal_row(p, now) for p in proposals]
        conn.executemany(
            "INSERT OR IGNORE INTO cache VALUES (?, ?, ?)",
            [(k, json.dumps(v), now) for k, v in (cache or {}).items() if _cacheable(v)],
        )
        conn.executemany(
            "INSERT INTO proposals (item_id, labels, valid, rationale, confidence, "
            "confidence_method, match, source, model, prompt_version, raw, problem, demos, "
            "run_id, prompt_tokens, completion_tokens, cost, cached, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        return len(rows)

    def latest_proposal(self, item_id: str) -> dict[str, Any] | None:
        """The newest proposal for an item, or None."""
        cur = self._conn.execute(
            f"SELECT * FROM proposals WHERE item_id = ? AND {NOT_TRIAL} ORDER BY seq DESC LIMIT 1",
            (item_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([c[0] for c in cur.description], row, strict=True))
        out["labels"] = tuple(json.loads(out["labels"])) if out["labels"] else ()
        return out

    # -- response cache ---------------------------------------------------------------------
    def cache_get(self, key: str) -> dict[str, Any] | None:
        """A stored LLM response for this request key, or None."""
        row = self._conn.execute("SELECT response FROM cache WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def proposed_ids(self, prompt_version: str | None, *, trials: bool = False) -> set[str]:
        """Items with a proposal of this prompt version (None: recorded ones).

        Trial answers count only with ``trials=True``: a promoted version still proposes for
        real the items its trial answered (from the response cache, at no cost).
        """
        where = "prompt_version IS ?" + ("" if trials else f" AND {NOT_TRIAL}")
        rows = self.query(
            f"SELECT DISTINCT item_id FROM proposals WHERE {where}", (prompt_version,)
        )
        return {r[0] for r in rows}

    def version_proposals(self, prompt_version: str) -> pd.DataFrame:
        """The newest answer of one prompt version per item, trials included."""
        return self.frame(
            "SELECT p.item_id, p.labels, p.valid, p.rationale, p.confidence, p.demos "
            "FROM proposals p JOIN (SELECT MAX(seq) AS m FROM proposals "
            "WHERE prompt_version = ? GROUP BY item_id) l ON p.seq = l.m",
            (prompt_version,),
        )

    def save_prompt_version(self, version: str, spec: str) -> None:
        """Remember what a prompt version was (first write wins: a version is its content)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO prompt_versions VALUES (?, ?, ?)",
                (version, spec, time.time()),
            )

    def prompt_versions(self) -> list[tuple[str, str, float]]:
        """``(version, spec_json, created_at)`` of every saved prompt version, oldest first."""
        return [
            (str(v), str(s), float(c))
            for v, s, c in self.query("SELECT * FROM prompt_versions ORDER BY created_at, version")
        ]

    # -- events --------------------------------------------------------------------------
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
        """Append one decision/skip/note event; return its sequence number."""
        if kind not in EVENT_KINDS or kind == "undo":
            raise ValueError(f"unknown event kind {kind!r}")
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO events (item_id, annotator, kind, labels, note, proposal_seq, "
                "context, created_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    item_id,
                    annotator,
                    kind,
                    None if labels is None else json.dumps(list(labels)),
                    note,
                    proposal_seq,
                    None if context is None else json.dumps(dict(context)),
                    time.time(),
                ),
            )
            return int(cur.lastrowid or 0)

    def undo_last(self, annotator: str, *, via: str | None = None) -> dict[str, Any] | None:
        """Cancel the annotator's newest event that is not yet cancelled.

        With ``via``, only events recorded with that ``via`` in their context count (the
        Labeler passes ``"labeler"``, so its undo never cancels a scripted decision).
        Returns the cancelled event, or None when there is nothing left to undo.
        """
        scope = "" if via is None else "AND json_extract(e.context, '$.via') = ? "
        params: tuple[str, ...] = (annotator,) if via is None else (annotator, via)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT seq, item_id, kind FROM events e WHERE annotator = ? "
                f"{scope}AND kind != 'undo' AND NOT EXISTS "
                "(SELECT 1 FROM events u WHERE u.undoes = e.seq) "
                "ORDER BY seq DESC LIMIT 1",
                params,
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "INSERT INTO events (item_id, annotator, kind, undoes, created_at) "
                "VALUES (?, ?, 'undo', ?, ?)",
                (row[1], annotator, row[0], time.time()),
            )
        return {"seq": row[0], "item_id": row[1], "kind": row[2]}


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error, so a write is all or nothing."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._lock.release()
            raise StoreError(f"can not write to the store: {_cause(exc)}") from exc
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._conn.execute("COMMIT")
            elif self._conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as err:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StoreError(f"the write was not stored: {_cause(err)}") from err
        finally:
            self._lock.release()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
            raise StoreError(f"the write was not stored: {_cause(exc)}") from exc
