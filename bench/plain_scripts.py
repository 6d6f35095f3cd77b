"""One labeling script run four ways: what it stored, what the LLM server saw, whether L trained.

Run: python bench/plain_scripts.py

The same script (open a session on the loopback OpenAI-compatible server, decide 12 items from
the queue, wait for the background refit, ``propose()``, ``try_prompt()``) runs as a file
behind an ``if __name__ == "__main__":`` guard, as a plain file without one, from stdin
(``python -``) and with ``python -c``. A script that runs once stores 12 events and 72
proposals, and the server counts 72 requests (60 items, then 12 in the trial).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from llmlabel_widget import datasets
from llmlabel_widget.testing import FakeOpenAIServer

SCRIPT = textwrap.dedent(
    """
    import json, os
    from llmlabel_widget import LabelTask, OpenAIAnnotator, Selector, Session, datasets

    df = datasets.load("gwsd_climate_stance_gpt4o").head(60)
    gold = dict(zip(df["id"].astype(str), df["gold_label"]))
    task = LabelTask(labels=["agree", "neutral_or_disagree"])
    annotator = OpenAIAnnotator("fake-llm", base_url=os.environ["BASE_URL"], api_key="sk-test")
    session = Session.open(os.environ["DB"], data=df[["id", "text"]], task=task,
                           annotator=annotator, selector=Selector(seed=0))
    for item in session.queue(12):
        session.decide(item.item_id, gold[item.item_id], annotator="gold", context=item.context())
    session.selector.wait(120)
    status = session.selector.status
    session.propose(progress=False)
    session.try_prompt(instructions="Read the whole sentence.", progress=False)
    print("RESULT " + json.dumps({"trained": status.trained, "errors": len(status.errors)}))
    session.close()
    """
)
GUARDED = (
    "def main():\n"
    + textwrap.indent(SCRIPT, "    ")
    + "\n\nif __name__ == '__main__':\n    main()\n"
)


def run(mode: str, gold: dict[str, str]) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix=f"script-{mode}-"))
    db = workdir / "script.labels.db"
    with FakeOpenAIServer(gold, accuracy=0.8, seed=1) as server:
        env = {**os.environ, "BASE_URL": server.base_url, "DB": str(db)}
        stdin = None
        if mode in ("guarded", "file"):
            path = workdir / "label.py"
            path.write_text(GUARDED if mode == "guarded" else SCRIPT)
            cmd = [sys.executable, str(path)]
        elif mode == "stdin":
            cmd, stdin = [sys.executable, "-"], SCRIPT
        else:
            cmd = [sys.executable, "-c", SCRIPT]
        t0 = time.perf_counter()
        done = subprocess.run(
            cmd, input=stdin, env=env, cwd=workdir, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - t0
        requests = server.stats()["requests"]
    results = [json.loads(x[7:]) for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    with sqlite3.connect(db) as conn:
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        proposals = conn.execute("SELECT COUNT(*) FROM proposals").fetchone()[0]
    return {
        "mode": mode,
        "exit": done.returncode,
        "body_ran": len(results),
        "events": events,
        "proposals": proposals,
        "requests": requests,
        "trained": [r["trained"] for r in results],
        "refit_errors": [r["errors"] for r in results],
        "seconds": round(seconds, 1),
    }


def main() -> None:
    df = datasets.load("gwsd_climate_stance_gpt4o")
    gold = dict(zip(df["text"], df["gold_label"], strict=True))
    print(f"{'mode':8} exit body_ran events proposals requests trained refit_errors seconds")
    for mode in ("guarded", "file", "stdin", "c"):
        r = run(mode, gold)
        print(
            f"{r['mode']:8} {r['exit']:4} {r['body_ran']:8} {r['events']:6} {r['proposals']:9} "
            f"{r['requests']:8} {r['trained']!s:7} {r['refit_errors']!s:12} {r['seconds']:7}"
        )


if __name__ == "__main__":
    main()
