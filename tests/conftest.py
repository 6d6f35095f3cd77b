"""Shared fixtures: real shipped data, a task for it, a fresh store path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llmlabel_widget import LabelTask, Session, datasets


@pytest.fixture(scope="session")
def gwsd() -> pd.DataFrame:
    """GWSD climate stance: real sentences, gold labels, recorded GPT-4o labels."""
    return datasets.load("gwsd_climate_stance_gpt4o")


@pytest.fixture
def gwsd_task() -> LabelTask:
    return LabelTask(
        labels={
            "agree": "the sentence agrees that climate change is a serious concern",
            "neutral_or_disagree": "neutral, or disagrees that it is a serious concern",
        },
        instructions="Label the stance of the news sentence on global warming.",
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "test.labels.db"


@pytest.fixture
def session(db: Path, gwsd: pd.DataFrame, gwsd_task: LabelTask) -> Session:
    s = Session.open(db, data=gwsd.head(200), task=gwsd_task)
    yield s
    s.close()


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last.

    Playwright's sync API keeps an event loop running in the main thread for as long as its
    session-wide browser lives; tests that call ``asyncio.run`` must not run inside that.
    """
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))
