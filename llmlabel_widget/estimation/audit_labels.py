"""The audit sample: decided items from the pool's random audit order, with what the LLM said."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .pairs import _context_fields, _decided_mask, _present

COLUMNS = ["item_id", "human", "llm", "confidence", "valid", "correct"]


def audit_sample(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    confidence: str = "llm_confidence",
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """The audit items the reviewer has decided: a simple random sample of the pool.

    ``rows`` marks the rows of ``ann`` in the audit sample: the first M items of the pool's
    fixed random order, however each was decided, so each item's inclusion probability is
    M/N (``Session.audit_state().sample``). Without it, the decisions whose context says
    ``{"audit": true}`` are taken. One row per
    audit item: ``item_id``, ``human`` and ``llm`` labels, the raw ``confidence`` (NaN when
    none), ``valid`` (the LLM gave a usable label) and ``correct`` (LLM label = human label;
    False for an invalid answer or none).

    Examples
    --------
    >>> df = pd.DataFrame({"label": ["a", "b", "a"], "llm_label": ["a", "a", "a"],
    ...                    "llm_confidence": [0.9, 0.8, 0.7],
    ...                    "context": [{"audit": True}, {"audit": True}, None]})
    >>> audit_sample(df)["correct"].tolist()
    [True, False]
    """
    if len(ann) == 0 or human not in ann.columns:
        return pd.DataFrame(columns=COLUMNS)
    marked = _context_fields(ann)["audit"].to_numpy(bool) if rows is None else rows
    audit = np.asarray(marked, dtype=bool) & _decided_mask(ann, human)
    sub = ann.loc[audit]
    h = sub[human].tolist()
    lv = sub[llm].tolist() if llm in sub.columns else [None] * len(sub)
    valid = _present(pd.Series(lv, dtype=object)) if len(sub) else np.zeros(0, bool)
    if "llm_valid" in sub.columns and llm == "llm_label":
        valid = valid & sub["llm_valid"].fillna(False).to_numpy(bool)
    conf = (
        pd.to_numeric(sub[confidence], errors="coerce").to_numpy(float)
        if confidence in sub.columns
        else np.full(len(sub), np.nan)
    )
    correct = np.array([_same(a, b) for a, b in zip(h, lv, strict=True)], bool) & valid
    ids = sub["item_id"].to_numpy() if "item_id" in sub.columns else sub.index.to_numpy()
    return pd.DataFrame(
        {
            "item_id": ids,
            "human": h,
            "llm": lv,
            "confidence": conf,
            "valid": valid,
            "correct": correct,
        }
    )


_MULTI = (list, tuple, set, frozenset, np.ndarray)


def _same(a: object, b: object) -> bool:
    """Whether two labels (or label sets, in any order) are the same."""
    if isinstance(a, _MULTI) or isinstance(b, _MULTI):
        return _as_set(a) == _as_set(b)
    return bool(a == b)


def _as_set(v: object) -> set[object]:
    return set(v) if isinstance(v, _MULTI) else {v}
