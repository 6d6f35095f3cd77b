"""The PostgreSQL store: the SQLite store's interface on a server, for a team.

One database holds several projects, each in its own schema (``?project=NAME`` in the URL).
Credentials come from the URL, the environment (``PGPASSWORD``, ``PGUSER``…) or
``~/.pgpass`` (libpq reads them); the URL this store shows (:attr:`PostgresStore.url`, reprs,
error messages) never carries a password. Every value goes through a ``%s`` placeholder.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from .base import EVENT_KINDS, StoreError, _cacheable, proposal_row
from .batch_sql import PostgresBatches
from .postgres_reads import NOT_TRIAL, PostgresReadModels
from .postgres_schema import check_project, check_schema, create_schema
from .ranking_sql import DONE
from .team_sql import PostgresTeam
from .transfer import PostgresTransfer

SCHEMES = ("postgresql://", "postgres://")
T = TypeVar("T")


def is_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL project rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def split_url(url: str) -> tuple[str, str, str]:
    """``(conninfo, project, shown)``: what libpq connects with, the project, a safe form.

    ``shown`` is the URL without its password (nor a ``password=`` parameter).
    """
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    project = check_project(dict(params).get("project"))
    kept = [(k, v) for k, v in params if k != "project"]
    conninfo = urlunsplit(parts._replace(query=urlencode(kept)))
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    public = [(k, v) for k, v in params if k in ("host", "port", "dbname", "user")]
    query = urlencode([*public, ("project", project)])
    shown = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return conninfo, project, shown


def _scrub(text: str, url: str) -> str:
    """``text`` with any password of ``url`` blanked out (libpq does not quote it; belt)."""
    parts = urlsplit(url)
    secrets = [parts.password] + [v for k, v in parse_qsl(parts.query) if k == "password"]
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text


def connect(url: str) -> Any:
    """A psycopg connection to ``url``'s project schema (autocommit: transactions explicit)."""
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "a postgresql:// store needs psycopg 3: pip install 'llmlabel-widget[postgres]'"
        ) from None
    conninfo, project, shown = split_url(url)
    try:
        return psycopg.connect(
            conninfo,
            autocommit=True,
            connect_timeout=10,
            application_name="llmlabel-widget",
            options=f"-c search_path={project}",  # checked: lower-case letters, digits, _
        )
    except psycopg.Error as exc:
        reason = _scrub(str(exc).strip(), url)
    raise StoreError(f"can not connect to {shown}: {reason}")


