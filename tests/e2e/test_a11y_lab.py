"""Accessibility (issue 13): axe-core finds no serious or critical violations in the Labeler,
the Dashboard and PromptLab, in JupyterLab's light and dark themes. The same run refreshes the
README's screenshots (``notebooks/images/{labeler,dashboard}-{light,dark}.png``).

axe's ``color-contrast`` rule (serious) checks that small text has a contrast of at least 4.5:1
against its background, so the contrast line of the issue is part of the same check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from a11y import accessibility_problems, set_theme
from lab_harness import JS_ERROR_OUTPUTS, UI_TIMEOUT_MS, Lab, goto_notebook, run_all, write_notebook
from playwright.sync_api import Page, expect

IMAGES = Path(__file__).resolve().parents[2] / "notebooks" / "images"

pytestmark = pytest.mark.e2e

NOTEBOOK = [
    """\
from llmlabel_widget import (Dashboard, LabelTask, Labeler, OpenAIAnnotator, PromptLab,
                             RecordedAnnotator, Session, datasets)
from llmlabel_widget.testing import FakeOpenAIServer

df = datasets.load("gwsd_climate_stance_gpt4o").head(80)
gold = dict(zip(df["text"], df["gold_label"]))
server = FakeOpenAIServer(gold, accuracy=0.7, seed=3).start()
task = LabelTask(
    labels={
        "agree": "the sentence agrees that climate change is a serious concern",
        "neutral_or_disagree": "neutral, or disagrees that it is a serious concern",
    },
)
session = Session.open("a11y.labels.db", data=df[["id", "text"]], task=task,
                       annotator=RecordedAnnotator(
                           df[["id", "llm_label"]].rename(columns={"llm_label": "label"})))
session.propose(progress=False)
for i, g in zip(df["id"][:30], df["gold_label"][:30]):
    session.decide(i, g)  # as the session's user, so the Labeler's history lists them
session.annotator = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="not-needed")
session.try_prompt(progress=False)""",
    "Labeler(session)",
    "Dashboard(session)",
    "PromptLab(session)",
]
VIEWS = {"Labeler": 1, "Dashboard": 2, "PromptLab": 3}  # cell index of each view


@pytest.fixture
def notebook(lab: Lab) -> str:
    name = "a11y.ipynb"
    for stale in lab.root.glob("a11y.labels.db*"):
        stale.unlink()
    write_notebook(lab.root / name, NOTEBOOK)
    yield name
    lab.close_sessions(name)


def _output(cell: int) -> str:
    """The view in cell ``cell`` (its output, without JupyterLab's ``[n]:`` prompt)."""
    return f".jp-Notebook .jp-Cell:nth-child({cell + 1}) .jp-OutputArea-output"


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_views_have_no_serious_accessibility_violations(
    lab: Lab, page: Page, notebook: str, dark: bool
):
    goto_notebook(page, lab, notebook)
    set_theme(page, dark)
    try:
        _check_and_shoot(page, notebook, dark)
    finally:  # JupyterLab keeps the theme in its user settings: leave it light for other tests
        set_theme(page, False)


def _check_and_shoot(page: Page, notebook: str, dark: bool) -> None:
    run_all(page, notebook)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    expect(page.locator(".llmlabel-root")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator(".llmlabel-prompt-lab")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator(f"{_output(2)} .js-plotly-plot").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    # axe checks the contrast of text on screen only: a tall window, each view scrolled to
    page.set_viewport_size({"width": 1200, "height": 2600})
    page.wait_for_timeout(1500)  # let the dashboard redraw for the new width
    found = {}
    for name, cell in VIEWS.items():
        page.locator(_output(cell)).scroll_into_view_if_needed()
        found[name] = accessibility_problems(page, _output(cell), svg=name == "Dashboard")
    problems = "\n".join(f"{name}: {line}" for name, lines in found.items() for line in lines)
    theme = "dark" if dark else "light"
    page.locator(".llmlabel-root").screenshot(path=str(IMAGES / f"labeler-{theme}.png"))
    dashboard = page.locator(f"{_output(2)} .js-plotly-plot").first
    dashboard.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # it reflows to the new width
    dashboard.screenshot(path=str(IMAGES / f"dashboard-{theme}.png"))
    assert problems == "", problems
