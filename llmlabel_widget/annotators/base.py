"""What every annotator returns and how a session drives it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..session import Session


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


@runtime_checkable
class Annotator(Protocol):
    """Anything that proposes labels for a session's items."""

    model: str | None

    def version(self, session: Session) -> str | None:
        """The prompt version its proposals will carry (None if it has none)."""

    def estimate(self, session: Session, item_ids: Sequence[str]) -> Estimate:
        """Requests, tokens and cost for these items."""

    async def arun(
        self, session: Session, item_ids: Sequence[str], report: RunReport, progress: Progress
    ) -> None:
        """Propose for ``item_ids``, storing each proposal as it arrives."""
