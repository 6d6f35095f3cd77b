"""Acquisition strategies: small objects, registered by name, that rank open items from arrays.

Each strategy says what it needs (a trained learner, reviewed outcomes), whether the queue
mixes random audit slots into its ranking, how it scores the open items (higher = review
sooner) and why an item came up (its reason text). Adding one means subclassing
:class:`Strategy` and calling :func:`register`; nothing else compares strategy names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
from sklearn.preprocessing import normalize

from .error_model import error_model, error_model_ready, geometric_doubt
from .signals import Signals


class Strategy:
    """How the selector ranks open items for review (the acquisition strategy).

    Subclass it, set ``name`` and override :meth:`score` (and :meth:`reason`), then
    :func:`register` an instance.

    Attributes
    ----------
    name : the name a ``Selector(strategy=...)`` uses.
    needs_learner : ranks from the learner's probabilities; until the learner is trained the
        selector uses :func:`cold_start` instead.
    needs_reviewed : learns from the reviewed items' outcomes (``Signals.reviewed``).
    learns : the selector featurises the pool and trains the learner for it (``False`` for
        orders that ignore the data, which saves the cost on big pools).
    explores : the queue gives a share of its slots to random audit items.

    Examples
    --------
    >>> class Longest(Strategy):                                    # doctest: +SKIP
    ...     name = "longest"
    ...     def score(self, s): return np.asarray(s.features.sum(axis=1)).ravel()
    ...     def reason(self, s, pos, score): return f"long text ({score:.1f})"
    >>> register(Longest())                                         # doctest: +SKIP
    """

    name: str = ""
    needs_learner: bool = False
    needs_reviewed: bool = False
    learns: bool = True
    explores: bool = True

    def score(self, s: Signals) -> np.ndarray:
        """One score per open item: higher = review sooner."""
        raise NotImplementedError

    def reason(self, s: Signals, pos: int, score: float) -> str:
        """Why the open item at ``pos`` came up, in a few words."""
        return self.name

    def __call__(self, s: Signals) -> np.ndarray:
        return self.score(s)


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Make ``strategy`` available as ``Selector(strategy=strategy.name)``."""
    if not strategy.name:
        raise ValueError("a strategy needs a name")
    STRATEGIES[strategy.name] = strategy
    return strategy


class _FunctionStrategy(Strategy):
    def __init__(self, name: str, fn: Callable[[Signals], np.ndarray]) -> None:
        self.name, self.fn = name, fn

    def score(self, s: Signals) -> np.ndarray:
        return np.asarray(self.fn(s), dtype=float)


def strategy(name: str) -> Callable[[Callable[[Signals], np.ndarray]], Strategy]:
    """Register a plain scoring function under ``name`` (its reason text is the name).

    Examples
    --------
    >>> @strategy("longest")                                         # doctest: +SKIP
    ... def longest(s): return np.asarray(s.features.sum(axis=1)).ravel()
    """

    def wrap(fn: Callable[[Signals], np.ndarray]) -> Strategy:
        return register(_FunctionStrategy(name, fn))

    return wrap


def _proba(s: Signals) -> np.ndarray:
    if s.proba is None:
        raise ValueError("this strategy needs a trained learner")
    return s.proba


UNSURE_GAP = 0.2  # a gap between the learner's top two classes below this is "unsure"
UNSURE_TOP_P = 0.6  # a top class probability below this is "unsure"
UNSURE_ENTROPY = 0.5  # entropy over its maximum (log of the class count) above this


def _llm(s: Signals, pos: int) -> str:
    """The LLM's confidence for the item, or nothing when it gave none (never "no ...")."""
    conf = s.llm_confidence[pos]
    return f"LLM confidence {conf:.2f}" if np.isfinite(conf) else ""


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _gap(gap: float) -> str:
    """The learner's margin in words: the gap between its top two classes."""
    mood = "learner unsure" if gap < UNSURE_GAP else "learner fairly sure"
    return f"{mood}: its top two classes {gap:.2f} apart"


SPREAD_CANDIDATES = 500  # the most uncertain items that take turns across clusters


