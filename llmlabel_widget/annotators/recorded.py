"""Serve LLM annotations produced elsewhere (an earlier run, a Batch API job, a paper's data)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pandas as pd

from ..task import LabelTask
from .base import Demo, Estimate, Item, Progress, Proposal, ResponseCache, RunReport


class RecordedAnnotator:
    """Proposals read from a table of recorded LLM answers, labelled as recorded.

    Parameters
    ----------
    data : a DataFrame, or a path to a ``.csv`` / ``.jsonl`` file.
    id, label, rationale, confidence, model : column names in ``data``; ``model`` may also be
        a plain description such as ``"GPT-4o, 2024"`` when there is no such column.
    separator : splits multi-label answers given as one string (``"a|b"``).

    Examples
    --------
    >>> df = datasets.load("gwsd_climate_stance_gpt4o")                  # doctest: +SKIP
    >>> ann = RecordedAnnotator(df, id="id", label="llm_label",
    ...                         confidence="llm_confidence", model="llm_model")  # doctest: +SKIP
    """

    def __init__(
        self,
        data: pd.DataFrame | str | os.PathLike[str],
        *,
        id: str = "id",
        label: str = "label",
        rationale: str | None = None,
        confidence: str | None = None,
        model: str | None = None,
        separator: str = "|",
    ) -> None:
        frame = _read(data)
        for name, col in (
            ("id", id),
            ("label", label),
            ("rationale", rationale),
            ("confidence", confidence),
        ):
            if col is not None and col not in frame.columns:
                raise ValueError(
                    f"{name} column {col!r} not found in the recorded data; "
                    f"columns are {list(frame.columns)}"
                )
        self._frame = frame.assign(**{id: frame[id].astype(str)}).drop_duplicates(id, keep="last")
        self._cols = {"id": id, "label": label, "rationale": rationale, "confidence": confidence}
        self._model_col = model if model in frame.columns else None
        self.model = None if self._model_col else model
        self.separator = separator

    def __repr__(self) -> str:
        what = f"model column {self._model_col!r}" if self._model_col else f"model={self.model!r}"
        return f"RecordedAnnotator({len(self._frame)} recorded answers, {what})"

    wants_demos = False  # recorded answers need no demonstrations

    def version(self, task: object = None) -> str | None:
        """Recorded answers have no prompt of ours."""
        return None

    def estimate(
        self,
        items: Sequence[Item],
        task: LabelTask,
        cache: ResponseCache,
        demos: Sequence[Demo] = (),
    ) -> Estimate:
        """Recorded answers cost nothing."""
        return Estimate(
            items=len(items),
            requests=0,
            cached=0,
            prompt_tokens=0,
            completion_tokens=0,
            cost=0.0,
            model=self.model or "recorded",
            prompt_version=None,
        )

    def propose(
        self,
        items: Sequence[Item],
        task: LabelTask,
        cache: ResponseCache,
        report: RunReport,
        progress: Progress,
        demos: Sequence[Demo] = (),
    ) -> list[Proposal]:
        """The recorded answer of every requested item that has one, all at once."""
        c = self._cols
        rows = self._frame.set_index(str(c["id"])).reindex([i for i, _ in items])
        out = []
        for item_id, row in rows.iterrows():
            answer = row[str(c["label"])]
            if answer is None or (isinstance(answer, float) and pd.isna(answer)):
                continue  # nothing recorded for this item
            model = row[self._model_col] if self._model_col else self.model
            out.append(self._proposal(task, str(item_id), answer, row, model, report))
        return out

    def _proposal(
        self,
        task: LabelTask,
        item_id: str,
        answer: object,
        row: pd.Series,
        model: object,
        report: RunReport,
    ) -> Proposal:
        text = str(answer)
        parts = text.split(self.separator) if task.multi_label else [text]
        matches = [task.match(p) for p in parts if p.strip()]
        valid = all(m is not None for m in matches)
        labels = tuple(lab for m in matches if m is not None for lab in m.labels)
        hows = {m.how for m in matches if m is not None}
        rationale = row[self._cols["rationale"]] if self._cols["rationale"] else None
        confidence = row[self._cols["confidence"]] if self._cols["confidence"] else None
        confidence = None if confidence is None or pd.isna(confidence) else float(confidence)
        return Proposal(
            item_id=item_id,
            labels=task.validate(labels) if valid else (),
            valid=valid,
            source="recorded",
            rationale=None if rationale is None or pd.isna(rationale) else str(rationale),
            confidence=confidence,
            confidence_method="recorded" if confidence is not None else None,
            match=",".join(sorted(hows)) or None,
            model=None if model is None or pd.isna(cast(Any, model)) else str(model),
            raw=text,
            problem=None if valid else f"recorded answer {text!r} is not in the label set",
            run_id=report.run_id,
        )


def _read(data: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    path = Path(data)
    if not path.exists():
        raise ValueError(f"recorded annotations file {path} does not exist")
    suffixes = "".join(path.suffixes).lower()
    if ".jsonl" in suffixes:
        return pd.read_json(path, lines=True)
    if ".csv" in suffixes:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    raise ValueError(f"recorded annotations must be a DataFrame, .csv or .jsonl file, got {path}")
