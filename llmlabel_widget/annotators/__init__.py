"""Annotators propose labels: a live LLM through `openai`, or recorded LLM answers."""

from __future__ import annotations

from .base import Annotator, Estimate, Proposal, RunReport
from .openai import DEFAULT_PRICES, OpenAIAnnotator
from .recorded import RecordedAnnotator

__all__ = [
    "DEFAULT_PRICES",
    "Annotator",
    "Estimate",
    "OpenAIAnnotator",
    "Proposal",
    "RecordedAnnotator",
    "RunReport",
]
