"""Leases: which reviewer works on which item, for how long; the same SQL on both backends.

An item has one slot per copy wanted (two for an overlap item). A lease row holds one slot
for one reviewer until ``expires``; once the reviewer decides the item the row is kept for
good (``expires = DONE``). A slot whose lease expired is free again. PostgreSQL takes free
slots with ``SELECT … FOR UPDATE SKIP LOCKED`` (reviewers never wait for each other); SQLite
runs the whole lease in its single-writer transaction (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .ranking_sql import _DECIDED, DONE, RankingSQL

FRONTIER = "team_frontier"  # meta: the highest item seq whose slot rows exist (pool order)
# Items a move of the frontier makes slot rows for, at least: those its reviewer does not take
# stay free rows, which the next reviewers lease without waiting for the frontier's lock.
ADVANCE = 32
_LEASES = (
    "CREATE TABLE IF NOT EXISTS leases (item_id TEXT NOT NULL, slot INTEGER NOT NULL, "
    "reviewer TEXT, expires DOUBLE PRECISION NOT NULL, PRIMARY KEY (item_id, slot))"
)


class TeamSQL(RankingSQL):
    """Lease queries, written once; a backend sets its placeholder and locking clauses."""

    _SKIP_LOCKED = ""  # SQLite: the transaction already holds the only write lock
    _RANKED = "(SELECT value AS id, key AS pos FROM json_each(?)) c"  # the candidates, ranked
    # (item, reviewer) whose lease the decision's own statement closed (PostgreSQL add_event)
    _closed_lease: tuple[str, str] | None = None

    if TYPE_CHECKING:  # the backend's own

        def transaction(self) -> Any: ...

        def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def _list(self, values: Sequence[Any]) -> Any:
        raise NotImplementedError  # one parameter holding a list (JSON text, or an array)

    def _add_slots(self, tx: Any, slots: Sequence[tuple[str, int]]) -> None:
        """Insert missing (item_id, slot) rows, free, inside the lease's transaction."""

    def _add_slots_alone(self, slots: Sequence[tuple[str, int]]) -> None:
        """The same, in a statement of its own before the lease's transaction."""

    def _insert_slots(self, tx: Any, slots: Sequence[tuple[str, int]]) -> None:
        """Insert missing (item_id, slot) rows, free, in ``tx`` (both backends)."""
        self._add_slots(tx, slots)

    def _team_ready(self, tx: Any) -> None:
        """Create the lease table in a store made before it existed (SQLite), and the index
        that finds free and expired slots without a scan."""
        tx.execute("CREATE INDEX IF NOT EXISTS leases_expires ON leases(expires)")

    def _no_wait(self, tx: Any) -> None:
        """Commit this transaction without waiting for the disk (PostgreSQL): lease
        bookkeeping a crash may lose, which :meth:`_pick` tells from the event log."""

    def _ensure_team(self) -> None:
        if not getattr(self, "_team_checked", False):
            with self.transaction() as tx:
                self._team_ready(tx)
            self._team_checked = True

    # -- writes ----------------------------------------------------------------------------
    def lease(
        self,
        reviewer: str,
        candidates: Sequence[str],
        copies: Mapping[str, int],
        n: int,
        seconds: float,
        *,
        only_candidates: bool = False,
    ) -> list[str]:
        """Lease up to ``n`` items to ``reviewer`` for ``seconds``, in one transaction.

        The reviewer's live leases come first (all renewed; with ``only_candidates``, only
        those among ``candidates`` are returned, as a filtered queue needs), then free slots
        of ``candidates`` in their order: one slot per item, never an item the reviewer holds
        or decided.
        """
        p, now = self._P, time.time()
        until = now + seconds
        slots = sorted((c, s) for c in candidates for s in range(copies.get(c, 1)))
        self._ensure_team()
        self._add_slots_alone(slots)
        with self.transaction() as tx:
            renewed = tx.execute(
                f"UPDATE leases SET expires = {p} WHERE reviewer = {p} AND expires >= {p} "
                f"AND expires < {p} RETURNING item_id",
                (until, reviewer, now, DONE),
            )
            held = sorted(r[0] for r in renewed.fetchall())
            rank = {c: k for k, c in enumerate(candidates)}
            if only_candidates:
                held = [c for c in held if c in rank]
            held.sort(key=lambda c: rank.get(c, -1))
            need = n - len(held)
            if need <= 0:
                return held[:n]
            self._add_slots(tx, slots)
            picked = self._pick(tx, reviewer, [c for c in candidates if c not in held], need)
            tx.executemany(
                f"UPDATE leases SET reviewer = {p}, expires = {p} WHERE item_id = {p} "
                f"AND slot = {p}",
                [(reviewer, until, item, slot) for item, slot in sorted(picked)],
            )
        return held + [item for item, _ in picked]

    def lease_next(
        self, reviewer: str, n: int, copies_of: Callable[[str], int], seconds: float
    ) -> list[str]:
        """Lease up to ``n`` items to ``reviewer`` in pool order, with indexed queries only,
        in one transaction.

        The reviewer's live leases come first (renewed), then free slots that already have a
        row (an overlap item's second copy, an expired lease), then items past the frontier
        (the highest item ``seq`` whose slot rows exist), whose rows are made as it moves on.
        Nothing here reads the whole pool or every lease: what a call costs does not grow with
        the project.
        """
        p, now = self._P, time.time()
        self._ensure_team()
        with self.transaction() as tx:
            self._no_wait(tx)
            renewed = tx.execute(
                f"UPDATE leases SET expires = {p} WHERE reviewer = {p} AND expires >= {p} "
                f"AND expires < {p} RETURNING item_id",
                (now + seconds, reviewer, now, DONE),
            ).fetchall()
            held = self._in_pool_order(tx, [r[0] for r in renewed][:n])
            need = n - len(held)
            if need <= 0:
                return held
            picked = self._free(tx, reviewer, need)
            while len(picked) < need:
                taken = {item for item, _ in picked}
                fresh = self._advance(tx, max(need - len(picked) + 4, ADVANCE), copies_of)
                if not fresh:  # the pool is used up
                    break
                more = [i for i in fresh if i not in taken]
                picked += self._pick(tx, reviewer, more, need - len(picked)) if more else []
            tx.executemany(
                f"UPDATE leases SET reviewer = {p}, expires = {p} WHERE item_id = {p} "
                f"AND slot = {p}",
                [(reviewer, now + seconds, item, slot) for item, slot in sorted(picked)],
            )
            return held + self._in_pool_order(tx, [item for item, _ in picked])

    def _in_pool_order(self, tx: Any, ids: list[str]) -> list[str]:
        if len(ids) < 2:
            return ids
        rows = tx.execute(
            f"SELECT c.id FROM {self._RANKED} JOIN items i ON i.item_id = c.id ORDER BY i.seq",
            (self._list(ids),),
        ).fetchall()
        return [r[0] for r in rows]

    def _free(self, tx: Any, reviewer: str, need: int) -> list[tuple[str, int]]:
        """Slots the reviewer may take, locked: expired leases first (abandoned items, the
        oldest first), then free rows in pool order. Both are ranges of the index on
        ``expires`` (a free row's is 0), so neither reads the pool."""
        p, now = self._P, time.time()
        got = self._first_slots(
            tx, f"l.expires >= 1 AND l.expires < {p}", (now,), "l.expires", reviewer, need
        )
        if len(got) < need:
            seq = "(SELECT i.seq FROM items i WHERE i.item_id = l.item_id), l.slot"
            more = self._first_slots(tx, "l.expires < 1", (), seq, reviewer, need - len(got))
            taken = {item for item, _ in got}  # an overlap item: one slot expired, one free
            got += [(i, s) for i, s in more if i not in taken]
        return got

    def _advance(self, tx: Any, m: int, copies_of: Callable[[str], int]) -> list[str]:
        """Make the slot rows of the next ``m`` items past the frontier, free, and move the
        frontier past them (one reviewer at a time: the frontier row stays locked until
        ``tx`` ends; PostgreSQL's other reviewers meanwhile take free rows, never waiting)."""
        p = self._P
        ask = f"SELECT value FROM meta WHERE key = {p}{self._LOCK}"
        row = tx.execute(ask, (FRONTIER,)).fetchone()
        if row is None:
            tx.execute(self._META_NEW, (FRONTIER, "-1"))
            row = tx.execute(ask, (FRONTIER,)).fetchone()
        rows = tx.execute(
            f"SELECT seq, item_id FROM items WHERE seq > {p} ORDER BY seq LIMIT {p}",
            (int(row[0]), m),
        ).fetchall()
        if rows:
            tx.execute(f"UPDATE meta SET value = {p} WHERE key = {p}", (str(rows[-1][0]), FRONTIER))
            self._insert_slots(tx, [(i, s) for _, i in rows for s in range(copies_of(i))])
        return [i for _, i in rows]

    def _pick(
        self, tx: Any, reviewer: str, candidates: list[str], need: int
    ) -> list[tuple[str, int]]:
        """Free slots of the first ``candidates`` the reviewer may take, one per item, locked
        (on PostgreSQL only the rows returned: other reviewers skip just those)."""
        p, now = self._P, time.time()
        return self._first_slots(
            tx,
            f"(l.reviewer IS NULL OR l.expires < {p})",
            (self._list(candidates), now),  # the join's, then the condition's
            "c.pos, l.slot",
            reviewer,
            need,
            join=f"JOIN {self._RANKED} ON l.item_id = c.id ",
        )

    def _first_slots(
        self,
        tx: Any,
        free: str,
        params: tuple[Any, ...],
        order: str,
        reviewer: str,
        need: int,
        join: str = "",
    ) -> list[tuple[str, int]]:
        """One slot per item (the first in ``order``) of up to ``need`` items whose slot row
        ``l`` is ``free`` and that ``reviewer`` may take: they hold no live slot of it, and
        nobody decided it (a decider who no longer holds a slot, or they, rule it out), locked."""
        p, now = self._P, time.time()
        rows = tx.execute(
            f"SELECT l.item_id, l.slot FROM leases l {join}WHERE {free} AND NOT EXISTS "
            f"(SELECT 1 FROM leases m WHERE m.item_id = l.item_id AND m.reviewer = {p} "
            f"AND m.expires >= {p}) AND NOT EXISTS (SELECT 1 FROM events e "
            f"WHERE e.item_id = l.item_id AND e.kind IN {_DECIDED} AND (e.annotator = {p} "
            f"OR NOT EXISTS (SELECT 1 FROM leases d WHERE d.item_id = l.item_id "
            f"AND d.reviewer = e.annotator AND d.expires >= {p}))) "
            f"ORDER BY {order} LIMIT {p}{self._SKIP_LOCKED.replace('UPDATE', 'UPDATE OF l')}",
            (*params, reviewer, now, reviewer, DONE, 2 * need),
        ).fetchall()
        first: dict[str, int] = {}
        for item, slot in rows:
            first.setdefault(item, slot)
        return list(first.items())[:need]

    def finish_lease(self, reviewer: str, item_id: str, copies: int) -> None:
        """After ``reviewer`` decided the item: hold its slot for good (a free one if the
        reviewer held none and one is left)."""
        if self._closed_lease == (item_id, reviewer):
            self._closed_lease = None
            return  # held for good by the decision's own transaction (PostgreSQL add_event)
        p, now = self._P, time.time()
        self._ensure_team()
        with self.transaction() as tx:
            self._no_wait(tx)
            done = tx.execute(
                f"UPDATE leases SET expires = {p} WHERE item_id = {p} AND reviewer = {p}",
                (DONE, item_id, reviewer),
            ).rowcount
        if done:
            return
        # decided without a lease (an item chosen by id): take a free slot, if one is left
        slots = [(item_id, s) for s in range(copies)]
        self._add_slots_alone(slots)
        with self.transaction() as tx:
            self._add_slots(tx, slots)
            free = tx.execute(
                f"SELECT slot FROM leases WHERE item_id = {p} AND (reviewer IS NULL OR "
                f"expires < {p}) ORDER BY slot LIMIT 1{self._SKIP_LOCKED}",
                (item_id, now),
            ).fetchall()
            if free:
                tx.execute(
                    f"UPDATE leases SET reviewer = {p}, expires = {p} WHERE item_id = {p} "
                    f"AND slot = {p}",
                    (reviewer, DONE, item_id, free[0][0]),
                )

    def reopen_lease(self, item_id: str, seconds: float) -> None:
        """After an undo: a held slot whose reviewer has no live decision on the item left is
        a live lease of that reviewer again, for ``seconds``."""
        p = self._P
        self._ensure_team()
        with self.transaction() as tx:
            tx.execute(
                f"UPDATE leases SET expires = {p} WHERE item_id = {p} AND expires >= {p} "
                f"AND reviewer NOT IN (SELECT annotator FROM events e WHERE item_id = {p} "
                f"AND kind IN {_DECIDED} AND NOT EXISTS "
                "(SELECT 1 FROM events u WHERE u.undoes = e.seq))",
                (time.time() + seconds, item_id, DONE, item_id),
            )

    # -- reads -----------------------------------------------------------------------------
    def second_copies(self, reviewer: str, n: int) -> list[str]:
        """Overlap items another reviewer decided whose next slot is free (oldest first)."""
        p = self._P
        self._ensure_team()
        rows = self.query(
            f"SELECT l.item_id FROM leases l WHERE l.slot > 0 AND "
            f"(l.reviewer IS NULL OR l.expires < {p}) AND EXISTS (SELECT 1 FROM leases d "
            f"WHERE d.item_id = l.item_id AND d.expires >= {p} AND d.reviewer != {p}) "
            f"AND NOT EXISTS (SELECT 1 FROM leases m WHERE m.item_id = l.item_id "
            f"AND m.reviewer = {p}) ORDER BY l.item_id LIMIT {p}",
            (time.time(), DONE, reviewer, reviewer, n),
        )
        return list(dict.fromkeys(r[0] for r in rows))

    def leases(self) -> pd.DataFrame:
        """Every lease row: ``item_id, slot, reviewer, expires, done``."""
        self._ensure_team()
        rows = self.query("SELECT item_id, slot, reviewer, expires FROM leases ORDER BY 1, 2")
        out = pd.DataFrame(rows, columns=["item_id", "slot", "reviewer", "expires"])
        out["done"] = out["expires"] >= DONE
        return out


