"""Ranking: a pure function from the pool's arrays and the settings to the review order.

:func:`rank` trains the learner on the human labels, asks the acquisition strategy for
scores, mixes in random audit slots and says why each item came up. It reads no store and
keeps no state: the :class:`~llmlabel_widget.selection.shell.Selector` (live, in a thread
or in the worker process) and ``bench/active_learning.py`` call the same function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from .audit import audit_positions, audit_reach
from .error_model import error_model_ready
from .learner import default_learner, fit_multi_label, fit_single_label, out_of_fold_proba
from .signals import Reviewed, Signals
from .strategies import STRATEGIES, Strategy, cold_start

QUEUE_LIMIT = 5000  # the queue never needs more than this between refits
AUDIT_REASON = "random audit (unbiased check of the LLM)"
AUDIT_REASON_NO_LLM = "random audit (unbiased sample of the pool)"


@dataclass(frozen=True)
class QueueItem:
    """One item to review next, and why."""

    item_id: str
    strategy: str
    reason: str
    score: float
    audit: bool = False
    propensity: float | None = None
    filtered: Mapping[str, Any] | None = None  # the queue filter it was picked under
    audit_rank: int | None = None  # an audit pick's position in the pool's audit order
    covers: tuple[str, ...] = ()  # audit items the ranking walked past just before this one

    def context(self) -> dict[str, Any]:
        """What to record with the decision (for honest metrics later)."""
        out = {
            "strategy": self.strategy,
            "reason": self.reason,
            "audit": self.audit,
            "propensity": self.propensity,
        }
        if self.filtered is not None:
            out["filtered"] = dict(self.filtered)
        if self.audit_rank is not None:
            out["audit_rank"] = self.audit_rank
        if self.covers:
            out["covers"] = list(self.covers)
        return out


@dataclass
class SelectorStatus:
    """What the last refit did."""

    trained: bool = False
    labels: int = 0
    classes: int = 0
    strategy: str = ""
    note: str = "not fitted yet"
    refit_seconds: float | None = None
    refits: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class PoolState:
    """The pool as arrays, one row per item in pool order (the Store's selector state).

    ``human`` and ``llm`` hold each item's label list, or ``None``; ``skipped`` marks items
    whose current decision is a skip.
    """

    ids: np.ndarray
    texts: list[str]
    human: np.ndarray  # object: list of labels, or None (undecided)
    skipped: np.ndarray  # bool
    llm: np.ndarray  # object: list of labels, or None (no valid proposal)
    llm_confidence: np.ndarray  # float, NaN where unknown
    llm_agreement: np.ndarray  # float, NaN where unknown
    classes: list[str]
    multi_label: bool = False

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, classes: list[str], multi_label: bool) -> PoolState:
        """From ``Store.selector_state()``'s frame (``texts`` empty if it has no ``text``)."""
        n = len(frame)

        def labels(col: str) -> np.ndarray:
            out = np.empty(n, dtype=object)
            out[:] = [v if isinstance(v, list) else None for v in frame[col]]
            return out

        return cls(
            ids=frame["item_id"].to_numpy().astype(str).astype(object),
            texts=frame["text"].tolist() if "text" in frame else [],
            human=labels("human"),
            skipped=frame["skipped"].to_numpy(bool) & frame["human"].isna().to_numpy(),
            llm=labels("llm"),
            llm_confidence=frame["confidence"].to_numpy(float),
            llm_agreement=frame["agreement"].to_numpy(float),
            classes=list(classes),
            multi_label=multi_label,
        )


@dataclass
class Settings:
    """How to rank (see :class:`~llmlabel_widget.selection.shell.Selector`)."""

    strategy: str = "hybrid"
    estimator: Any = None
    explore: float = 0.1
    min_labels: int = 10
    distill: bool = False
    seed: int = 0
    limit: int = QUEUE_LIMIT
    audit_seed: int | None = None  # the pool's audit order (the store's); None: ``seed``


@dataclass
class Ranking:
    """What :func:`rank` returns: the review order with reasons, and what the learner did."""

    items: list[QueueItem]
    predicted: dict[str, str]  # the learner's label for each open item (single-label tasks)
    status: SelectorStatus
    model: Any = None  # the fitted learner (single-label tasks), or None


def rank(state: PoolState, settings: Settings, features: Any = None) -> Ranking:
    """Rank the open items of ``state`` for review; skipped items wait at the back.

    ``features`` are the learner's features for every item of the pool (rows as in
    ``state``), or ``None`` when there are none; strategies that do not learn ignore them.
    Audit slots take the next open items of the pool's audit order (see
    :mod:`~llmlabel_widget.selection.audit`). Items already in the audit sample are ranked
    too but never queued: a ranked pick that walks past one names it in ``covers``.
    """
    chosen = STRATEGIES[settings.strategy]
    decided = np.array([h is not None for h in state.human], dtype=bool)
    skipped = state.skipped & ~decided
    open_idx = np.flatnonzero(~decided & ~skipped)
    pos = _audit_pos(state, settings)
    walk_idx = np.array([], dtype=int)
    if settings.explore > 0 and chosen.explores and len(open_idx):
        walk_idx = np.flatnonzero(decided & (pos < audit_reach(pos, decided | skipped)))
    cand_idx = np.concatenate([open_idx, walk_idx]).astype(int)
    rng = np.random.default_rng([settings.seed, int(decided.sum())])
    llm_idx = _label_index(state.llm, state.classes)
    reviewed = None
    if chosen.needs_reviewed and not state.multi_label:
        reviewed = _reviewed(state, decided, llm_idx)
    model = proba = None
    # one copy of the candidate rows (the pool's largest array), for learner and strategy
    x_cand = None if features is None or not chosen.learns else features[cand_idx]
    if chosen.learns:
        walked = len(walk_idx) > 0
        model, proba, oof, note = _fit_predict(
            state, settings, features, x_cand, decided, rng, reviewed, walked
        )
        if proba is not None and walked and oof is not None:
            # Out-of-fold: a learner trained on a walked item's own label would rank it by
            # its truth, and whether it is walked past (moved out of the estimate's sample)
            # would then depend on whether the LLM got it right.
            rows = np.searchsorted(np.flatnonzero(decided), walk_idx)
            proba[len(open_idx) :] = oof[rows]
    else:
        note = f"{chosen.name}: no learner"
    signals = Signals(
        proba=proba,
        classes=state.classes,
        llm_label=llm_idx[cand_idx],
        llm_confidence=state.llm_confidence[cand_idx],
        llm_agreement=state.llm_agreement[cand_idx],
        features=x_cand,
        rng=rng,
        reviewed=reviewed,
    )
    used = STRATEGIES[cold_start(signals)] if proba is None and chosen.needs_learner else chosen
    scores = _scores(used, signals) if len(open_idx) else np.array([])
    predicted: dict[str, str] = {}
    if proba is not None and not state.multi_label:
        best = np.asarray(state.classes)[proba[: len(open_idx)].argmax(axis=1)]
        predicted = dict(zip(state.ids[open_idx].tolist(), best.tolist(), strict=True))
    walk = np.arange(len(cand_idx)) >= len(open_idx)
    items = _order(state.ids[cand_idx], pos[cand_idx], walk, scores, signals, used, settings, rng)
    if items and used.learns:
        items[0] = replace(items[0], reason=f"{items[0].reason} · {note}")
    back = [  # skipped items wait at the back of the queue, in pool order
        QueueItem(str(i), "skipped", "skipped earlier", 0.0)
        for i in state.ids[skipped][: max(0, settings.limit - len(items))]
    ]
    humans = {tuple(h) for h in state.human[decided]}
    status = SelectorStatus(
        trained=proba is not None,
        labels=int(decided.sum()),
        classes=len(humans),
        strategy=used.name,
        note=note,
    )
    return Ranking(items + back, predicted, status, model)


def _audit_pos(state: PoolState, settings: Settings) -> np.ndarray:
    """Each item's position in the pool's audit order (computed only when audits are on)."""
    if settings.explore <= 0:
        return np.zeros(len(state.ids), dtype=np.int64)
    seed = settings.seed if settings.audit_seed is None else settings.audit_seed
    return audit_positions(state.ids, seed)


def _scores(used: Strategy, signals: Signals) -> np.ndarray:
    """The strategy's scores, checked: one float per open item."""
    n = len(signals.llm_label)
    try:
        scores = np.asarray(used.score(signals), dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"strategy {used.name!r} must return numbers, one per open item") from exc
    if scores.shape != (n,):
        raise ValueError(
            f"strategy {used.name!r} returned scores of shape {scores.shape}; "
            f"expected one per open item, ({n},)"
        )
    return scores


def _label_index(llm: np.ndarray, classes: list[str]) -> np.ndarray:
    """Index into ``classes`` of each item's (first) LLM label, -1 if none."""
    where = {c: i for i, c in enumerate(classes)}
    return np.array([where.get(v[0], -1) if v else -1 for v in llm], dtype=int)


def _reviewed(state: PoolState, decided: np.ndarray, llm_idx: np.ndarray) -> Reviewed:
    """The decided items' LLM signals and whether the LLM was wrong (``proba`` filled later)."""
    idx = np.flatnonzero(decided)
    wrong = np.array(
        [
            m is not None and list(state.human[i]) != list(m)
            for i, m in zip(idx, state.llm[idx], strict=True)
        ],
        dtype=bool,
    )
    return Reviewed(None, llm_idx[idx], state.llm_confidence[idx], state.llm_agreement[idx], wrong)


def _fit_predict(
    state: PoolState,
    settings: Settings,
    features: Any,
    x_open: Any,
    decided: np.ndarray,
    rng: np.random.Generator,
    reviewed: Reviewed | None,
    walked: bool = False,
) -> tuple[Any, np.ndarray | None, np.ndarray | None, str]:
    """Train the learner and predict the open items: (model, probabilities, out-of-fold
    probabilities of the decided items or None, note).

    The out-of-fold probabilities are computed for a single-label task when the error
    model can learn from ``reviewed`` (they also fill ``reviewed.proba``) or when audit
    items are ``walked`` past.
    """
    n = int(decided.sum())
    if features is None:
        return None, None, None, "no usable text features (empty or identical texts): not learning"
    x_idx = np.flatnonzero(decided)
    y = [state.human[i] for i in x_idx]
    weights = np.ones(len(x_idx))
    if settings.distill:
        extra = np.flatnonzero(np.array([v is not None for v in state.llm]) & ~decided)
        x_idx = np.concatenate([x_idx, extra])
        y += [state.llm[i] for i in extra]
        conf = np.nan_to_num(state.llm_confidence[extra], nan=0.5)
        weights = np.concatenate([weights, conf])
    distinct = {tuple(v) for v in y}
    if n < max(2, settings.min_labels) or len(distinct) < 2:
        why = f"cold start: {n} human label(s)"
        if n and len(distinct) < 2:
            why += ", one class only"
        return (
            None,
            None,
            None,
            why + "; ranking by LLM doubt (confidence, other models), else diversity",
        )
    est = clone(settings.estimator) if settings.estimator is not None else default_learner()
    classes = state.classes
    x = features[x_idx]
    if state.multi_label:
        proba = fit_multi_label(est, x, y, x_open, classes)
        return None, proba, None, f"learner trained on {n} human labels (multi-label)"
    flat = [v[0] for v in y]
    model, proba = fit_single_label(est, x, flat, x_open, classes, weights)
    oof = None
    learns_errors = reviewed is not None and error_model_ready(reviewed)
    if learns_errors or walked:
        # human labels only (not distilled LLM labels), rows in the order of `decided`
        seed = int(rng.integers(2**31)) if learns_errors else settings.seed
        oof = out_of_fold_proba(model, x[:n], flat[:n], classes, seed=seed)
        if reviewed is not None and learns_errors:
            reviewed.proba = oof
    note = f"learner trained on {n} human labels"
    unseen = len(classes) - len(model.classes_)
    if unseen > 0:
        note += f" ({unseen} label(s) never seen yet)"
    return model, proba, oof, note


def _order(
    ids: np.ndarray,
    pos: np.ndarray,
    walk: np.ndarray,
    scores: np.ndarray,
    s: Signals,
    used: Strategy,
    settings: Settings,
    rng: np.random.Generator,
) -> list[QueueItem]:
    """Order by score; every slot is an audit pick with probability ``explore``.

    An audit pick is the open item earliest in the audit order (``pos``). ``walk`` marks
    items already in the audit sample: ranked like the others but never queued; the next
    ranked pick lists the ones it walked past in ``covers``. The propensity recorded is
    the per-slot one (``explore / n`` for an audit pick, ``1 - explore + explore / n`` for a
    ranked one); the audit sample's exact inclusion probability is ``M / N``.
    """
    n_open = int((~walk).sum())
    if n_open == 0:
        return []
    order = np.argsort(-scores, kind="stable")
    open_rows = np.flatnonzero(~walk)
    audit_order = open_rows[np.argsort(pos[open_rows], kind="stable")]
    explore = settings.explore if used.explores else 0.0
    taken = walk.copy()
    out: list[QueueItem] = []
    cap = min(n_open, settings.limit)
    has_llm = bool((s.llm_label >= 0).any() or np.isfinite(s.llm_confidence).any())
    audit_reason = AUDIT_REASON if has_llm else AUDIT_REASON_NO_LLM
    covers: list[str] = []
    oi = ai = 0  # read positions in the ranked and in the audit order
    while len(out) < cap:
        audit = rng.random() < explore
        if audit:
            while ai < n_open and taken[audit_order[ai]]:
                ai += 1
            audit = ai < n_open
        if not audit:
            while oi < len(order) and taken[order[oi]]:
                if walk[order[oi]]:
                    covers.append(str(ids[order[oi]]))
                oi += 1
            if oi == len(order):
                break
        row = int(audit_order[ai] if audit else order[oi])
        taken[row] = True
        score = float(scores[row])
        if audit:
            p = explore / n_open
            item = QueueItem(str(ids[row]), "audit", audit_reason, score, True, p)
            item = replace(item, audit_rank=int(pos[row]))
        else:
            reason = used.reason(s, row, score)
            propensity = (1 - explore) + explore / n_open
            item = QueueItem(str(ids[row]), used.name, reason, score, False, propensity)
            item = replace(item, covers=tuple(covers))
            covers = []
        out.append(item)
    return out
