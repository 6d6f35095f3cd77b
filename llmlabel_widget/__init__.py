"""llmlabel-widget: LLM-assisted data labeling inside Jupyter."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .annotators import OpenAIAnnotator, Proposal, RecordedAnnotator, RunReport
    from .batches import BatchJob
    from .dashboard import Dashboard
    from .prompt_lab import PromptTrial
    from .prompt_panel import PromptLab
    from .prompts import PromptSpec
    from .queue_filter import QueueFilter
    from .selector import QueueItem, Selector
    from .session import AddReport, Decision, Session
    from .store import StoreError
    from .task import LabelTask
    from .widget import Labeler

try:
    __version__ = version("llmlabel-widget")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

# Public name -> the module that defines it. Imported on first use: the Jupyter server loads
# this package for its extension (see ``server.py``) and must not pay for pandas, scikit-learn
# and openai; the widget modules also need the built JS bundle, which headless use never does.
_EXPORTS = {
    "AddReport": "session",
    "BatchJob": "batches",
    "Dashboard": "dashboard",
    "Decision": "session",
    "LabelTask": "task",
    "Labeler": "widget",
    "OpenAIAnnotator": "annotators",
    "PromptLab": "prompt_panel",
    "PromptSpec": "prompts",
    "PromptTrial": "prompt_lab",
    "Proposal": "annotators",
    "QueueFilter": "queue_filter",
    "QueueItem": "selector",
    "RecordedAnnotator": "annotators",
    "RunReport": "annotators",
    "Selector": "selector",
    "Session": "session",
    "StoreError": "store",
}

__all__ = [
    "AddReport",
    "BatchJob",
    "Dashboard",
    "Decision",
    "LabelTask",
    "Labeler",
    "OpenAIAnnotator",
    "PromptLab",
    "PromptSpec",
    "PromptTrial",
    "Proposal",
    "QueueFilter",
    "QueueItem",
    "RecordedAnnotator",
    "RunReport",
    "Selector",
    "Session",
    "StoreError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmlabel_widget' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension this package installs (enabled by its config file)."""
    return [{"module": "llmlabel_widget.server"}]
