"""First render of a Labeler on a big pool: Python-side construction until the first state.

Builds a session of N items (texts from the shipped GWSD data set, made unique, each with a
recorded proposal), closes it, opens it again as a user would in a new kernel, and times
``Labeler(session)`` from the call until the widget holds its first state (item, queue
preview, progress: what its comm_open carries to the browser). It then reports how long the
selector takes to finish its first ranking in the background, and what the view said meanwhile.

Usage: ``python bench/labeler_start.py [--pool 13083 100000] [--strategy hybrid]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from llmlabel_widget import Labeler, LabelTask, Selector, Session, datasets

TASK = LabelTask(
    labels={
        "agree": "agrees it is a serious concern",
        "neutral_or_disagree": "neutral, or disagrees",
    }
)


def build(path: Path, pool: int) -> None:
    src = datasets.load("gwsd_climate_stance_gpt4o")
    texts, labels = src.text.tolist(), src.llm_label.tolist()
    ids = [f"item-{i:06d}" for i in range(pool)]
    items = pd.DataFrame(
        {"id": ids, "text": [f"{texts[i % len(texts)]} [{i}]" for i in range(pool)]}
    )
    with Session.open(path, data=items, task=TASK) as s:
        s.add_proposals(
            {
                "item_id": ids[i],
                "labels": [labels[i % len(labels)]],
                "valid": True,
                "confidence": 0.8,
                "confidence_method": "recorded",
                "source": "recorded",
            }
            for i in range(pool)
        )


def measure(path: Path, strategy: str) -> dict[str, object]:
    session = Session.open(path, task=TASK, selector=Selector(strategy=strategy))
    t0 = time.perf_counter()
    labeler = Labeler(session, annotator="bench")
    first = time.perf_counter() - t0
    said = (labeler.progress.get("preparing"), (labeler.current or {}).get("reason"))
    t1 = time.perf_counter()
    session.selector.wait(900)
    ranked = time.perf_counter() - t1
    labeler.close()
    session.close()
    return {
        "first_state_s": first,
        "ranking_after_s": ranked,
        "preparing": said[0],
        "reason": said[1],
    }


NOTEBOOK_CELL = """\
import time
from llmlabel_widget import LabelTask, Labeler, Selector, Session

task = LabelTask(labels={labels!r})
session = Session.open({path!r}, task=task, selector=Selector(strategy={strategy!r}))
T0 = time.time()
labeler = Labeler(session, annotator="bench")
labeler"""

# Record (browser clock) when a Labeler view first shows an item.
JS_WATCH = """() => {
  window.__first = null;
  new MutationObserver((_, obs) => {
    if (document.querySelector('.llmlabel-root[data-item-id]')) {
      window.__first = Date.now();
      obs.disconnect();
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def browser_first_render(paths: dict[int, Path], strategy: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
    from lab_harness import (  # found through the sys.path entry above
        UI_TIMEOUT_MS,
        chromium,
        goto_notebook,
        kernel_eval,
        run_all,
        running_lab,
        write_notebook,
    )

    with tempfile.TemporaryDirectory(prefix="labeler-start-") as tmp:
        base = Path(tmp)
        with running_lab(base / "lab") as lab, chromium(base / "home") as browser:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            for pool, path in paths.items():
                name = f"start{pool}.ipynb"
                cell = NOTEBOOK_CELL.format(
                    labels=list(TASK.names), path=str(path), strategy=strategy
                )
                write_notebook(lab.root / name, [cell])
                goto_notebook(page, lab, name)
                page.evaluate(JS_WATCH)
                run_all(page, name)
                page.wait_for_function("() => window.__first", timeout=UI_TIMEOUT_MS)
                t0 = float(kernel_eval(lab, name, "T0"))
                shown = page.evaluate("() => window.__first") / 1000.0
                status = page.locator(".llmlabel-progress").first.inner_text()
                print(
                    f"pool {pool:>7,} (browser): Labeler(session) to first item painted "
                    f"{shown - t0:.3f} s; status line: {status!r}",
                    flush=True,
                )
                kernel_eval(lab, name, "0", code="labeler.close(); session.close()")
                lab.close_sessions(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", type=int, nargs="+", default=[13_083, 100_000])
    ap.add_argument("--strategy", default="hybrid")
    ap.add_argument("--browser", action="store_true", help="also measure in JupyterLab")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for pool in args.pool:
            path = paths[pool] = Path(tmp) / f"start{pool}.labels.db"
            build(path, pool)
            out = measure(path, args.strategy)
            print(
                f"pool {pool:>7,}: Labeler(session) first state {out['first_state_s']:.3f} s; "
                f"background ranking done {out['ranking_after_s']:.2f} s later; "
                f"preparing={out['preparing']!r}; first reason {out['reason']!r}",
                flush=True,
            )
        if args.browser:
            browser_first_render(paths, args.strategy)


if __name__ == "__main__":
    main()
