"""Prompt trials against the loopback server: score, compare, promote, cancel."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from llmlabel_widget import RecordedAnnotator, Session

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

HINT = "Quoting a sceptic is neutral."  # the phrase the prompt_setup server is wired to


@pytest.fixture
def setup(prompt_setup):
    return prompt_setup


def trial_rows(db):
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM proposals WHERE run_id LIKE 'trial-%'"
        ).fetchone()[0]


def test_try_prompt_scores_against_human_labels_with_interval(setup):
    s, server, _ = setup
    trial = s.try_prompt(progress=False)
    sc = trial.scores
    assert sc["n"] == 40
    assert sc["low"] <= sc["accuracy"] <= sc["high"]
    assert 0.3 < sc["accuracy"] < 0.9  # the simulated model is right about 60% of the time
    assert server.stats()["requests"] == 40
    assert set(trial.items.columns) >= {"item_id", "human", "llm_label", "correct", "rationale"}
    assert trial.items["correct"].sum() == round(sc["accuracy"] * 40)


def test_prompt_change_flips_known_items_and_compare_says_fixed(setup):
    s, _server, known = setup
    v1 = s.try_prompt(progress=False)
    v2 = s.try_prompt(instructions=s.task.instructions + " " + HINT, progress=False)
    assert v1.version != v2.version
    flips = s.compare(v1.version, v2.version)
    wrong_before = set(v1.items.loc[~v1.items["correct"], "item_id"]) & known
    assert wrong_before  # the rule has something to fix
    fixed = set(flips.loc[flips["change"] == "fixed", "item_id"])
    assert wrong_before <= fixed
    assert (flips["llm_label_a"] != flips["llm_label_b"]).all()
    for row in flips.itertuples():
        if row.change == "fixed":
            assert row.llm_label_b == row.human != row.llm_label_a
        if row.change == "broke":
            assert row.llm_label_a == row.human != row.llm_label_b
    assert v2.items.set_index("item_id").loc[sorted(known), "correct"].all()


def test_unchanged_version_costs_nothing_and_new_items_only(setup, gwsd):
    s, server, _ = setup
    s.try_prompt(progress=False)
    sent = server.stats()["requests"]
    again = s.try_prompt(progress=False)
    assert server.stats()["requests"] == sent  # nothing sent again
    assert again.report.skipped == 40
    by_id = dict(zip(gwsd["id"], gwsd["gold_label"], strict=True))
    for i in gwsd["id"][40:45]:
        s.decide(i, by_id[i], annotator="alice")
    third = s.try_prompt(progress=False)
    assert server.stats()["requests"] == sent + 5
    assert third.scores["n"] == 45


def test_versions_listed_with_scores(setup):
    s, _, _ = setup
    a = s.try_prompt(progress=False)
    b = s.try_prompt(chain_of_thought=False, progress=False)
    table = s.prompt_versions().set_index("version")
    assert {a.version, b.version} <= set(table.index)
    assert table.loc[a.version, "n"] == 40
    assert table.loc[b.version, "strategy"] == "zero-shot"
    assert table.loc[a.version, "strategy"] == "zero-shot+cot"
    assert table["agreement"].between(0, 1).all()
    assert not table["promoted"].any()
    with pytest.raises(ValueError, match="unknown prompt version 'v-nope'"):
        s.compare(a.version, "v-nope")


def test_trials_never_replace_the_proposals_the_view_shows(setup):
    s, _, _ = setup
    s.propose(progress=False)
    before = s.annotations[["item_id", "llm_label", "prompt_version"]]
    s.try_prompt(instructions="Something else entirely.", progress=False)
    after = s.annotations[["item_id", "llm_label", "prompt_version"]]
    assert before.equals(after)


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_few_shot_trial_reports_leakage(setup):
    s, _, _ = setup
    zero = s.try_prompt(progress=False)
    assert zero.scores["leaked"] == 0
    few = s.try_prompt(shots=4, demonstrations="similar", progress=False)
    assert few.scores["leaked"] > 0
    assert "demonstrations for other scored items" in few.scores["leakage_note"]
    # and never its own item as a demonstration
    with sqlite3.connect(s.store.path) as conn:
        for item, demos in conn.execute(
            "SELECT item_id, demos FROM proposals WHERE prompt_version = ?", (few.version,)
        ):
            assert item not in json.loads(demos)


def test_promote_proposes_the_rest_with_that_version(setup):
    s, server, _ = setup
    trial = s.try_prompt(instructions=s.task.instructions + " " + HINT, progress=False)
    sent = server.stats()["requests"]
    ann = s.promote(trial.version)
    assert ann.version(s) == trial.version
    report = s.propose(progress=False)
    assert report.done == 80
    assert report.cached == 40  # the trial's answers, reused from the cache
    assert server.stats()["requests"] == sent + 40
    assert set(s.annotations["prompt_version"]) == {trial.version}
    assert s.prompt_versions().set_index("version").loc[trial.version, "promoted"]


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_cancelled_run_keeps_finished_answers(setup, gwsd_task):
    s, server, _ = setup
    server.latency = 0.05
    s.annotator.concurrency = 2

    async def run_and_cancel():
        task = asyncio.create_task(s.atry_prompt(progress=False))
        while trial_rows(s.store.path) < 6:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_and_cancel())
    kept = trial_rows(s.store.path)
    assert 6 <= kept < 40
    sent = server.stats()["requests"]
    s.try_prompt(progress=False)
    assert server.stats()["requests"] - sent <= 40 - kept + 2  # at most the lost in-flight


def test_needs_a_live_annotator(db, gwsd, gwsd_task):
    s = Session.open(
        db,
        data=gwsd[["id", "text"]].head(5),
        task=gwsd_task,
        annotator=RecordedAnnotator(gwsd, label="llm_label"),
    )
    with pytest.raises(TypeError, match="prompt trials need a live model"):
        s.try_prompt()


def test_render_and_estimate_a_draft_before_sending(setup):
    s, server, _ = setup
    item = s.next_items(1)[0]
    messages = s.render_prompt(item, instructions="Be brief.", shots=2, demonstrations="random")
    assert messages[0]["role"] == "system"
    assert messages[0]["content"].startswith("Be brief.")
    assert len(messages) == 1 + 2 * 2 + 1  # system, two demonstration pairs, the item
    est = s.estimate_prompt(instructions="Be brief.")
    assert (est.items, est.requests) == (40, 40)
    assert server.stats()["requests"] == 0
    s.try_prompt(instructions="Be brief.", progress=False)
    assert s.estimate_prompt(instructions="Be brief.").items == 0


def test_a_versions_accuracy_is_the_same_number_in_trials_and_metrics(db, gwsd, gwsd_task):
    """Out-of-set answers are invalid proposals; the glossary's accuracy counts them wrong,
    in prompt_versions() (prompt scoring) and in metrics alike."""
    from llmlabel_widget import OpenAIAnnotator
    from llmlabel_widget import metrics as m
    from llmlabel_widget.testing import FakeOpenAIServer
    from llmlabel_widget.testing.fake_openai import Faults

    data = gwsd[["id", "text"]].head(60)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    by_id = dict(zip(gwsd["id"], gwsd["gold_label"], strict=True))
    faults = Faults(rate_out_of_set=0.25)
    with FakeOpenAIServer(gold, accuracy=0.7, seed=3, faults=faults) as server:
        ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="sk-test")
        s = Session.open(db, data=data, task=gwsd_task, annotator=ann)
        s.propose(progress=False)
        for i in data["id"][:40]:
            s.decide(i, by_id[i], annotator="alice")
        trial = s.try_prompt(progress=False)  # the same version, answered from the cache
    frame = s.annotations
    assert set(frame["prompt_version"]) == {trial.version}
    decided = frame[frame["state"] == "decided"]
    invalid = int((decided["llm_valid"] == False).sum())  # noqa: E712
    assert invalid > 0  # the faults produced something to count
    valid = decided["llm_valid"].fillna(False).to_numpy(bool)
    right = int((valid & (decided["llm_label"] == decided["label"]).to_numpy(bool)).sum())
    acc = m.accuracy(frame)
    assert (acc.n, acc.value) == (40, right / 40)  # invalid answers are in n, counted wrong
    assert f"{invalid} invalid answer(s) counted wrong" in acc.note
    sc = trial.scores
    assert (sc["n"], sc["accuracy"], sc["invalid"]) == (40, acc.value, invalid)
    assert (sc["low"], sc["high"]) == (acc.low, acc.high)
    row = s.prompt_versions().set_index("version").loc[trial.version]
    assert (row["n"], row["agreement"]) == (40, acc.value)
    assert m.quality_table(frame, n_boot=0).loc["accuracy", "value"] == acc.value
    assert m.reviewed(frame)["agree"].sum() == right == trial.items["correct"].sum()
    s.close()
