"""The Labeler in a real JupyterLab, driven by headless Debian Chromium.

1. The quickstart notebook: 20 decisions by keyboard and 5 by mouse (5 of them corrections),
   a note typed with label keys in it, a skip, 3 undos; then the SQLite file must hold exactly
   those events, the notebook must be untouched by the keys, a page reload and a re-display
   must show the same item, and the saved notebook must hold no copy of the data.
2. An XSS corpus in items, metadata, rationales, raw answers and label names executes nothing;
   long, emoji, CJK and right-to-left text display correctly.
3. A multi-label task with 11 labels: toggling, the filter list beyond 9 labels, highlighted
   rationale quotes; a kernel restart and re-run resumes at the same item.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from lab_harness import (
    JS_ERROR_OUTPUTS,
    JS_NOTEBOOK_STATE,
    REPO,
    UI_TIMEOUT_MS,
    Lab,
    code_cell,
    goto_notebook,
    kernel_eval,
    run_all,
    run_command,
    save_notebook,
    write_notebook,
)
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parent / "artifacts"
QUICKSTART = REPO / "notebooks" / "quickstart.ipynb"
LABELER_ENDING = "from llmlabel_widget import Labeler\nlabeler = Labeler(session)\nlabeler"
# Elements an injected payload would create inside the widget.
DANGEROUS = "script, img, svg, iframe, object, embed, a, style, link, math, video, audio, form"


# -- store helpers (read-only: the kernel owns the store) -----------------------------------------
def read_rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def max_seq(db: Path) -> int:
    return int(read_rows(db, "SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])


def latest_proposal(db: Path, item_id: str) -> tuple[bool, list[str]]:
    rows = read_rows(
        db,
        "SELECT valid, labels FROM proposals WHERE item_id = ? ORDER BY seq DESC LIMIT 1",
        (item_id,),
    )
    if not rows:
        return False, []
    valid, labels = rows[0]
    return bool(valid), json.loads(labels) if labels else []


# -- page helpers ---------------------------------------------------------------------------------
def widget(page: Page) -> Locator:
    return page.locator(".llmlabel-root").first


def state(root: Locator) -> tuple[str | None, int]:
    return root.get_attribute("data-item-id"), int(root.get_attribute("data-revision") or -1)


def wait_next_revision(root: Locator, rev: int) -> None:
    """Wait until the view shows a state newer than ``rev`` (Python answered)."""
    expect(root).not_to_have_attribute("data-revision", str(rev))
    assert int(root.get_attribute("data-revision") or -1) > rev


def no_injection(page: Page, root: Locator) -> None:
    assert root.locator(DANGEROUS).count() == 0
    assert page.evaluate("() => window.__xss") is None


def open_and_run(page: Page, lab: Lab, name: str) -> Locator:
    goto_notebook(page, lab, name)
    run_all(page, name)
    root = widget(page)
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    return root


# -- 1. the quickstart ----------------------------------------------------------------------------
@pytest.fixture
def quickstart(lab: Lab) -> str:
    """The shipped quickstart, outputs cleared, ending with the Labeler cell."""
    nb = json.loads(QUICKSTART.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    if not any("Labeler(" in "".join(c["source"]) for c in nb["cells"]):
        nb["cells"].append(code_cell(LABELER_ENDING, len(nb["cells"])))
    name = "quickstart.ipynb"
    (lab.root / name).write_text(json.dumps(nb))
    for stale in lab.root.glob("quickstart.labels.db*"):
        stale.unlink()
    yield name
    lab.close_sessions(name)


def test_quickstart_keyboard_mouse_undo_reload(lab: Lab, page: Page, quickstart: str):
    t0 = time.monotonic()
    root = open_and_run(page, lab, quickstart)
    db = lab.root / "quickstart.labels.db"
    t_ready = time.monotonic()
    # The installed package's server extension is live in this server (what users get).
    assert "llmlabel_widget: TCP_NODELAY on kernel websockets" in lab.log.read_text()
    # Run All ends on the export cell below the Labeler: the user is not on the view's cell,
    # so it does not take the keyboard; a click gives it the keys.
    expect(root).not_to_be_focused()
    root.locator(".llmlabel-progress").click()
    expect(root).to_be_focused()
    names = [b.get_attribute("data-label") for b in root.locator("button.llmlabel-label").all()]
    assert names == ["agree", "neutral_or_disagree"]
    before_nb = page.evaluate(JS_NOTEBOOK_STATE)
    base = max_seq(db)  # the quickstart already made headless decisions; count from here

    expected: list[tuple[str, str, list[str] | None, str | None]] = []

    def other(label: str) -> str:
        return names[1] if label == names[0] else names[0]

    # 20 by keyboard: 17 accepts (alternating Enter and a), then 3 corrections by number key.
    for k in range(20):
        item, rev = state(root)
        valid, proposed = latest_proposal(db, item)
        if k < 17 and valid:
            key = "Enter" if k % 2 else "a"
            expected.append((item, "accept", proposed, None))
        elif valid:
            label = other(proposed[0])
            key = str(names.index(label) + 1)
            expected.append((item, "correct", [label], None))
        else:  # no usable proposal: a plain label
            key = "1"
            expected.append((item, "label", [names[0]], None))
        page.keyboard.press(key)
        wait_next_revision(root, rev)

    # The status line headlines the pool estimate (computed in the kernel's background and
    # pushed to the view by itself), then the acceptance rate, labelled as such.
    progress = root.locator(".llmlabel-progress")
    expect(progress).to_contain_text("LLM accuracy on the pool")
    expect(progress).to_contain_text("acceptance rate")
    expect(progress).not_to_contain_text("LLM agrees")
    expect(progress).to_have_attribute("title", re.compile(r"session\.pool_estimates\(\)"))

    ARTIFACTS.mkdir(exist_ok=True)
    root.scroll_into_view_if_needed()
    root.screenshot(path=str(ARTIFACTS / "labeler.png"))

    # A note whose text is full of label keys, then a skip.
    item, rev = state(root)
    page.keyboard.press("n")
    note = root.locator(".llmlabel-note-input")
    expect(note).to_be_focused()
    text = "typed 1 2 a s z / ? n here"
    page.keyboard.type(text)
    assert state(root) == (item, rev)  # nothing fired while typing
    page.keyboard.press("Enter")
    wait_next_revision(root, rev)
    expect(root.locator(".llmlabel-notice")).to_have_text(f"Note saved on #{item}.")
    expected.append((item, "note", None, text))
    expect(root).to_be_focused()
    item, rev = state(root)
    page.keyboard.press("s")
    wait_next_revision(root, rev)
    expected.append((item, "skip", None, None))

    # 5 by mouse: 3 accepts (one of them a double click), 2 corrections.
    for k in range(5):
        item, rev = state(root)
        valid, proposed = latest_proposal(db, item)
        assert valid, f"quickstart item {item} has no valid proposal"
        if k < 3:
            button = root.locator(".llmlabel-act-accept")
            if k == 1:
                button.dblclick()
            else:
                button.click()
            expected.append((item, "accept", proposed, None))
        else:
            label = other(proposed[0])
            root.locator(f'button.llmlabel-label[data-label="{label}"]').click()
            expected.append((item, "correct", [label], None))
        wait_next_revision(root, rev)
    expect(root).to_be_focused()  # a click gives the keyboard back to the view

    # 3 undos: the view goes back to each undone item.
    for back in (-1, -2, -3):
        _, rev = state(root)
        page.keyboard.press("z")
        wait_next_revision(root, rev)
        expect(root).to_have_attribute("data-item-id", expected[back][0])
    where = expected[-3][0]
    t_acted = time.monotonic()

    # The store on disk holds exactly these events.
    rows = read_rows(
        db,
        "SELECT seq, item_id, annotator, kind, labels, note, undoes FROM events WHERE seq > ? "
        "ORDER BY seq",
        (base,),
    )
    actions = [r for r in rows if r[3] != "undo"]
    undos = [r for r in rows if r[3] == "undo"]
    assert [(r[1], r[3], json.loads(r[4]) if r[4] else None, r[5]) for r in actions] == expected
    reviewer = kernel_eval(lab, quickstart, "labeler.annotator")
    assert {repr(r[2]) for r in rows} == {reviewer}
    assert reviewer != repr("demo-script")  # apart from the scripted demo's decisions
    assert sum(1 for e in expected if e[1] == "correct") == 5
    assert [r[6] for r in undos] == [actions[-1][0], actions[-2][0], actions[-3][0]]
    assert len(rows) == len(expected) + 3

    # No key reached JupyterLab: same cells, same types, still in command mode.
    assert page.evaluate(JS_NOTEBOOK_STATE) == before_nb

    # Reload the page: the saved notebook and the live kernel restore the same item.
    save_notebook(page)
    saved = (lab.root / quickstart).read_text()
    pool = [
        t
        for (t,) in read_rows(db, "SELECT text FROM items")
        if len(t) > 60  # long enough not to occur by chance
    ]
    assert sum(t in saved for t in pool) < 40, "the saved notebook holds a copy of the data"
    page.reload()
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=UI_TIMEOUT_MS
    )
    root = widget(page)
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(root).to_have_attribute("data-item-id", where)
    # ... and it is live: one more decision goes through.
    root.click(position={"x": 5, "y": 5})
    _, rev = state(root)
    page.keyboard.press("1")
    wait_next_revision(root, rev)
    after = read_rows(db, "SELECT item_id, kind FROM events WHERE seq > ?", (rows[-1][0],))
    assert [a[0] for a in after] == [where]

    # Re-display in a new cell: a second view of the same model, at the same item.
    now = root.get_attribute("data-item-id")
    run_command(page, "notebook:insert-cell-below")
    page.wait_for_function(
        "(n) => window.jupyterapp.shell.currentWidget.content.widgets.length === n",
        arg=before_nb["count"] + 1,
    )
    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel"
        ".setSource('labeler')"
    )
    run_command(page, "notebook:run-cell")
    views = page.locator(".llmlabel-root")
    expect(views).to_have_count(2)
    expect(views.nth(1)).to_have_attribute("data-item-id", now)
    assert kernel_eval(lab, quickstart, "labeler.current['item_id']") == repr(now)
    print(
        f"\n[e2e] quickstart: ready {t_ready - t0:.1f}s, 30 actions + 3 undos "
        f"{t_acted - t_ready:.1f}s, total {time.monotonic() - t0:.1f}s"
    )


# -- 2. untrusted text ----------------------------------------------------------------------------
XSS_PAYLOADS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss = 'img'; alert(1)\">",
    '<svg onload="window.__xss = \'svg\'"><circle r="9"/></svg>',
    "<a href=\"javascript:window.__xss='link'\">click me</a>",
    '"><iframe srcdoc="<script>parent.__xss=\'iframe\'</script>"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss='math'>",
    "javascript:alert(document.domain)",
    "<details open ontoggle=\"window.__xss='details'\">",
    "{{constructor.constructor('window.__xss=1')()}}",
]
UNICODE_TEXT = "שלום עולם, זה טקסט בעברית 👋🏽 与 你好世界 🇺🇦 مرحبا بالعالم"
XSS_NOTEBOOK = [
    f"PAYLOADS = {XSS_PAYLOADS!r}\nUNICODE = {UNICODE_TEXT!r}",
    """\
