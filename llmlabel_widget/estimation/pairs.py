"""Which rows count: the reviewed items with a human label and an LLM answer, coded."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer

if TYPE_CHECKING:
    from ..task import LabelTask


# -- selecting and coding the reviewed items ------------------------------------------------------
_MULTI = (list, tuple, set, frozenset, np.ndarray)


def _is_multi(v: object) -> bool:
    return isinstance(v, _MULTI)


def _present(col: pd.Series) -> np.ndarray:
    """Which values are labels: not None/NaN/NA/"" (an empty list is a multi-label "none")."""
    return (col.notna() & col.ne("")).to_numpy(bool)


def _order(df: pd.DataFrame) -> np.ndarray:
    """Positions of the rows in decision order: decision_seq, else decided_at, else as given."""
    for col in ("decision_seq", "decided_at"):
        if col in df.columns and df[col].notna().any():
            ordered = df[col].reset_index(drop=True).sort_values(kind="stable", na_position="last")
            return ordered.index.to_numpy()
    return np.arange(len(df))


def _decided_mask(ann: pd.DataFrame, human: str) -> np.ndarray:
    if human not in ann.columns:
        raise KeyError(f"no human-label column {human!r}; columns are {list(ann.columns)}")
    mask = _present(ann[human])
    if "state" in ann.columns:
        mask = mask & (ann["state"] == "decided").to_numpy(bool)
    if "context" in ann.columns:  # an auto-accepted item has no human label
        mask = mask & ~auto_accepted(ann["context"])
    return mask


AUTO_ACCEPT = "auto-accept"  # the provenance of a certified auto-accept decision


def auto_accepted(context: pd.Series) -> np.ndarray:
    """Which decisions a certified auto-accept recorded (``provenance`` in their context)."""
    return np.fromiter((_is_auto(c) for c in context), bool, len(context))


def _is_auto(c: object) -> bool:
    if isinstance(c, str) and AUTO_ACCEPT in c:  # a context read back from CSV or JSON text
        try:
            c = json.loads(c)
        except ValueError:
            return False
    return isinstance(c, Mapping) and c.get("provenance") == AUTO_ACCEPT


_NO_CONTEXT = (False, False, math.nan)


def _context_row(v: object) -> tuple[bool, bool, float]:
    """(audit, blind, propensity) of one decision context: a dict, JSON text, or nothing."""
    if type(v) is not dict:  # dicts are the common case; the checks below are slower
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                return _NO_CONTEXT
        if not isinstance(v, Mapping):
            return _NO_CONTEXT
    p = v.get("propensity")
    prop = math.nan
    if isinstance(p, int | float) and not isinstance(p, bool) and 0 < p <= 1:
        prop = float(p)
    return v.get("audit") is True, v.get("blind") is True, prop


def _context_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """audit / blind flags and propensity from the decision context (dict or JSON string)."""
    raw = frame["context"].tolist() if "context" in frame.columns else []
    rows = [_context_row(v) for v in raw] or [_NO_CONTEXT] * len(frame)
    audit, blind, prop = (np.array(x) for x in zip(*rows, strict=True)) if rows else ([],) * 3
    return pd.DataFrame(
        {
            "audit": np.asarray(audit, bool),
            "blind": np.asarray(blind, bool),
            "propensity": np.asarray(prop, float),
        },
        index=frame.index,
    )


def _names(labels: Sequence[str] | LabelTask | None) -> tuple[list[str], bool | None]:
    if labels is None:
        return [], None
    if hasattr(labels, "names"):  # a LabelTask
        return list(labels.names), bool(getattr(labels, "multi_label", False))
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence of label names or a LabelTask, not a str")
    return list(labels), None


@dataclass
class _Answers:
    """Reviewed items the LLM answered, validly or not, in decision order: right or wrong.

    Accuracy is read from these: an invalid answer (``llm_valid`` False) counts as wrong.
    """

    frame: pd.DataFrame
    correct: np.ndarray  # bool; False for every invalid answer
    valid: np.ndarray  # bool

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def invalid(self) -> int:
        """How many of the answers were invalid (counted wrong)."""
        return self.n - int(self.valid.sum())

    @cached_property
    def context(self) -> pd.DataFrame:
        return _context_fields(self.frame)


@dataclass
class _Pairs:
    """Reviewed items with both a human and a valid LLM label, in decision order, coded.

    Label-wise figures (kappa, F1, confusion, calibration) read these; ``answers`` adds the
    invalid answers back for accuracy.
    """

    frame: pd.DataFrame
    labels: list[str]
    multi: bool
    human: np.ndarray  # codes (single-label) or an n x K indicator matrix (multi-label)
    llm: np.ndarray
    correct: np.ndarray  # bool: the LLM's label (set) equals the human's
    answers: _Answers

    @property
    def n(self) -> int:
        return len(self.frame)

    @cached_property
    def confusion(self) -> np.ndarray:
        """Single-label confusion counts, human (rows) x LLM (columns)."""
        k = len(self.labels)
        if self.n == 0 or self.multi:
            return np.zeros((k, k), dtype=np.int64)
        cells = np.bincount(self.human * k + self.llm, minlength=k * k)
        return cells.reshape(k, k).astype(np.int64)


def _pairs(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    labels: Sequence[str] | LabelTask | None = None,
    multi_label: bool | None = None,
) -> _Pairs:
    if llm not in ann.columns:
        raise KeyError(f"no LLM-label column {llm!r}; columns are {list(ann.columns)}")
    frame, answered, valid = _select(ann, human, llm)
    given, task_multi = _names(labels)
    h_vals, l_vals = frame[human].tolist(), frame[llm].tolist()
    if multi_label is None:
        multi_label = task_multi
    if multi_label is None:
        multi_label = any(
            pd.api.types.infer_dtype(frame[c], skipna=True) not in ("string", "empty")
            and any(_is_multi(v) for v in frame[c])
            for c in (human, llm)
        )
    if multi_label:
        h_vals = [list(v) if _is_multi(v) else [v] for v in h_vals]
        l_vals = [list(v) if _is_multi(v) else [v] for v in l_vals]
        seen = {x for v in h_vals + l_vals for x in v}
    else:
        seen = set(h_vals) | set(l_vals)
    names = given + sorted((s for s in seen if s not in set(given)), key=str)
    if multi_label:
        mlb = MultiLabelBinarizer(classes=names)
        h = mlb.fit_transform(h_vals) if h_vals else np.zeros((0, len(names)), int)
        lv = mlb.transform(l_vals) if l_vals else np.zeros((0, len(names)), int)
        correct = (h == lv).all(axis=1)
    else:
        cats = pd.CategoricalDtype(names)
        # int64: pandas' int8 codes overflow in code arithmetic (h * K + l) past 11 labels
        h = pd.Series(h_vals, dtype=object).astype(cats).cat.codes.to_numpy(np.int64)
        lv = pd.Series(l_vals, dtype=object).astype(cats).cat.codes.to_numpy(np.int64)
        correct = h == lv
    correct = np.asarray(correct, bool)
    right = correct
    if not valid.all():
        right = np.zeros(len(answered), bool)
        right[valid] = correct
    answers = _Answers(answered, right, valid)
    return _Pairs(frame, names, bool(multi_label), h, lv, correct, answers)


def _select(
    ann: pd.DataFrame, human: str, llm: str
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(valid pairs, all answered items, which answered items are valid), in decision order.

    An answer is invalid when ``llm_valid`` is False (only read for the ``llm_label`` column).
    """
    labelled = _present(ann[llm])
    invalid = np.zeros(len(ann), bool)
    if "llm_valid" in ann.columns and llm == "llm_label":
        ok = ann["llm_valid"]
        invalid = ok.eq(False).fillna(False).to_numpy(bool)
        labelled = labelled & ok.fillna(False).to_numpy(bool)
    mask = _decided_mask(ann, human) & (labelled | invalid)
    sub = ann.loc[mask]
    order = _order(sub)
    answered = sub.iloc[order]
    valid = labelled[mask][order]
    return (answered if valid.all() else answered.loc[valid]), answered, valid


def reviewed_items(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
) -> pd.DataFrame:
    """The reviewed items the LLM answered, in decision order, with an ``agree`` column.

    ``agree`` is True where the LLM label equals the human label; an invalid answer
    (``llm_valid`` False) is a row with ``agree`` False.

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", None], "llm_label": ["a", "a", "b"]})
    >>> reviewed_items(df)["agree"].tolist()
    [True, False]
    """
    a = _pairs(ann, human=human, llm=llm).answers
    return a.frame.assign(agree=a.correct)


reviewed = reviewed_items  # the name before the glossary (``Summary.reviewed`` is a count)
