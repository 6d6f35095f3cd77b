"""Session methods for the audit design and the pool estimates it makes valid."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
import pandas as pd

from .estimation.anchoring import anchoring_estimates
from .estimation.audit import AuditState, audit_plan, pool_estimates
from .estimation.intervals import NOT_ENOUGH
from .estimation.pairs import _context_fields
from .estimation.table import quality_table
from .selection.audit import audit_positions, new_audit_seed
from .storage import StoreBackend
from .task import LabelTask

AUDIT_SEED = "audit_seed"  # the store's meta key for the pool's audit order


class PoolEstimates:
    """Session methods: the pool's audit order, :meth:`pool_estimates`, :meth:`audit_plan`."""

    store: StoreBackend
    task: LabelTask

    def _annotations(self, *, with_meta: bool = True) -> pd.DataFrame:  # defined by Session
        raise NotImplementedError

    def audit_seed(self) -> int:
        """The seed of this pool's audit order: set on first use, then kept in the store.

        It is the selector's ``seed`` when the store first needs one (so the same seed and
        the same decisions give the same queue); the order is a keyed hash of the item ids,
        independent of their labels.

        Examples
        --------
        >>> session.audit_seed() == session.audit_seed()  # doctest: +SKIP
        True
        """
        raw = self.store.get_meta(AUDIT_SEED)
        if raw is None:  # the selector's seed, so a replayed session gets the same queue
            selector = getattr(self, "_selector", None)
            raw = str(new_audit_seed() if selector is None else selector.seed)
            with contextlib.suppress(Exception):  # a read-only store: a seed for now
                self.store.set_meta(AUDIT_SEED, raw)
            raw = self.store.get_meta(AUDIT_SEED) or raw
        return int(raw)

    def audit_state(self, ann: pd.DataFrame | None = None) -> AuditState:
        """The pool as the estimator reads it (see :class:`~.estimation.audit.AuditState`).

        An item is in the reviewed stratum when its decision came from any route but an audit
        slot (a decision with ``audit_rank`` in its context), or when a ranked pick walked past
        it (``covers``); audit decisions from before the audit order existed count as reviewed.
        ``ann``: the annotations frame, when the caller has read it already.
        """
        if self.task.multi_label:
            raise ValueError(
                "pool estimates cover single-label tasks only; this task is multi-label"
            )
        if ann is None:
            ann = self._annotations(with_meta=False)
        decided = (ann["state"] == "decided").to_numpy(bool)
        ids = ann["item_id"].astype(str).to_numpy(object)
        audited, covered = self._audit_marks()
        census = decided & (~np.isin(ids, list(audited)) | np.isin(ids, list(covered)))
        human = np.empty(len(ann), dtype=object)
        human[:] = [lab if d else None for lab, d in zip(ann["label"], decided, strict=True)]
        valid = ann["llm_valid"].fillna(False).to_numpy(bool)
        llm = np.empty(len(ann), dtype=object)
        llm[:] = [lab if v else None for lab, v in zip(ann["llm_label"], valid, strict=True)]
        conf = pd.to_numeric(ann["llm_confidence"], errors="coerce").to_numpy(float, copy=True)
        conf[~valid] = np.nan
        return AuditState(
            human=human,
            llm=llm,
            confidence=conf,
            audit_pos=audit_positions(ids, self.audit_seed()),
            skipped=(ann["state"] == "skipped").to_numpy(bool),
            census=census,
        )

    def _audit_marks(self) -> tuple[set[str], set[str]]:
        """Items ever decided in an audit slot, and items a ranked pick walked past (from
        every live event, so a later decision through history keeps the item's audit mark)."""
        events = self.store.live_events()
        raw = events["context"].dropna().astype(str)
        raw = raw[raw.str.contains('"audit_rank"|"covers"', regex=True)]
        audited: set[str] = set()
        covered: set[str] = set()
        for item_id, text in zip(events.loc[raw.index, "item_id"], raw, strict=True):
            ctx = json.loads(text)
            if ctx.get("audit") and "audit_rank" in ctx:
                audited.add(str(item_id))
            covered.update(str(i) for i in ctx.get("covers", []))
        return audited, covered

    def pool_estimates(self, *, level: float = 0.95) -> pd.DataFrame:
        """The LLM's accuracy, each label's share, precision and recall on the whole pool.

        Valid however the reviewer moved through the queue: reviewed items count exactly,
        the rest of the pool is estimated from the random audit sample (the first ``M`` items
        of the pool's audit order), with the LLM's labels and confidence as predictions
        (PPI++). See :mod:`llmlabel_widget.estimation.audit` for the method. Columns:
        ``quantity, value, low, high, level, n_human, n_effective, method``; ``attrs`` hold
        ``audit_reach`` (M), ``pool`` (N) and ``inclusion_probability`` (M / N). With blind
        decisions (``Labeler(blind_share=...)``) the anchoring meter's rows follow
        (:func:`~.estimation.anchoring.anchoring_estimates`).

        Examples
        --------
        >>> session.pool_estimates().set_index("quantity").loc["accuracy"]  # doctest: +SKIP
        """
        ann = self._annotations(with_meta=False)
        out = pool_estimates(self.audit_state(ann), list(self.task.names), level=level)
        if not _context_fields(ann)["blind"].any():  # no blind decision: no anchoring meter
            return out
        anchoring = anchoring_estimates(ann, level=level)
        both = pd.concat([out, anchoring[out.columns]], ignore_index=True)
        both.attrs = out.attrs
        return both

    def audit_plan(self, width: float = 0.05, *, level: float = 0.95) -> dict[str, Any]:
        """How many more audit labels would narrow the LLM-accuracy interval to ``width``.

        They come from the pool's audit order: the queue's audit slots (raise the
        selector's ``explore`` to get them sooner).

        Examples
        --------
        >>> session.audit_plan(width=0.05)["more_audit_labels"]  # doctest: +SKIP
        """
        return audit_plan(self.audit_state(), width=width, level=level)

    def _quality_table(self, **options: Any) -> pd.DataFrame:
        """``quality_table`` with the pool accuracy of :meth:`pool_estimates` (what
        :meth:`Session.metrics` returns before a team's rows)."""
        table = quality_table(self._annotations(), labels=self.task, **options)
        return with_pool_accuracy(table, self._pool_accuracy(options.get("level", 0.95)))

    def _pool_accuracy(self, level: float = 0.95) -> pd.Series | None:
        """The LLM-accuracy row of :meth:`pool_estimates`; None for a multi-label task."""
        if self.task.multi_label:
            return None
        return self.pool_estimates(level=level).set_index("quantity").loc["accuracy"]


