from __future__ import annotations

import pytest

from llmlabel_widget import LabelTask


def test_labels_from_dict_keep_descriptions_and_order():
    task = LabelTask(labels={"positive": "praises", "negative": "criticises"})
    assert task.names == ("positive", "negative")
    assert task.descriptions["negative"] == "criticises"
    assert not task.multi_label


def test_labels_from_list_and_multi_label():
    task = LabelTask(labels=["Style", "Mood", "Subject"], multi_label=True)
    assert task.validate(["Subject", "Style"]) == ("Style", "Subject")  # task order
    assert task.validate([]) == ()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], "at least one label"),
        ({}, "at least one label"),
        (["a", "a"], "duplicate label name 'a'"),
        (["Pos", "pos"], "duplicate label name 'pos'"),
        (["ok", "  "], "blank"),
        (["ok", ""], "blank"),
        (["ok", 3], "must be strings; got 3"),
        ([None], "must be strings"),
        ("positive", "not one string"),
        ([" padded"], "whitespace"),
        ({"a": 5}, "description of label 'a'"),
    ],
)
def test_bad_task_definitions_name_the_problem(labels, message):
    with pytest.raises(ValueError, match=message):
        LabelTask(labels=labels)


def test_validate_rejects_unknown_and_multiple_for_single_label():
    task = LabelTask(labels=["yes", "no"])
    assert task.validate("yes") == ("yes",)
    with pytest.raises(ValueError, match="unknown label 'maybe'"):
        task.validate("maybe")
    with pytest.raises(ValueError, match="single-label"):
        task.validate(["yes", "no"])


@pytest.mark.parametrize(
    ("answer", "label", "how"),
    [
        ("negative", "negative", "exact"),
        ("  Negative. ", "negative", "normalised"),
        ('"POSITIVE"', "positive", "casefold"),
        ("neg", "negative", "prefix"),
        ("Positive!", "positive", "normalised"),
        ("[neutral]", "neutral", "casefold"),
    ],
)
def test_match_accepts_near_answers_and_says_how(answer, label, how):
    task = LabelTask(labels=["positive", "negative", "neutral"])
    m = task.match(answer)
    assert m is not None
    assert m.labels == (label,)
    assert m.how == how


@pytest.mark.parametrize("answer", ["ne", "banana", "", "positive or negative", None, 3])
def test_match_refuses_ambiguous_or_foreign_answers(answer):
    task = LabelTask(labels=["positive", "negative", "neutral"])
    assert task.match(answer) is None


# Answers a model gives that negate, hedge, misspell or extend a label: none is a label.
NEAR_MISSES = [
    "not positive",
    "Not Positive",
    "not_positive",
    "non-negative",
    "nonnegative",
    "non negative",
    "unpositive",
    "positive?",
    "Positive?",
    "negative??",
    "mostly negative",
    "somewhat positive",
    "slightly negative",
    "probably positive",
    "maybe neutral",
    "likely negative",
    "positive or neutral",
    "neutral/negative",
    "positive, negative",
    "negatve",
    "postive",
    "positively",
    "negatives",
    "neutrality",
    "very positive",
    "no",
    "ne",
    "po",
    "pos neg",
    "n/a",
    "none",
    "-",
    "?",
    "positive negative",
    "not sure",
]


@pytest.mark.parametrize("answer", NEAR_MISSES)
def test_match_never_maps_a_negated_hedged_or_misspelt_answer(answer):
    task = LabelTask(labels=["positive", "negative", "neutral"])
    assert task.match(answer) is None, answer


def test_match_accepts_separator_variants_and_label_words():
    task = LabelTask(labels=["card_arrival", "card_linked", "not_relevant"])
    assert task.match("Card Arrival").labels == ("card_arrival",)
    assert task.match("card-linked.").labels == ("card_linked",)
    assert task.match("not relevant").labels == ("not_relevant",)  # "not" is the label's own
    assert task.match("card") is None  # ambiguous prefix


@pytest.mark.parametrize("bad", [{"yes": 1}, 3, None, b"yes", ["yes", 3]])
def test_validate_names_the_wrong_type(bad):
    task = LabelTask(labels=["yes", "no"], multi_label=True)
    with pytest.raises(TypeError, match=r"(dict|int|NoneType|bytes)"):
        task.validate(bad)


def test_label_order_survives_json():
    task = LabelTask(labels={"zeta": "last letter", "alpha": "", "mid": "m"})
    again = LabelTask.from_json(task.to_json())
    assert again.names == ("zeta", "alpha", "mid")
    assert again == task


def test_json_round_trip():
    task = LabelTask(labels={"a": "first", "b": ""}, instructions="do it", multi_label=True)
    assert LabelTask.from_json(task.to_json()) == task
