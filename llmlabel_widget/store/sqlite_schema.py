"""The SQLite schema: the tables and indexes of a new store, and the checks on opening one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .base import APP_ID, SCHEMA_VERSION, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    meta TEXT,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS proposals (
    seq INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL,
    labels TEXT,
    valid INTEGER NOT NULL,
    rationale TEXT,
    confidence REAL,
    confidence_method TEXT,
    match TEXT,
    source TEXT NOT NULL,
    model TEXT,
    prompt_version TEXT,
    raw TEXT,
    problem TEXT,
    demos TEXT,
    run_id TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cost REAL,
    cached INTEGER,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS proposals_item ON proposals(item_id, prompt_version);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL,
    annotator TEXT NOT NULL,
    kind TEXT NOT NULL,
    labels TEXT,
    note TEXT,
    proposal_seq INTEGER,
    undoes INTEGER,
    context TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_annotator ON events(annotator, seq);
CREATE INDEX IF NOT EXISTS events_undoes ON events(undoes);
CREATE INDEX IF NOT EXISTS events_item ON events(item_id);
CREATE TABLE IF NOT EXISTS prompt_versions (
    version TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    model TEXT,
    requests INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    created_at REAL NOT NULL
);
"""


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables of a new store and mark it as ours (inside the caller's transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.executemany(
        "INSERT OR IGNORE INTO meta VALUES (?, ?)",
        [("app", APP_ID), ("schema_version", str(SCHEMA_VERSION))],
    )


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Raise :class:`StoreError` unless the file at ``path`` is an undamaged store we can read."""
    try:
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        if "no such table" not in str(exc):
            raise
        raise StoreError(
            f"{path} is an SQLite file but not an llmlabel-widget store; "
            "pass a new file name to start a session"
        ) from exc
    if rows.get("app") != APP_ID:
        raise StoreError(f"{path} is an SQLite file but not an llmlabel-widget store")
    raw_version = rows.get("schema_version", "0")
    try:
        version = int(raw_version)
    except (TypeError, ValueError):
        raise StoreError(f"{path} has an unreadable store schema version {raw_version!r}") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has store schema version {version}, newer than this "
            f"llmlabel-widget understands ({SCHEMA_VERSION}); upgrade llmlabel-widget"
        )
    # A damaged page shows up here, at open, instead of in a later read. quick_check
    # skips the index-content comparison of integrity_check: milliseconds per MB.
    problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    if problems != ["ok"]:
        raise StoreError(
            f"{path} is damaged: {'; '.join(problems)}. Restore it from a backup "
            "(the data written before the damage can often be recovered with "
            "`sqlite3 FILE .recover`)."
        )
