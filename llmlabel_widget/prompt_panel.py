"""PromptLab: prototype a prompt interactively, next to the labeling view.

A thin client over the Session's prompt-trial API (``render_prompt``, ``estimate_prompt``,
``atry_prompt``, ``prompt_versions``, ``compare``, ``promote``): the widget computes nothing
itself. Traits hold what the view shows; intents arrive as custom messages carrying the
edited draft.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import math
import re
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
# The instructions each versions row carries, and its diff from the promoted version.
MAX_VERSION_TEXT = 4_000
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
    #: the run in flight or last run: ``{done, answered, invalid, failed, total, running}``;
    #: ``done`` = answered + failed (requests that got no answer: server errors, timeouts).
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
        self._report: RunReport | None = None
        super().__init__(
            draft=self._initial_draft(),
            progress=_progress(None, running=False),
            **self._versions_state(),
        )
        self.on_msg(self._on_msg)
        # A promotion made in a cell shows here too (held weakly: no leak when discarded).
        session.on_promoted(self._promoted)

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
                "draft": dict(self.draft),
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
                "draft": dict(self.draft),
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
        self._session.promote(version)  # the versions table follows via _promoted
        self._ok(f"Promoted {version}: session.propose() will label the rest of the pool with it.")

    def _promoted(self, version: str) -> None:
        """The session promoted ``version`` (here or in code): show it in the table."""
        try:
            self.refresh()
        except Exception:  # a closed store or comm must not break session.promote()
            logger.exception("PromptLab could not show the promotion of %s", version)

    # -- the run -----------------------------------------------------------------------------
    async def _trial(self, sample: int | None, changes: dict[str, Any]) -> PromptTrial | None:
        self._last_progress = 0.0
        self._report = None
        self.progress = _progress(None, running=True)
        self.error = ""
        self.notice = "Running the draft on the decided items…"
        try:
            trial = await self._session.atry_prompt(
                sample=sample, progress=False, on_progress=self._on_progress, **changes
            )
        except asyncio.CancelledError:
            r = self._report
            kept = f"{_n(r.done if r else 0, 'answer')} kept"
            failed = f", {_n(r.failed, 'request')} failed" if r and r.failed else ""
            self._finish(notice=f"Run cancelled: {kept}{failed}.", report=r)
            raise
        except Exception as exc:
            # Nobody awaits the task: the error goes to the log and the view, not upwards.
            logger.exception("PromptLab run failed")
            self._finish(error=exc, report=self._report)
            return None
        s = trial.scores
        said = (
            f"agreement {s['accuracy']:.1%} [{s['low']:.1%}, {s['high']:.1%}], n={s['n']}"
            if s["n"]
            else "no decided items scored"
        )
        self._finish(notice=f"Ran {trial.version}: {said}.", report=trial.report)
        if trial.report.failed or trial.report.stopped:
            self.error = _failures(trial.report)
        return trial

    def _on_progress(self, report: RunReport) -> None:
        # Called on the loop running the trial, i.e. the kernel's: traits may be touched.
        self._report = report  # the same object all run long: a cancel reads what was kept
        now = time.monotonic()
        finished = report.done + report.failed
        if finished < report.requested and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        self.progress = _progress(report, running=True)

    def _finish(
        self,
        *,
        notice: str = "",
        error: Exception | None = None,
        report: RunReport | None = None,
    ) -> None:
        try:
            with self.hold_sync():
                if report is not None:
                    self.progress = _progress(report, running=False)
                else:
                    self.progress = {**self.progress, "running": False}
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
        base, against = self._baseline(df)
        rows = []
        for r in df.tail(MAX_VERSIONS).to_dict("records"):
            text = _clip(r["instructions"], MAX_VERSION_TEXT)
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
                    "instructions": text,
                    "diff": word_diff(base, text),
                    "diff_against": against,
                }
            )
        return {"versions": rows, "versions_total": len(df)}

    def _baseline(self, versions: Any) -> tuple[str, str]:
        """``(instructions, whose)`` versions are diffed against: the promoted version's, or
        (none promoted yet) the session annotator's."""
        promoted = versions[versions["promoted"]] if len(versions) else versions
        if len(promoted):
            return _clip(promoted["instructions"].iloc[0], MAX_VERSION_TEXT), "promoted"
        return _clip(self._initial_draft()["instructions"], MAX_VERSION_TEXT), "session"

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
    """A clean draft from what the view sent, or a ValueError listing everything wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError("the draft must be an object")
    problems = _draft_problems(raw, names)
    if problems:
        lead = "the draft has a problem" if len(problems) == 1 else "the draft has problems"
        raise ValueError(f"{lead}: " + "; ".join(problems))
    descriptions = raw.get("descriptions") or {}
    temperature = raw.get("temperature", 0.0)
    return {
        "instructions": raw["instructions"][:MAX_INSTRUCTIONS_CHARS],
        "descriptions": {n: descriptions[n] for n in names if n in descriptions},
        "shots": raw.get("shots", 0),
        "demonstrations": raw.get("demonstrations", "similar"),
        "chain_of_thought": raw.get("chain_of_thought", True),
        "model": raw["model"].strip(),
        "temperature": float(temperature),
        "sample": raw.get("sample"),
    }


def _draft_problems(raw: Mapping[str, Any], names: tuple[str, ...] | list[str]) -> list[str]:
    """Every problem with a draft, in the order of its fields (empty when it is fine)."""
    problems = []
    instructions = raw.get("instructions")
    if not isinstance(instructions, str) or not instructions.strip():
        problems.append("the instructions must not be empty")
    descriptions = raw.get("descriptions") or {}
    if not isinstance(descriptions, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in descriptions.items()
    ):
        problems.append("descriptions must map label names to text")
    elif unknown := set(descriptions) - set(names):
        problems.append(f"descriptions for labels not in the task: {sorted(unknown)}")
    shots = raw.get("shots", 0)
    if type(shots) is not int or not 0 <= shots <= MAX_SHOTS:
        problems.append(f"shots must be a whole number from 0 to {MAX_SHOTS} (got {shots!r})")
    if raw.get("demonstrations", "similar") not in DEMONSTRATIONS:
        problems.append(f"demonstrations must be one of {', '.join(DEMONSTRATIONS)}")
    if not isinstance(raw.get("chain_of_thought", True), bool):
        problems.append("chain_of_thought must be true or false")
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        problems.append("the model must be a non-empty name")
    t = raw.get("temperature", 0.0)
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 2.0:
        problems.append(f"temperature must be a number from 0 to 2 (got {t!r})")
    sample = raw.get("sample")
    if sample is not None and (type(sample) is not int or sample < 1):
        problems.append("the sample size must be a positive whole number (or empty for all)")
    return problems


def word_diff(old: str, new: str) -> list[list[str]]:
    """``new`` against ``old`` word by word: ``[op, text]`` runs, op ``=`` kept, ``-`` only in
    ``old``, ``+`` only in ``new``; joining the ``=`` and ``+`` texts gives ``new`` back.

    Examples
    --------
    >>> word_diff("label the stance", "label the tone")
    [['=', 'label the '], ['-', 'stance'], ['+', 'tone']]
    """
    a, b = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)
    runs: list[list[str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        parts = [("=", a[i1:i2])] if op == "equal" else [("-", a[i1:i2]), ("+", b[j1:j2])]
        for sign, words in parts:
            if not words:
                continue
            if runs and runs[-1][0] == sign:
                runs[-1][1] += "".join(words)
            else:
                runs.append([sign, "".join(words)])
    return runs


def _progress(report: RunReport | None, *, running: bool) -> dict[str, Any]:
    """The ``progress`` trait for a run's report (None: nothing finished yet)."""
    r = report
    answered, failed = (r.done, r.failed) if r else (0, 0)
    return {
        "done": answered + failed,
        "answered": answered,
        "invalid": r.invalid if r else 0,
        "failed": failed,
        "total": r.requested if r else 0,
        "running": running,
    }


def _failures(report: RunReport) -> str:
    """What went wrong in a run that ended: requests without an answer, and why it stopped."""
    said = []
    if report.failed:
        why = f" (first: {report.errors[0]})" if report.errors else ""
        said.append(f"{_n(report.failed, 'request')} failed with no answer{why}")
    if report.stopped:
        said.append(f"the run stopped early: {report.stopped}")
    text = "; ".join(said)
    return text[:1].upper() + text[1:] + "."


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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
