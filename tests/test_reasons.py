"""Every strategy's reason text means what it says, whatever signals an item lacks."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from llmlabel_widget.selection.rank import AUDIT_REASON_NO_LLM, PoolState, Settings, rank
from llmlabel_widget.selection.signals import Signals
from llmlabel_widget.selection.strategies import BUILTIN

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

CLASSES = ["neg", "pos", "mixed"]
# item 0: the learner cannot choose (gap 0.02); item 1: it is sure (gap 0.75)
PROBA = np.array([[0.40, 0.38, 0.22], [0.85, 0.05, 0.10]])
SURE = 1


def signals(*, learner: bool, label: bool, confidence: bool, others: bool, any_llm: bool):
    """Two open items; item 1 has the signals asked for, item 0 has all LLM signals if any."""
    llm = np.array([0 if any_llm else -1, 1 if label else -1])
    conf = np.array([0.55 if any_llm else np.nan, 0.9 if confidence else np.nan])
    agree = np.array([0.5 if any_llm else np.nan, 0.75 if others else np.nan])
    return Signals(
        proba=PROBA.copy() if learner else None,
        classes=CLASSES,
        llm_label=llm,
        llm_confidence=conf,
        features=None,
        rng=np.random.default_rng(0),
        llm_agreement=agree,
    )


CONTRADICTIONS = [
    r"\blow no\b",
    r"\bno LLM confidence\b",
    r"\bunsure\b.*\bsure\b(?!.*unsure)",
    r"\bnan\b",
    r"· ·|^ ·|· $|^$|  ",
    r"\bmargin\b",  # a bare "margin" is jargon: say "gap between its top two classes"
]


def reasons():
    flags = ("learner", "label", "confidence", "others", "any_llm")
    for name, strategy in sorted(BUILTIN.items()):
        for values in itertools.product([False, True], repeat=len(flags)):
            combo = dict(zip(flags, values, strict=True))
            if (combo["label"] or combo["confidence"] or combo["others"]) and not combo["any_llm"]:
                continue  # "any_llm" False means: no LLM signal anywhere in the pool
            if strategy.needs_learner and not combo["learner"] and name != "disagreement":
                continue  # rank() switches to a cold-start strategy instead
            s = signals(**combo)
            for pos in (0, 1):
                yield name, combo, pos, strategy.reason(s, pos, 0.5)


@pytest.mark.parametrize(("name", "combo", "pos", "text"), list(reasons()))
def test_reason_has_no_contradiction(name, combo, pos, text):
    for pattern in CONTRADICTIONS:
        assert not re.search(pattern, text), (name, combo, pos, text)
    if not combo["any_llm"]:
        assert "LLM" not in text, (name, combo, text)
    if combo["learner"] and pos == SURE:
        assert "unsure" not in text, (name, combo, text)  # a gap of 0.80 is not unsure
    if combo["learner"] and pos == 0 and name in ("margin", "hybrid"):
        assert "learner unsure: its top two classes 0.02 apart" in text, text


def test_margin_is_explained_as_the_gap_between_the_top_two_classes():
    s = signals(learner=True, label=True, confidence=True, others=False, any_llm=True)
    text = BUILTIN["margin"].reason(s, SURE, 0.2)
    assert text.startswith("learner fairly sure: its top two classes 0.75 apart"), text


def test_audit_and_every_reason_say_nothing_of_the_llm_without_one():
    n = 40
    state = PoolState(
        ids=np.array([f"i{i}" for i in range(n)], dtype=object),
        texts=[f"text number {i}" for i in range(n)],
        human=np.array([None] * n, dtype=object),
        skipped=np.zeros(n, dtype=bool),
        llm=np.array([None] * n, dtype=object),
        llm_confidence=np.full(n, np.nan),
        llm_agreement=np.full(n, np.nan),
        classes=CLASSES,
        multi_label=False,
    )
    for name in sorted(BUILTIN):
        out = rank(state, Settings(strategy=name, explore=0.5, seed=0), None)
        assert out.items, name
        for q in out.items:
            assert "LLM" not in q.reason, (name, q.reason)
        audits = [q for q in out.items if q.audit]
        assert all(q.reason.startswith(AUDIT_REASON_NO_LLM) for q in audits), name
