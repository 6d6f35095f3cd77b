"""Team labeling in a real JupyterLab (issue 15): two reviewers, two kernels, one PostgreSQL
project. Each kernel stands for a reviewer's machine; the browser drives both Labelers.

What a team expects: alice and bob never see the same item (leases), each one's undo takes
back only their own decision, and the project's events say who decided what.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from lab_harness import (
    EXPECT_TIMEOUT_MS,
    JS_ERROR_OUTPUTS,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
    run_all,
    write_notebook,
)
from playwright.sync_api import Locator, Page, expect

from llmlabel_widget.store.postgres import split_url

pytestmark = pytest.mark.e2e

CREATE = """\
from llmlabel_widget import Labeler, RecordedAnnotator, Session, datasets
from llmlabel_widget.task import LabelTask

df = datasets.load("gwsd_climate_stance_gpt4o").head(40)
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("{url}", data=df[["id", "text"]], task=task,
                       annotator=RecordedAnnotator(df, label="llm_label",
                                                   confidence="llm_confidence"))
session.propose(progress=False)
session.team(overlap=0.0)"""

JOIN = """\
from llmlabel_widget import Labeler, Session

session = Session.open("{url}")  # the project exists: bob only connects"""


@pytest.fixture
def second_page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def open_labeler(page: Page, lab: Lab, name: str, setup: str, reviewer: str) -> Locator:
    write_notebook(
        lab.root / name, [setup, f'labeler = Labeler(session, reviewer="{reviewer}")\nlabeler']
    )
    goto_notebook(page, lab, name)
    run_all(page, name)
    root = page.locator(".llmlabel-root")
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    return root


def press(page: Page, root: Locator, key: str) -> str:
    """Press ``key`` in this reviewer's Labeler; the item shown next."""
    root.focus()
    rev = root.get_attribute("data-revision")
    page.keyboard.press(key)
    expect(root).not_to_have_attribute("data-revision", rev)
    return str(root.get_attribute("data-item-id"))


def events(url: str) -> list[tuple[str, str, str, bool]]:
    """``(item_id, kind, annotator, undone)`` of the project's events, in order."""
    conninfo, project, _ = split_url(url)
    with psycopg.connect(conninfo, options=f"-c search_path={project}") as conn:
        rows = conn.execute(
            "SELECT e.item_id, e.kind, e.annotator,"
            " EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.seq)"
            " FROM events e WHERE e.undoes IS NULL ORDER BY e.seq"
        ).fetchall()
    return [(str(i), str(k), str(a), bool(u)) for i, k, a, u in rows]


def test_two_reviewers_share_a_postgres_project(
    lab: Lab, page: Page, second_page: Page, pg_cluster: Any
):
    url = pg_cluster.url(project=f"e2e_{uuid.uuid4().hex[:12]}")
    alice = open_labeler(page, lab, "team_alice.ipynb", CREATE.format(url=url), "alice")
    bob = open_labeler(second_page, lab, "team_bob.ipynb", JOIN.format(url=url), "bob")

    seen = {"alice": [alice.get_attribute("data-item-id")], "bob": []}
    seen["bob"].append(bob.get_attribute("data-item-id"))
    for _ in range(3):  # turn by turn, as two people at once
        seen["alice"].append(press(page, alice, "a"))
        seen["bob"].append(press(second_page, bob, "2"))
    assert not set(seen["alice"]) & set(seen["bob"])  # leased: never the same item

    # bob's undo takes back bob's last decision and shows that item again; alice's stay.
    assert press(second_page, bob, "z") == seen["bob"][2]
    expect(bob.locator(".llmlabel-notice")).to_contain_text("Undid")

    log = events(url)
    decided = {
        who: [(i, k) for i, k, a, undone in log if a == who and not undone]
        for who in ("alice", "bob")
    }
    assert decided["alice"] == [(i, "accept") for i in seen["alice"][:3]]
    assert [i for i, _ in decided["bob"]] == seen["bob"][:2]
    assert [(i, a) for i, _, a, undone in log if undone] == [(seen["bob"][2], "bob")]
    assert url.split("project=")[1] in bob.inner_text()  # the status line names the project
