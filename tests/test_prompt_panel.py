"""PromptLab headless: intents in through the message handler, traits and store rows out."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from llmlabel_widget.prompt_panel import MAX_VERSIONS, PromptLab

HINT = "Quoting a sceptic is neutral."  # the phrase the prompt_setup server is wired to


@pytest.fixture
def setup(prompt_setup):
    return prompt_setup


def send(w: PromptLab, kind: str, **content) -> None:
    w._handle_custom_msg({"kind": kind, **content}, [])


def edited(w: PromptLab, **changes) -> dict:
    return {**w.draft, **changes}


def trial_rows(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM proposals WHERE run_id LIKE 'trial-%'"
        ).fetchone()[0]


def test_initial_state_is_the_session_annotators_settings(setup):
    s, _, _ = setup
    w = PromptLab(s)
    d = w.draft
    assert d["instructions"] == s.task.instructions
    assert list(d["descriptions"]) == list(s.task.names)
    assert d["model"] == "fake-llm"
    assert (d["shots"], d["chain_of_thought"], d["sample"]) == (0, True, None)
    assert w.versions == []
    assert w.versions_total == 0
    assert w.progress == {
        "done": 0,
        "answered": 0,
        "invalid": 0,
        "failed": 0,
        "total": 0,
        "running": False,
    }
    # no key or client anywhere in the synced state
    state = json.dumps(w.get_state(), default=str)
    assert "sk-SECRET" not in state
    assert "api_key" not in state


def test_render_shows_the_edited_instructions_in_the_system_message(setup):
    s, server, _ = setup
    w = PromptLab(s)
    draft = edited(w, instructions="Be brief. " + HINT, shots=2, demonstrations="random")
    draft["descriptions"] = {**draft["descriptions"], "agree": "AGREE-DESC-EDITED"}
    send(w, "render", draft=draft, next=True)
    assert w.error == ""
    first = w.rendered["item_id"]
    assert first == str(s.items("decided")["item_id"][0])
    msgs = w.rendered["messages"]
    assert msgs[0]["role"] == "system"
    assert msgs[0]["content"].startswith("Be brief. " + HINT)
    assert "AGREE-DESC-EDITED" in msgs[0]["content"]
    assert len(msgs) == 1 + 2 * 2 + 1  # system, two demonstration pairs, the item
    assert msgs == s.render_prompt(first, **{k: v for k, v in draft.items() if k != "sample"})
    assert w.draft["instructions"] == "Be brief. " + HINT  # the draft is kept for a re-display
    # "next decided item" moves on; a typed id is used as is
    send(w, "render", draft=draft, next=True)
    assert w.rendered["item_id"] == str(s.items("decided")["item_id"][1])
    send(w, "render", draft=draft, item_id=first)
    assert w.rendered["item_id"] == first
    assert server.stats()["requests"] == 0  # rendering sends nothing


def test_estimate_numbers(setup):
    s, server, _ = setup
    w = PromptLab(s)
    send(w, "estimate", draft=edited(w, instructions="Be brief."))
    e = w.estimate
    assert (e["items"], e["requests"], e["cached"]) == (40, 40, 0)
    assert e["prompt_tokens"] > 0
    assert e["completion_tokens"] > 0
    assert e["model"] == "fake-llm"
    assert e["cost"] is None  # the fake model has no price: "price unknown"
    send(w, "estimate", draft=edited(w, sample=10))
    assert w.estimate["items"] == 10
    assert server.stats()["requests"] == 0


def test_run_compare_promote(setup):
    s, server, known = setup
    w = PromptLab(s)
    send(w, "run", draft=w.draft)  # no running loop here: runs to the end synchronously
    assert w.error == ""
    assert len(w.versions) == 1
    v1 = w.versions[0]
    assert v1["n"] == 40
    assert v1["low"] <= v1["agreement"] <= v1["high"]
    p = w.progress
    assert (p["done"], p["answered"], p["failed"], p["total"]) == (40, 40, 0, 40)
    assert p["running"] is False
    assert v1["version"] in w.notice

    send(w, "run", draft=edited(w, instructions=s.task.instructions + " " + HINT))
    assert w.versions[0]["version"] == v1["version"]  # oldest first
    assert len(w.versions) == w.versions_total == 2
    v2 = w.versions[1]
    assert v2["n"] == 40
    assert v2["agreement"] > v1["agreement"]  # the rule fixed known items
    assert server.stats()["requests"] == 80

    send(w, "compare", a=v1["version"], b=v2["version"])
    c = w.comparison
    assert (c["a"], c["b"]) == (v1["version"], v2["version"])
    fixed = {r["item_id"] for r in c["rows"] if r["change"] == "fixed"}
    trial = s.try_prompt(progress=False)  # v1 again: cached, nothing sent
    wrong_before = set(trial.items.loc[~trial.items["correct"], "item_id"]) & known
    assert wrong_before
    assert wrong_before <= fixed
    assert c["fixed"] == len(fixed)
    assert c["total"] == len(c["rows"])
    for r in c["rows"]:
        assert r["llm_label_a"] != r["llm_label_b"]
        if r["change"] == "fixed":
            assert r["llm_label_b"] == r["human"]

    send(w, "promote", version=v2["version"])
    assert w.error == ""
    assert [v["promoted"] for v in w.versions] == [False, True]
    assert "session.propose()" in w.notice
    assert s.annotator.version(s) == v2["version"]


def test_bad_intents_show_an_error_and_change_nothing(setup):
    s, server, _ = setup
    w = PromptLab(s)
    before = dict(w.draft)
    send(w, "run", draft=edited(w, shots=-1))
    assert "shots" in w.error
    send(w, "estimate", draft=edited(w, descriptions={"nope": "x"}))
    assert "not in the task" in w.error
    send(w, "render", draft=w.draft, item_id="no-such-item")
    assert w.error
    send(w, "compare", a="v-nope", b="v-nope2")
    assert "unknown prompt version" in w.error
    send(w, "promote", version="")
    assert w.error
    send(w, "cancel")
    assert w.notice == "No run in progress."
    send(w, "explode")  # unknown kinds are ignored
    assert w.draft == before
    assert w.versions == []
    assert server.stats()["requests"] == 0
    send(w, "estimate", draft=w.draft)
    assert w.error == ""  # the next good intent clears the error


def test_cancel_during_a_run_keeps_finished_answers(setup):
    s, server, _ = setup
    server.latency = 0.05
    s.annotator.concurrency = 2

    async def scenario() -> tuple[PromptLab, list[dict]]:
        w = PromptLab(s)
        seen: list[dict] = []
        w.observe(lambda ch: seen.append(ch["new"]), names=["progress"])
        send(w, "run", draft=w.draft)
        assert w.running
        # the panel stays usable while the run is in flight
        send(w, "estimate", draft=w.draft)
        assert w.error == ""
        assert w.estimate["requests"] > 0
        send(w, "render", draft=w.draft, next=True)
        assert w.rendered["messages"]
        send(w, "run", draft=w.draft)  # a second run is refused
        assert "already in progress" in w.notice
        while trial_rows(s.store.path) < 6:
            await asyncio.sleep(0.01)
        send(w, "cancel")
        await w.wait()
        assert not w.running
        return w, seen

    w, seen = asyncio.run(scenario())
    kept = trial_rows(s.store.path)
    assert 6 <= kept < 40
    assert any(p["running"] and 0 < p["done"] < 40 for p in seen)  # progress was shown
    assert w.progress["running"] is False
    assert "cancelled" in w.notice
    # the cancelled version is in the table, scored on what finished
    assert len(w.versions) == 1
    assert 6 <= w.versions[0]["n"] < 40
    # running it again sends only what was missing
    sent = server.stats()["requests"]
    send(w, "run", draft=w.draft)
    assert server.stats()["requests"] - sent <= 40 - kept + 2  # at most the lost in-flight
    assert w.versions[0]["n"] == 40


def test_versions_table_is_capped(setup, monkeypatch):
    s, _, _ = setup
    import pandas as pd

    rows = [
        {
            "version": f"v{i}",
            "created": pd.Timestamp(i, unit="s", tz="UTC"),
            "model": "m",
            "strategy": "zero-shot",
            "instructions": "x",
            "n": 0,
            "agreement": float("nan"),
            "low": float("nan"),
            "high": float("nan"),
            "kappa": float("nan"),
            "invalid": 0,
            "leaked": 0,
            "promoted": False,
        }
        for i in range(MAX_VERSIONS + 7)
    ]
    monkeypatch.setattr(s, "prompt_versions", lambda: pd.DataFrame(rows))
    w = PromptLab(s)
    assert len(w.versions) == MAX_VERSIONS
    assert w.versions_total == MAX_VERSIONS + 7
    assert w.versions[-1]["version"] == f"v{MAX_VERSIONS + 6}"  # the latest are kept
    assert w.versions[0]["agreement"] is None  # NaN is not valid JSON


def test_needs_a_session():
    with pytest.raises(TypeError, match="PromptLab needs a Session"):
        PromptLab(object())