import os
from pathlib import Path

import pandas as pd
from llmlabel_widget import LabelTask, Labeler, OpenAIAnnotator, Selector, Session

# A key in the kernel's environment (read from a file so it is not in the notebook source).
os.environ["OPENAI_API_KEY"] = Path("secret.txt").read_text().strip()
task = LabelTask(labels={"safe": PAYLOADS[0], PAYLOADS[1]: PAYLOADS[2], "other": ""})
texts = [f"Item {i}: {p} and more text" for i, p in enumerate(PAYLOADS)]
texts += [UNICODE, "long " * 20_000]
items = pd.DataFrame({"id": [f"x{i}" for i in range(len(texts))], "text": texts,
                      "source": [PAYLOADS[i % len(PAYLOADS)] for i in range(len(texts))]})
session = Session.open("xss.labels.db", data=items, task=task,
                       annotator=OpenAIAnnotator(model="gpt-4o-mini"),
                       selector=Selector(strategy="in_order", explore=0.0))
proposals = []
for i, p in enumerate(PAYLOADS):
    valid = i % 3 != 2
    proposals.append({"item_id": f"x{i}", "labels": ["safe"] if valid else [], "valid": valid,
                      "rationale": f'It quotes "{p}" verbatim. {p}', "raw": p,
                      "problem": None if valid else f"bad answer {p}", "confidence": 0.3,
                      "confidence_method": p, "source": "openai", "model": p,
                      "prompt_version": p})
