"""The Store: every SQL statement of the package, behind one interface (SQLite today).

:class:`Store` is the SQLite backend (``sqlite.py``, its schema and read models beside it);
``base.py`` holds what any backend shares, and :mod:`llmlabel_widget.storage` writes down the
interface a second backend (PostgreSQL) implements.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import (
    APP_ID,
    DECISION_KINDS,
    EVENT_KINDS,
    MAX_RAW,
    RAW_TRUNCATED,
    SCHEMA_VERSION,
    TRIAL_PREFIX,
    StoreError,
    cap_raw,
)
from .postgres import is_url
from .sqlite import Store
from .sqlite_reads import NOT_TRIAL

if TYPE_CHECKING:
    from ..storage import StoreBackend

__all__ = [
    "APP_ID",
    "DECISION_KINDS",
    "EVENT_KINDS",
    "MAX_RAW",
    "NOT_TRIAL",
    "RAW_TRUNCATED",
    "SCHEMA_VERSION",
    "TRIAL_PREFIX",
    "Store",
    "StoreError",
    "cap_raw",
    "is_url",
    "open_store",
    "read_selector_state",
    "source_of",
]


def open_store(target: str | Path) -> StoreBackend:
    """The store at ``target``: a ``postgresql://…?project=NAME`` URL, else a SQLite file."""
    if is_url(target):
        from .postgres import PostgresStore

        return PostgresStore(str(target))
    return Store(target)


def source_of(store: Any) -> str:
    """What :func:`open_store` reopens ``store`` from (a PostgreSQL URL may carry credentials:
    pass it on, never show it)."""
    return str(getattr(store, "dsn", None) or store.path)


def read_selector_state(source: str, *, texts: bool = True) -> Any:
    """The selector's state of the store at ``source`` (see ``Store.read_selector_state``)."""
    if is_url(source):
        from .postgres import PostgresStore

        return PostgresStore.read_selector_state(source, texts=texts)
    return Store.read_selector_state(source, texts=texts)
