"""Team labeling: reviewers lease their next items from the shared queue; overlap items go to
more than one reviewer, for agreement.

:meth:`Team.queue_for` is what ``session.queue(n, reviewer=...)`` runs: the selector ranks
the pool (it learns from everyone's decisions), and the store leases the first free items to
the reviewer for ``lease_seconds`` (a reviewer who closes the laptop releases them when the
lease expires). Deciding an item keeps its slot for good; undoing it makes it a live lease of
the same reviewer again. Which items are overlap items is fixed by their id (a hash), so
every reviewer's process agrees without asking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .selector import QueueItem
from .team_ranking import SharedRanking

if TYPE_CHECKING:
    from .selector import Selector
    from .storage import StoreBackend

META_KEY = "team"


@dataclass(frozen=True)
class TeamSettings:
    """How a project shares its items: ``overlap`` share of items go to ``copies`` reviewers."""

    overlap: float = 0.0
    copies: int = 2
    lease_seconds: float = 600.0

    def check(self) -> TeamSettings:
        """Self, or a ValueError naming the bad setting."""
        if isinstance(self.overlap, bool) or not 0.0 <= float(self.overlap) <= 1.0:
            raise ValueError(f"overlap must be a share between 0 and 1, got {self.overlap!r}")
        if isinstance(self.copies, bool) or not isinstance(self.copies, int) or self.copies < 2:
            raise ValueError(f"copies must be an int of at least 2, got {self.copies!r}")
        if isinstance(self.lease_seconds, bool) or not float(self.lease_seconds) > 0:
            raise ValueError(f"lease_seconds must be positive, got {self.lease_seconds!r}")
        return self

    def copies_of(self, item_id: str) -> int:
        """How many reviewers label ``item_id``: ``copies`` for an overlap item, else 1."""
        if self.overlap <= 0:
            return 1
        digest = hashlib.sha256(item_id.encode("utf-8")).digest()
        return self.copies if int.from_bytes(digest[:8], "big") / 2**64 < self.overlap else 1


class Team(SharedRanking):
    """The Session's team methods (a mixin): :meth:`team` and the leased queue."""

    store: StoreBackend
    _selector: Selector
    _ranking: bool  # the Session's: its selector ranks; decisions reach it
    _live: bool
    _team_hooked: bool = False
    _team_now: TeamSettings | None = None  # as last read (by the latest queue call)

    if TYPE_CHECKING:

        def on_decision(self, fn: Callable[[Any], None], *, remove: bool = False) -> None: ...

        def decide(
            self,
            item_id: str | int,
            label: str | Sequence[str] | None = None,
            *,
            reviewer: str | None = None,
            note: str | None = None,
            context: Mapping[str, Any] | None = None,
            annotator: str | None = None,
        ) -> Any: ...

    def team(
        self, overlap: float = 0.0, *, copies: int = 2, lease_seconds: float = 600.0
    ) -> TeamSettings:
        """Share this project among reviewers: ``overlap`` (a share, 0 to 1) of the items go
        to ``copies`` reviewers each, for agreement; the rest to one. A reviewer's items are
        leased for ``lease_seconds`` at a time (renewed on each :meth:`queue` call).

        Stored in the project: every reviewer's session uses the same settings.

        Examples
        --------
        >>> session.team(overlap=0.1)                     # doctest: +SKIP
        >>> session.queue(5, reviewer="carol")            # doctest: +SKIP
        """
        settings = TeamSettings(overlap, copies, lease_seconds).check()
        self.store.set_meta(META_KEY, json.dumps(asdict(settings)))
        return settings

    def team_settings(self) -> TeamSettings | None:
        """The project's team settings, or None when :meth:`team` was never called."""
        raw = self.store.get_meta(META_KEY)
        self._team_now = None if raw is None else TeamSettings(**json.loads(raw))
        return self._team_now

    def queue_for(
        self,
        n: int,
        reviewer: str,
        ranked: Callable[[int], list[QueueItem]],
        filters: Any = None,
    ) -> list[QueueItem]:
        """Lease up to ``n`` items to ``reviewer``: theirs still live first, then overlap items
        waiting for another reviewer, then the free items of the ranking ``ranked(k)``. In
        pool order (the in-order selector, no ``filters``) no ranking is read: the store
        leases the next free items itself."""
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise ValueError(f"reviewer must be a non-empty string, got {reviewer!r}")
        settings = self.team_settings() or TeamSettings()
        self._hook_team()
        if self._selector.strategy == "in_order" and not filters:  # no ranking: all in SQL
            if not self._ranking:  # nor refits after decisions: it reads the store if it starts
                self._live = False
            got = self.store.lease_next(reviewer, n, settings.copies_of, settings.lease_seconds)
            return [QueueItem(i, "in_order", "next in pool", 0.0) for i in got]
        if not filters:  # a learning selector: one shared ranking for the whole team
            waiting = self.store.second_copies(reviewer, n) if settings.overlap > 0 else []
            return self._lease_shared(n, reviewer, settings, waiting)
        # A filter keeps only the items that match it: this process's filtered ranking, and
        # nothing else (no overlap copies or pool order to fill the queue up).
        k = 4 * n + 64
        while True:
            top = ranked(k)
            order = [q.item_id for q in top]
            copies = {i: settings.copies_of(i) for i in order}
            seconds = settings.lease_seconds
            got = self.store.lease(reviewer, order, copies, n, seconds, only_candidates=True)
            if len(got) >= n or len(top) < k:
                break
            k *= 4  # the top of the ranking is leased to others: look further down
        known = {q.item_id: q for q in top}
        return [known[i] for i in got]

    def _lease_shared(
        self, n: int, reviewer: str, settings: TeamSettings, waiting: list[str]
    ) -> list[QueueItem]:
        """Lease from the shared ranking table (in SQL), then in pool order once it is
        missing or used up; this process ranks the pool only when it holds the refit turn."""
        if not self._ranking:
            self._live = False  # decisions reach the selector only through the shared refit
        self._shared_refit()
        top = self._shared_top(reviewer, 4 * n + 64)
        got: list[str] = []
        if top or waiting:
            order = list(dict.fromkeys([*waiting, *(q.item_id for q in top)]))
            copies = {i: settings.copies_of(i) for i in order}
            got = self.store.lease(reviewer, order, copies, n, settings.lease_seconds)
        if len(got) < n:  # no shared ranking yet, or it is used up: pool order
            more = self.store.lease_next(reviewer, n, settings.copies_of, settings.lease_seconds)
            got += [i for i in more if i not in got][: n - len(got)]
        known = {q.item_id: q for q in top}
        second = "overlap: a second reviewer's label, for agreement"
        return [
            known.get(i)
            or (QueueItem(i, "overlap", second, 0.0) if i in waiting else None)
            or QueueItem(i, "pool order", "next in pool", 0.0)
            for i in got
        ]

    def team_metrics(self, *, level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> Any:
        """Reviewer agreement with intervals: Cohen's kappa per pair of reviewers, Krippendorff's
        alpha over all of them, and each reviewer's kappa against the LLM (a DataFrame indexed
        by ``metric``, columns as :meth:`metrics`'s). :meth:`metrics` adds these rows in a
        team project."""
        from .team_agreement import team_table

        props = self.store.latest_proposals()
        valid = props[props["llm_valid"] == 1]
        llm = valid.set_index("item_id")["llm_label"].map(_one_label)
        events = self.store.live_events()
        return team_table(events, llm, level=level, n_boot=n_boot, seed=seed)

    def conflicts(self) -> Any:
        """Items whose reviewers disagree and nobody adjudicated yet: ``item_id, labels``
        (reviewer -> label), ``reviewers`` (a DataFrame); settle each with :meth:`adjudicate`."""
        from .team_agreement import conflicts

        return conflicts(self.store.live_events())

    def adjudicate(
        self, item_id: Any, label: Any, *, reviewer: str, note: str | None = None
    ) -> Any:
        """Settle a conflict: ``reviewer``'s label becomes the item's, recorded as an
        adjudication (``context["adjudicated"]``, with the labels it settled); it leaves
        :meth:`conflicts` and counts in no reviewer's agreement."""
        from .team_agreement import ADJUDICATED, conflicts

        rows = conflicts(self.store.live_events())
        seen = rows.loc[rows["item_id"] == str(item_id), "labels"]
        context = {ADJUDICATED: True, "settled": seen.iloc[0] if len(seen) else {}}
        return self.decide(item_id, label, reviewer=reviewer, note=note, context=context)

    def leases(self) -> Any:
        """Every lease: ``item_id, slot, reviewer, expires, done`` (a DataFrame)."""
        return self.store.leases()

    def _hook_team(self) -> None:
        """Decisions and undos in this session keep the leases up to date."""
        if not self._team_hooked:
            self.on_decision(self._team_event)
            self._team_hooked = True

    def _team_event(self, event: Any) -> None:
        settings = self._team_now or TeamSettings()
        if isinstance(event, dict):  # an undo: {seq, item_id, kind}
            self.store.reopen_lease(event["item_id"], settings.lease_seconds)
        elif event.kind != "note":
            copies = settings.copies_of(event.item_id)
            self.store.finish_lease(event.reviewer, event.item_id, copies)


def _one_label(raw: Any) -> str | None:
    from .team_agreement import _label

    return _label(raw)