proposals.append({"item_id": f"x{len(PAYLOADS)}", "labels": ["other"], "valid": True,
                  "rationale": "It quotes '你好世界' and 'مرحبا'", "source": "recorded",
                  "model": "GPT-4o, 2024", "confidence": 0.9, "confidence_method": "recorded"})
session.add_proposals(proposals)
labeler = Labeler(session, annotator=PAYLOADS[1], metadata_columns=["source"])
labeler""",
]


def test_xss_corpus_executes_nothing_and_text_displays_correctly(lab: Lab, page: Page):
    name = "xss.ipynb"
    sentinel = "sk-e2e-SENTINEL-5f0c9a7e41d2"
    (lab.root / "secret.txt").write_text(sentinel)
    write_notebook(lab.root / name, XSS_NOTEBOOK)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    root = open_and_run(page, lab, name)
    no_injection(page, root)
    # Label names and descriptions with markup are shown as text too.
    expect(root.locator("button.llmlabel-label").nth(1)).to_contain_text(XSS_PAYLOADS[1])
    for i, payload in enumerate(XSS_PAYLOADS):
        expect(root).to_have_attribute("data-item-id", f"x{i}")
        expect(root.locator(".llmlabel-text")).to_have_text(f"Item {i}: {payload} and more text")
        expect(root.locator(".llmlabel-meta-value")).to_have_text(payload)
        if i % 3 != 2:
            expect(root.locator(".llmlabel-rationale-text")).to_have_text(
                f'It quotes "{payload}" verbatim. {payload}'
            )
            # The quoted payload is highlighted: as text, inside <mark> elements.
            expect(root.locator("mark.llmlabel-hl").first).to_be_visible()
        else:
            expect(root.locator(".llmlabel-raw")).to_have_text(payload)
        no_injection(page, root)
        _, rev = state(root)
        page.keyboard.press("s")
        wait_next_revision(root, rev)

    # Emoji, CJK and right-to-left text, exactly, with the direction taken from the text.
    text = root.locator(".llmlabel-text")
    expect(text).to_have_text(UNICODE_TEXT)
    expect(text).to_have_attribute("dir", "auto")
    assert text.evaluate("n => n.matches(':dir(rtl)')") is True
    expect(root.locator("mark.llmlabel-hl")).to_have_text(["你好世界", "مرحبا"])
    _, rev = state(root)
    page.keyboard.press("s")
    wait_next_revision(root, rev)

    # 100,000 characters: collapsed to a readable height, with a way to expand.
    expand = root.locator(".llmlabel-expand")
    expect(expand).to_have_text("Show all (100,000 characters)")
    collapsed = text.bounding_box()["height"]
    assert collapsed < 400
    expand.click()
    expect(expand).to_have_text("Show less")
    assert text.bounding_box()["height"] > 5 * collapsed
    expect(root).to_be_focused()  # the expand button must not eat the keyboard
    expand.click()
    assert text.bounding_box()["height"] == pytest.approx(collapsed, abs=2)

    no_injection(page, root)
    assert dialogs == []
    # The key is in the kernel, but never in the widget state or the saved notebook.
    save_notebook(page)
    saved = (lab.root / name).read_text()
    assert "application/vnd.jupyter.widget-state+json" in saved  # widget state was saved
    assert sentinel not in saved
    assert kernel_eval(lab, name, "os.environ['OPENAI_API_KEY']") == repr(sentinel)
    lab.close_sessions(name)


# -- 3. multi-label, many labels, restart ---------------------------------------------------------
T2I_NOTEBOOK = [
    """\
