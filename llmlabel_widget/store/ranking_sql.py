"""The team's shared ranking: one process refits at a time, every reviewer leases from it.

The refitter holds a turn (a meta row, claimed in a locked transaction, kept while it keeps
asking, free for another process once it lapses). After a refit it replaces the ``ranking``
table with the top of its ranking in one transaction (a new version, and the number of
decisions it was fitted on). Reviewers read the table in SQL: ranked order, without items
another reviewer holds or anyone decided; :meth:`~.team_sql.TeamSQL.lease` then takes them.
The same SQL on both backends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

DONE = 1e18  # the expiry of a lease whose reviewer decided the item: held for good
RANKING = "team_ranking"  # meta: {"version", "fitted_on", "size"} of the ranking table
TURN = "team_refitter"  # meta: {"who", "until"}: the process whose turn it is to refit
_DECIDED = "('accept', 'correct', 'label', 'skip')"
_TABLE = (
    "CREATE TABLE IF NOT EXISTS ranking (pos INTEGER PRIMARY KEY, item_id TEXT NOT NULL, "
    "strategy TEXT NOT NULL, reason TEXT NOT NULL, score DOUBLE PRECISION NOT NULL)"
)


class RankingSQL:
    """Shared-ranking queries, written once (the backend's placeholder and locking)."""

    _P = "?"  # the placeholder
    _LOCK = ""  # SQLite: reading a meta row inside the write transaction is enough
    _META_NEW = "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)"

    if TYPE_CHECKING:  # the backend's own

        def transaction(self) -> Any: ...

        def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

        def get_meta(self, key: str) -> str | None: ...

        def _ensure_team(self) -> None: ...

    def _insert_ranking(self, tx: Any, rows: Sequence[tuple[str, str, str, float]]) -> None:
        """Insert ``rows`` at positions 0, 1, … (PostgreSQL: one statement)."""
        p = self._P
        tx.executemany(
            f"INSERT INTO ranking VALUES ({p}, {p}, {p}, {p}, {p})",
            [(k, i, s, r, float(v)) for k, (i, s, r, v) in enumerate(rows)],
        )

    def ranking_info(self) -> dict[str, Any] | None:
        """``{"version", "fitted_on", "size"}`` of the shared ranking, or None (none yet)."""
        raw = self.get_meta(RANKING)
        return None if raw is None else json.loads(raw)

    def claim_refit(self, who: str, hold: float, every: int) -> int | None:
        """Take (or keep) the refit turn for ``hold`` seconds unless another process holds
        it; the number of decisions to fit on when a refit is due (no ranking yet, or
        ``every`` new decisions since the last one), else None."""
        now = time.time()
        raw = self.get_meta(TURN)  # a cheap look first: most calls are not the refitter's
        turn: dict[str, Any] = json.loads(raw) if raw else {"who": None, "until": 0.0}
        if turn["who"] != who and turn["until"] > now:
            return None
        p = self._P
        with self.transaction() as tx:
            ask = f"SELECT value FROM meta WHERE key = {p}{self._LOCK}"
            if tx.execute(ask, (TURN,)).fetchone() is None:
                tx.execute(self._META_NEW, (TURN, json.dumps({"who": None, "until": 0.0})))
            turn = json.loads(tx.execute(ask, (TURN,)).fetchone()[0])
            if turn["who"] != who and turn["until"] > now:
                return None  # another process took it meanwhile
            mine = json.dumps({"who": who, "until": now + hold})
            tx.execute(f"UPDATE meta SET value = {p} WHERE key = {p}", (mine, TURN))
            count = tx.execute(f"SELECT COUNT(*) FROM events WHERE kind IN {_DECIDED}")
            decided = int(count.fetchone()[0])
            row = tx.execute(f"SELECT value FROM meta WHERE key = {p}", (RANKING,)).fetchone()
        last = None if row is None else json.loads(row[0])["fitted_on"]
        return decided if last is None or decided - last >= every else None

    def release_refit(self, who: str) -> None:
        """Give up the refit turn if ``who`` holds it (a closing session), so that another
        process takes it at its next call rather than when it lapses."""
        p = self._P
        with self.transaction() as tx:
            ask = f"SELECT value FROM meta WHERE key = {p}{self._LOCK}"
            row = tx.execute(ask, (TURN,)).fetchone()
            if row is not None and json.loads(row[0])["who"] == who:
                free = json.dumps({"who": None, "until": 0.0})
                tx.execute(f"UPDATE meta SET value = {p} WHERE key = {p}", (free, TURN))

    def write_ranking(self, rows: Sequence[tuple[str, str, str, float]], fitted_on: int) -> int:
        """Replace the shared ranking with ``rows`` (``item_id, strategy, reason, score``, best
        first) in one transaction; its new version."""
        p = self._P
        with self.transaction() as tx:
            tx.execute(_TABLE)
            tx.execute("DELETE FROM ranking")
            self._insert_ranking(tx, rows)
            row = tx.execute(f"SELECT value FROM meta WHERE key = {p}", (RANKING,)).fetchone()
            version = 1 + (json.loads(row[0])["version"] if row else 0)
            info = json.dumps({"version": version, "fitted_on": fitted_on, "size": len(rows)})
            tx.execute(self._META_NEW, (RANKING, info))
            tx.execute(f"UPDATE meta SET value = {p} WHERE key = {p}", (info, RANKING))
        self._ranking_checked = True
        return version

    def ranking_top(self, reviewer: str, k: int) -> list[tuple[str, str, str, float]]:
        """The first ``k`` rows of the shared ranking the reviewer may lease (by index
        lookups, in ranked order): not decided by the reviewer, and with a slot free or
        theirs (an overlap item's second slot while another reviewer holds the first)."""
        self._ensure_team()
        if not getattr(self, "_ranking_checked", False):  # a project copied without it
            with self.transaction() as tx:
                tx.execute(_TABLE)
            self._ranking_checked = True
        p = self._P
        rows = self.query(
            f"SELECT r.item_id, r.strategy, r.reason, r.score FROM ranking r WHERE NOT EXISTS "
            f"(SELECT 1 FROM leases l WHERE l.item_id = r.item_id AND l.reviewer = {p} "
            f"AND l.expires >= {p}) AND (EXISTS (SELECT 1 FROM leases l WHERE "
            f"l.item_id = r.item_id AND (l.expires < {p} OR l.reviewer = {p})) OR NOT EXISTS "
            f"(SELECT 1 FROM leases l WHERE l.item_id = r.item_id)) ORDER BY r.pos LIMIT {p}",
            (reviewer, DONE, time.time(), reviewer, k),
        )
        return [(r[0], r[1], r[2], float(r[3])) for r in rows]
