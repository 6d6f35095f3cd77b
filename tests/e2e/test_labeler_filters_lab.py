"""Queue filters, the label filter and honest words, in a real JupyterLab with Chromium.

1. Queue filter chips: ``l`` opens the form, a filter restricts the queue (shown item and
   preview), the pick is recorded as filtered (not audit), the chip's remove button removes it.
2. The label filter finds ``card_arrival`` from "card arrival" and keeps the highlighted option
   in view while the arrows move it.
3. A session without an LLM: an empty item shows "(empty text)", and no word of the view
   mentions the LLM.
4. A pool above the quick limit shows "preparing the ranking…" at once, then the ranking.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    UI_TIMEOUT_MS,
    Lab,
    goto_notebook,
    kernel_eval,
    run_all,
    write_notebook,
)
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e


def open_and_run(page: Page, lab: Lab, name: str) -> Locator:
    goto_notebook(page, lab, name)
    run_all(page, name)
    root = page.locator(".llmlabel-root").first
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    return root


def contexts(db: Path) -> list[tuple[str, dict]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT item_id, context FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [(i, json.loads(c)) for i, c in rows]


# -- 1. queue filter chips ----------------------------------------------------------------------
FILTER_NOTEBOOK = [
    """\
from llmlabel_widget import LabelTask, Labeler, Selector, Session, datasets

src = datasets.load("gwsd_climate_stance_gpt4o").head(60)
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("filters.labels.db", data=src[["id", "text"]], task=task,
                       selector=Selector(strategy="in_order", explore=0.0))
session.add_proposals({"item_id": r.id, "labels": [r.llm_label], "valid": True,
                       "confidence": r.llm_confidence, "source": "recorded"}
                      for r in src.itertuples())
WANT = [r.id for r in src.itertuples() if r.llm_label == "neutral_or_disagree"]
labeler = Labeler(session, annotator="alice")
labeler""",
]


def test_queue_filter_chips_restrict_the_queue_and_are_recorded(lab: Lab, page: Page):
    name = "filters.ipynb"
    write_notebook(lab.root / name, FILTER_NOTEBOOK)
    root = open_and_run(page, lab, name)
    want = json.loads(kernel_eval(lab, name, "__import__('json').dumps(WANT)").strip("'"))
    root.focus()
    page.keyboard.press("l")
    form = root.locator(".llmlabel-qf")
    expect(form).to_be_visible()
    form.locator(".llmlabel-qf-label").select_option("neutral_or_disagree")
    form.locator(".llmlabel-qf-label").press("Enter")
    chip = root.locator(".llmlabel-qf-chip")
    expect(chip).to_have_count(1)
    expect(chip).to_contain_text("LLM label: neutral_or_disagree")
    expect(root).to_have_attribute("data-item-id", want[0])
    preview = root.locator(".llmlabel-queue-item")
    expect(preview.first).to_have_attribute("data-item-id", want[1])
    ids = [preview.nth(i).get_attribute("data-item-id") for i in range(preview.count())]
    assert ids == want[1 : 1 + len(ids)]

    root.focus()
    page.keyboard.press("1")  # label "agree" on the filtered pick
    expect(root).to_have_attribute("data-item-id", want[1])
    item_id, ctx = contexts(lab.root / "filters.labels.db")[-1]
    assert item_id == want[0]
    assert ctx["filtered"] == {"labels": ["neutral_or_disagree"]}
    assert ctx["audit"] is False

    root.locator(".llmlabel-qf-remove").click()
    expect(chip).to_have_count(0)
    expect(root.locator(".llmlabel-qf-chips")).to_be_hidden()
    first = kernel_eval(lab, name, "session.queue(1)[0].item_id")
    expect(root).to_have_attribute("data-item-id", first.strip("'"))
    lab.close_sessions(name)


# -- 2. label filter ----------------------------------------------------------------------------
MANY_LABELS = [f"topic_{i:02d}" for i in range(30)] + [
    "card_arrival",
    "lost_or_stolen_card",
    "arrival_delay",
]
LABEL_NOTEBOOK = [
    f"""\
import pandas as pd
from llmlabel_widget import LabelTask, Labeler, Selector, Session

task = LabelTask(labels={MANY_LABELS!r})
items = pd.DataFrame({{"id": ["a", "b"], "text": ["Where is my card?", "It never came."]}})
session = Session.open("labels.labels.db", data=items, task=task,
                       selector=Selector(strategy="in_order", explore=0.0))
