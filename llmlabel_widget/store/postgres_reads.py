"""The PostgreSQL store's read models: the same frames, counts and states as ``sqlite_reads``.

Every value goes through a ``%s`` placeholder. Where SQLite returns the bare columns of a
``MAX(seq)`` row, PostgreSQL uses ``DISTINCT ON``; sums are cast back to integers (PostgreSQL
sums integers as ``numeric``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pandas as pd

from .base import TRIAL_PREFIX, selector_frame

T = TypeVar("T")
_DECISION_KINDS = "('accept', 'correct', 'label', 'skip')"
_LIVE = "NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.seq)"
# The newest not-undone decision per item.
LATEST_DECISION = (
    "SELECT DISTINCT ON (item_id) item_id, kind, seq FROM events e "
    f"WHERE kind IN {_DECISION_KINDS} AND {_LIVE} ORDER BY item_id, seq DESC"
)
# Trial answers (see TRIAL_PREFIX) never become the proposal an item shows.
NOT_TRIAL = f"(run_id IS NULL OR left(run_id, {len(TRIAL_PREFIX)}) <> '{TRIAL_PREFIX}')"
_LATEST_PROPOSAL = (
    "SELECT DISTINCT ON (item_id) item_id, valid, seq FROM proposals "
    f"WHERE {NOT_TRIAL} ORDER BY item_id, seq DESC"
)


def fetch_frame(cur: Any, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run a query on a psycopg cursor; its rows as a DataFrame (as ``pd.read_sql_query``)."""
    cur.execute(sql, list(params))
    columns = [d.name for d in cur.description]
    return pd.DataFrame.from_records(cur.fetchall(), columns=columns, coerce_float=True)


