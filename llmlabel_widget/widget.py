"""Labeler: the keyboard-first review view (the only module importing anywidget).

The view is a thin client. Traits hold exactly what it shows (one item, its proposal, a short
queue preview, progress); user intents arrive as custom messages, go through :class:`Session`
(durable before the view advances) and come back as trait updates.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets
from ipywidgets import CallbackDispatcher

from . import labeler_nav as nav
from .labeler_card import card_view, is_blind, proposal_view, reveal_line
from .labeler_certified import AutoAcceptBar, with_calibration
from .labeler_pool import HeadlineView
from .shortcuts import ACTIONS as ACTIONS  # re-exported: they were defined here
from .shortcuts import DEFAULT_SHORTCUTS as DEFAULT_SHORTCUTS
from .shortcuts import RESERVED_KEYS as RESERVED_KEYS
from .shortcuts import normalise_shortcuts

if TYPE_CHECKING:
    from .queue_filter import QueueFilter
    from .selector import QueueItem
    from .session import Decision, Session

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

QUEUE_PREVIEW = 10
PREVIEW_CHARS = 80
# Caps keep the synced state small whatever the data holds (the card's are in labeler_card);
# the view says when it cut.
MAX_NOTE_CHARS = 10_000
_DECIDED = ("accept", "correct", "label")
#: recorded as ``context["via"]`` with every event made in a Labeler; its undo is scoped to it.
VIA = "labeler"
# The live Labeler per (session, reviewer); an entry goes when its Labeler closes or is freed.
_LIVE: weakref.WeakValueDictionary[tuple[int, str], Labeler] = weakref.WeakValueDictionary()


class Labeler(AutoAcceptBar, HeadlineView, anywidget.AnyWidget):
    """Review LLM proposals one item at a time, keyboard first.

    Parameters
    ----------
    session : the :class:`Session` to label; every action goes through it.
    annotator, reviewer : name recorded with each decision (default: ``session.user``); in a
        team project (:meth:`Session.team`) its queue is leased to this reviewer.
    metadata_columns : item metadata columns to show next to the text (default: none, so
        that columns such as gold labels do not bias the reviewer).
    shortcuts : key overrides, e.g. ``{"accept": ["Enter", "y"], "labels": ["q", "w"]}``.
        Actions: accept, skip, note, undo, filter, queue, help, back, forward (through your
        decided items), goto (search the pool); ``labels`` is a list of keys in
        label order or a dict ``{label name: key}``. A key held with Shift, Ctrl, Alt or
        Meta is never an action (Shift+Enter runs the next cell) unless a combination is
        bound as such, e.g. ``{"accept": ["Enter", "Shift+Enter"]}``.
    blind_share : share of items (fixed by a hash of the id) whose LLM proposal stays hidden
        until the human answers, then is revealed; recorded as ``blind`` so metrics can
        compare blind and assisted agreement (anchoring). Default 0: every proposal shown.

    Examples
    --------
    >>> labeler = Labeler(session, annotator="alice")  # doctest: +SKIP
    >>> labeler.on_decision(lambda d: print(d.item_id, d.kind))  # doctest: +SKIP
    >>> labeler  # doctest: +SKIP
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    # -- shown -------------------------------------------------------------------------------
    #: label names with their description and key: ``[{name, description, key}]``.
    labels = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: whether an item may get several labels (keys toggle, accept confirms).
    multi_label = traitlets.Bool(False).tag(sync=True)
    #: the item under review (item_id, text, meta, proposal, reason), None when done.
    current = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    #: what comes next and why: at most 10 ``{item_id, reason, preview}``.
    queue_preview = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: done / skipped / total counts, the acceptance rate, and the LLM's accuracy on the pool.
    progress = traitlets.Dict().tag(sync=True)
    #: True while long work is in flight; labels stay pressable.
    busy = traitlets.Bool(False).tag(sync=True)
    #: the last error, in words, with what to do; empty when all is well.
    error = traitlets.Unicode("").tag(sync=True)
    #: a short confirmation of the last action ("undid accept on #12").
    notice = traitlets.Unicode("").tag(sync=True)
    #: bumped whenever the item under review or its state changes; intents carry it, so a
    #: repeated or stale intent is recognised and dropped.
    revision = traitlets.Int(0).tag(sync=True)
    #: True when no item is left to review.
    done = traitlets.Bool(False).tag(sync=True)
    #: the active queue filter: its fields and one phrase per criterion (the chips).
    queue_filter = traitlets.Dict().tag(sync=True)
    #: this reviewer's last 20 decided items, newest first: ``{item_id, kind, labels, time,
    #: note}`` (time in epoch ms).
    history = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: the ``g`` box's last search: ``{query, items: [{item_id, snippet, match}], error}``.
    search_results = traitlets.Dict().tag(sync=True)

    # -- configuration -----------------------------------------------------------------------
    #: action -> keys, plus ``labels``: one key per label in task order ("" for none).
    shortcuts = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        session: Session,
        *,
        annotator: str | None = None,
        metadata_columns: Sequence[str] | None = None,
        shortcuts: Mapping[str, Any] | None = None,
        blind_share: float = 0.0,
        reviewer: str | None = None,
    ) -> None:
        from .session import Session

        if not isinstance(session, Session):
            raise TypeError(f"Labeler needs a Session, got {type(session).__name__}")
        who = session.user if annotator is None else annotator
        who = who if reviewer is None else reviewer  # reviewer= is annotator='s newer name
        if not isinstance(who, str) or not who.strip():
            raise ValueError("annotator must be a non-empty string")
        if metadata_columns is not None and (
            isinstance(metadata_columns, str)
            or not all(isinstance(c, str) for c in metadata_columns)
        ):
            raise TypeError("metadata_columns must be a list of column names")
        # Plain attributes first: the shortcuts validator below needs the label names.
        if not 0.0 <= blind_share <= 1.0:
            raise ValueError("blind_share must be between 0 and 1")
        self._blind_share = blind_share
        self._session = session
        self._annotator = who
        self._names: tuple[str, ...] = tuple(session.task.names)
        self._meta_columns = tuple(metadata_columns or ())
        self._queued: dict[str, QueueItem] = {}  # why each recently queued item was picked
        # (item_id, reason) to show instead of the queue head: after an undo, or the item this
        # annotator had on screen when the kernel last stopped (resume exactly there).
        left_off = session.resume_point(who)
        self._pinned: tuple[str, str] | None = (
            None if left_off is None else (left_off, "where you left off")
        )
        self._decision_callbacks = CallbackDispatcher()
        # Cost of the Python side of each intent, read by bench/ui_latency.py.
        self._handler_seconds = 0.0
        self._handler_calls = 0
        self._handler_recent: deque[float] = deque(maxlen=1000)
        self._dropped = 0
        self._memo: dict[str, Any] = {}
        self._listener: Callable[[], None] | None = None
        self._filters: QueueFilter | None = None
        self._nav = nav.Navigator(session, who)
        self._team = who if session.team_settings() else None  # leases its queue (team.py)
        self._start_headline()  # the pool estimate, computed off the decision path
        keys = normalise_shortcuts(shortcuts, self._names)
        # One comm_open carrying the full first state, instead of an update per trait.
        super().__init__(
            shortcuts=keys,
            labels=self._label_view(keys),
            multi_label=session.task.multi_label,
            **self._view_state(),
        )
        self.on_msg(self._on_msg)
        self._watch_queue()
        # A re-run cell makes a new Labeler for the same reviewer: the old one stops here,
        # so exactly one stays live (and refreshing) per session and reviewer.
        key = (id(session), who)
        older = _LIVE.get(key)
        _LIVE[key] = self
        if older is not None and older is not self:
            older.close()

    # -- public API --------------------------------------------------------------------------
    @property
    def session(self) -> Session:
        """The session this view labels."""
        return self._session

    @property
    def annotator(self) -> str:
        """The name recorded with every decision made in this view."""
        return self._annotator

    def on_decision(self, callback: Callable[[Decision], Any], *, remove: bool = False) -> None:
        """Call ``callback(decision)`` after each decision, skip or note is recorded.

        Examples
        --------
        >>> labeler.on_decision(lambda d: print(d.item_id, d.kind))  # doctest: +SKIP
        """
        self._decision_callbacks.register_callback(callback, remove=remove)

    def close(self) -> None:
        """Stop refreshing after refits and close the widget (its views go away).

        A new Labeler for the same session and reviewer closes the older one, so re-running
        a cell leaves one live view. Closing twice is harmless; the session stays open.

        Examples
        --------
        >>> labeler.close()  # doctest: +SKIP
        """
        listener, self._listener = getattr(self, "_listener", None), None
        if listener is not None:
            self._session.on_queue_changed(listener, remove=True)
        if getattr(self, "_headline", None) is not None:
            self._headline.close()
        key = (id(getattr(self, "_session", None)), getattr(self, "_annotator", ""))
        if _LIVE.get(key) is self:
            del _LIVE[key]
        super().close()

    def refresh(self) -> None:
        """Re-read the store (new proposals, items or decisions made elsewhere) and redraw.

        Examples
        --------
        >>> session.propose(); labeler.refresh()  # doctest: +SKIP
        """
        self._headline.request()
        self._headline.wait()  # the pool estimate and the card's calibration, up to date
        self._show(pool_changed=False)

    def __repr__(self) -> str:
        p, who = self.progress or {}, getattr(self, "_annotator", "?")
        return (
            f"Labeler({p.get('store', '?')} · {p.get('done', 0):,} / {p.get('total', 0):,} "
            f"reviewed · {p.get('skipped', 0):,} skipped · reviewer {who!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    # -- traits ------------------------------------------------------------------------------
    @traitlets.validate("shortcuts")
    def _check_shortcuts(self, proposal: dict[str, Any]) -> dict[str, list[Any]]:
        return normalise_shortcuts(proposal["value"], self._names)

    @traitlets.observe("shortcuts")
    def _shortcuts_changed(self, change: dict[str, Any]) -> None:
        self.labels = self._label_view(change["new"])

    def _label_view(self, keys: Mapping[str, Any]) -> list[dict[str, str]]:
        descriptions = self._session.task.descriptions
        return [
            {"name": name, "description": descriptions.get(name, ""), "key": key}
            for name, key in zip(self._names, keys["labels"], strict=True)
        ]

    # -- intents -----------------------------------------------------------------------------
    def _on_msg(self, _widget: object, content: object, _buffers: object) -> None:
        started = time.perf_counter()
        kind = content.get("kind") if isinstance(content, dict) else None
        try:
            self._dispatch(content)
        except Exception as exc:
            # Widget callbacks swallow exceptions: log, and show it in the view.
            logger.exception("Labeler could not handle a %r intent", kind)
            self._fail(exc)
        finally:
            took = time.perf_counter() - started
            self._handler_seconds += took
            self._handler_calls += 1
            self._handler_recent.append(took)

    def _dispatch(self, content: object) -> None:
        if not isinstance(content, dict):
            self._drop("not a dict", content)
            return
        kind = content.get("kind")
        handler = {
            "accept": self._accept,
            "decide": self._decide,
            "skip": self._skip,
            "note": self._note,
            "undo": self._undo,
            "filter": self._filter,
            "back": self._step,
            "forward": self._step,
            "goto": self._goto,
        }.get(kind if isinstance(kind, str) else "")
        if kind == "search":  # a read: no revision, the item on screen stays
            self.search_results = nav.search_view(self._session, content.get("query"))
            return
        if kind == "auto_accept":  # check, or apply the checked plan (labeler_certified)
            self._auto_accept(content)
            return
        if handler is None:
            self._drop("unknown kind", content)
            return
        # Same revision = the state the user saw; anything else is a repeat or stale.
        revision = content.get("revision")
        if type(revision) is not int or revision != self.revision:
            self._drop("stale or duplicate revision", content)
            return
        current = self.current
        if kind not in (*nav.FREE_KINDS, "filter") and (
            current is None or content.get("item_id") != current["item_id"]
        ):
            self._drop("not the current item", content)
            return
        handler(content)

    def _drop(self, why: str, content: object) -> None:
        self._dropped += 1
        logger.debug("Labeler ignored an intent (%s): %r", why, content)

    def _context(self) -> dict[str, Any]:
        """Why the item on screen was shown, recorded with the decision (honest metrics)."""
        current = self.current or {}
        picked = self._queued.get(str(current.get("item_id")))
        blind = {"blind": True} if current.get("blind") else {}
        chosen = self._nav.context(str(current.get("item_id")))
        if chosen is not None:  # reached by history, search or a queue click: no audit
            return {**chosen, **blind, "via": VIA}
        if picked is None:
            return {"reason": current.get("reason"), **blind, "via": VIA}
        return {**picked.context(), **blind, "via": VIA}

    def _accept(self, content: dict[str, Any]) -> None:
        item_id = content["item_id"]
        decision = self._session.accept(item_id, annotator=self._annotator, context=self._context())
        self._advance(decision)

    def _decide(self, content: dict[str, Any]) -> None:
        raw = content.get("labels", content.get("label"))
        if isinstance(raw, str):
            labels: str | list[str] = raw
        elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            labels = raw[0] if len(raw) == 1 and not self.multi_label else raw
        else:
            raise ValueError("a decide intent needs a label name or a list of label names")
        proposal = (self.current or {}).get("proposal") or {}
        if (
            self.multi_label
            and proposal.get("valid")
            and isinstance(labels, list)
            and set(labels) == set(proposal.get("labels") or ())
        ):
            # Confirming the proposed set unchanged is an accept, whatever order the LLM
            # listed its labels in (Session.decide compares them in order).
            self._accept(content)
            return
        decision = self._session.decide(
            content["item_id"], labels, annotator=self._annotator, context=self._context()
        )
        self._advance(decision)

    def _skip(self, content: dict[str, Any]) -> None:
        decision = self._session.skip(
            content["item_id"], annotator=self._annotator, context=self._context()
        )
        self._advance(decision)

    def _note(self, content: dict[str, Any]) -> None:
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a note needs some text")
        decision = self._session.note(
            content["item_id"],
            text[:MAX_NOTE_CHARS],
            annotator=self._annotator,
            context={"via": VIA},
        )
        # A note belongs to the item on screen: stay on it.
        current = self.current or {}
        self._pinned = (decision.item_id, str(current.get("reason") or ""))
        self._show(notice=f"Note saved on #{decision.item_id}.")
        self._decision_callbacks(decision)

    def _undo(self, content: dict[str, Any]) -> None:
        # Only what this reviewer did in a Labeler: never a scripted decide() under the
        # same name, which the user did not do here.
        undone = self._session.undo(annotator=self._annotator, via=VIA)
        if undone is None:
            self._show(notice="Nothing to undo.")
            return
        # Show the undone item again, whatever the queue order says.
        self._nav.place = None
        self._pinned = (str(undone["item_id"]), f"back after undo ({undone['kind']})")
        self._show(notice=f"Undid {undone['kind']} on #{undone['item_id']}.")

    def _filter(self, content: dict[str, Any]) -> None:
        """Restrict the queue (``filters``: QueueFilter fields; empty or None clears it)."""
        from .queue_filter import QueueFilter

        raw = content.get("filters") or {}
        f = QueueFilter.of(raw).check_labels(self._names)
        self._filters = None if f.empty else f
        self.queue_filter = {"fields": f.as_dict(), "chips": f.chips()}
        self._pinned = None
        self._show(notice="Filter cleared." if f.empty else "Queue filtered.")

    def _step(self, content: dict[str, Any]) -> None:
        notice = self._nav.back() if content["kind"] == "back" else self._nav.forward()
        if not notice:  # moved: to a decided item, or forward onto the queue again
            self._pinned = self._nav.pin()
        self._show(notice=notice)

    def _goto(self, content: dict[str, Any]) -> None:
        target, chosen = content.get("target"), content.get("chosen")
        picked = self._queued.get(str(target)) if chosen == "queue" else None
        self._nav.go(target, chosen, picked.reason if picked is not None else "")
        self._pinned = self._nav.pin()
        self._show()

    def _advance(self, decision: Decision) -> None:
        self._pinned = None
        self._nav.place = None
        # The next item goes on screen first; callbacks (refits, charts) run after.
        saved = nav.saved_line(
            decision.kind, decision.labels, decision.item_id, self.shortcuts.get("undo", [])
        )
        reveal = reveal_line(self._session, decision, self._is_blind(decision.item_id))
        self._show(notice=f"{reveal} {saved}" if reveal else saved)
        self._decision_callbacks(decision)

    def _fail(self, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        try:
            with self.hold_sync():
                self.error = (
                    f"Could not record that: {message}. Decisions already recorded are safe; "
                    "try again, or re-run the cell."
                )
                self.revision += 1  # unlocks the view; repeats of the failed intent are stale
        except Exception:  # the comm itself may be gone; the log has the details
            logger.exception("Labeler could not show an error")

    def _watch_queue(self) -> None:
        """Refresh the queue preview after each background refit, on the kernel's loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # plain scripts and tests: nothing to push to
            return

        def refitted() -> None:
            loop.call_soon_threadsafe(self._refresh_preview)

        self._listener = refitted
        self._session.on_queue_changed(refitted)

    def _refresh_preview(self) -> None:
        # Only the preview changes: no revision bump, so intents in flight stay valid.
        self._memo = {}  # a new ranking: read the queue again
        try:
            with self.hold_sync():
                self.queue_preview = self._preview_list(self.current)
                self.progress = self._progress()
        except Exception:  # a closed store or comm must not break the kernel loop
            logger.exception("Labeler could not refresh the queue preview")

    # -- state -------------------------------------------------------------------------------
    def _show(self, notice: str = "", *, pool_changed: bool = True) -> None:
        """Redraw after a change: the next item first, then what can wait."""
        self._memo = {}
        if pool_changed:  # (maybe): a new pool estimate, in the background
            self._headline.request()
        try:
            current = self._current_view()
            if current is not None:  # before painting: a restarted kernel resumes on this item
                self._session.set_resume_point(self._annotator, current["item_id"])
            # The item goes out alone, so the view can paint it while the kernel works out
            # the queue preview and the progress line (a few ms on a big pool).
            with self.hold_sync():
                self.current = current  # type: ignore[assignment]  # allow_none=True
                self.done = current is None
                self.error = ""
                self.notice = notice
                self.revision += 1
            with self.hold_sync():
                self.queue_preview = self._preview_list(current)
                self.progress = self._progress()
                self.history = nav.history_view(self._session, self._annotator)
        finally:
            self._memo = {}

    def _view_state(self) -> dict[str, Any]:
        """Everything the view shows, for the first render."""
        self._memo = {}
        try:
            current = self._current_view()
            return {
                "current": current,
                "queue_preview": self._preview_list(current),
                "progress": self._progress(),
                "done": current is None,
                "history": nav.history_view(self._session, self._annotator),
            }
        finally:
            self._memo = {}

    def _current_view(self) -> dict[str, Any] | None:
        if self._pinned is not None and self._session.has_item(self._pinned[0]):
            item_id, reason = self._pinned
        else:
            head = self._queue(1)
            if not head:
                return None
            item_id, reason = head[0]["item_id"], head[0]["reason"]
        return self._item_view(item_id, reason)

    def _preview_list(self, current: Mapping[str, Any] | None) -> list[dict[str, str]]:
        shown = None if current is None else current["item_id"]
        queue = self._queue(QUEUE_PREVIEW + 1)
        return [q for q in queue if q["item_id"] != shown][:QUEUE_PREVIEW]

    def _counts(self) -> tuple[dict[str, int], int]:
        """Decision counts and pool size, read once per redraw."""
        if "counts" not in self._memo:
            session = self._session
            self._memo["counts"] = (session.decision_counts(), session.pool_size())
        counts: tuple[dict[str, int], int] = self._memo["counts"]
        return counts

    def _queue(self, n: int) -> list[dict[str, str]]:
        """The next ``n`` items, each with why it was picked: the last ranking, read once per
        redraw (a filter is a store query); never waits for a ranking (``wait=False``)."""
        top, memo = max(n, QUEUE_PREVIEW + 1), self._memo.get("queue", (0, []))
        if memo[0] < top:
            memo = self._memo["queue"] = (
                top,
                self._session.queue(top, filters=self._filters, wait=False, reviewer=self._team),
            )
        items: list[QueueItem] = memo[1][:n]
        if len(self._queued) > 1000:
            self._queued = {}
        self._queued.update({q.item_id: q for q in items})
        return [
            {"item_id": q.item_id, "reason": q.reason, "preview": self._preview(q.item_id)}
            for q in items
        ]

    def _preview(self, item_id: str) -> str:
        item = self._session.item(item_id)
        text = " ".join((item or {}).get("text", "").split())
        return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"

    def _progress(self) -> dict[str, Any]:
        # Session.progress() classifies every item (slow on big pools); the view needs only
        # decided / skipped / total, which come from the event log and one COUNT.
        counts, total = self._counts()
        agreement = {
            k: (float(v) if isinstance(v, float) else v)
            for k, v in self._session.agreement(counts).items()
        }
        return {
            "done": sum(counts.get(k, 0) for k in _DECIDED),
            "skipped": counts.get("skip", 0),
            "total": total,
            "agreement": agreement,  # the acceptance rate (reviewed items only)
            "pool": self._headline.view(),  # LLM accuracy on the pool (pool_estimates)
            "store": self._session.path.name,
            "annotator": self._annotator,
            "preparing": not self._session.queue_ready(self._team),
            "llm": self._llm_shown(agreement),
        }

    def _llm_shown(self, agreement: Mapping[str, Any]) -> bool:
        """Whether the LLM takes part: an annotator, a proposal on screen, or agreement data."""
        on_screen = (self.current or {}).get("proposal") or self._memo.get("proposal_seen")
        return bool(self._session.annotator is not None or agreement.get("n") or on_screen)

    def _proposal(self, item_id: str) -> dict[str, Any] | None:
        view = proposal_view(self._session.proposal(item_id))
        view = with_calibration(view, self._session, self._headline.calibration)
        if view is not None:
            self._memo["proposal_seen"] = True
        return view

    def _is_blind(self, item_id: str) -> bool:
        return is_blind(item_id, self._blind_share)

    def _item_view(self, item_id: str, reason: str) -> dict[str, Any]:
        decision = nav.decision_view(self._session, self._annotator, item_id)
        answered = decision is not None and decision["kind"] is not None  # proposal revealed
        blind = self._is_blind(item_id) and not answered and self._session.proposal(item_id)
        item = self._session.item(item_id) or {"text": "", "meta": {}}
        proposal = None if blind else self._proposal(item_id)
        meta = self._meta_columns
        return card_view(item_id, item, meta, proposal, reason, decision, blind=bool(blind))
