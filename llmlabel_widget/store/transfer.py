"""Whole tables out of one store and into another: what ``llmlabel-widget copy`` moves.

Rows keep their sequence numbers (an undo names the event it cancels, a decision the
proposal it saw), so a copied project is the same project. Table names come only from
:data:`TABLES`; values always go through placeholders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# In dependency order. ``meta`` is merged (a new store already has its own marks).
BATCH_TABLES = ("batch_jobs", "batch_parts", "batch_requests")  # made on first use
TABLES = (
    "meta",
    "items",
    "prompt_versions",
    "cache",
    "proposals",
    "events",
    "leases",
    *BATCH_TABLES,
)
_IDENTITY = ("proposals", "events")  # PostgreSQL numbers these itself after the copy
# batch_requests: the columns both backends have (PostgreSQL adds ``seq``, its insertion
# order; SQLite's is the rowid), read in insertion order, so the order carries over
_REQUESTS = "custom_id, job_id, part, item_id, cache_key, demos, body, state, error"


def _check(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; tables are {TABLES}")
    return table


class Transfer:
    """Read and write whole tables (a backend sets its placeholder)."""

    _P = "?"

    if TYPE_CHECKING:  # the backend's own

        def transaction(self) -> Any: ...

        def _ensure_team(self) -> None: ...

        def _batch_tables_exist(self) -> bool: ...

        def _batch_conn(self) -> None: ...

        _ORDER: str

    def table_rows(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """``(columns, rows)`` of a whole table, in its key order (a store that never had a
        batch job has no batch rows)."""
        self._ensure_team()
        if table in BATCH_TABLES and not self._batch_tables_exist():
            return [], []
        what, order = (_REQUESTS, self._ORDER) if table == "batch_requests" else ("*", "1")
        with self.transaction() as tx:
            cur = tx.execute(f"SELECT {what} FROM {_check(table)} ORDER BY {order}")
            columns = [d[0] for d in cur.description]
            return columns, list(cur.fetchall())

    def load_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert rows (``meta``: set them), in one transaction; return how many."""
        self._ensure_team()
        if table in BATCH_TABLES:
            if not rows:
                return 0
            self._batch_conn()
        if not all(c.isidentifier() for c in columns):
            raise ValueError(f"bad column names {list(columns)!r}")
        names = ", ".join(columns)
        marks = ", ".join([self._P] * len(columns))
        with self.transaction() as tx:
            if table == "meta":
                tx.executemany(self._UPSERT_META, list(rows))
            else:
                tx.executemany(
                    f"INSERT INTO {_check(table)} ({names}) VALUES ({marks})", list(rows)
                )
                self._after_load(tx, table)
        return len(rows)

    _UPSERT_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"

    def _after_load(self, tx: Any, table: str) -> None:
        """Bring the backend's own numbering past the copied rows (PostgreSQL)."""


class PostgresTransfer(Transfer):
    """Tables of a PostgreSQL project."""

    _P = "%s"
    _UPSERT_META = (
        "INSERT INTO meta (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    )

    def _after_load(self, tx: Any, table: str) -> None:
        if table in _IDENTITY:
            tx.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'seq'), "
                f"COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)",
                (table,),
            )