class PostgresReadModels:
    """The read-model queries of :class:`~llmlabel_widget.store.postgres.PostgresStore`."""

    def _read(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError  # the store's connection: see PostgresStore._read

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows."""

        def run(cur: Any) -> list[tuple[Any, ...]]:
            cur.execute(sql, list(params))
            return list(cur.fetchall())

        return self._read(run)

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        return self._read(lambda cur: fetch_frame(cur, sql, params))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def state_counts(self) -> dict[str, int]:
        """Number of items in each state (see ``Session.items``), computed in SQL."""
        rows = self.query(
            f"WITH d AS ({LATEST_DECISION}), p AS ({_LATEST_PROPOSAL}) "
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
            f"WITH d AS ({LATEST_DECISION}) SELECT i.item_id FROM items i "
            "LEFT JOIN d USING (item_id) WHERE d.kind IS NULL ORDER BY i.seq LIMIT %s",
            (n,),
        )
        out = [r[0] for r in fresh]
        if len(out) < n:
            skipped = self.query(
                f"WITH d AS ({LATEST_DECISION}) SELECT item_id FROM d "
                "WHERE kind = 'skip' ORDER BY seq LIMIT %s",
                (n - len(out),),
            )
            out += [r[0] for r in skipped]
        return out

    def decision_counts(self) -> dict[str, int]:
        """Items whose current decision is each kind (accept, correct, label, skip)."""
        rows = self.query(f"SELECT kind, COUNT(*) FROM ({LATEST_DECISION}) d GROUP BY kind")
        return {str(k): int(v) for k, v in rows}

    def is_decided(self, item_id: str) -> bool:
        """Whether the item's current decision is a label (not a skip, not undone)."""
        row = self._one(
            f"SELECT kind FROM events e WHERE item_id = %s AND kind IN {_DECISION_KINDS} "
            f"AND {_LIVE} ORDER BY seq DESC LIMIT 1",
            (item_id,),
        )
        return row is not None and row[0] != "skip"

    def live_events(self) -> pd.DataFrame:
        """All events that have not been undone, oldest first (undo rows excluded)."""
        return self.frame(
            "SELECT e.seq, e.item_id, e.annotator, e.kind, e.labels, e.note, "
            "e.proposal_seq, e.context, e.created_at FROM events e "
            f"WHERE e.kind != 'undo' AND {_LIVE} ORDER BY e.seq"
        )

    def count_events(self) -> int:
        """Number of rows in the event log (undo rows included)."""
        row = self._one("SELECT COUNT(*) FROM events")
        return int(row[0]) if row else 0

    # -- read models ---------------------------------------------------------------------
    def items_frame(self) -> pd.DataFrame:
        """Every item's ``item_id, text, meta`` (metadata as a JSON line), in pool order."""
        return self.frame("SELECT item_id, text, meta FROM items ORDER BY seq")

    def latest_proposals(self) -> pd.DataFrame:
        """Each item's newest proposal (trials excluded), columns named ``llm_*``."""
        return self.frame(
            "SELECT DISTINCT ON (p.item_id) p.item_id, p.labels AS llm_label, "
            "p.valid AS llm_valid, p.confidence AS llm_confidence, "
            "p.confidence_method AS llm_confidence_method, p.match AS llm_match, "
            "p.rationale AS llm_rationale, p.source AS llm_source, p.model AS llm_model, "
            "p.prompt_version, p.raw AS llm_raw, p.problem AS llm_problem FROM proposals p "
            f"WHERE {NOT_TRIAL} ORDER BY p.item_id, p.seq DESC"
        )

    def version_proposals(self, prompt_version: str) -> pd.DataFrame:
        """The newest answer of one prompt version per item, trials included."""
        return self.frame(
            "SELECT DISTINCT ON (item_id) item_id, labels, valid, rationale, confidence, demos "
            "FROM proposals WHERE prompt_version = %s ORDER BY item_id, seq DESC",
            (prompt_version,),
        )

    def usage(self) -> pd.DataFrame:
        """Requests, tokens and cost per annotator run (cache hits excluded), oldest first."""
        return self.frame(
            "SELECT run_id, MIN(model) AS model, MIN(prompt_version) AS prompt_version, "
            "SUM(1 - cached)::bigint AS requests, SUM(cached)::bigint AS cached, "
            "SUM(prompt_tokens)::bigint AS prompt_tokens, "
            "SUM(completion_tokens)::bigint AS completion_tokens, "
            "SUM(cost) AS cost, MIN(created_at) AS started FROM proposals "
            "WHERE source != 'recorded' GROUP BY run_id ORDER BY started"
        )

    # -- read model: the selector's state ---------------------------------------------------
    @staticmethod
    def selector_frames(cur: Any, *, texts: bool = True) -> pd.DataFrame:
        """The selector's state (see ``SQLiteReadModels.read_selector_state``) on ``cur``."""
        latest = (
            "SELECT DISTINCT ON (item_id) item_id, labels, confidence, seq FROM proposals "
            f"WHERE valid = 1 AND {NOT_TRIAL} ORDER BY item_id, seq DESC"
        )
        columns = "item_id, text" if texts else "item_id"
        items = fetch_frame(cur, f"SELECT {columns} FROM items ORDER BY seq")
        decisions = fetch_frame(
            cur,
            f"WITH d AS ({LATEST_DECISION}) "
            "SELECT d.item_id, d.kind, e.labels FROM d JOIN events e ON e.seq = d.seq",
        )
        props = fetch_frame(cur, latest)
        others = fetch_frame(
            cur,
            f"WITH last AS ({latest}) SELECT p.item_id, p.labels AS other, last.labels "
            "FROM proposals p JOIN last USING (item_id) "
            "WHERE p.valid = 1 AND p.seq < last.seq",
        )
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
        """Ids of the items matching every given criterion, in pool order (as SQLite's)."""
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if labels:
            where.append(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(p.labels::jsonb) v "
                "WHERE v = ANY(%s))"
            )
            params.append(list(labels))
        if confidence is not None:
            where.append("p.confidence BETWEEN %s AND %s")
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
            where.append("strpos(lower(i.text), lower(%s)) > 0")
            params.append(text)
        latest = (
            "SELECT DISTINCT ON (item_id) * FROM proposals "
            f"WHERE {NOT_TRIAL} ORDER BY item_id, seq DESC"
        )
        rows = self.query(
            f"WITH d AS ({LATEST_DECISION}), p AS ({latest}) "
            "SELECT i.item_id FROM items i LEFT JOIN d USING (item_id) "
            f"LEFT JOIN p USING (item_id) WHERE {' AND '.join(where)} ORDER BY i.seq",
            params,
        )
        return [r[0] for r in rows]

    # -- read models: moving around the work ------------------------------------------------
    def reviewer_history(
        self, annotator: str, n: int, item_id: str | None = None
    ) -> list[dict[str, Any]]:
        """A reviewer's decided items, most recent first (see ``SQLiteReadModels``)."""
        where = f"e.annotator = %s AND e.kind IN {_DECISION_KINDS} AND {_LIVE} "
        params: list[Any] = [annotator]
        if item_id is not None:
            where, params = where + "AND e.item_id = %s ", [annotator, item_id]
        sql = (
            "SELECT e.seq, e.item_id, e.kind, e.labels, e.created_at AS time FROM events e "
            f"WHERE {where}ORDER BY e.seq DESC LIMIT %s OFFSET %s"
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
        row = self._one(
            "SELECT note FROM events e WHERE item_id = %s AND annotator = %s "
            f"AND note IS NOT NULL AND kind != 'undo' AND {_LIVE} ORDER BY seq DESC LIMIT 1",
            (item_id, annotator),
        )
        return None if row is None else str(row[0])

    def search_items(self, query: str, n: int) -> pd.DataFrame:
        """Up to ``n`` items whose id is ``query`` (first), then whose text contains it."""
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self.frame(
            "SELECT item_id, text, match FROM ("
            "SELECT item_id, text, 'id' AS match, -1 AS seq FROM items WHERE item_id = %s "
            "UNION ALL SELECT item_id, text, 'text' AS match, seq FROM items "
            "WHERE item_id != %s AND text ILIKE %s ESCAPE '\\') s ORDER BY seq LIMIT %s",
            (query, query, pattern, n),
        )
