"""Agreement across a team: reviewer vs reviewer, all reviewers together, each vs the LLM.

Reads the live event log (``store.live_events()``) and the latest proposals; each reviewer's
label of an item is their newest live decision on it (skips and adjudications left out). The
figures come from :mod:`llmlabel_widget.estimation`, with their bootstrap intervals.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pandas as pd

from .estimation import cohen_kappa, krippendorff_alpha

LABELLED = ("accept", "correct", "label")
ADJUDICATED = "adjudicated"  # the context key marking an adjudicator's decision
COLUMNS = ["value", "low", "high", "n", "method", "interval", "note"]


def _label(raw: Any) -> str | None:
    """A decision's label list (JSON) as one comparable value: the label, or ``a|b`` sets."""
    if not isinstance(raw, str):
        return None
    labels = json.loads(raw)
    return "|".join(sorted(labels)) if labels else None


def _adjudicated(context: Any) -> bool:
    return isinstance(context, str) and bool(json.loads(context).get(ADJUDICATED))


def reviewer_labels(events: pd.DataFrame) -> pd.DataFrame:
    """Items x reviewers: each reviewer's current label of each item (NaN where none)."""
    if events.empty:
        return pd.DataFrame()
    kept = events[events["kind"].isin(LABELLED)]
    kept = kept[~kept["context"].map(_adjudicated)]
    newest = kept.sort_values("seq").groupby(["item_id", "annotator"]).tail(1)
    newest = newest.assign(value=newest["labels"].map(_label))
    return newest.pivot(index="item_id", columns="annotator", values="value")


def _row(key: str, measure: Any) -> dict[str, Any]:
    return {"metric": key, **{c: getattr(measure, c) for c in COLUMNS}}


def team_table(
    events: pd.DataFrame,
    llm: pd.Series | None = None,
    *,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Reviewer agreement, one row each: ``kappa A vs B`` per pair of reviewers (items both
    labelled), ``alpha reviewers`` (Krippendorff, every reviewer, missing values allowed),
    ``kappa A vs LLM`` per reviewer (``llm``: the LLM's label per item id).

    Columns as :func:`~llmlabel_widget.estimation.quality_table`'s.
    """
    table = reviewer_labels(events)
    rows = []
    for a, b in itertools.combinations(sorted(table.columns), 2):
        both = table[[a, b]].dropna().set_axis(["label", "llm_label"], axis=1)
        if len(both):
            m = cohen_kappa(both, level=level, n_boot=n_boot, seed=seed)
            rows.append(_row(f"kappa {a} vs {b}", m))
    if table.shape[1] >= 2:
        alpha = krippendorff_alpha(table, level=level, n_boot=n_boot, seed=seed)
        rows.append(_row("alpha reviewers", alpha))
    if llm is not None:
        for a in sorted(table.columns):
            pair = pd.DataFrame({"label": table[a], "llm_label": llm.reindex(table.index)})
            pair = pair.dropna()
            if len(pair):
                rows.append(
                    _row(
                        f"kappa {a} vs LLM",
                        cohen_kappa(pair, level=level, n_boot=n_boot, seed=seed),
                    )
                )
    return pd.DataFrame(rows, columns=["metric", *COLUMNS]).set_index("metric")


def conflicts(events: pd.DataFrame) -> pd.DataFrame:
    """Items two or more reviewers labelled differently, not yet adjudicated.

    Columns ``item_id``, ``labels`` (reviewer -> label), ``reviewers``.
    """
    table = reviewer_labels(events)
    if table.empty:
        return pd.DataFrame(columns=["item_id", "labels", "reviewers"])
    settled = set(events.loc[events["context"].map(_adjudicated), "item_id"])
    out = []
    for item_id, row in table.iterrows():
        given = row.dropna().to_dict()
        if len(set(given.values())) > 1 and item_id not in settled:
            out.append({"item_id": item_id, "labels": given, "reviewers": len(given)})
    return pd.DataFrame(out, columns=["item_id", "labels", "reviewers"])
