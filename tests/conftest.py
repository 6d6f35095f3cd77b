"""Shared fixtures: real shipped data, a task for it, a fresh store path."""

from __future__ import annotations

import uuid
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


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for the whole run; if it can not start, its tests fail."""
    from llmlabel_widget.testing.postgres import PostgresCluster

    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.destroy()


@pytest.fixture
def backend(request) -> str:
    """``sqlite`` unless the module runs on both backends (see pytest_generate_tests)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def db(request, tmp_path: Path, backend: str) -> Path | str:
    """Where a test's store lives: a SQLite file, or a fresh project on the PostgreSQL server."""
    if backend == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        return cluster.url(project=f"t_{uuid.uuid4().hex[:16]}")
    return tmp_path / "test.labels.db"


def pytest_generate_tests(metafunc):
    """A module with ``BACKENDS = ("sqlite", "postgres")`` runs each store test on each."""
    backends = getattr(metafunc.module, "BACKENDS", None)
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = None  # the test reads the SQLite file itself
    if backends and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def items(gwsd: pd.DataFrame) -> pd.DataFrame:
    """60 GWSD items (id, text): the LLM tests' small pool."""
    return gwsd[["id", "text"]].head(60)


@pytest.fixture
def gold(gwsd: pd.DataFrame) -> dict[str, str]:
    """text -> gold label: what the loopback server answers from."""
    return dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))


@pytest.fixture
def session(db: Path, gwsd: pd.DataFrame, gwsd_task: LabelTask) -> Session:
    s = Session.open(db, data=gwsd.head(200), task=gwsd_task)
    yield s
    s.close()


@pytest.fixture
def prompt_setup(request, db, gwsd, gwsd_task):
    """A session on 80 GWSD items, 40 decided, against a loopback server where the test
    module's ``HINT`` phrase in a prompt makes 12 known items get their gold label."""
    from llmlabel_widget import OpenAIAnnotator
    from llmlabel_widget.testing import FakeOpenAIServer

    data = gwsd[["id", "text"]].head(80)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    by_id = dict(zip(gwsd["id"], gwsd["gold_label"], strict=True))
    known = dict(zip(data["text"][:12], data["id"][:12].map(by_id), strict=True))
    server = FakeOpenAIServer(
        gold, accuracy=0.6, seed=4, rules={request.module.HINT: known}
    ).start()
    ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="sk-SECRET-do-not-sync")
    s = Session.open(db, data=data, task=gwsd_task, annotator=ann)
    for i in data["id"][:40]:
        s.decide(i, by_id[i], annotator="alice")
    yield s, server, set(data["id"][:12])
    server.stop()
    s.close()


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last.

    Playwright's sync API keeps an event loop running in the main thread for as long as its
    session-wide browser lives; tests that call ``asyncio.run`` must not run inside that.
    """
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))
