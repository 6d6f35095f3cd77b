"""A plain ``.py`` script, ``python -`` and ``python -c`` run once, and their learner trains.

Each run is a real Python process: it opens a session on the loopback OpenAI-compatible
server, decides from the queue, waits for the background refit (in the worker process),
proposes and tries a prompt. Events, proposals and the requests the server counted must be
exactly those of the same script behind an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmlabel_widget.testing import FakeOpenAIServer

SCRIPT = textwrap.dedent(
    """
    import json, os
    from llmlabel_widget import LabelTask, OpenAIAnnotator, Selector, Session, datasets
    from llmlabel_widget import refit_worker

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
    worker = refit_worker._worker
    report = session.propose(progress=False)
    trial = session.try_prompt(instructions="Read the whole sentence.", progress=False)
    print("RESULT " + json.dumps({
        "trained": status.trained, "labels": status.labels, "errors": status.errors,
        "background_refits": status.refits - 1, "where": session.selector.worker,
        "worker_is_a_child": worker is not None and worker.proc.pid != os.getpid(),
        "proposed": report.done, "trial_n": trial.scores["n"],
    }), flush=True)
    session.close()
    """
)
GUARDED = (
    "def main():\n"
    + textwrap.indent(SCRIPT, "    ")
    + "\n\nif __name__ == '__main__':\n    main()\n"
)
MODES = ("guarded", "file", "stdin", "c")


def run_script(mode: str, workdir: Path, gold: dict[str, str]) -> dict[str, object]:
    """Run the script one way; return what it printed, stored and sent."""
    workdir.mkdir()
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
        done = subprocess.run(
            cmd, input=stdin, env=env, cwd=workdir, capture_output=True, text=True, timeout=600
        )
        stats = server.stats()
    assert done.returncode == 0, done.stderr
    printed = [line[7:] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    with sqlite3.connect(db) as conn:
        events = conn.execute(
            "SELECT seq, item_id, annotator, kind, labels, context FROM events ORDER BY seq"
        ).fetchall()
        proposals = conn.execute(
            "SELECT item_id, labels, valid, prompt_version, run_id LIKE 'trial-%' FROM proposals"
        ).fetchall()
    return {
        "printed": [json.loads(p) for p in printed],
        "events": events,
        "proposals": sorted(proposals),  # they arrive concurrently, in any order
        "requests": stats["requests"],
        "per_item": stats["per_item"],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, gwsd) -> dict[str, dict[str, object]]:
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    root = tmp_path_factory.mktemp("scripts")
    return {mode: run_script(mode, root / mode, gold) for mode in MODES}


def test_the_guarded_script_trains_the_learner_in_the_worker_process(runs):
    guarded = runs["guarded"]
    (printed,) = guarded["printed"]
    assert printed["trained"], printed
    assert printed["labels"] == 12
    assert printed["errors"] == []
    assert printed["background_refits"] >= 1
    assert printed["where"] == "process"
    assert printed["worker_is_a_child"]
    assert printed["proposed"] == 60
    assert printed["trial_n"] == 12
    assert len(guarded["events"]) == 12
    assert guarded["requests"] == 60 + 12  # one per item, then one per decided item


@pytest.mark.parametrize("mode", ["file", "stdin", "c"])
def test_a_script_without_a_main_guard_runs_once(runs, mode):
    got, want = runs[mode], runs["guarded"]
    assert len(got["printed"]) == 1, got["printed"]  # the script body ran once
    assert got["printed"] == want["printed"]  # the learner trained, in the worker, no errors
    assert got["events"] == want["events"]
    assert got["proposals"] == want["proposals"]
    assert got["requests"] == want["requests"]
    assert got["per_item"] == want["per_item"]


LOCAL_ESTIMATOR = textwrap.dedent(
    """
    import json, os
    from sklearn.linear_model import LogisticRegression
    from llmlabel_widget import LabelTask, Selector, Session, datasets

    class Balanced(LogisticRegression):  # lives in __main__, which the worker never imports
        pass

    df = datasets.load("gwsd_climate_stance_gpt4o").head(60)
    gold = dict(zip(df["id"].astype(str), df["gold_label"]))
    task = LabelTask(labels=["agree", "neutral_or_disagree"])
    selector = Selector(seed=0, estimator=Balanced(class_weight="balanced", max_iter=200))
    with Session.open(os.environ["DB"], data=df[["id", "text"]], task=task,
                      selector=selector) as session:
        for item in session.queue(12):
            session.decide(item.item_id, gold[item.item_id], annotator="gold")
        session.selector.wait(120)
        status = session.selector.status
        print("RESULT " + json.dumps({
            "trained": status.trained, "labels": status.labels, "errors": status.errors,
            "where": session.selector.worker,
        }), flush=True)
    """
)


def test_an_estimator_class_defined_in_the_script_trains_in_a_thread(tmp_path):
    env = {**os.environ, "DB": str(tmp_path / "local.labels.db")}
    done = subprocess.run(
        [sys.executable, "-c", LOCAL_ESTIMATOR],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line[7:]) for line in done.stdout.splitlines() if line[:7] == "RESULT "]
    # the worker process cannot load the class: the selector says so once and uses a thread
    assert printed == [{"trained": True, "labels": 12, "errors": [], "where": "thread"}]
