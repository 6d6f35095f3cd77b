"""PromptLab in a real JupyterLab, driven by headless Debian Chromium.

The notebook starts the loopback fake OpenAI server in the kernel with a rule (the hint phrase
in the prompt makes the model answer 12 known items right), opens a session on 60 items,
decides 30 of them with their gold labels, runs version 1 headless and shows the panel. In the
browser: type the hint into the instructions, render (the hint is in the system prompt), run
(a second version appears, run as a task on the kernel's loop), compare the two versions (some
item is "fixed"), and the notebook is untouched by the typing.
"""

from __future__ import annotations

import re
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
                                                 api_key="not-needed", max_retries=0))
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
    expect(root.locator(".llmlabel-pl-progress")).to_have_text(
        "Last run: 30 answered (0 invalid) · 0 failed · 30 / 30 done"
    )
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


JS_BUTTON_LOOK = """(root) => {
  const probe = (v) => {
    const el = document.createElement("span");
    el.style.color = `var(${v})`;
    root.appendChild(el);
    const c = getComputedStyle(el).color;
    el.remove();
    return c;
  };
  const buttons = [...root.querySelectorAll("button")];
  const run = root.querySelector('[data-action="run"]');
  const render = root.querySelector('[data-action="render"]');
  return {
    n: buttons.length,
    jp: buttons.every((b) => b.classList.contains("jp-Button")
                         && b.classList.contains("jp-mod-styled")),
    inline: root.querySelectorAll("[style]").length,
    runBg: getComputedStyle(run).backgroundColor,
    brand: probe("--jp-brand-color0"),
    renderFg: getComputedStyle(render).color,
    fg1: probe("--jp-ui-font-color1"),
  };
}"""


def test_stale_marks_failures_buttons_and_a_promotion_from_code(
    lab: Lab, page: Page, notebook: str
):
    goto_notebook(page, lab, notebook)
    run_all(page, notebook)
    root = page.locator(".llmlabel-prompt-lab")
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(root).to_have_attribute("data-versions", "1")

    # Buttons: JupyterLab's classes and theme colours, no inline styles anywhere in the panel.
    look = root.evaluate(JS_BUTTON_LOOK)
    assert look["n"] >= 6
    assert look["jp"] is True
    assert look["inline"] == 0
    assert look["runBg"] == look["brand"]
    assert look["renderFg"] == look["fg1"]

    # Render and estimate: fresh. Any edit of the draft marks both stale at once.
    rendered = root.locator(".llmlabel-pl-rendered")
    estimate = root.locator(".llmlabel-pl-estimate")
    root.locator('[data-action="render"]').click()
    root.locator('[data-action="estimate"]').click()
    expect(estimate).to_contain_text("Estimate for fake-llm")
    expect(rendered).to_have_attribute("data-stale", "false")
    expect(estimate).to_have_attribute("data-stale", "false")
    expect(root.locator(".llmlabel-pl-stale")).to_have_count(2)
    for mark in root.locator(".llmlabel-pl-stale").all():
        expect(mark).to_be_hidden()
    instructions = root.locator(".llmlabel-pl-instructions")
    instructions.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" Be brief.")
    expect(rendered).to_have_attribute("data-stale", "true")
    expect(estimate).to_have_attribute("data-stale", "true")
    for mark in root.locator(".llmlabel-pl-stale").all():
        expect(mark).to_be_visible()
    root.locator('[data-action="render"]').click()  # re-rendered: fresh; the estimate is not
    expect(rendered).to_have_attribute("data-stale", "false")
    expect(estimate).to_have_attribute("data-stale", "true")
    root.locator(".llmlabel-pl-shots").fill("1")  # a number field counts as an edit too
    expect(rendered).to_have_attribute("data-stale", "true")

    # The server now fails some requests (no retries): failures are shown apart from answers.
    kernel_eval(lab, notebook, "server.faults.rate_500", code="server.faults.rate_500 = 0.3")
    root.locator('[data-action="run"]').click()
    expect(root).to_have_attribute("data-versions", "2")
    expect(root).to_have_attribute("data-running", "false")
    progress = kernel_eval(lab, notebook, "(lab.progress['answered'], lab.progress['failed'])")
    answered, failed = (int(x) for x in progress.strip("()").split(","))
    assert failed > 0
    assert answered + failed == 30
    expect(root.locator(".llmlabel-pl-answered")).to_have_text(f"{answered} answered")
    expect(root.locator(".llmlabel-pl-failed")).to_have_text(f"{failed} failed")
    expect(root.locator(".llmlabel-pl-failed")).to_have_class(re.compile("llmlabel-pl-has-failed"))
    expect(root.locator(".llmlabel-pl-error")).to_contain_text(f"{failed} request")
    expect(root.locator(".llmlabel-pl-error")).to_contain_text("failed with no answer")

    # A promotion made in code (another cell) shows in the panel, with the instructions diff.
    kernel_eval(
        lab,
        notebook,
        "session.store.get_meta('promoted')",
        code="session.promote(session.prompt_versions().version.iloc[0])",
    )
    rows = root.locator("tr.llmlabel-pl-version")
    expect(rows.locator(".llmlabel-pl-promoted")).to_have_text(["yes", ""])
    summaries = rows.locator(".llmlabel-pl-diff-summary")
    expect(summaries.first).to_have_text("promoted: these instructions")
    expect(summaries.nth(1)).to_have_text("+2 / \u22120 words vs the promoted version")
    summaries.nth(1).click()
    expect(rows.nth(1).locator(".llmlabel-pl-diff ins")).to_have_text(" Be brief.")
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
