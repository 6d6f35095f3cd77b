"""Raw model output is capped in the store, and the cut says so (issue 11, line 11)."""

from __future__ import annotations

import re
import sqlite3

import pandas as pd

from llmlabel_widget import OpenAIAnnotator, RecordedAnnotator, Session
from llmlabel_widget.store import MAX_RAW
from llmlabel_widget.testing import FakeOpenAIServer

MARK = re.compile(r"\n\[truncated by llmlabel-widget: the first ([\d,]+) of ([\d,]+) characters\]$")
RAMBLE = " and so on" * 100_000  # a megabyte of a model that will not stop


class Rambling(FakeOpenAIServer):
    """Answers as usual, except for some items: a valid answer followed by a megabyte of
    text, or a megabyte that is not an answer at all."""

    def __init__(self, gold, *, rambles, babbles, **kw):
        super().__init__(gold, **kw)
        self.rambles, self.babbles = set(rambles), set(babbles)

    def _answer(self, item, labels, multi, rng, forced=None):
        content, answers, conf = super()._answer(item, labels, multi, rng, forced)
        if item in self.rambles:
            content += RAMBLE
        elif item in self.babbles:
            content = "Let me think." + RAMBLE
        return content, answers, conf


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql)]


def test_a_runaway_answer_is_cut_in_the_store_with_its_length(db, gwsd, gwsd_task):
    items = gwsd[["id", "text"]].head(6)
    gold = dict(zip(gwsd["text"], gwsd["gold_label"], strict=True))
    texts = items["text"].tolist()
    server = Rambling(gold, rambles=texts[:2], babbles=texts[2:3], logprobs=False)
    with server:
        ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="test-key")
        s = Session.open(db, data=items, task=gwsd_task, annotator=ann)
        report = s.propose(progress=False)
    assert (report.done, report.failed) == (6, 0)
    by_item = {r["item_id"]: r for r in rows(db, "SELECT * FROM proposals")}
    for n, item in enumerate(items["id"]):
        raw = by_item[item]["raw"]
        if n >= 3:  # ordinary answers are stored whole
            assert MARK.search(raw) is None
            assert len(raw) < 1000
            continue
        mark = MARK.search(raw)
        assert mark is not None, raw[-200:]
        assert int(mark[1].replace(",", "")) == MAX_RAW == mark.start()
        original = len(RAMBLE) + (len("Let me think.") if n == 2 else raw.index(" and so on"))
        assert int(mark[2].replace(",", "")) == original
    # the cut is in the raw text only: the answer itself was read in full
    assert [by_item[i]["valid"] for i in items["id"][:3]] == [1, 1, 0]
    assert by_item[items["id"][0]]["labels"] == f'["{gold[texts[0]]}"]'
    assert by_item[items["id"][2]]["problem"] == "the answer is not valid JSON"
    # a response too long to keep is not cached either; the others are
    assert len(rows(db, "SELECT key FROM cache")) == 3
    assert db.stat().st_size + db.with_name(db.name + "-wal").stat().st_size < 1_000_000
    shown = s.annotations.set_index("item_id")["llm_raw"]
    assert MARK.search(shown[items["id"][0]])
    s.close()


def test_a_huge_recorded_answer_is_cut_too(db, gwsd, gwsd_task):
    items = gwsd[["id", "text"]].head(2)
    answers = pd.DataFrame(
        {"id": items["id"], "llm_label": ["agree", "x" * 50_000], "why": ["y" * 30_000, "ok"]}
    )
    rec = RecordedAnnotator(answers, label="llm_label", rationale="why")
    s = Session.open(db, data=items, task=gwsd_task, annotator=rec)
    s.propose(progress=False)
    got = {r["item_id"]: r for r in rows(db, "SELECT * FROM proposals")}
    ok, bad = got[items["id"][0]], got[items["id"][1]]
    assert (ok["valid"], ok["raw"]) == (1, "agree")
    assert MARK.search(ok["rationale"])[2] == "30,000"
    assert (bad["valid"], MARK.search(bad["raw"])[2]) == (0, "50,000")
    assert MARK.search(bad["problem"])  # the problem quotes the answer, so it is cut too
    assert max(len(v) for r in got.values() for v in (r["raw"], r["problem"] or "")) < 20_100
    s.close()
