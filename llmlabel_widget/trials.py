"""Prompt trials: run a draft prompt on decided items, score it, compare and promote versions.

The façade half of :mod:`prompt_lab` (which holds the pure scoring): these functions read
and write through a :class:`~llmlabel_widget.session.Session`, and its ``try_prompt``,
``prompt_versions``, ``compare`` and ``promote`` methods call them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import prompt_lab
from .annotators.base import Estimate, RunReport
from .prompt_lab import PromptTrial
from .prompts import PromptSpec
from .reading import human_labels
from .store import TRIAL_PREFIX

if TYPE_CHECKING:
    from .annotators.openai import OpenAIAnnotator
    from .session import ItemId, Session

SPEC_FIELDS = {"shots", "demonstrations", "chain_of_thought", "temperature", "seed"}


def trial_annotator(session: Session, changes: Mapping[str, Any]) -> OpenAIAnnotator:
    """The session's live annotator with the draft's ``changes`` applied."""
    from .annotators.openai import OpenAIAnnotator

    base = session._annotator()
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


def trial_items(
    session: Session, ids: Iterable[ItemId] | None, sample: int | None, seed: int
) -> pd.DataFrame:
    """The decided items a trial scores on: all, ``ids``, or a seeded ``sample``."""
    human = human_labels(session._annotations(with_meta=False))
    if ids is not None:
        keys = {session._existing(i) for i in ids}
        human = human[human["item_id"].isin(keys)]
    if sample is not None and sample < len(human):
        human = human.sample(n=sample, random_state=seed).sort_index()
    return human


async def atry_prompt(
    session: Session,
    changes: Mapping[str, Any],
    *,
    ids: Iterable[ItemId] | None,
    sample: int | None,
    seed: int,
    progress: bool,
    on_progress: Callable[[RunReport], None] | None,
) -> PromptTrial:
    """Run the draft on the decided items lacking its answer, then score every answer."""
    annotator = trial_annotator(session, changes)
    version = annotator.version(session.task)
    spec = annotator.spec(session.task)
    store = session.store
    store.save_prompt_version(version, json.dumps(spec, sort_keys=True))
    human = trial_items(session, ids, sample, seed)
    have = store.proposed_ids(version, trials=True)
    wanted = [i for i in human["item_id"] if i not in have]
    report = await session._arun(
        annotator,
        wanted,
        len(human) - len(wanted),
        progress=progress,
        run_prefix=TRIAL_PREFIX,
        on_progress=on_progress,
    )
    scores, items = prompt_lab.score(store.version_proposals(version), human)
    return PromptTrial(version=version, spec=spec, report=report, scores=scores, items=items)


def render_prompt(
    session: Session, item_id: ItemId, changes: Mapping[str, Any]
) -> list[dict[str, str]]:
    """The chat messages the draft sends for one item, demonstrations included."""
    key = session._existing(item_id)
    annotator = trial_annotator(session, changes)
    text = session.store.texts([key])[key]
    return annotator.messages((key, text), session.task, session._demos(annotator))


def estimate_prompt(
    session: Session,
    changes: Mapping[str, Any],
    *,
    ids: Iterable[ItemId] | None,
    sample: int | None,
    seed: int,
) -> Estimate:
    """What the trial would send and cost, before sending."""
    annotator = trial_annotator(session, changes)
    human = trial_items(session, ids, sample, seed)
    have = session.store.proposed_ids(annotator.version(session.task), trials=True)
    return session._estimate(annotator, [i for i in human["item_id"] if i not in have])


def prompt_versions(session: Session) -> pd.DataFrame:
    """Every saved prompt version with its accuracy on the current human labels."""
    store = session.store
    human = human_labels(session._annotations(with_meta=False))
    promoted = store.get_meta("promoted")
    rows = []
    for version, spec_json, created in store.prompt_versions():
        spec = json.loads(spec_json)
        scores, _ = prompt_lab.score(store.version_proposals(version), human)
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


def compare(session: Session, v1: str, v2: str) -> pd.DataFrame:
    """Items whose LLM label differs between two versions: fixed or broke."""
    store = session.store
    human = human_labels(session._annotations(with_meta=False))
    known = {v for v, _, _ in store.prompt_versions()}
    for v in (v1, v2):
        if v not in known:
            raise ValueError(f"unknown prompt version {v!r}; see session.prompt_versions()")
    _, a = prompt_lab.score(store.version_proposals(v1), human)
    _, b = prompt_lab.score(store.version_proposals(v2), human)
    return prompt_lab.compare(a, b)


def promoted_annotator(session: Session, version: str) -> OpenAIAnnotator:
    """The annotator that rebuilds ``version``; raises if it is unknown or can not be rebuilt."""
    specs = {v: json.loads(s) for v, s, _ in session.store.prompt_versions()}
    if version not in specs:
        raise ValueError(f"unknown prompt version {version!r}; see session.prompt_versions()")
    spec = specs[version]
    annotator = trial_annotator(
        session,
        {
            "model": spec["model"],
            "prompt": PromptSpec(**spec["prompt"]),
            "instructions": spec["instructions"],
            "descriptions": spec["descriptions"],
            "confidence": spec["confidence"],
            "samples": spec["samples"],
        },
    )
    if annotator.version(session.task) != version:
        raise ValueError(f"version {version!r} can not be rebuilt with this session's task")
    return annotator
