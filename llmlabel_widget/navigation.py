"""Moving around the work: a reviewer's history of decisions, and finding items in the pool.

:class:`Navigation` is the part of :class:`~llmlabel_widget.session.Session` that reads the
store's history and search read models; the Labeler's back/forward keys, history list and
``g`` search box use these methods, and a script can too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from .ingest import item_key
from .recording import reviewer_name

if TYPE_CHECKING:
    from .storage import StoreBackend

HISTORY_COLUMNS = ["item_id", "kind", "labels", "time", "note", "seq"]


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive whole number, got {n!r}")
    return n


class Navigation:
    """Session methods for going back over decisions and searching the pool."""

    store: StoreBackend
    user: str

    def history(
        self, annotator: str | None = None, n: int = 20, *, reviewer: str | None = None
    ) -> pd.DataFrame:
        """The items this reviewer decided, most recent first: one row per item.

        Columns: ``item_id``, ``kind`` (accept, correct, label or skip), ``labels`` (a
        list; empty for a skip), ``time`` (UTC timestamp), ``note`` (the reviewer's newest
        note on the item, or None) and ``seq`` (the decision's event number). Each row is
        the item's current decision by this reviewer: changing a past decision moves the
        item to the top; an undone decision is not shown. ``reviewer`` defaults to the
        session's user (``annotator=`` is its old name).

        Examples
        --------
        >>> session.history(reviewer="alice", n=5)  # doctest: +SKIP
        """
        return history_frame(self.history_records(annotator, n, reviewer=reviewer))

    def history_records(
        self, annotator: str | None = None, n: int = 20, *, reviewer: str | None = None
    ) -> list[dict[str, Any]]:
        """What :meth:`history` returns, as plain records (cheap: no DataFrame).

        Keys ``seq, item_id, kind, labels`` (a JSON list, None for a skip), ``time`` (epoch
        seconds) and ``note``. The Labeler redraws its history list from these after every
        decision.

        Examples
        --------
        >>> session.history_records(reviewer="alice", n=1)  # doctest: +SKIP
        """
        who = reviewer_name(reviewer, annotator, self.user)
        return self.store.reviewer_history(who, _check_n(n))

    def decision_of(
        self, item_id: str | int, *, reviewer: str | None = None
    ) -> dict[str, Any] | None:
        """This reviewer's current decision on an item and their newest note on it.

        A dict ``kind, labels, time, note, seq`` (``kind`` and ``labels`` None when the
        item has only a note), or None when the reviewer has neither on it.

        Examples
        --------
        >>> session.decision_of("r12", reviewer="alice")  # doctest: +SKIP
        """
        who = reviewer_name(reviewer, None, self.user)
        key = item_key(item_id)
        rows = self.store.reviewer_history(who, 1, item_id=key)
        if not rows:
            note = self.store.latest_note(who, key)
            if note is None:
                return None
            return {"kind": None, "labels": None, "time": None, "note": note, "seq": None}
        row = rows[0]
        return {
            "kind": str(row["kind"]),
            "labels": _labels(row["labels"]),
            "time": pd.Timestamp(row["time"], unit="s", tz="UTC"),
            "note": row["note"],
            "seq": int(row["seq"]),
        }

    def search(self, query: str, n: int = 20) -> pd.DataFrame:
        """Find items across the whole pool by exact id or by a piece of their text.

        The item whose id equals ``query`` comes first, then items whose text contains
        ``query`` (ignoring case), in pool order. Columns ``item_id, text, match``
        (``"id"`` or ``"text"``). ``%`` and ``_`` are plain characters, not wildcards.

        Examples
        --------
        >>> session.search("sea level")  # doctest: +SKIP
        """
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if not query.strip():
            raise ValueError("query must contain some text (an item id or words to find)")
        return self.store.search_items(query.strip(), _check_n(n))


def history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The store's history records as a frame: labels as lists, times as UTC timestamps."""
    return pd.DataFrame(
        {
            "item_id": [r["item_id"] for r in rows],
            "kind": [r["kind"] for r in rows],
            "labels": [_labels(r["labels"]) for r in rows],
            "time": pd.to_datetime([float(r["time"]) for r in rows], unit="s", utc=True),
            "note": pd.Series([r["note"] for r in rows], dtype=object),
            "seq": pd.array([int(r["seq"]) for r in rows], dtype="int64"),
        },
        columns=HISTORY_COLUMNS,
    )


def _labels(stored: object) -> list[str]:
    """A stored JSON label list as a list; a skip has none."""
    return [str(x) for x in json.loads(stored)] if isinstance(stored, str) else []
