"""The SQLite store's read models: the queries behind every frame, count and state it returns.

Item states, the open queue, live events, the frames the views and the estimators read, and
the selector's state (read by the refit worker too, on its own read-only connection).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .base import TRIAL_PREFIX, selector_frame

# The newest not-undone decision per item (SQLite returns the bare columns of the MAX row).
_LATEST_DECISION = (
    "SELECT item_id, kind, MAX(seq) AS seq FROM events e "
    "WHERE kind IN ('accept', 'correct', 'label', 'skip') "
    "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.seq) GROUP BY item_id"
)
# Trial answers (see TRIAL_PREFIX) never become the proposal an item shows.
NOT_TRIAL = f"(run_id IS NULL OR run_id NOT LIKE '{TRIAL_PREFIX}%')"
_LATEST_PROPOSAL = (
    f"SELECT item_id, valid, MAX(seq) AS seq FROM proposals WHERE {NOT_TRIAL} GROUP BY item_id"
)


class SQLiteReadModels:
    """The read-model queries of :class:`~llmlabel_widget.store.Store` (its connection)."""

    path: Path
    _conn: sqlite3.Connection

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows."""
        return self._conn.execute(sql, params).fetchall()

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        return pd.read_sql_query(sql, self._conn, params=list(params))

    def state_counts(self) -> dict[str, int]:
        """Number of items in each state (see ``Session.items``), computed in SQL."""
        rows = self.query(
            f"WITH d AS ({_LATEST_DECISION}), p AS ({_LATEST_PROPOSAL}) "
            "SELECT CASE WHEN d.kind = 'skip' THEN 'skipped' "
            "WHEN d.kind IS NOT NULL THEN 'decided' WHEN p.valid = 1 THEN 'proposed' "
            "WHEN p.valid = 0 THEN 'invalid' ELSE 'pending' END AS state, COUNT(*) "
            "FROM items i LEFT JOIN d USING (item_id) LEFT JOIN p USING (item_id) "
            "GROUP BY state"
        )
        return {str(k): int(v) for k, v in rows}

    def open_items(self, n: int) -> list[str]:
        """Up to ``n`` undecided, unskipped item ids in pool order, then skipped ones."""
        fresh = self.query(
            f"WITH d AS ({_LATEST_DECISION}) SELECT i.item_id FROM items i "
            "LEFT JOIN d USING (item_id) WHERE d.kind IS NULL ORDER BY i.seq LIMIT ?",
            (n,),
        )
        out = [r[0] for r in fresh]
        if len(out) < n:
            skipped = self.query(
                f"WITH d AS ({_LATEST_DECISION}) SELECT item_id FROM d "
                "WHERE kind = 'skip' ORDER BY seq LIMIT ?",
                (n - len(out),),
            )
            out += [r[0] for r in skipped]
        return out

    def decision_counts(self) -> dict[str, int]:
        """Items whose current decision is each kind (accept, correct, label, skip)."""
        rows = self.query(f"SELECT kind, COUNT(*) FROM ({_LATEST_DECISION}) GROUP BY kind")
        return {str(k): int(v) for k, v in rows}

    def is_decided(self, item_id: str) -> bool:
        """Whether the item's current decision is a label (not a skip, not undone)."""
        row = self._conn.execute(
            f"SELECT kind FROM ({_LATEST_DECISION}) WHERE item_id = ?", (item_id,)
        ).fetchone()
        return row is not None and row[0] != "skip"

    def live_events(self) -> pd.DataFrame:
        """All events that have not been undone, oldest first (undo rows excluded)."""
        return self.frame(
            "SELECT e.seq, e.item_id, e.annotator, e.kind, e.labels, e.note, "
            "e.proposal_seq, e.context, e.created_at FROM events e "
            "WHERE e.kind != 'undo' AND NOT EXISTS "
            "(SELECT 1 FROM events u WHERE u.undoes = e.seq) ORDER BY e.seq"
        )

    def count_events(self) -> int:
        """Number of rows in the event log (undo rows included)."""
        return int(self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    # -- read models ---------------------------------------------------------------------
    def items_frame(self) -> pd.DataFrame:
        """Every item's ``item_id, text, meta`` (metadata as a JSON line), in pool order."""
        return self.frame("SELECT item_id, text, meta FROM items ORDER BY seq")

    def latest_proposals(self) -> pd.DataFrame:
        """Each item's newest proposal (trials excluded), columns named ``llm_*``.

        Columns: ``item_id, llm_label`` (JSON list), ``llm_valid, llm_confidence,
        llm_confidence_method, llm_match, llm_rationale, llm_source, llm_model,
        prompt_version, llm_raw, llm_problem``.
        """
        return self.frame(
            "SELECT p.item_id, p.labels AS llm_label, p.valid AS llm_valid, "
            "p.confidence AS llm_confidence, p.confidence_method AS llm_confidence_method, "
            "p.match AS llm_match, p.rationale AS llm_rationale, p.source AS llm_source, "
            "p.model AS llm_model, p.prompt_version, p.raw AS llm_raw, "
            "p.problem AS llm_problem FROM proposals p "
            f"JOIN (SELECT MAX(seq) AS m FROM proposals WHERE {NOT_TRIAL} GROUP BY item_id) l "
            "ON p.seq = l.m"
        )

    def usage(self) -> pd.DataFrame:
        """Requests, tokens and cost per annotator run (cache hits excluded), oldest first."""
        return self.frame(
            "SELECT run_id, model, prompt_version, "
            "SUM(NOT cached) AS requests, SUM(cached) AS cached, "
            "SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, "
            "SUM(cost) AS cost, MIN(created_at) AS started FROM proposals "
            "WHERE source != 'recorded' GROUP BY run_id ORDER BY started"
        )

    # -- read model: the selector's state ---------------------------------------------------
    def selector_state(self, *, texts: bool = True) -> pd.DataFrame:
        """The pool as the selector ranks it, read on a private read-only connection.

        See :meth:`read_selector_state`. A separate connection lets a refit thread read while
        the kernel thread writes (WAL).
        """
        return self.read_selector_state(self.path, texts=texts)

    @staticmethod
    def read_selector_state(path: str | Path, *, texts: bool = True) -> pd.DataFrame:
        """The selector's state of the store at ``path``, opened read-only (for the worker).

        One row per item in pool order: ``item_id``, ``text``, ``human`` (the label list of
        the current decision, NaN if none or a skip), ``skipped`` (the current decision is a
        skip), ``llm`` and ``confidence`` (the latest valid non-trial proposal, NaN if none)
        and ``agreement`` (share of the item's earlier valid answers, from other prompt
        versions or models, that give the latest proposal's labels; NaN if none).
        ``texts=False`` leaves out ``text`` (the largest part, needed only to featurise).
        """
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        latest = (
            "SELECT item_id, labels, confidence, MAX(seq) AS seq FROM proposals "
            f"WHERE valid = 1 AND {NOT_TRIAL} GROUP BY item_id"
        )
        try:
            columns = "item_id, text" if texts else "item_id"
            items = pd.read_sql_query(f"SELECT {columns} FROM items ORDER BY seq", conn)
            decisions = pd.read_sql_query(
                f"WITH d AS ({_LATEST_DECISION}) "
                "SELECT d.item_id, d.kind, e.labels FROM d JOIN events e ON e.seq = d.seq",
                conn,
            )
            props = pd.read_sql_query(latest, conn)
            others = pd.read_sql_query(
                f"WITH last AS ({latest}) SELECT p.item_id, p.labels AS other, last.labels "
                "FROM proposals p JOIN last USING (item_id) "
                "WHERE p.valid = 1 AND p.seq < last.seq",
                conn,
            )
        finally:
            conn.close()
        return selector_frame(items, decisions, props, others)

    # -- read model: the queue filter ---------------------------------------------------------
    def filtered_items(
        self,
        *,
        labels: Sequence[str] = (),
        confidence: tuple[float, float] | None = None,
        states: Sequence[str] = (),
        text: str = "",
    ) -> list[str]:
        """Ids of the items matching every given criterion, in pool order.

        ``labels``: the latest (non-trial) proposal gives one of them; ``confidence``: its
        confidence lies in ``[low, high]``; ``states``: the item is in one of ``undecided``,
        ``skipped``, ``decided`` (a label, not a skip) or ``invalid`` (its latest proposal
        could not be used); ``text``: the item's text contains it (ASCII case ignored).
        """
        where: list[str] = ["1"]
        params: list[Any] = []
        if labels:
            marks = ", ".join("?" * len(labels))
            where.append(f"EXISTS (SELECT 1 FROM json_each(p.labels) WHERE value IN ({marks}))")
            params += list(labels)
        if confidence is not None:
            where.append("p.confidence BETWEEN ? AND ?")
            params += [float(confidence[0]), float(confidence[1])]
        sql_state = {
            "undecided": "d.kind IS NULL",
            "skipped": "d.kind = 'skip'",
            "decided": "d.kind IN ('accept', 'correct', 'label')",
            "invalid": "p.valid = 0",
        }
        if states:
            where.append("(" + " OR ".join(sql_state[s] for s in states) + ")")
        if text:
            where.append("instr(lower(i.text), lower(?)) > 0")
            params.append(text)
        latest = f"SELECT MAX(seq) AS m FROM proposals WHERE {NOT_TRIAL} GROUP BY item_id"
        rows = self.query(
            f"WITH d AS ({_LATEST_DECISION}), l AS ({latest}), "
            "p AS (SELECT q.* FROM proposals q JOIN l ON q.seq = l.m) "
            "SELECT i.item_id FROM items i LEFT JOIN d USING (item_id) "
            f"LEFT JOIN p USING (item_id) WHERE {' AND '.join(where)} ORDER BY i.seq",
            params,
        )
        return [r[0] for r in rows]

    # -- read models: moving around the work ------------------------------------------------
    def reviewer_history(
        self, annotator: str, n: int, item_id: str | None = None
    ) -> list[dict[str, Any]]:
        """A reviewer's decided items, most recent first: one record per item (at most n).

        Keys ``seq, item_id, kind, labels`` (JSON list or None for a skip), ``time``
        (epoch seconds) and ``note`` (the reviewer's newest live note on the item, or None),
        from the reviewer's newest live decision on each item; ``item_id`` limits it to one.
        Reads the reviewer's events newest first until ``n`` items are found (an index
        walk: the cost grows with ``n``, not with the length of the log).
        """
        where = "e.annotator = ? AND e.kind IN ('accept', 'correct', 'label', 'skip') "
        where += "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.seq) "
        params: list[Any] = [annotator]
        if item_id is not None:
            where, params = where + "AND e.item_id = ? ", [annotator, item_id]
        sql = (
            "SELECT e.seq, e.item_id, e.kind, e.labels, e.created_at AS time FROM events e "
            f"WHERE {where}ORDER BY e.seq DESC LIMIT ? OFFSET ?"
        )
        rows: dict[str, tuple[Any, ...]] = {}
        offset, batch = 0, 4 * n
        while len(rows) < n:
            got = self.query(sql, [*params, batch, offset])
            for row in got:  # newest first: an item's first row is its current decision
                rows.setdefault(row[1], row)
            if len(got) < batch:
                break
            offset, batch = offset + batch, batch * 2
        found = sorted(rows.values(), key=lambda r: -r[0])[:n]
        keys = ("seq", "item_id", "kind", "labels", "time")
        return [
            {**dict(zip(keys, r, strict=True)), "note": self.latest_note(annotator, r[1])}
            for r in found
        ]

    def latest_note(self, annotator: str, item_id: str) -> str | None:
        """The reviewer's newest live note on the item (a note event or a decision's)."""
        row = self._conn.execute(
            "SELECT note FROM events m WHERE item_id = ? AND annotator = ? "
            "AND note IS NOT NULL AND kind != 'undo' "
            "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = m.seq) "
            "ORDER BY seq DESC LIMIT 1",
            (item_id, annotator),
        ).fetchone()
        return None if row is None else str(row[0])

    def search_items(self, query: str, n: int) -> pd.DataFrame:
        """Up to ``n`` items whose id is ``query`` (first), then whose text contains it.

        The text match ignores case (ASCII letters, SQLite's ``LIKE``); ``%``, ``_`` and
        ``\\`` in ``query`` match themselves. Columns ``item_id, text, match`` ("id" or
        "text"), in pool order after the id match.
        """
        pattern = "%" + _escape_like(query) + "%"
        return self.frame(
            "SELECT item_id, text, match FROM ("
            "SELECT item_id, text, 'id' AS match, -1 AS seq FROM items WHERE item_id = ? "
            "UNION ALL SELECT item_id, text, 'text' AS match, seq FROM items "
            "WHERE item_id != ? AND text LIKE ? ESCAPE '\\') ORDER BY seq LIMIT ?",
            (query, query, pattern, n),
        )


def _escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
