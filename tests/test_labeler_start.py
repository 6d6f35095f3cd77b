"""A Labeler's first render never waits for the selector; its words fit the session."""

from __future__ import annotations

import pytest

from llmlabel_widget import Selector, Session
from llmlabel_widget.selection import shell
from llmlabel_widget.widget import Labeler


def test_big_pool_shows_pool_order_and_says_preparing_until_ranked(
    db, gwsd, gwsd_task, monkeypatch
):
    monkeypatch.setattr(shell, "QUICK_POOL", 50)  # this 200-item pool counts as big
    df = gwsd.head(200)
    s = Session.open(db, data=df, task=gwsd_task, selector=Selector(strategy="diversity"))
    w = Labeler(s, annotator="alice")
    assert w.progress["preparing"] is True
    assert w.current["item_id"] == df.id.iloc[0]  # pool order meanwhile
    assert w.current["reason"] == "pool order: preparing the ranking…"
    assert not s.selector.ready
    s.selector.wait(60)
    assert s.selector.ready
    w._refresh_preview()  # what the kernel loop runs after the background refit
    assert w.progress["preparing"] is False
    assert "preparing" not in " ".join(q["reason"] for q in w.queue_preview)
    # each later ranking (here after a decision made in code) reaches the preview too
    nxt = w.queue_preview[0]["item_id"]
    s.decide(nxt, "agree", annotator="bob")
    s.selector.wait(60)
    w._refresh_preview()
    assert nxt not in [q["item_id"] for q in w.queue_preview]
    s.close()


def test_scripts_still_get_a_ranked_queue_at_once(db, gwsd, gwsd_task, monkeypatch):
    monkeypatch.setattr(shell, "QUICK_POOL", 50)
    s = Session.open(db, data=gwsd.head(200), task=gwsd_task)
    assert s.selector.ready is False
    s.queue(3)
    assert s.selector.ready  # wait=True (the default) ranks before returning
    s.close()


@pytest.fixture
def plain(db, gwsd, gwsd_task):
    s = Session.open(db, data=gwsd.head(20), task=gwsd_task, selector=Selector(strategy="in_order"))
    yield s
    s.close()


def test_no_llm_annotator_means_no_llm_flag(plain):
    w = Labeler(plain, annotator="alice")
    assert w.progress["llm"] is False
    assert "LLM" not in w.current["reason"]
    assert all("LLM" not in q["reason"] for q in w.queue_preview)


def test_llm_flag_is_set_when_proposals_are_shown(plain, gwsd):
    r = gwsd.iloc[0]
    plain.add_proposals(
        [{"item_id": r.id, "labels": [r.llm_label], "valid": True, "source": "recorded"}]
    )
    w = Labeler(plain, annotator="alice")
    assert w.progress["llm"] is True


def test_repr_shows_pool_progress_and_reviewer(plain, gwsd):
    w = Labeler(plain, annotator="alice")
    plain.decide(gwsd.id.iloc[0], "agree", annotator="alice")
    w.refresh()
    text = repr(w)
    assert text == "Labeler(test.labels.db · 1 / 20 reviewed · 0 skipped · reviewer 'alice')"
    assert "object at 0x" not in text
    import IPython.lib.pretty

    assert IPython.lib.pretty.pretty(w) == text
    bundle = w._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["text/plain"] == text  # what a notebook shows as the text form