OLD_POOL_ROWS = ("accuracy_audit", "accuracy_ipw")  # estimation/pool.py's parts: not valid
# under adaptive review (their audit is drawn from the open items only)


def with_pool_accuracy(table: pd.DataFrame, est: pd.Series | None) -> pd.DataFrame:
    """A ``quality_table`` whose ``accuracy_pool`` row is ``est``, the LLM-accuracy row of
    :meth:`PoolEstimates.pool_estimates` (valid however the reviewer moved through the
    queue), without the rows of the older pool estimate (``accuracy_audit``,
    ``accuracy_ipw``), whose intervals under-cover under adaptive review.

    ``est`` None (a multi-label task, which pool estimates do not cover yet): the row says so
    and has no value. ``accuracy`` stays: the naive agreement on the reviewed items.

    Examples
    --------
    >>> with_pool_accuracy(table, session.pool_estimates().iloc[0])  # doctest: +SKIP
    """
    out = table.drop(index=[r for r in OLD_POOL_ROWS if r in table.index])
    if "accuracy_pool" not in out.index:
        return out
    if est is None:
        nan = float("nan")
        note = f"{NOT_ENOUGH}: pool estimates cover single-label tasks only"
        row: dict[str, Any] = {"value": nan, "low": nan, "high": nan, "n": 0, "note": note}
        out.loc["accuracy_pool", list(row)] = list(row.values())
        out.loc["accuracy_pool", ["method", "interval"]] = ["", ""]
        return out
    n = int(est["n_human"])
    out.loc["accuracy_pool", ["value", "low", "high", "n", "method", "note"]] = [
        float(est["value"]),
        float(est["low"]),
        float(est["high"]),
        n,
        "audit + reviewed (PPI++)" if n else "audit + reviewed",
        str(est["method"]),
    ]
    out.loc["accuracy_pool", "interval"] = f"{est['level']:.0%}, see note"
    return out
