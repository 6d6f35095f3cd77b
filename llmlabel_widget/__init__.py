"""llmlabel-widget: LLM-assisted data labeling inside Jupyter."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .annotators import OpenAIAnnotator, Proposal, RecordedAnnotator, RunReport
from .prompt_lab import PromptTrial
from .prompts import PromptSpec
from .selector import QueueItem, Selector
from .session import AddReport, Decision, Session
from .store import StoreError
from .task import LabelTask

try:
    __version__ = version("llmlabel-widget")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "AddReport",
    "Decision",
    "LabelTask",
    "OpenAIAnnotator",
    "PromptSpec",
    "PromptTrial",
    "Proposal",
    "QueueItem",
    "RecordedAnnotator",
    "RunReport",
    "Selector",
    "Session",
    "StoreError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The widget needs the built JS bundle; import it only when asked so that headless use
    # (scripts, tests, servers) never depends on it.
    if name == "Labeler":
        from .widget import Labeler

        return Labeler
    if name == "PromptLab":  # needs the built bundle too
        from .prompt_panel import PromptLab

        return PromptLab
    if name == "Dashboard":  # plotly and ipywidgets load slowly: only when asked
        from .dashboard import Dashboard

        return Dashboard
    raise AttributeError(f"module 'llmlabel_widget' has no attribute {name!r}")
