"""Prompt trials: run a draft prompt on decided items, score it, compare and promote versions.

The façade part of :mod:`prompt_lab` (which holds the pure scoring): :class:`PromptTrials`
is the prompt-trial half of :class:`~llmlabel_widget.session.Session`, kept here with its
helpers so the session module stays a short list of delegations.
"""

from __future__ import annotations

import dataclasses
import json
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import prompt_lab, reading, runner
from .annotators.base import Estimate, RunReport
from .prompt_lab import PromptTrial
from .prompts import PromptSpec
from .reading import human_labels
from .store import TRIAL_PREFIX

if TYPE_CHECKING:
    from .annotators.base import Annotator
    from .annotators.openai import OpenAIAnnotator
    from .recording import Recorder
    from .storage import StoreBackend
    from .task import LabelTask

ItemId = str | int
SPEC_FIELDS = {"shots", "demonstrations", "chain_of_thought", "temperature", "seed"}


class PromptTrials:
    """Session methods for trying, scoring, comparing and promoting prompt versions."""

    store: StoreBackend
    task: LabelTask
    annotator: Any
    _proposer: runner.Proposer
    _recorder: Recorder

    def _annotator(self) -> Annotator:  # defined by Session
        raise NotImplementedError

    def try_prompt(
        self,
        *,
        instructions: str | None = None,
        descriptions: Mapping[str, str] | None = None,
        prompt: PromptSpec | None = None,
        model: str | None = None,
        shots: int | None = None,
        demonstrations: str | None = None,
        chain_of_thought: bool | None = None,
        temperature: float | None = None,
        ids: Iterable[ItemId] | None = None,
        sample: int | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> PromptTrial:
        """Run a draft prompt on the human-labelled items (or ``ids``/a ``sample``) and score it.

        Anything left as None keeps the session annotator's setting. Only items without an
        answer of this exact version are sent (an unchanged version costs nothing), and
        trial answers never replace the proposals the labeling view shows.

        Examples
        --------
        >>> trial = session.try_prompt(instructions="Sarcasm is criticism.")  # doctest: +SKIP
        >>> trial.scores["accuracy"], trial.scores["n"]                       # doctest: +SKIP
        """
        changes: dict[str, Any] = {
            "instructions": instructions,
            "descriptions": descriptions,
            "prompt": prompt,
            "model": model,
            "shots": shots,
            "demonstrations": demonstrations,
            "chain_of_thought": chain_of_thought,
            "temperature": temperature,
        }
        return runner.run_blocking(
            self.atry_prompt(ids=ids, sample=sample, seed=seed, progress=progress, **changes)
        )

    async def atry_prompt(
        self,
        *,
        ids: Iterable[ItemId] | None = None,
        sample: int | None = None,
        seed: int = 0,
        progress: bool = True,
        on_progress: Callable[[RunReport], None] | None = None,
        **changes: Any,
    ) -> PromptTrial:
        """Async twin of :meth:`try_prompt` (cancel the task to stop; finished answers stay)."""
        annotator = self._trial_annotator(changes)
        version = annotator.version(self.task)
        spec = annotator.spec(self.task)
        self.store.save_prompt_version(version, json.dumps(spec, sort_keys=True))
        human = self._trial_items(ids, sample, seed)
        have = self.store.proposed_ids(version, trials=True)
        wanted = [i for i in human["item_id"] if i not in have]
        report = await self._proposer.arun(
            annotator,
            wanted,
            len(human) - len(wanted),
            progress=progress,
            run_prefix=TRIAL_PREFIX,
            on_progress=on_progress,
        )
        scores, items = prompt_lab.score(self.store.version_proposals(version), human)
        return PromptTrial(version=version, spec=spec, report=report, scores=scores, items=items)

    def render_prompt(self, item_id: ItemId, **changes: Any) -> list[dict[str, str]]:
        """The exact chat messages a draft prompt (same options as :meth:`try_prompt`) sends
        for one item, demonstrations included.

        Examples
        --------
        >>> session.render_prompt("r17", instructions="...", shots=2)  # doctest: +SKIP
        """
        key = self._recorder.existing(item_id)
        annotator = self._trial_annotator(changes)
        text = self.store.texts([key])[key]
        return annotator.messages((key, text), self.task, self._proposer.demos(annotator))

    def estimate_prompt(
        self,
        *,
        ids: Iterable[ItemId] | None = None,
        sample: int | None = None,
        seed: int = 0,
        **changes: Any,
    ) -> Estimate:
        """What :meth:`try_prompt` with these options would send and cost, before sending."""
        annotator = self._trial_annotator(changes)
        human = self._trial_items(ids, sample, seed)
        have = self.store.proposed_ids(annotator.version(self.task), trials=True)
        return self._proposer.estimate(annotator, [i for i in human["item_id"] if i not in have])

    def prompt_versions(self) -> pd.DataFrame:
        """Every prompt version tried or used, with its agreement on the human labels.

        Agreement is recomputed against the current human labels, with a 95% Wilson interval,
        the number of items scored and how many of them leaked in as demonstrations.
        """
        human = self._human()
        promoted = self.store.get_meta("promoted")
        rows = []
        for version, spec_json, created in self.store.prompt_versions():
            spec = json.loads(spec_json)
            scores, _ = prompt_lab.score(self.store.version_proposals(version), human)
            rows.append(
                {
                    "version": version,
                    "created": pd.Timestamp(created, unit="s", tz="UTC"),
                    "model": spec.get("model"),
                    "strategy": spec.get("strategy"),
                    "instructions": spec.get("instructions"),
                    "n": scores["n"],
                    "agreement": scores["accuracy"],
                    "low": scores["low"],
                    "high": scores["high"],
                    "kappa": scores["kappa"],
                    "invalid": scores["invalid"],
                    "leaked": scores["leaked"],
                    "promoted": version == promoted,
                }
            )
        return pd.DataFrame(rows)

    def compare(self, v1: str, v2: str) -> pd.DataFrame:
        """Items whose LLM label differs between versions ``v1`` and ``v2``: fixed or broke."""
        human = self._human()
        known = {v for v, _, _ in self.store.prompt_versions()}
        for v in (v1, v2):
            if v not in known:
                raise ValueError(f"unknown prompt version {v!r}; see session.prompt_versions()")
        _, a = prompt_lab.score(self.store.version_proposals(v1), human)
        _, b = prompt_lab.score(self.store.version_proposals(v2), human)
        return prompt_lab.compare(a, b)

    def promote(self, version: str) -> OpenAIAnnotator:
        """Make ``version`` the session's annotator; ``propose()`` then fills the pool with it.

        Items the trial already answered are not sent again: their answers come from the
        response cache.
        """
        specs = {v: json.loads(s) for v, s, _ in self.store.prompt_versions()}
        if version not in specs:
            raise ValueError(f"unknown prompt version {version!r}; see session.prompt_versions()")
        spec = specs[version]
        annotator = self._trial_annotator(
            {
                "model": spec["model"],
                "prompt": PromptSpec(**spec["prompt"]),
                "instructions": spec["instructions"],
                "descriptions": spec["descriptions"],
                "confidence": spec["confidence"],
                "samples": spec["samples"],
            }
        )
        if annotator.version(self.task) != version:
            raise ValueError(f"version {version!r} can not be rebuilt with this session's task")
        self.annotator = annotator
        self.store.set_meta("promoted", version)
        for listener in list(self._promote_listeners()):
            fn = listener()
            if fn is not None:
                fn(version)
        return annotator

    def on_promoted(self, fn: Callable[[str], None], *, remove: bool = False) -> None:
        """Call ``fn(version)`` after every :meth:`promote`, from code or a panel.

        A bound method is held weakly: a PromptLab that is gone stops listening by itself.
        """
        listeners = self._promote_listeners()
        listeners[:] = [r for r in listeners if r() is not None and r() != fn]
        if remove:
            return
        if hasattr(fn, "__self__"):
            listeners.append(weakref.WeakMethod(fn))
        else:
            listeners.append(lambda: fn)

    def _promote_listeners(self) -> list[Callable[[], Callable[[str], None] | None]]:
        return self.__dict__.setdefault("_on_promoted", [])

    def _trial_annotator(self, changes: Mapping[str, Any]) -> OpenAIAnnotator:
        """The session's live annotator with the draft's ``changes`` applied."""
        from .annotators.openai import OpenAIAnnotator

        base = self._annotator()
        if not isinstance(base, OpenAIAnnotator):
            raise TypeError(
                "prompt trials need a live model: open the session with "
                "annotator=OpenAIAnnotator(...) (any OpenAI-compatible endpoint, or the "
                "loopback server in llmlabel_widget.testing for a simulated one)"
            )
        spec_changes = {k: v for k, v in changes.items() if k in SPEC_FIELDS and v is not None}
        other = {k: v for k, v in changes.items() if k not in SPEC_FIELDS and v is not None}
        prompt = other.pop("prompt", base.prompt)
        if spec_changes:
            prompt = dataclasses.replace(prompt, **spec_changes)
        return base.variant(prompt=prompt, **other)

    def _human(self) -> pd.DataFrame:
        return human_labels(reading.read_annotations(self.store, self.task, with_meta=False))

    def _trial_items(
        self, ids: Iterable[ItemId] | None, sample: int | None, seed: int
    ) -> pd.DataFrame:
        """The decided items a trial scores on: all, ``ids``, or a seeded ``sample``."""
        human = self._human()
        if ids is not None:
            keys = {self._recorder.existing(i) for i in ids}
            human = human[human["item_id"].isin(keys)]
        if sample is not None and sample < len(human):
            human = human.sample(n=sample, random_state=seed).sort_index()
        return human