class PostgresStore(PostgresReadModels, PostgresBatches, PostgresTeam, PostgresTransfer):
    """One project in a PostgreSQL database: a labeling session several reviewers share."""

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg import sql

        self._psycopg = psycopg
        self._dsn = url
        _, self.project, self.url = split_url(url)
        self.path = Path(self.url)  # the interface's name for "where": shown, never a secret
        self._lock = threading.RLock()
        self._conn = connect(url)
        self._used = time.monotonic()
        self.created = False
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                # one creator at a time: reviewers opening a new project at once
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.project,))
                cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.project,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.project)))
                    create_schema(cur)
                    self.created = True
                else:
                    check_schema(cur, self.url)
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"can not use {self.url}: {_scrub(str(exc), url)}") from None
        except BaseException:
            self._conn.close()
            raise

    @property
    def dsn(self) -> str:
        """The URL this store was opened with (credentials included: never show it)."""
        return self._dsn

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    # -- plumbing ------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn.closed or self._conn.broken:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = connect(self._dsn)
        return self._conn

    def _read(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(cursor)``; a connection lost (the server restarted) is opened again once."""
        for attempt in (0, 1):
            with self._lock:
                conn = self._connection()
                try:
                    with conn.cursor() as cur:
                        return fn(cur)
                except self._psycopg.OperationalError as exc:
                    if attempt or not conn.broken:
                        raise StoreError(f"can not read {self.url}: {exc}") from None
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def transaction(self, *, one_statement: bool = False) -> Iterator[Any]:
        """``with store.transaction() as cur:`` runs one write transaction, all or nothing.

        A connection found broken at ``BEGIN`` (the server restarted since the last call) is
        opened again, once: nothing was sent, so nothing can be written twice.
        ``one_statement=True``: the caller runs a single statement, a transaction by itself
        (autocommit), without the round trips of ``BEGIN`` and ``COMMIT``.
        """
        psycopg = self._psycopg
        with self._lock:
            try:
                conn = self._begun()
                whole = contextlib.nullcontext() if one_statement else conn.transaction()
                with whole, conn.cursor() as cur:
                    yield cur
            except psycopg.IntegrityError:
                raise
            except psycopg.OperationalError as exc:
                if not self._conn.broken:
                    raise StoreError(f"the write was not stored in {self.url}: {exc}") from None
                raise StoreError(
                    f"the write was not stored: the connection to {self.url} failed ({exc}). "
                    "PostgreSQL keeps a transaction whole or not at all; if it broke while "
                    "committing, check before repeating the write"
                ) from None
            except psycopg.Error as exc:
                raise StoreError(f"the write was not stored in {self.url}: {exc}") from None

    def _begun(self) -> Any:
        """The connection, checked alive with an empty round trip when it sat idle."""
        conn = self._connection()
        if time.monotonic() - self._used < 1.0:
            self._used = time.monotonic()
            return conn
        try:
            conn.execute("")
        except self._psycopg.OperationalError:
            if not conn.broken:
                raise
            conn = self._connection()  # opened again: the server restarted
        self._used = time.monotonic()
        return conn

    def close(self) -> None:
        """Close the connection (the data are already committed)."""
        self._conn.close()

    def remove_files(self) -> None:
        """Drop the project's schema, when this store created it (after a failed first open)."""
        if not self.created:
            return
        from psycopg import sql

        with contextlib.suppress(StoreError, self._psycopg.Error), self.transaction() as cur:
            cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.project)))

    def checkpoint(self) -> bool:
        """Nothing to do: every commit is already durable on the server."""
        return not self._conn.closed

    def selector_state(self, *, texts: bool = True) -> pd.DataFrame:
        """The pool as the selector ranks it (see ``SQLiteReadModels.read_selector_state``)."""
        return self._read(lambda cur: self.selector_frames(cur, texts=texts))

    @classmethod
    def read_selector_state(cls, url: str, *, texts: bool = True) -> pd.DataFrame:
        """The selector's state of the project at ``url``, on a connection of its own."""
        with connect(url) as conn, conn.cursor() as cur:
            return cls.selector_frames(cur, texts=texts)

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored session setting, or None."""
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, *, durable: bool = True) -> None:
        """Store a session setting (``durable=False``: without waiting for the server's fsync)."""
        with self.transaction() as cur:
            if not durable:
                cur.execute("SET LOCAL synchronous_commit = off")
            cur.execute(
                "INSERT INTO meta VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    # -- items ---------------------------------------------------------------------------
    def item_hashes(self) -> dict[str, str]:
        """Map of every stored item id to its content hash."""
        return dict(self.query("SELECT item_id, content_hash FROM items"))

    def add_items(
        self,
        rows: Iterable[tuple[str, str, str, str | None]],
        *,
        meta: Mapping[str, str] | None = None,
    ) -> int:
        """Insert ``(item_id, text, content_hash, meta_json)`` rows, and set ``meta`` settings,
        in one transaction: all of it is stored, or none. Pool order is ``seq``, 1, 2, …"""
        now = time.time()
        with self.transaction() as cur:
            cur.execute("LOCK TABLE items IN SHARE ROW EXCLUSIVE MODE")  # seq has no gaps
            cur.execute("SELECT COALESCE(MAX(seq), 0) FROM items")
            start = int(cur.fetchone()[0])
            added = [(start + k, i, t, h, m, now) for k, (i, t, h, m) in enumerate(rows, 1)]
            with cur.copy(
                "COPY items (seq, item_id, text, content_hash, meta, added_at) FROM STDIN"
            ) as copy:
                for row in added:
                    copy.write_row(row)
            cur.executemany(
                "INSERT INTO meta VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                list((meta or {}).items()),
            )
            return len(added)

    def all_ids(self) -> list[str]:
        """Every item id, in pool order."""
        return [r[0] for r in self.query("SELECT item_id FROM items ORDER BY seq")]

    def texts(self, item_ids: Sequence[str]) -> dict[str, str]:
        """Texts of the given items."""
        rows = self.query("SELECT item_id, text FROM items WHERE item_id = ANY(%s)", (item_ids,))
        return dict(rows)

    def has_item(self, item_id: str) -> bool:
        """Whether the item id is in the store."""
        return self._one("SELECT 1 FROM items WHERE item_id = %s", (item_id,)) is not None

    def count_items(self) -> int:
        """Number of items in the pool (seq has no gaps: the largest is the count)."""
        row = self._one("SELECT COALESCE(MAX(seq), 0) FROM items")
        return int(row[0]) if row else 0

    def item(self, item_id: str) -> dict[str, Any] | None:
        """One item's text and metadata."""
        row = self._one("SELECT seq, item_id, text, meta FROM items WHERE item_id = %s", (item_id,))
        if row is None:
            return None
        meta = json.loads(row[3]) if row[3] else {}
        return {"seq": row[0], "item_id": row[1], "text": row[2], "meta": meta}

    # -- proposals -----------------------------------------------------------------------
    def add_proposals(
        self,
        proposals: Iterable[Mapping[str, Any]],
        cache: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """Append LLM proposals, and the raw responses they came from, in one transaction
        (``raw`` capped, over-long answers not cached: see the SQLite store)."""
        with self.transaction() as cur:
            return self._insert_proposals(cur, proposals, cache)

    @staticmethod
    def _insert_proposals(
        cur: Any,
        proposals: Iterable[Mapping[str, Any]],
        cache: Mapping[str, Mapping[str, Any]] | None,
    ) -> int:
        """Insert proposals and their responses inside the caller's transaction."""
        now = time.time()
        rows = [proposal_row(p, now) for p in proposals]
        cached = [(k, json.dumps(v), now) for k, v in (cache or {}).items() if _cacheable(v)]
        if cached:
            cur.executemany(
                "INSERT INTO cache VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING", cached
            )
        if rows:
            cur.executemany(
                "INSERT INTO proposals (item_id, labels, valid, rationale, confidence, "
                "confidence_method, match, source, model, prompt_version, raw, problem, "
                "demos, run_id, prompt_tokens, completion_tokens, cost, cached, created_at) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                rows,
            )
        return len(rows)

    def latest_proposal(self, item_id: str) -> dict[str, Any] | None:
        """The newest proposal for an item (trials excluded), or None."""

        def run(cur: Any) -> dict[str, Any] | None:
            cur.execute(
                f"SELECT * FROM proposals WHERE item_id = %s AND {NOT_TRIAL} "
                "ORDER BY seq DESC LIMIT 1",
                (item_id,),
            )
            row = cur.fetchone()
            if row is None:
                return None
            return dict(zip([c.name for c in cur.description], row, strict=True))

        out = self._read(run)
        if out is not None:
            out["labels"] = tuple(json.loads(out["labels"])) if out["labels"] else ()
        return out

    # -- response cache ---------------------------------------------------------------------
    def cache_get(self, key: str) -> dict[str, Any] | None:
        """A stored LLM response for this request key, or None."""
        row = self._one("SELECT response FROM cache WHERE key = %s", (key,))
        return None if row is None else dict(json.loads(row[0]))

    def proposed_ids(self, prompt_version: str | None, *, trials: bool = False) -> set[str]:
        """Items with a proposal of this prompt version (None: recorded ones)."""
        where = "prompt_version IS NOT DISTINCT FROM %s" + ("" if trials else f" AND {NOT_TRIAL}")
        rows = self.query(
            f"SELECT DISTINCT item_id FROM proposals WHERE {where}", (prompt_version,)
        )
        return {r[0] for r in rows}

    def save_prompt_version(self, version: str, spec: str) -> None:
        """Remember what a prompt version was (first write wins: a version is its content)."""
        with self.transaction() as cur:
            cur.execute(
                "INSERT INTO prompt_versions VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (version, spec, time.time()),
            )

    def prompt_versions(self) -> list[tuple[str, str, float]]:
        """``(version, spec_json, created_at)`` of every saved prompt version, oldest first."""
        rows = self.query("SELECT * FROM prompt_versions ORDER BY created_at, version")
        return [(str(v), str(s), float(c)) for v, s, c in rows]

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
        """Append one decision/skip/note event; return its sequence number.

        A decision or skip also holds the reviewer's lease on the item for good (team
        labeling), in the same statement: one short transaction.
        """
        if kind not in EVENT_KINDS or kind == "undo":
            raise ValueError(f"unknown event kind {kind!r}")
        with self.transaction(one_statement=True) as cur:
            cur.execute(
                "WITH e AS (INSERT INTO events (item_id, annotator, kind, labels, note, "
                "proposal_seq, context, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) "
                "RETURNING seq), l AS (UPDATE leases SET expires = %s WHERE item_id = %s "
                "AND reviewer = %s AND %s RETURNING 1) "
                "SELECT (SELECT seq FROM e), (SELECT COUNT(*) FROM l)",
                (
                    item_id,
                    annotator,
                    kind,
                    None if labels is None else json.dumps(list(labels)),
                    note,
                    proposal_seq,
                    None if context is None else json.dumps(dict(context)),
                    time.time(),
                    DONE,
                    item_id,
                    annotator,
                    kind != "note",
                ),
            )
            seq, closed = cur.fetchone()
        self._closed_lease = (item_id, annotator) if closed else None
        return int(seq)

    def undo_last(self, annotator: str, *, via: str | None = None) -> dict[str, Any] | None:
        """Cancel the annotator's newest event that is not yet cancelled (see SQLite's).

        Two undos racing for one event: the unique index on ``undoes`` lets one through.
        """
        scope = "" if via is None else "AND (e.context::jsonb ->> 'via') = %s "
        params: tuple[str, ...] = (annotator,) if via is None else (annotator, via)
        with self.transaction() as cur:
            cur.execute(
                "SELECT seq, item_id, kind FROM events e WHERE annotator = %s "
                f"{scope}AND kind != 'undo' AND NOT EXISTS "
                "(SELECT 1 FROM events u WHERE u.undoes = e.seq) "
                "ORDER BY seq DESC LIMIT 1 FOR UPDATE",
                params,
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                "INSERT INTO events (item_id, annotator, kind, undoes, created_at) "
                "VALUES (%s, %s, 'undo', %s, %s)",
                (row[1], annotator, row[0], time.time()),
            )
        return {"seq": row[0], "item_id": row[1], "kind": row[2]}
