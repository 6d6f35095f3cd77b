"""Test helpers: a local fake OpenAI-compatible server for tests, benchmarks and demos.

Start it with ``FakeOpenAIServer(gold, labels=[...]).start()`` and point an
``openai.OpenAI`` client at its ``base_url``; see :mod:`.fake_openai` for details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmlabel_widget.testing.fake_openai import FakeOpenAIServer, Faults

__all__ = ["FakeOpenAIServer", "Faults"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``python -m llmlabel_widget.testing.fake_openai``
    # does not find the module already imported (runpy's RuntimeWarning).
    if name in __all__:
        from llmlabel_widget.testing import fake_openai

        return getattr(fake_openai, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
