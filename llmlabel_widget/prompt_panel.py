"""PromptLab: prototype a prompt interactively, next to the labeling view.

A thin client over the Session's prompt-trial API (``render_prompt``, ``estimate_prompt``,
``atry_prompt``, ``prompt_versions``, ``compare``, ``promote``): the widget computes nothing
itself. Traits hold what the view shows; intents arrive as custom messages carrying the
edited draft.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

if TYPE_CHECKING:
    from .annotators.base import RunReport
    from .prompt_lab import PromptTrial
    from .session import Session

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

MAX_VERSIONS = 50
MAX_COMPARE_ROWS = 200
# Caps keep the synced state small whatever the data holds.
MAX_MESSAGE_CHARS = 100_000
MAX_INSTRUCTIONS_CHARS = 50_000
MAX_ITEM_CHARS = 500
MAX_SHOTS = 50
DEMONSTRATIONS = ("random", "similar", "diverse")
# A run reports after every answer; the view needs a few updates a second at most.
PROGRESS_EVERY_S = 0.2


class PromptLab(anywidget.AnyWidget):
    """Edit a draft prompt, see it rendered and costed, run it, compare and promote versions.

    Parameters
    ----------
    session : the :class:`Session` whose annotator is an ``OpenAIAnnotator``; every action
        goes through its prompt-trial methods.

    Examples
    --------
    >>> lab = PromptLab(session)  # doctest: +SKIP
    >>> lab  # doctest: +SKIP
    """

    _esm = STATIC / "prompt_lab.js"
    _css = STATIC / "widget.css"

    # -- shown -------------------------------------------------------------------------------
    #: the draft being edited: instructions, descriptions {label: text}, shots,
    #: demonstrations, chain_of_thought, model, temperature, sample (None = all decided).
    draft = traitlets.Dict().tag(sync=True)
    #: the rendered prompt for one item: ``{item_id, messages: [{role, content}]}``.
    rendered = traitlets.Dict().tag(sync=True)
    #: what running the draft would cost: items, requests, cached, tokens, cost (None = unknown).
    estimate = traitlets.Dict().tag(sync=True)
    #: the latest prompt versions (at most 50), oldest first, with agreement and interval.
    versions = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: how many versions exist in all (the table shows the latest 50).
    versions_total = traitlets.Int(0).tag(sync=True)
    #: two versions compared: ``{a, b, total, fixed, broke, rows}`` (rows capped at 200).
    comparison = traitlets.Dict().tag(sync=True)
    #: the run in flight or last run: ``{done, total, running, version}``.
    progress = traitlets.Dict().tag(sync=True)
    #: the last error, in words; empty when all is well.
    error = traitlets.Unicode("").tag(sync=True)
    #: a short confirmation of the last action.
    notice = traitlets.Unicode("").tag(sync=True)

    def __init__(self, session: Session) -> None:
        if not hasattr(session, "atry_prompt"):
            raise TypeError(f"PromptLab needs a Session, got {type(session).__name__}")
        self._session = session
        self._task: asyncio.Task[PromptTrial | None] | None = None
        self._last_progress = 0.0
        super().__init__(
            draft=self._initial_draft(),
            progress={"done": 0, "total": 0, "running": False},
            **self._versions_state(),
        )
        self.on_msg(self._on_msg)

    # -- public API --------------------------------------------------------------------------
    @property
    def session(self) -> Session:
        """The session whose prompts this panel tries."""
        return self._session

    @property
    def running(self) -> bool:
        """True while a run started from the panel is in flight."""
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        """Wait until the run in flight (if any) has ended, cancelled or not.

        Examples
        --------
        >>> await lab.wait()  # doctest: +SKIP
        """
        task = self._task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def refresh(self) -> None:
        """Re-read the versions table (after trials run elsewhere, e.g. in a cell).

        Examples
        --------
        >>> session.try_prompt(shots=2); lab.refresh()  # doctest: +SKIP
        """
        with self.hold_sync():
            for name, value in self._versions_state().items():
                setattr(self, name, value)

    # -- intents -----------------------------------------------------------------------------
    def _on_msg(self, _widget: object, content: object, _buffers: object) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        handler = {
            "render": self._render,
            "estimate": self._estimate,
            "run": self._run,
            "cancel": self._cancel,
            "compare": self._compare,
            "promote": self._promote,
        }.get(kind if isinstance(kind, str) else "")
        if handler is None:
            logger.debug("PromptLab ignored an intent: %r", content)
            return
        try:
            handler(content)  # type: ignore[arg-type]
        except Exception as exc:
            # Widget callbacks swallow exceptions: log, and show it in the view.
            logger.exception("PromptLab could not handle a %r intent", kind)
            self._fail(exc)

    def _render(self, content: Mapping[str, Any]) -> None:
        changes = self._take_draft(content)
        item_id = content.get("item_id")
        if content.get("next") or not item_id:
            item_id = self._next_decided()
        messages = self._session.render_prompt(str(item_id), **changes)
        with self.hold_sync():
            self.rendered = {
                "item_id": str(item_id),
                "messages": [
                    {"role": str(m["role"]), "content": _clip(m["content"], MAX_MESSAGE_CHARS)}
                    for m in messages
                ],
            }
            self._ok(f"Rendered the prompt for #{item_id}.")

    def _estimate(self, content: Mapping[str, Any]) -> None:
        changes = self._take_draft(content)
        est = self._session.estimate_prompt(sample=self.draft.get("sample"), **changes)
        cost = est.cost if est.cost is not None and math.isfinite(est.cost) else None
        with self.hold_sync():
            self.estimate = {
                "items": int(est.items),
                "requests": int(est.requests),
                "cached": int(est.cached),
                "prompt_tokens": int(est.prompt_tokens),
                "completion_tokens": int(est.completion_tokens),
                "cost": cost,
                "model": str(est.model),
                "prompt_version": est.prompt_version,
            }
            self._ok("")

    def _run(self, content: Mapping[str, Any]) -> None:
        if self.running:
            self.notice = "A run is already in progress: wait for it or cancel it first."
            return
        changes = self._take_draft(content)
        coro = self._trial(self.draft.get("sample"), changes)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No running loop (plain scripts, tests): run it to the end right here.
            self._task = None
            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(coro)
            return
        # Inside Jupyter: a task on the kernel's loop, so the panel stays usable meanwhile.
        self._task = loop.create_task(coro)

    def _cancel(self, _content: Mapping[str, Any]) -> None:
        task = self._task
        if task is None or task.done():
            self.notice = "No run in progress."
            return
        task.cancel()
        self.notice = "Cancelling…"

    def _compare(self, content: Mapping[str, Any]) -> None:
        a, b = content.get("a"), content.get("b")
        if not isinstance(a, str) or not isinstance(b, str) or not a or not b:
            raise ValueError("pick two versions to compare")
        df = self._session.compare(a, b)
        counts = df["change"].value_counts()
        rows = [
            {
                "item_id": str(r.item_id),
                "text": _clip(r.text, MAX_ITEM_CHARS),
                "human": _label_text(r.human),
                "llm_label_a": _label_text(r.llm_label_a),
                "llm_label_b": _label_text(r.llm_label_b),
                "change": str(r.change),
            }
            for r in df.head(MAX_COMPARE_ROWS).itertuples(index=False)
        ]
        with self.hold_sync():
            self.comparison = {
                "a": a,
                "b": b,
                "total": len(df),
                "fixed": int(counts.get("fixed", 0)),
                "broke": int(counts.get("broke", 0)),
                "rows": rows,
            }
            self._ok("")

    def _promote(self, content: Mapping[str, Any]) -> None:
        version = content.get("version")
        if not isinstance(version, str) or not version:
            raise ValueError("pick a version to promote")
        self._session.promote(version)
        with self.hold_sync():
            for name, value in self._versions_state().items():
                setattr(self, name, value)
            self._ok(
                f"Promoted {version}: session.propose() will label the rest of the pool with it."
            )

    # -- the run -----------------------------------------------------------------------------
    async def _trial(self, sample: int | None, changes: dict[str, Any]) -> PromptTrial | None:
        self._last_progress = 0.0
        self.progress = {"done": 0, "total": 0, "running": True}
        self.error = ""
        self.notice = "Running the draft on the decided items…"
        try:
            trial = await self._session.atry_prompt(
                sample=sample, progress=False, on_progress=self._on_progress, **changes
            )
        except asyncio.CancelledError:
            self._finish(notice="Run cancelled; the answers that had arrived are kept.")
            raise
        except Exception as exc:
            # Nobody awaits the task: the error goes to the log and the view, not upwards.
            logger.exception("PromptLab run failed")
            self._finish(error=exc)
            return None
        s = trial.scores
        said = (
            f"agreement {s['accuracy']:.1%} [{s['low']:.1%}, {s['high']:.1%}], n={s['n']}"
            if s["n"]
            else "no decided items scored"
        )
        self._finish(notice=f"Ran {trial.version}: {said}.", report=trial.report)
        return trial

    def _on_progress(self, report: RunReport) -> None:
        # Called on the loop running the trial, i.e. the kernel's: traits may be touched.
        now = time.monotonic()
        finished = report.done + report.failed + report.cached
        if finished < report.requested and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        self.progress = {"done": finished, "total": report.requested, "running": True}

    def _finish(
        self,
        *,
        notice: str = "",
        error: Exception | None = None,
        report: RunReport | None = None,
    ) -> None:
        try:
            with self.hold_sync():
                done = dict(self.progress)
                if report is not None:
                    done["done"] = report.done + report.failed + report.cached
                    done["total"] = report.requested
                self.progress = {**done, "running": False}
                for name, value in self._versions_state().items():
                    setattr(self, name, value)
                if error is not None:
                    self._fail(error)
                else:
                    self.notice = notice
        except Exception:  # a closed store or comm must not break the kernel loop
            logger.exception("PromptLab could not show the end of a run")

    # -- state -------------------------------------------------------------------------------
    def _initial_draft(self) -> dict[str, Any]:
        """The session annotator's current settings, as the starting draft."""
        session = self._session
        ann = session.annotator
        task = ann.task(session) if hasattr(ann, "task") else session.task
        prompt = getattr(ann, "prompt", None)
        return {
            "instructions": task.instructions or "",
            "descriptions": {n: task.descriptions.get(n, "") for n in task.names},
            "shots": int(getattr(prompt, "shots", 0)),
            "demonstrations": str(getattr(prompt, "demonstrations", "similar")),
            "chain_of_thought": bool(getattr(prompt, "chain_of_thought", True)),
            "model": str(getattr(ann, "model", None) or ""),
            "temperature": float(getattr(prompt, "temperature", 0.0)),
            "sample": None,
        }

    def _take_draft(self, content: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the draft an intent carries, keep it in ``draft``, return the changes."""
        raw = content.get("draft")
        draft = dict(self.draft) if raw is None else _check_draft(raw, self._session.task.names)
        self.draft = draft
        return {k: v for k, v in draft.items() if k != "sample"}

    def _next_decided(self) -> str:
        decided = [str(i) for i in self._session.items("decided")["item_id"]]
        if not decided:
            raise ValueError("no decided items yet: label a few first, or type an item id")
        shown = self.rendered.get("item_id")
        at = decided.index(shown) + 1 if shown in decided else 0
        return decided[at % len(decided)]

    def _versions_state(self) -> dict[str, Any]:
        df = self._session.prompt_versions()
        rows = []
        for r in df.tail(MAX_VERSIONS).to_dict("records"):
            rows.append(
                {
                    "version": str(r["version"]),
                    "created": r["created"].isoformat(timespec="seconds"),
                    "model": _text(r["model"]),
                    "strategy": _text(r["strategy"]),
                    "n": int(r["n"]),
                    "agreement": _number(r["agreement"]),
                    "low": _number(r["low"]),
                    "high": _number(r["high"]),
                    "kappa": _number(r["kappa"]),
                    "invalid": int(r["invalid"]),
                    "leaked": int(r["leaked"]),
                    "promoted": bool(r["promoted"]),
                }
            )
        return {"versions": rows, "versions_total": len(df)}

    def _ok(self, notice: str) -> None:
        self.error = ""
        self.notice = notice

    def _fail(self, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        try:
            with self.hold_sync():
                self.error = f"Could not do that: {message}"
                self.notice = ""
        except Exception:  # the comm itself may be gone; the log has the details
            logger.exception("PromptLab could not show an error")


def _check_draft(raw: object, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """A clean draft from what the view sent, or a ValueError saying what is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError("the draft must be an object")
    instructions = raw.get("instructions")
    if not isinstance(instructions, str) or not instructions.strip():
        raise ValueError("the instructions must not be empty")
    descriptions = raw.get("descriptions") or {}
    if not isinstance(descriptions, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in descriptions.items()
    ):
        raise ValueError("descriptions must map label names to text")
    unknown = set(descriptions) - set(names)
    if unknown:
        raise ValueError(f"descriptions for labels not in the task: {sorted(unknown)}")
    shots = raw.get("shots", 0)
    if type(shots) is not int or not 0 <= shots <= MAX_SHOTS:
        raise ValueError(f"shots must be a whole number from 0 to {MAX_SHOTS}")
    demonstrations = raw.get("demonstrations", "similar")
    if demonstrations not in DEMONSTRATIONS:
        raise ValueError(f"demonstrations must be one of {', '.join(DEMONSTRATIONS)}")
    cot = raw.get("chain_of_thought", True)
    if not isinstance(cot, bool):
        raise ValueError("chain_of_thought must be true or false")
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("the model must be a non-empty name")
    temperature = raw.get("temperature", 0.0)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0.0 <= temperature <= 2.0
    ):
        raise ValueError("temperature must be a number from 0 to 2")
    sample = raw.get("sample")
    if sample is not None and (type(sample) is not int or sample < 1):
        raise ValueError("the sample size must be a positive whole number (or empty for all)")
    return {
        "instructions": instructions[:MAX_INSTRUCTIONS_CHARS],
        "descriptions": {n: descriptions[n] for n in names if n in descriptions},
        "shots": shots,
        "demonstrations": demonstrations,
        "chain_of_thought": cot,
        "model": model.strip(),
        "temperature": float(temperature),
        "sample": sample,
    }


def _clip(value: object, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _number(value: object) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _label_text(value: object) -> str:
    """A label value as text: multi-label lists joined, missing answers as an empty string."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
