"""PromptLab in a real JupyterLab, driven by headless Debian Chromium.

The notebook starts the loopback fake OpenAI server in the kernel with a rule (the hint phrase
in the prompt makes the model answer 12 known items right), opens a session on 60 items,
decides 30 of them with their gold labels, runs version 1 headless and shows the panel. In the
browser: type the hint into the instructions, render (the hint is in the system prompt), run
(a second version appears, run as a task on the kernel's loop), compare the two versions (some
item is "fixed"), and the notebook is untouched by the typing.
"""

from __future__ import annotations

import time

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    JS_NOTEBOOK_STATE,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
    kernel_eval,
    run_all,
    write_notebook,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

HINT = "Quoting a sceptic is neutral."
NOTEBOOK = [
    f"HINT = {HINT!r}",
    """\
from llmlabel_widget import LabelTask, OpenAIAnnotator, Session, datasets
from llmlabel_widget.testing import FakeOpenAIServer

df = datasets.load("gwsd_climate_stance_gpt4o")
data = df[["id", "text"]].head(60)
gold = dict(zip(df["text"], df["gold_label"]))
by_id = dict(zip(df["id"], df["gold_label"]))
known = {t: by_id[i] for t, i in zip(data["text"][:12], data["id"][:12])}
server = FakeOpenAIServer(gold, accuracy=0.6, seed=4, rules={HINT: known}).start()
task = LabelTask(
    labels={
        "agree": "the sentence agrees that climate change is a serious concern",
        "neutral_or_disagree": "neutral, or disagrees that it is a serious concern",
    },
    instructions="Label the stance of the news sentence on global warming.",
)
session = Session.open("promptlab.labels.db", data=data, task=task,
                       annotator=OpenAIAnnotator("fake-llm", base_url=server.base_url,
                                                 api_key="not-needed"))
for i in data["id"][:30]:
    session.decide(i, by_id[i], annotator="e2e")
v1 = session.try_prompt(progress=False)""",
    "from llmlabel_widget import PromptLab\nlab = PromptLab(session)\nlab",
]


@pytest.fixture
def notebook(lab: Lab) -> str:
    name = "promptlab.ipynb"
    for stale in lab.root.glob("promptlab.labels.db*"):
        stale.unlink()
    write_notebook(lab.root / name, NOTEBOOK)
    yield name
    lab.close_sessions(name)


def test_edit_render_run_compare(lab: Lab, page: Page, notebook: str):
    t0 = time.monotonic()
    goto_notebook(page, lab, notebook)
    run_all(page, notebook)
    root = page.locator(".llmlabel-prompt-lab")
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    expect(root).to_have_attribute("data-versions", "1")
    expect(root.locator("tr.llmlabel-pl-version .llmlabel-pl-n")).to_have_text(["30"])
    before_nb = page.evaluate(JS_NOTEBOOK_STATE)

    # Type the hint at the end of the instructions (letters JupyterLab binds: a, b, d, m, ...).
    instructions = root.locator(".llmlabel-pl-instructions")
    instructions.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" " + HINT)
    expect(instructions).to_have_value(
        "Label the stance of the news sentence on global warming. " + HINT
    )

    # Render for the next decided item: the hint is in the system prompt.
    root.locator('[data-action="render"]').click()
    system = root.locator('.llmlabel-pl-message[data-role="system"] .llmlabel-pl-content')
    expect(system).to_contain_text(HINT)
    expect(root.locator('.llmlabel-pl-message[data-role="user"]').last).to_be_visible()

    # Run the draft: progress while it runs, then a second version in the table.
    root.locator('[data-action="run"]').click()
    expect(root).to_have_attribute("data-versions", "2")
    expect(root).to_have_attribute("data-running", "false")
    expect(root.locator(".llmlabel-pl-progress")).to_have_text("Last run: 30 / 30 answered")
    expect(root.locator("tr.llmlabel-pl-version .llmlabel-pl-n")).to_have_text(["30", "30"])
    expect(root.locator(".llmlabel-pl-error")).to_be_hidden()

    # Compare version 1 with version 2: the rule fixed some items.
    versions = [
        v.get_attribute("data-version") for v in root.locator("tr.llmlabel-pl-version").all()
    ]
    root.locator(".llmlabel-pl-a").select_option(versions[0])
    root.locator(".llmlabel-pl-b").select_option(versions[1])
    root.locator('[data-action="compare"]').click()
    expect(root.locator(".llmlabel-pl-compare-summary")).to_contain_text(
        f"from {versions[0]} to {versions[1]}"
    )
    fixed = root.locator('tr.llmlabel-pl-change-row[data-change="fixed"] .llmlabel-pl-change')
    expect(fixed.first).to_have_text("fixed")
    assert fixed.count() >= 1

    # The kernel agrees: version 2 carries the hint; nothing leaked into JupyterLab.
    assert (
        kernel_eval(lab, notebook, f"{HINT!r} in session.prompt_versions().instructions.iloc[-1]")
        == "True"
    )
    assert page.evaluate(JS_NOTEBOOK_STATE) == before_nb
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    print(f"\n[e2e] prompt lab: total {time.monotonic() - t0:.1f}s")
