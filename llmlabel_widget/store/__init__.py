"""The Store: every SQL statement of the package, behind one interface (SQLite today).

:class:`Store` is the SQLite backend (``sqlite.py``, its schema and read models beside it);
``base.py`` holds what any backend shares, and :mod:`llmlabel_widget.storage` writes down the
interface a second backend (PostgreSQL) implements.
"""

from __future__ import annotations

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
from .sqlite import Store
from .sqlite_reads import NOT_TRIAL

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
]