labeler = Labeler(session, annotator="alice")
labeler""",
]


def in_view(option: Locator, box: Locator) -> bool:
    o, b = option.bounding_box(), box.bounding_box()
    assert o is not None
    assert b is not None
    return o["y"] >= b["y"] - 1 and o["y"] + o["height"] <= b["y"] + b["height"] + 1


def test_label_filter_matches_loosely_and_keeps_the_highlight_in_view(lab: Lab, page: Page):
    name = "labelfilter.ipynb"
    write_notebook(lab.root / name, LABEL_NOTEBOOK)
    root = open_and_run(page, lab, name)
    root.focus()
    page.keyboard.press("/")
    box = root.locator(".llmlabel-filter-input")
    expect(box).to_be_focused()
    box.type("card arrival")
    options = root.locator(".llmlabel-option")
    expect(options.first).to_have_attribute("data-label", "card_arrival")
    box.fill("")
    box.type("t")  # 31 matches: the list scrolls
    listbox = root.locator(".llmlabel-filter-list")
    for _ in range(30):
        box.press("ArrowDown")
    active = root.locator(".llmlabel-option-active")
    expect(active).to_have_count(1)
    assert listbox.evaluate("el => el.scrollHeight > el.clientHeight")  # it does overflow
    assert in_view(active, listbox)
    for _ in range(30):
        box.press("ArrowUp")
    assert in_view(root.locator(".llmlabel-option-active"), listbox)
    box.press("Enter")
    lab.close_sessions(name)


# -- 3. no LLM: empty item marker, no LLM words ------------------------------------------------
NO_LLM_NOTEBOOK = [
    """\
import pandas as pd
from llmlabel_widget import LabelTask, Labeler, Selector, Session

task = LabelTask(labels=["positive", "negative"])
items = pd.DataFrame({"id": ["e1", "e2", "t1"], "text": ["   ", "", "A fine day."]})
session = Session.open("nollm.labels.db", data=items, task=task,
                       selector=Selector(strategy="in_order"))
labeler = Labeler(session, annotator="alice")
labeler""",
]


def test_empty_item_marker_and_no_llm_words_without_an_llm(lab: Lab, page: Page):
    name = "nollm.ipynb"
    write_notebook(lab.root / name, NO_LLM_NOTEBOOK)
    root = open_and_run(page, lab, name)
    expect(root.locator(".llmlabel-empty-text")).to_have_text("(empty text)")
    expect(root.locator(".llmlabel-empty-text")).to_be_visible()
    root.focus()
    page.keyboard.press("?")  # the help lists every key
    expect(root.locator(".llmlabel-help")).to_be_visible()
    words = root.inner_text()
    assert "LLM" not in words, words
    page.keyboard.press("Escape")
    page.keyboard.press("l")  # the queue filter form
    expect(root.locator(".llmlabel-qf")).to_be_visible()
    assert "LLM" not in root.inner_text()
    page.keyboard.press("Escape")
    page.keyboard.press("2")  # decide the empty item; the next one is empty too
    expect(root).to_have_attribute("data-item-id", "e2")
    expect(root.locator(".llmlabel-empty-text")).to_be_visible()
    assert "LLM" not in root.inner_text()
    lab.close_sessions(name)


# -- 4. big pool: preparing the ranking ------------------------------------------------------
BIG_NOTEBOOK = [
    """\
import pandas as pd
from llmlabel_widget import LabelTask, Labeler, Session, datasets
from llmlabel_widget.selection.shell import QUICK_POOL

src = datasets.load("gwsd_climate_stance_gpt4o")
n = QUICK_POOL + 1000
items = pd.DataFrame({"id": [f"i{k:05d}" for k in range(n)],
                      "text": [f"{src.text[k % len(src)]} [{k}]" for k in range(n)]})
task = LabelTask(labels=["agree", "neutral_or_disagree"])
session = Session.open("big.labels.db", data=items, task=task)
labeler = Labeler(session, annotator="alice")
labeler""",
]


def test_big_pool_says_preparing_then_shows_the_ranking(lab: Lab, page: Page):
    name = "big.ipynb"
    write_notebook(lab.root / name, BIG_NOTEBOOK)
    root = open_and_run(page, lab, name)
    progress = root.locator(".llmlabel-progress")
    expect(progress).to_contain_text("preparing the ranking…")
    expect(root).to_have_attribute("data-item-id", "i00000")  # pool order meanwhile
    expect(root.locator(".llmlabel-reason")).to_contain_text("preparing the ranking…")
    # the background ranking lands: the status line and the preview update by themselves
    expect(progress).not_to_contain_text("preparing", timeout=180_000)
    expect(root.locator(".llmlabel-queue-reason").first).not_to_contain_text("preparing")
    lab.close_sessions(name)