def spread(s: Signals, uncertainty: np.ndarray) -> np.ndarray:
    """Batch-aware order for an uncertainty score (Cluster-Margin, Citovsky et al. 2021).

    Between two refits the reviewer works down one ranking, and the most uncertain items
    tend to sit together (the same words, the same kind of sentence): labeling several of
    them teaches the learner little more than labeling one. So the ``SPREAD_CANDIDATES``
    most uncertain items are grouped by average-linkage clustering on the cosine distance of
    their features into half as many clusters, and the clusters take turns: each cluster's
    most uncertain item first (in order of uncertainty), then each one's second, and so on.
    The candidates' scores are their own values permuted into that order (minus a tie-breaking
    1e-9 per place), the rest keep theirs: the scores still read as uncertainty. Without
    features the order is plain uncertainty.
    """
    u = np.asarray(uncertainty, dtype=float)
    m = min(len(u), SPREAD_CANDIDATES)
    if s.features is None or m < 4:
        return u
    cand = np.argsort(-u, kind="stable")[:m]
    x = normalize(s.features[cand])
    sim = x @ x.T
    dist = np.clip(1.0 - (sim.toarray() if sparse.issparse(sim) else np.asarray(sim)), 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    cluster = AgglomerativeClustering(
        n_clusters=m // 2, metric="precomputed", linkage="average"
    ).fit_predict(dist)
    turn = np.zeros(m, dtype=int)  # the place of each candidate within its cluster
    taken: dict[int, int] = {}
    for i, c in enumerate(cluster.tolist()):
        turn[i] = taken.get(c, 0)
        taken[c] = turn[i] + 1
    order = np.lexsort((np.arange(m), turn))
    out = u - 1e-9 * m
    out[cand[order]] = u[cand] - 1e-9 * np.arange(m)
    return out


class LeastConfidence(Strategy):
    """1 - the learner's top probability, batch-aware (:func:`spread`)."""

    name, needs_learner = "least_confidence", True

    def score(self, s: Signals) -> np.ndarray:
        return spread(s, 1.0 - _proba(s).max(axis=1))

    def reason(self, s: Signals, pos: int, score: float) -> str:
        top = float(_proba(s)[pos].max())
        mood = "learner unsure" if top < UNSURE_TOP_P else "learner fairly sure"
        return _join(f"{mood}: its top class has p {top:.2f}", _llm(s, pos))


class Margin(Strategy):
    """1 - (top probability - second): small margins first, batch-aware (:func:`spread`)."""

    name, needs_learner = "margin", True

    def score(self, s: Signals) -> np.ndarray:
        return spread(s, s.margin())

    def reason(self, s: Signals, pos: int, score: float) -> str:
        return _join(_gap(1.0 - s.margin()[pos]), _llm(s, pos))


class Entropy(Strategy):
    """Shannon entropy of the learner's prediction, batch-aware (:func:`spread`)."""

    name, needs_learner = "entropy", True

    def score(self, s: Signals) -> np.ndarray:
        p = np.clip(_proba(s), 1e-12, 1.0)
        return spread(s, -(p * np.log(p)).sum(axis=1))

    def reason(self, s: Signals, pos: int, score: float) -> str:
        p = np.clip(_proba(s)[pos], 1e-12, 1.0)  # scores are permuted by `spread`
        h = float(-(p * np.log(p)).sum())
        unsure = len(p) > 1 and h / np.log(len(p)) > UNSURE_ENTROPY
        mood = "learner unsure" if unsure else "learner fairly sure"
        return _join(f"{mood} (entropy {h:.2f})", _llm(s, pos))


class LLMConfidence(Strategy):
    """1 - the LLM's confidence (unknown confidence counts as 0.5)."""

    name = "llm_confidence"

    def score(self, s: Signals) -> np.ndarray:
        return 1.0 - np.nan_to_num(s.llm_confidence, nan=0.5)

    def reason(self, s: Signals, pos: int, score: float) -> str:
        conf = s.llm_confidence[pos]
        if np.isfinite(conf):
            return f"LLM confidence {conf:.2f}, among the lowest"
        if np.isfinite(s.llm_confidence).any():
            return "LLM gave no confidence (counted as 0.50)"
        return "no confidence to rank by: pool order"


class Disagreement(Strategy):
    """Likely LLM errors: learned from the reviewed items once there are enough of them.

    With at least ``MIN_OUTCOMES`` reviewed items where the LLM was wrong and as many where it
    was right, a small logistic regression (:func:`~.error_model.error_model`) learns
    P(LLM wrong) from the signals of the reviewed items (the learner's out-of-fold probability
    for the LLM's label and its margin, the LLM's confidence, cross-model agreement, and which
    label the LLM gave) and scores the open items with it. Before that: 1 - geometric mean of
    the available signs of a right answer (:func:`~.error_model.geometric_doubt`). Items with
    no LLM label are scored by the learner's own uncertainty (margin).
    """

    name, needs_learner, needs_reviewed = "disagreement", True, True

    def score(self, s: Signals) -> np.ndarray:
        learned = error_model(s)
        score = learned if learned is not None else geometric_doubt(s)
        if s.proba is None:
            return score
        return np.where(s.llm_label >= 0, score, s.margin())

    def reason(self, s: Signals, pos: int, score: float) -> str:
        llm = _llm(s, pos)
        if s.proba is None:
            agree = np.nan if s.llm_agreement is None else s.llm_agreement[pos]
            others = f"{agree:.0%} of other LLM answers agree" if np.isfinite(agree) else ""
            if not (others or llm or s.llm_label[pos] >= 0):
                return "no signal to rank by yet"
            return _join("LLM doubted", others, llm)
        if s.llm_label[pos] < 0:
            return _gap(1.0 - s.margin()[pos])
        p_llm = s.proba[pos, s.llm_label[pos]]
        if s.reviewed is not None and error_model_ready(s.reviewed):
            n = int((s.reviewed.llm_label >= 0).sum())
            return _join(
                f"likely LLM error (P={score:.2f}, learned from {n} reviewed)",
                f"learner p={p_llm:.2f} for the LLM's label",
                llm,
            )
        mood = "learner doubts the LLM" if p_llm < 0.5 else "learner mostly agrees with the LLM"
        return _join(f"{mood} (p={p_llm:.2f} for its label)", llm)


class Hybrid(Strategy):
    """Default: the mean rank of learner uncertainty (margin) and likely LLM error."""

    name, needs_learner, needs_reviewed = "hybrid", True, True

    def score(self, s: Signals) -> np.ndarray:
        if s.proba is None:
            return LLMConfidence().score(s)
        doubt = Disagreement().score(s)
        return 0.5 * _rank(s.margin()) + 0.5 * _rank(doubt)

    def reason(self, s: Signals, pos: int, score: float) -> str:
        gap = _gap(1.0 - s.margin()[pos])
        if s.llm_label[pos] < 0:
            return gap
        p_llm = float(s.proba[pos, s.llm_label[pos]]) if s.proba is not None else np.nan
        return _join(gap, f"learner p={p_llm:.2f} for the LLM's label", _llm(s, pos))


def _rank(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank(pct=True).to_numpy()


class Diversity(Strategy):
    """Spread over the feature space: the item nearest each k-means centroid goes first."""

    name = "diversity"

    def score(self, s: Signals) -> np.ndarray:
        n = len(s.llm_label)
        k = int(min(20, n))
        if k < 2 or s.features is None:
            return s.rng.random(n)
        km = MiniBatchKMeans(n_clusters=k, random_state=int(s.rng.integers(2**31)), n_init=3)
        dist = km.fit_transform(s.features).min(axis=1)
        # Items closest to a centroid first, one per cluster before the rest.
        score = -dist
        for c in range(k):
            members = np.flatnonzero(km.labels_ == c)
            if len(members):
                score[members[np.argmin(dist[members])]] = 10.0 + 1.0 / (1 + c)
        return score

    def reason(self, s: Signals, pos: int, score: float) -> str:
        if s.features is None or len(s.llm_label) < 2:
            return "random pick (no features to spread over)"
        return "covers an unexplored region of the data"


class InOrder(Strategy):
    """Pool order (the order items were added): for labeling without active learning."""

    name, learns, explores = "in_order", False, False

    def score(self, s: Signals) -> np.ndarray:
        return -np.arange(len(s.llm_label), dtype=float)

    def reason(self, s: Signals, pos: int, score: float) -> str:
        return "next in pool"


class RandomOrder(Strategy):
    """Uniform random order (the baseline, and the audit draw)."""

    name, learns, explores = "random", False, False

    def score(self, s: Signals) -> np.ndarray:
        return s.rng.random(len(s.llm_label))


for _cls in (
    LeastConfidence,
    Margin,
    Entropy,
    LLMConfidence,
    Disagreement,
    Hybrid,
    Diversity,
    InOrder,
    RandomOrder,
):
    register(_cls())

# The strategies shipped here (a worker process has these, not ones defined in a notebook).
BUILTIN: dict[str, Strategy] = dict(STRATEGIES)


def cold_start(s: Signals) -> str:
    """The strategy to use while the learner is not trained yet.

    ``disagreement`` without a learner (LLM confidence and cross-model agreement) when other
    models' answers are recorded, ``llm_confidence`` when only the LLM's confidence is, else
    ``diversity``.
    """
    if s.llm_agreement is not None and np.isfinite(s.llm_agreement).any():
        return "disagreement"
    if np.isfinite(s.llm_confidence).any():
        return "llm_confidence"
    return "diversity"