class SQLiteTeam(TeamSQL):
    """Leases in the SQLite store."""

    def _list(self, values: Sequence[Any]) -> Any:
        import json

        return json.dumps(list(values))

    def _team_ready(self, tx: Any) -> None:
        tx.execute(_LEASES.replace("DOUBLE PRECISION", "REAL"))
        super()._team_ready(tx)

    def _add_slots(self, tx: Any, slots: Sequence[tuple[str, int]]) -> None:
        tx.executemany("INSERT OR IGNORE INTO leases VALUES (?, ?, NULL, 0)", slots)


class PostgresTeam(TeamSQL):
    """Leases in a PostgreSQL project."""

    _P = "%s"
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
    _RANKED = "unnest(%s::text[]) WITH ORDINALITY AS c(id, pos)"
    _LOCK = " FOR UPDATE"
    _META_NEW = "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"

    def _list(self, values: Sequence[Any]) -> Any:
        return list(values)

    def _no_wait(self, tx: Any) -> None:
        tx.execute("SET LOCAL synchronous_commit = off")

    def _team_ready(self, tx: Any) -> None:
        # new projects have the index (postgres_schema); one made before it gets it here
        if tx.execute("SELECT to_regclass('leases_expires') IS NULL").fetchone()[0]:
            super()._team_ready(tx)

    def _add_slots_alone(self, slots: Sequence[tuple[str, int]]) -> None:
        # Its own transaction: inside the lease's, an insert that meets a row another
        # reviewer's lease is renewing waits for it while holding rows that one may need.
        # Free slot rows lost in a crash are made again: no need to wait for the disk.
        if slots:
            with self.transaction() as tx:
                self._no_wait(tx)
                self._insert_slots(tx, slots)

    def _insert_slots(self, tx: Any, slots: Sequence[tuple[str, int]]) -> None:
        tx.execute(
            "INSERT INTO leases (item_id, slot, reviewer, expires) "
            "SELECT i, s, NULL, 0 FROM unnest(%s::text[], %s::int[]) AS t(i, s) "
            "ON CONFLICT DO NOTHING",
            ([i for i, _ in slots], [s for _, s in slots]),
        )

    def _insert_ranking(self, tx: Any, rows: Sequence[tuple[str, str, str, float]]) -> None:
        tx.execute(
            "INSERT INTO ranking SELECT k - 1, i, s, r, v FROM unnest(%s::text[], %s::text[], "
            "%s::text[], %s::float8[]) WITH ORDINALITY AS t(i, s, r, v, k)",
            tuple(list(col) for col in zip(*rows, strict=True)) if rows else ([], [], [], []),
        )