from llmlabel_widget import LabelTask, Labeler, RecordedAnnotator, Selector, Session, datasets

df = datasets.load("t2i_prompt_modifiers_gpt4_cot").head(40)
names = sorted({lab for v in df.gold_labels.dropna() for lab in v.split("|")})
task = LabelTask(labels=names, multi_label=True,
                 instructions="Which kinds of modifier does the text-to-image prompt use?")
session = Session.open("t2i.labels.db", data=df[["id", "text"]], task=task,
                       annotator=RecordedAnnotator(df, id="id", label="llm_labels",
                                                   rationale="llm_rationale", model="llm_model"))
session.propose(progress=False)""",
    'labeler = Labeler(session, annotator="e2e")\nlabeler',
]


def test_multi_label_filter_highlights_and_restart(lab: Lab, page: Page):
    name = "t2i.ipynb"
    write_notebook(lab.root / name, T2I_NOTEBOOK)
    db = lab.root / "t2i.labels.db"
    root = open_and_run(page, lab, name)
    before_nb = page.evaluate(JS_NOTEBOOK_STATE)
    labels = root.locator("button.llmlabel-label")
    expect(labels).to_have_count(11)
    expect(root.locator("button.llmlabel-label kbd")).to_have_count(9)
    item, rev = state(root)
    rationale = read_rows(db, "SELECT rationale FROM proposals WHERE item_id = ?", (item,))[0][0]
    marks = root.locator("mark.llmlabel-hl").all_text_contents()
    assert marks
    assert all(f"'{m.lower()}'" in rationale.lower() for m in marks)
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "labeler-multilabel.png"))

    def pressed() -> set[str]:
        return {
            b.get_attribute("data-label")
            for b in root.locator('button.llmlabel-label[aria-pressed="true"]').all()
        }

    _, proposed = latest_proposal(db, item)
    assert pressed() == set(proposed)
    names = [b.get_attribute("data-label") for b in labels.all()]
    assert names[9:] == ["Style", "Subject"]  # beyond 9: no key, reachable by the filter
    # Toggle "Subject" through the filter (typing "1" there must not toggle label 1).
    page.keyboard.press("/")
    expect(root.locator(".llmlabel-filter-input")).to_be_focused()
    page.keyboard.type("subj1")
    expect(root.locator(".llmlabel-option")).to_have_count(0)
    page.keyboard.press("Backspace")
    expect(root.locator(".llmlabel-option-name")).to_have_text(["Subject"])
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(root).to_be_focused()
    page.keyboard.press("2")  # toggle "Color" by key
    want = set(proposed) ^ {"Subject", "Color"}
    assert pressed() == want
    page.keyboard.press("Enter")
    wait_next_revision(root, rev)
    second, rev = state(root)
    page.keyboard.press("a")  # confirm the next proposal unchanged: an accept
    wait_next_revision(root, rev)
    where = root.get_attribute("data-item-id")
    rows = read_rows(db, "SELECT item_id, kind, labels FROM events ORDER BY seq")
    assert [(r[0], r[1]) for r in rows] == [(item, "correct"), (second, "accept")]
    assert set(json.loads(rows[0][2])) == want
    assert page.evaluate(JS_NOTEBOOK_STATE) == before_nb

    # Kernel restart + run all: the new Labeler resumes at the same item.
    root.evaluate("n => n.setAttribute('data-e2e-old', '1')")
    run_command(page, "notebook:restart-run-all")
    root = page.locator(".llmlabel-root:not([data-e2e-old])")
    expect(root).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(root).to_have_attribute("data-item-id", where)
    expect(root.locator(".llmlabel-progress")).to_contain_text("2 / 40 reviewed")
    assert page.evaluate(JS_ERROR_OUTPUTS) == []
    lab.close_sessions(name)
