"""What every annotator takes and returns: items, the task and a cache in, Proposals out.

Annotators see no Session and no Store. The Session hands them ``(item_id, text)`` pairs,
the :class:`~llmlabel_widget.task.LabelTask`, a :class:`ResponseCache` and, for few-shot
prompts, the decided items to draw demonstrations from; they yield :class:`Proposal` objects,
which the Session stores in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..task import LabelTask

Item = tuple[str, str]  # (item_id, text)
Demo = tuple[str, str, tuple[str, ...]]  # a decided item: (item_id, text, human labels)


@dataclass(frozen=True)
class Proposal:
    """One annotator answer for one item, validated before it is stored.

    ``valid`` is False when the answer could not be mapped onto the label set; then
    ``labels`` is empty, ``raw`` holds the model's text and ``problem`` says why.
    """

    item_id: str
    labels: tuple[str, ...]
    valid: bool
    source: str
    rationale: str | None = None
    confidence: float | None = None
    confidence_method: str | None = None
    match: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    raw: str | None = None
    problem: str | None = None
    demos: tuple[str, ...] = ()
    run_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    cached: bool = False

    def to_row(self) -> dict[str, Any]:
        """The dict the store takes."""
        return asdict(self)


@dataclass
class RunReport:
    """What one ``propose()`` run did."""

    run_id: str
    requested: int = 0  # items asked for
    done: int = 0  # proposals stored (valid or invalid)
    invalid: int = 0
    failed: int = 0  # items with no answer after all retries (left for the next run)
    cached: int = 0  # answered from the store's response cache, no request sent
    skipped: int = 0  # already had a proposal for this prompt version
    requests: int = 0  # HTTP requests that returned an answer
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    stopped: str | None = None  # why the run stopped early (budget, interrupt), if it did
    degraded: dict[str, str] = field(default_factory=dict)  # parameter -> why it was dropped
    errors: list[str] = field(default_factory=list)  # a few failure messages, for the user


@dataclass(frozen=True)
class Estimate:
    """Requests, tokens and cost a run would need, before spending anything."""

    items: int
    requests: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # None when the model's price is unknown
    model: str
    prompt_version: str | None


Progress = Callable[[RunReport], None]


class ResponseCache(Protocol):
    """Raw model responses by request key; the Session backs it with the store."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for this request, or None."""

    def put(self, key: str, response: Mapping[str, Any]) -> None:
        """Keep a response (stored together with the next proposals the Session persists)."""


class MemoryCache:
    """A :class:`ResponseCache` in a dict: for annotators used without a Session.

    Examples
    --------
    >>> cache = MemoryCache()
    >>> cache.put("k", {"choices": []})
    >>> cache.get("k")
    {'choices': []}
    """

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The response stored under ``key``, or None."""
        return self._data.get(key)

    def put(self, key: str, response: Mapping[str, Any]) -> None:
        """Keep ``response`` under ``key``."""
        self._data[key] = dict(response)


@runtime_checkable
class Annotator(Protocol):
    """Anything that proposes labels: it sees items, the task and a cache, never a store."""

    @property
    def model(self) -> str | None:
        """The model's name, or None when unknown."""

    @property
    def wants_demos(self) -> bool:
        """True when its prompt needs decided items as few-shot demonstrations."""

    def version(self, task: LabelTask) -> str | None:
        """The prompt version its proposals will carry (None if it has none)."""

    def estimate(
        self,
        items: Sequence[Item],
        task: LabelTask,
        cache: ResponseCache,
        demos: Sequence[Demo] = (),
    ) -> Estimate:
        """Requests, tokens and cost for these items."""

    def propose(
        self,
        items: Sequence[Item],
        task: LabelTask,
        cache: ResponseCache,
        report: RunReport,
        progress: Progress,
        demos: Sequence[Demo] = (),
    ) -> AsyncIterator[Proposal] | Sequence[Proposal]:
        """Yield a proposal per answered item as the answers arrive, or return them all.

        A generator waits for the caller to come back before it asks for more, so what it
        yielded was stored. It counts requests, cost, failures and why it stopped in
        ``report``; the caller counts what it stored (``done``, ``invalid``).
        """
