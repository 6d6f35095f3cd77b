"""What to review next: a task learner L trained on human labels, and acquisition strategies.

The learner (TF-IDF word and character n-grams + logistic regression, or any estimator with
``predict_proba``) is refitted off the hot path; strategies are plain functions from
:class:`Signals` to one score per open item (higher = review sooner), registered by name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import pickle
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer, normalize

from . import refit_worker
from .store import NOT_TRIAL

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)


@dataclass
class Signals:
    """What the strategies see, one row per open (undecided) item."""

    proba: np.ndarray | None  # learner class probabilities, or None before it is trained
    classes: list[str]
    llm_label: np.ndarray  # index into classes of the LLM's label, -1 if none
    llm_confidence: np.ndarray  # NaN where unknown
    features: Any  # sparse or dense matrix, for diversity
    rng: np.random.Generator
    llm_agreement: np.ndarray | None = None  # share of other LLM answers agreeing; NaN if none
    reviewed: Reviewed | None = None  # the same signals for reviewed items, and the outcomes


@dataclass
class Reviewed:
    """Signals of items a human has already decided, with whether the LLM got each one wrong.

    ``proba`` must be *out-of-fold* (each item predicted by a learner that did not train on it;
    see :func:`out_of_fold_proba`): in-sample probabilities of training items are overfit and
    would teach the error model that the learner never doubts a wrong LLM label.
    """

    proba: np.ndarray | None  # out-of-fold learner class probabilities
    llm_label: np.ndarray  # index into classes, -1 if none
    llm_confidence: np.ndarray  # NaN where unknown
    llm_agreement: np.ndarray | None  # NaN where unknown
    wrong: np.ndarray  # bool: the human's label differs from the LLM's


Strategy = Callable[[Signals], np.ndarray]
STRATEGIES: dict[str, Strategy] = {}


def strategy(name: str) -> Callable[[Strategy], Strategy]:
    """Register an acquisition function under ``name``."""

    def register(fn: Strategy) -> Strategy:
        STRATEGIES[name] = fn
        return fn

    return register


def _proba(s: Signals) -> np.ndarray:
    if s.proba is None:
        raise ValueError("this strategy needs a trained learner")
    return s.proba


def _sorted_proba(s: Signals) -> np.ndarray:
    return np.sort(_proba(s), axis=1)[:, ::-1]


def _top_margin(s: Signals) -> np.ndarray:
    p = _sorted_proba(s)
    second = p[:, 1] if p.shape[1] > 1 else 0.0
    return 1.0 - (p[:, 0] - second)


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


@strategy("least_confidence")
def least_confidence(s: Signals) -> np.ndarray:
    """1 - the learner's top probability, batch-aware (:func:`spread`)."""
    return spread(s, 1.0 - _sorted_proba(s)[:, 0])


@strategy("margin")
def margin(s: Signals) -> np.ndarray:
    """1 - (top probability - second): small margins first, batch-aware (:func:`spread`)."""
    return spread(s, _top_margin(s))


@strategy("entropy")
def entropy(s: Signals) -> np.ndarray:
    """Shannon entropy of the learner's prediction, batch-aware (:func:`spread`)."""
    p = np.clip(_proba(s), 1e-12, 1.0)
    return spread(s, -(p * np.log(p)).sum(axis=1))


@strategy("llm_confidence")
def low_llm_confidence(s: Signals) -> np.ndarray:
    """1 - the LLM's confidence (unknown confidence counts as 0.5)."""
    return 1.0 - np.nan_to_num(s.llm_confidence, nan=0.5)


@strategy("disagreement")
def disagreement(s: Signals) -> np.ndarray:
    """Likely LLM errors: learned from the reviewed items once there are enough of them.

    With at least ``MIN_OUTCOMES`` reviewed items where the LLM was wrong and as many where it
    was right, a small logistic regression (:func:`error_model`) learns P(LLM wrong) from the
    signals of the reviewed items (the learner's out-of-fold probability for the LLM's label and
    its margin, the LLM's confidence, cross-model agreement, and which label the LLM gave) and
    scores the open items with it. Before that: 1 - geometric mean of the available signs of a
    right answer (the learner's probability for the LLM's label, the LLM's confidence, the share
    of other recorded LLM answers that agree). Items with no LLM label are scored by the
    learner's own uncertainty (margin).
    """
    has = s.llm_label >= 0
    learned = error_model(s)
    score = learned if learned is not None else _geometric_doubt(s)
    if s.proba is None:
        return score
    return np.where(has, score, _top_margin(s))


def _geometric_doubt(s: Signals) -> np.ndarray:
    n = len(s.llm_label)
    has = s.llm_label >= 0
    factors = [s.llm_confidence]
    if s.llm_agreement is not None:
        factors.append(s.llm_agreement)
    if s.proba is not None:
        factors.append(np.where(has, s.proba[np.arange(n), np.maximum(s.llm_label, 0)], np.nan))
    stacked = np.clip(np.vstack(factors), 1e-6, 1.0)
    known = np.isfinite(stacked).sum(axis=0)
    log_mean = np.nansum(np.log(stacked), axis=0) / np.maximum(known, 1)
    return np.where(known > 0, 1.0 - np.exp(log_mean), 0.5)


MIN_OUTCOMES = 5  # reviewed LLM errors, and reviewed LLM hits, needed to learn an error model


def error_model_ready(r: Reviewed | None) -> bool:
    """Whether :func:`error_model` has enough reviewed outcomes to learn from."""
    if r is None:
        return False
    wrong = np.asarray(r.wrong, dtype=bool)[r.llm_label >= 0]
    return int(wrong.sum()) >= MIN_OUTCOMES and int((~wrong).sum()) >= MIN_OUTCOMES


ERROR_SHRINK = 5.0  # L2 weight pulling the error model's corrections towards the prior


def error_model(s: Signals) -> np.ndarray | None:
    """P(the LLM's label is wrong) for each open item, learned on the reviewed items.

    Returns ``None`` (the caller falls back) without enough reviewed outcomes. A logistic
    regression whose prior is the hand-set score (the logit of :func:`disagreement`'s geometric
    mean, slope pulled towards 1) and which learns corrections, shrunk towards 0 by
    ``ERROR_SHRINK``, from standardised signals: the logit of the learner's probability for
    the LLM's label and the learner's margin (out-of-fold for reviewed items), the LLM's
    confidence, the cross-model agreement (each with a missing-value flag where partly
    unknown), and a one-hot of the LLM's label (LLMs err more on some labels than on others).

    The shrinkage matters because reviewed items are not a random sample: the strategy chose
    them for looking wrong, which flattens every signal's relation to the outcome among them.
    With few outcomes the ranking stays near the prior; the evidence moves it as it grows.
    """
    r = s.reviewed
    if r is None or not error_model_ready(r):
        return None
    keep = r.llm_label >= 0
    learner = s.proba is not None and r.proba is not None
    past = Signals(
        r.proba[keep] if learner and r.proba is not None else None,
        s.classes,
        r.llm_label[keep],
        r.llm_confidence[keep],
        None,
        s.rng,
        None if r.llm_agreement is None else r.llm_agreement[keep],
    )
    now = Signals(
        s.proba if learner else None,
        s.classes,
        s.llm_label,
        s.llm_confidence,
        None,
        s.rng,
        s.llm_agreement,
    )
    cols_r: list[np.ndarray] = [_logit(_geometric_doubt(past))]
    cols_o: list[np.ndarray] = [_logit(_geometric_doubt(now))]

    def add(train: np.ndarray | None, test: np.ndarray | None) -> None:
        if train is None or test is None:
            return
        train, test = np.asarray(train, dtype=float), np.asarray(test, dtype=float)
        seen = np.isfinite(train)
        if seen.sum() < 2:
            return  # the reviewed items (almost) never have this signal: it cannot be weighted
        fill = float(train[seen].mean())
        cols_r.append(np.where(seen, train, fill))
        cols_o.append(np.where(np.isfinite(test), test, fill))
        if not seen.all():
            cols_r.append((~seen).astype(float))
            cols_o.append((~np.isfinite(test)).astype(float))

    if past.proba is not None and now.proba is not None:
        cols_r.extend(_learner_view(past.proba, past.llm_label))
        cols_o.extend(_learner_view(now.proba, now.llm_label))
    add(past.llm_confidence, now.llm_confidence)
    add(past.llm_agreement, now.llm_agreement)
    for c in range(len(s.classes)):
        cols_r.append((past.llm_label == c).astype(float))
        cols_o.append((now.llm_label == c).astype(float))
    x_r, x_o = np.column_stack(cols_r), np.column_stack(cols_o)
    mean, std = x_r[:, 1:].mean(axis=0), x_r[:, 1:].std(axis=0)
    std[std == 0] = 1.0
    x_r[:, 1:] = (x_r[:, 1:] - mean) / std
    x_o[:, 1:] = (x_o[:, 1:] - mean) / std
    prior = np.zeros(x_r.shape[1] + 1)  # [intercept, prior slope, corrections...]
    prior[1] = 1.0
    penalty = np.full(len(prior), ERROR_SHRINK)
    penalty[0], penalty[1] = 0.0, 1.0
    w = _penalised_logit(x_r, np.asarray(r.wrong, dtype=bool)[keep], prior, penalty)
    return 1.0 / (1.0 + np.exp(-(w[0] + x_o @ w[1:])))


def _learner_view(proba: np.ndarray, llm_label: np.ndarray) -> list[np.ndarray]:
    """The logit of the learner's probability for the LLM's label, and the learner's margin."""
    p_llm = proba[np.arange(len(llm_label)), np.maximum(llm_label, 0)]
    top = np.sort(proba, axis=1)[:, ::-1]
    return [_logit(p_llm), top[:, 0] - (top[:, 1] if top.shape[1] > 1 else 0.0)]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def _penalised_logit(
    x: np.ndarray, y: np.ndarray, prior: np.ndarray, penalty: np.ndarray
) -> np.ndarray:
    """Logistic regression weights (intercept first), L2-pulled towards ``prior``."""
    z = np.column_stack([np.ones(len(x)), x])
    yf = y.astype(float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        eta = z @ w
        d = w - prior
        value = float(np.sum(np.logaddexp(0.0, eta) - yf * eta) + 0.5 * np.sum(penalty * d * d))
        grad = z.T @ (expit(eta) - yf) + penalty * d
        return value, grad

    return minimize(loss, prior.copy(), jac=True, method="L-BFGS-B").x


def out_of_fold_proba(
    estimator: Any,
    x: Any,
    y: Sequence[str],
    classes: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Class probabilities for each training item from a learner fitted without it (k-fold).

    Rows of a fold whose training part has a single class get that class with probability 1;
    classes a fold never saw get probability 0.
    """
    y = np.asarray(y, dtype=object)
    n = len(y)
    out = np.zeros((n, len(classes)))
    fold = np.random.default_rng(seed).permutation(n) % max(2, min(folds, n))
    for f in np.unique(fold):
        test, train = fold == f, fold != f
        seen = sorted(set(y[train]))
        if len(seen) < 2:
            out[np.ix_(test, [classes.index(seen[0])])] = 1.0
            continue
        est = clone(estimator)
        if sample_weight is None:
            est.fit(x[train], y[train])
        else:
            est.fit(x[train], y[train], sample_weight=sample_weight[train])
        cols = [classes.index(c) for c in est.classes_]
        out[np.ix_(test, cols)] = est.predict_proba(x[test])
    return out


NEEDS_LEARNER = ("margin", "entropy", "least_confidence", "hybrid", "disagreement")


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


@strategy("in_order")
def in_order(s: Signals) -> np.ndarray:
    """Pool order (the order items were added): for labeling without active learning."""
    return -np.arange(len(s.llm_label), dtype=float)


@strategy("random")
def random_order(s: Signals) -> np.ndarray:
    """Uniform random order (the baseline, and the audit draw)."""
    return s.rng.random(len(s.llm_label))


@strategy("diversity")
def diversity(s: Signals) -> np.ndarray:
    """Spread over the feature space: the item nearest each k-means centroid goes first."""
    n = len(s.llm_label)
    k = int(min(20, n))
    if k < 2 or s.features is None:
        return random_order(s)
    km = MiniBatchKMeans(n_clusters=k, random_state=int(s.rng.integers(2**31)), n_init=3)
    dist = km.fit_transform(s.features).min(axis=1)
    # Items closest to a centroid first, one per cluster before the rest.
    score = -dist
    for c in range(k):
        members = np.flatnonzero(km.labels_ == c)
        if len(members):
            score[members[np.argmin(dist[members])]] = 10.0 + 1.0 / (1 + c)
    return score


@strategy("hybrid")
def hybrid(s: Signals) -> np.ndarray:
    """Default: the mean rank of learner uncertainty (margin) and likely LLM error."""
    if s.proba is None:
        return low_llm_confidence(s)
    return 0.5 * _rank(_top_margin(s)) + 0.5 * _rank(disagreement(s))


def _rank(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank(pct=True).to_numpy()


def text_features(texts: Sequence[str]) -> sparse.csr_matrix:
    """TF-IDF of word 1-2-grams and character 3-5-grams, side by side.

    Fitted on the whole pool (unlabelled text is fair game in pool-based active learning).
    Raises ``ValueError`` when the texts give no features at all (e.g. all empty).
    """
    word = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=100_000)
    char = TfidfVectorizer(
        sublinear_tf=True,
        analyzer="char_wb",
        ngram_range=(3, 5),
        min_df=2 if len(texts) > 1 else 1,
        max_features=100_000,
    )
    return sparse.hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()


def default_learner() -> Any:
    """TF-IDF word 1-2-grams + character 3-5-grams, logistic regression."""
    return LogisticRegression(C=4.0, max_iter=300)


# The strategies shipped here (a worker process has these, not ones defined in a notebook).
_BUILTIN: dict[str, Strategy] = dict(STRATEGIES)


@dataclass(frozen=True)
class QueueItem:
    """One item to review next, and why."""

    item_id: str
    strategy: str
    reason: str
    score: float
    audit: bool = False
    propensity: float | None = None

    def context(self) -> dict[str, Any]:
        """What to record with the decision (for honest metrics later)."""
        return {
            "strategy": self.strategy,
            "reason": self.reason,
            "audit": self.audit,
            "propensity": self.propensity,
        }


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


class Selector:
    """Ranks a session's open items for review; refits in the background after decisions.

    Parameters
    ----------
    strategy : a name in ``STRATEGIES`` (``hybrid``, ``margin``, ``entropy``,
        ``least_confidence``, ``disagreement``, ``llm_confidence``, ``diversity``, ``random``,
        ``in_order``).
    estimator : any classifier with ``predict_proba`` (cloned at every fit).
    embeddings : ``{item_id: vector}`` features instead of TF-IDF.
    explore : share of queue slots given to uniformly random "audit" items.
    min_labels : below this many human labels (or with one class) the learner is not used.
    distill : also train on valid LLM proposals, weighted by their confidence.
    seed : the same seed and the same decisions give the same queue.
    worker : where background refits run: ``"process"`` (default; a low-priority worker process,
        so a refit never holds the kernel's GIL while the view waits, see ``refit_worker.py``)
        or ``"thread"``. Strategies registered in the notebook, and estimators or embeddings
        that cannot be pickled, always refit in a thread.

    Examples
    --------
    >>> selector = Selector(strategy="hybrid", seed=0)          # doctest: +SKIP
    >>> session.selector = selector; session.queue(5)           # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        strategy: str = "hybrid",
        estimator: Any = None,
        embeddings: Mapping[str, Sequence[float]] | None = None,
        explore: float = 0.1,
        min_labels: int = 10,
        distill: bool = False,
        seed: int = 0,
        debounce: float = 0.3,
        sync_limit: int = 20_000,
        worker: str = "process",
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose from {sorted(STRATEGIES)}")
        if not 0.0 <= explore <= 1.0:
            raise ValueError("explore must be between 0 and 1")
        if estimator is not None and not hasattr(estimator, "predict_proba"):
            raise TypeError("estimator must have predict_proba")
        if worker not in ("process", "thread"):
            raise ValueError(f"worker must be 'process' or 'thread', got {worker!r}")
        self.strategy = strategy
        self.estimator = estimator
        self.embeddings = embeddings
        self.explore = explore
        self.min_labels = max(2, min_labels)
        self.distill = distill
        self.seed = seed
        self.debounce = debounce
        self.sync_limit = sync_limit
        self.worker = worker
        self.status = SelectorStatus(strategy=strategy)
        self._session: Session | None = None
        self._ids: np.ndarray = np.array([], dtype=object)
        self._features: Any = None
        self._ranking: list[QueueItem] = []
        self._done: set[str] = set()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._running = False
        self._dirty = False
        self._listeners: list[Callable[[], None]] = []
        self._predicted: dict[str, str] = {}  # the learner's label for each open item
        self._key = uuid.uuid4().hex  # this selector's name in the worker process
        self._picklable = False  # settings known to pickle (for the worker process)
        self._closed = False
        self._forget = weakref.finalize(self, refit_worker.forget, self._key)

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, session: Session) -> Selector:
        """Read the pool of ``session`` and rank it.

        Pools up to ``sync_limit`` items are ranked before this returns; larger ones are
        featurised in the background (tens of seconds at 100,000 items) while the queue
        serves pool order, so a view never waits for it.
        """
        if self._closed:  # closed with an earlier session: a fresh start in the worker
            self._closed = False
            self._key = uuid.uuid4().hex
            self._forget = weakref.finalize(self, refit_worker.forget, self._key)
        self._session = session
        n = session.store.count_items()
        if n <= self.sync_limit:
            self.refit()
            return self
        open_ids = session.store.open_items(5000)
        reason = f"pool order while the selector prepares ({n:,} items)"
        self._ranking = [QueueItem(i, "pool order", reason, 0.0) for i in open_ids]
        self.status = SelectorStatus(strategy=self.strategy, note=reason)
        self.notify()
        return self

    def on_refit(self, fn: Callable[[], None], *, remove: bool = False) -> None:
        """Call ``fn()`` (from the refit thread) after each background refit.

        ``remove=True`` stops calling it.
        """
        if remove:
            with contextlib.suppress(ValueError):
                self._listeners.remove(fn)
        else:
            self._listeners.append(fn)

    def close(self) -> None:
        """Cancel the pending refit, drop the listeners and the worker's copy of the pool.

        A refit already running finishes, but its ranking reaches no listener. Idempotent;
        :meth:`Session.close <llmlabel_widget.Session.close>` calls it. Attaching the selector
        to a session again starts it afresh.

        Examples
        --------
        >>> session.selector.close()  # doctest: +SKIP
        """
        with self._lock:
            self._closed = True
            self._dirty = False
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()  # returns at once: a cancelled timer's thread just ends
        self._listeners.clear()
        self._forget()

    def notify(self, item_id: str | None = None) -> None:
        """A decision was recorded: drop the item from the queue now, refit soon (debounced)."""
        if item_id is not None:
            self._done.add(item_id)
        with self._lock:
            if self._closed:
                return
            if self._running:
                self._dirty = True
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self._background_refit)
            self._timer.daemon = True
            self._timer.start()

    def skipped(self, item_id: str) -> None:
        """A skip: the item goes to the back of the queue now, and stays there after refits."""
        self._done.discard(item_id)
        rest = [q for q in self._ranking if q.item_id != item_id]
        self._ranking = [*rest, QueueItem(item_id, "skipped", "skipped earlier", 0.0)]
        self.notify()

    def undone(self, item_id: str) -> None:
        """An undo put the item back among the open ones."""
        self._done.discard(item_id)
        self.notify()

    def _background_refit(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._running, self._dirty, self._timer = True, False, None
        try:
            if self._use_worker_process():
                try:
                    self._refit_in_worker()
                except refit_worker.SettingsError as exc:
                    log.info(
                        "the worker process cannot load the selector's settings (%s): "
                        "refitting in a thread",
                        exc,
                    )
                    self.worker = "thread"
                    self.refit()
            else:
                self.refit()
        except Exception as exc:  # a failed refit must never break labeling
            if refit_worker.closing():
                return  # the process is exiting; nobody waits for this ranking
            log.exception("selector refit failed")
            self.status.errors = [*self.status.errors[-4:], f"{type(exc).__name__}: {exc}"]
        finally:
            with self._lock:
                self._running = False
                again = self._dirty
        for fn in list(self._listeners):
            fn()
        if again:
            self.notify()

    def _use_worker_process(self) -> bool:
        if self.worker != "process" or STRATEGIES.get(self.strategy) is not _BUILTIN.get(
            self.strategy
        ):
            return False  # a strategy defined in the notebook exists only in this process
        if not self._picklable:  # checked once: embeddings can be large
            try:
                pickle.dumps((self.estimator, self.embeddings))
            except Exception:
                log.info("selector settings cannot be pickled: refitting in a thread")
                self.worker = "thread"
                return False
            self._picklable = True
        return True

    def _refit_in_worker(self) -> None:
        if self._session is None:
            raise RuntimeError("attach the selector to a session first")
        seen_done = set(self._done)  # decisions made during the refit are not in its ranking
        settings = {
            "strategy": self.strategy,
            "estimator": self.estimator,
            "embeddings": self.embeddings,
            "explore": self.explore,
            "min_labels": self.min_labels,
            "distill": self.distill,
            "seed": self.seed,
        }
        ranking, predicted, status = refit_worker.refit(
            self._key, settings, str(self._session.store.path), self._session.task
        )
        self._ranking, self._predicted = ranking, predicted
        self._done -= seen_done
        self.status = replace(status, refits=self.status.refits + 1, errors=self.status.errors)

    def wait(self, timeout: float = 30.0) -> None:
        """Block until no refit is pending or running (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running and self._timer is None and not self._dirty:
                    return
            time.sleep(0.01)

    def prediction(self) -> Callable[[str], dict[str, Any]]:
        """What the learner predicted for an item, to record with its decision (learning curve)."""
        predicted, labels = self._predicted, self.status.labels

        def lookup(item_id: str) -> dict[str, Any]:
            label = predicted.get(item_id)
            return {} if label is None else {"learner": str(label), "learner_labels": labels}

        return lookup

    # -- the hot path -----------------------------------------------------------------------------
    def queue(self, n: int = 10) -> list[QueueItem]:
        """The next ``n`` open items in review order, from the last ranking (no refit here)."""
        out: list[QueueItem] = []
        for q in self._ranking:
            if q.item_id not in self._done:
                out.append(q)
                if len(out) == n:
                    break
        return out

    # -- refit ------------------------------------------------------------------------------------
    def refit(self) -> None:
        """Read labels and proposals, train the learner, rank every open item."""
        if self._session is None:
            raise RuntimeError("attach the selector to a session first")
        t0 = time.perf_counter()
        seen_done = set(self._done)  # decisions made during the refit are not in its ranking
        frame = _read_state(str(self._session.store.path))
        task = self._session.task
        learns = self.strategy not in ("in_order", "random")
        if learns:  # featurising a big pool is the expensive part; skip it when unused
            self._ensure_features(frame)
        else:
            self._ids = frame["item_id"].to_numpy()
        decided = frame["human"].notna().to_numpy()
        skipped = frame["skipped"].to_numpy() & ~decided
        open_mask = ~decided & ~skipped
        rng = np.random.default_rng([self.seed, int(decided.sum())])
        classes = list(task.names)
        llm_idx = (
            frame["llm"]
            .map(
                lambda v: (
                    classes.index(v[0]) if isinstance(v, list) and v and v[0] in classes else -1
                )
            )
            .to_numpy()
            .astype(int)
        )
        confidence = frame["confidence"].to_numpy(float)
        agreement = frame["agreement"].to_numpy(float)
        reviewed = None
        if self.strategy in ("disagreement", "hybrid") and not task.multi_label:
            reviewed = _reviewed(frame, decided, llm_idx, confidence, agreement)
        if learns:
            proba, note = self._fit_predict(frame, decided, open_mask, classes, rng, reviewed)
        else:
            proba, note = None, f"{self.strategy}: no learner"
        open_idx = np.flatnonzero(open_mask)
        signals = Signals(
            proba=proba,
            classes=classes,
            llm_label=llm_idx[open_idx],
            llm_confidence=confidence[open_idx],
            llm_agreement=agreement[open_idx],
            features=None if self._features is None else self._features[open_idx],
            rng=rng,
            reviewed=reviewed,
        )
        name = self.strategy
        if proba is None and name in NEEDS_LEARNER:
            name = cold_start(signals)
        scores = STRATEGIES[name](signals) if len(open_idx) else np.array([])
        if proba is not None and not self._session.task.multi_label:
            best = np.asarray(classes)[proba.argmax(axis=1)]
            self._predicted = dict(zip(self._ids[open_idx].astype(str), best, strict=True))
        else:
            self._predicted = {}
        ranking = self._build_ranking(open_idx, scores, signals, name, note, rng)
        # skipped items wait at the back of the queue, in pool order
        back = [
            QueueItem(str(i), "skipped", "skipped earlier", 0.0)
            for i in frame.loc[skipped, "item_id"].head(max(0, 5000 - len(ranking)))
        ]
        self._ranking = ranking + back
        self._done -= seen_done
        self.status = SelectorStatus(
            trained=proba is not None,
            labels=int(decided.sum()),
            classes=int(frame.loc[decided, "human"].map(tuple).nunique()) if decided.any() else 0,
            strategy=name,
            note=note,
            refit_seconds=time.perf_counter() - t0,
            refits=self.status.refits + 1,
            errors=self.status.errors,
        )

    def _ensure_features(self, frame: pd.DataFrame) -> None:
        ids = frame["item_id"].to_numpy()
        if self._features is not None and len(ids) == len(self._ids):
            return  # the pool only grows; same size means same items
        self._ids = ids
        if self.embeddings is not None:
            self._features = np.array([self.embeddings[i] for i in ids], dtype=float)
            return
        try:
            self._features = text_features(frame["text"].tolist())
        except ValueError as exc:  # e.g. only empty or stop-word texts
            log.warning("no text features: %s", exc)
            self._features = None

    def _fit_predict(
        self,
        frame: pd.DataFrame,
        decided: np.ndarray,
        open_mask: np.ndarray,
        classes: list[str],
        rng: np.random.Generator,
        reviewed: Reviewed | None = None,
    ) -> tuple[np.ndarray | None, str]:
        """Train the learner and predict the open items.

        With ``reviewed`` (single-label tasks, enough reviewed LLM errors and hits for the
        error model), also fill ``reviewed.proba`` with out-of-fold probabilities.
        """
        n = int(decided.sum())
        if self._features is None:
            return None, "no usable text features (empty or identical texts): not learning"
        human = frame["human"].to_numpy()
        x_idx = np.flatnonzero(decided)
        y = [human[i] for i in x_idx]
        weights = np.ones(len(x_idx))
        if self.distill:
            valid = frame["llm"].notna().to_numpy() & ~decided
            extra = np.flatnonzero(valid)
            x_idx = np.concatenate([x_idx, extra])
            y += [frame["llm"].iat[i] for i in extra]
            conf = np.nan_to_num(frame["confidence"].to_numpy(float)[extra], nan=0.5)
            weights = np.concatenate([weights, conf])
        distinct = {tuple(v) for v in y}
        if n < self.min_labels or len(distinct) < 2:
            why = f"cold start: {n} human label(s)"
            if n and len(distinct) < 2:
                why += ", one class only"
            return None, why + "; ranking by LLM doubt (confidence, other models), else diversity"
        multi = self._session is not None and self._session.task.multi_label
        est = clone(self.estimator) if self.estimator is not None else default_learner()
        x = self._features[x_idx]
        x_open = self._features[np.flatnonzero(open_mask)]
        if multi:
            mlb = MultiLabelBinarizer(classes=classes)
            target = mlb.fit_transform(y)
            keep = target.std(axis=0) > 0  # labels never seen (or always on) can't be learned
            model = OneVsRestClassifier(est).fit(x, target[:, keep])
            proba = np.full((x_open.shape[0], len(classes)), 0.5)
            proba[:, keep] = model.predict_proba(x_open)
            return proba, f"learner trained on {n} human labels (multi-label)"
        flat = [v[0] for v in y]
        est.fit(x, flat, sample_weight=weights)
        if reviewed is not None and error_model_ready(reviewed):
            # human labels only (not distilled LLM labels), rows in the order of `decided`
            reviewed.proba = out_of_fold_proba(
                est, x[:n], flat[:n], classes, seed=int(rng.integers(2**31))
            )
        seen = list(est.classes_)
        proba = np.zeros((x_open.shape[0], len(classes)))
        proba[:, [classes.index(c) for c in seen]] = est.predict_proba(x_open)
        note = f"learner trained on {n} human labels"
        if len(seen) < len(classes):
            note += f" ({len(classes) - len(seen)} label(s) never seen yet)"
        return proba, note

    def _build_ranking(
        self,
        open_idx: np.ndarray,
        scores: np.ndarray,
        s: Signals,
        name: str,
        note: str,
        rng: np.random.Generator,
    ) -> list[QueueItem]:
        """Order by score; every slot is a random audit pick with probability ``explore``."""
        n_open = len(open_idx)
        if n_open == 0:
            return []
        order = np.argsort(-scores, kind="stable")
        audit_order = rng.permutation(n_open)
        explore = self.explore if name not in ("random", "in_order") else 0.0
        used = np.zeros(n_open, dtype=bool)
        out: list[QueueItem] = []
        cap = min(n_open, 5000)  # the queue never needs more than this between refits
        oi = ai = 0  # read positions in the ranked and in the audit order
        while len(out) < cap:
            audit = rng.random() < explore
            if audit:
                while ai < n_open and used[audit_order[ai]]:
                    ai += 1
                audit = ai < n_open
            if not audit:
                while oi < n_open and used[order[oi]]:
                    oi += 1
                if oi == n_open:
                    break
            pos = int(audit_order[ai] if audit else order[oi])
            used[pos] = True
            item_id = str(self._ids[open_idx[pos]])
            if audit:
                reason = "random audit (unbiased check of the LLM)"
                propensity = explore / n_open
            else:
                reason = _reason(name, s, pos, scores[pos])
                propensity = (1 - explore) + explore / n_open
            out.append(
                QueueItem(
                    item_id,
                    "audit" if audit else name,
                    reason,
                    float(scores[pos]),
                    audit,
                    propensity,
                )
            )
        if out and name not in ("in_order", "random"):
            first = out[0]
            out[0] = QueueItem(
                first.item_id,
                first.strategy,
                f"{first.reason} · {note}",
                first.score,
                first.audit,
                first.propensity,
            )
        return out


def _reason(name: str, s: Signals, pos: int, score: float) -> str:
    conf = s.llm_confidence[pos]
    llm = f"LLM confidence {conf:.2f}" if np.isfinite(conf) else "no LLM confidence"
    if name in ("margin", "hybrid") and s.proba is not None:
        p = np.sort(s.proba[pos])[::-1]
        gap = p[0] - (p[1] if len(p) > 1 else 0.0)
        lead = "learner unsure" if name == "margin" else "learner unsure / LLM doubted"
        return f"{lead} (margin {gap:.2f}) · {llm}"
    if name == "disagreement" and s.proba is not None and s.llm_label[pos] >= 0:
        p_llm = s.proba[pos, s.llm_label[pos]]
        if s.reviewed is not None and error_model_ready(s.reviewed):
            n = int((s.reviewed.llm_label >= 0).sum())
            return (
                f"likely LLM error (P={score:.2f}, learned from {n} reviewed) · "
                f"learner p={p_llm:.2f} for its label · {llm}"
            )
        return f"learner doubts the LLM (p={p_llm:.2f} for its label) · {llm}"
    if name == "disagreement" and s.proba is not None:
        return f"no LLM label: learner unsure (margin {1 - score:.2f})"
    if name == "disagreement":
        agree = np.nan if s.llm_agreement is None else s.llm_agreement[pos]
        others = f"{agree:.0%} of other LLM answers agree" if np.isfinite(agree) else ""
        return " · ".join(x for x in ("LLM doubted", others, llm) if x)
    if name == "entropy" and s.proba is not None:  # scores are permuted by `spread`
        p = np.clip(s.proba[pos], 1e-12, 1.0)
        return f"learner unsure (entropy {float(-(p * np.log(p)).sum()):.2f}) · {llm}"
    if name == "least_confidence" and s.proba is not None:
        return f"learner unsure (top p {float(s.proba[pos].max()):.2f}) · {llm}"
    if name == "llm_confidence":
        return f"low {llm}"
    if name == "diversity":
        return "covers an unexplored region of the data"
    if name == "in_order":
        return "next in pool"
    return name


def _reviewed(
    frame: pd.DataFrame,
    decided: np.ndarray,
    llm_idx: np.ndarray,
    confidence: np.ndarray,
    agreement: np.ndarray,
) -> Reviewed:
    """The decided items' LLM signals and whether the LLM was wrong (``proba`` filled later)."""
    idx = np.flatnonzero(decided)
    human = frame["human"].to_numpy()[idx]
    llm = frame["llm"].to_numpy()[idx]
    wrong = np.array(
        [isinstance(m, list) and list(h) != list(m) for h, m in zip(human, llm, strict=True)],
        dtype=bool,
    )
    return Reviewed(None, llm_idx[idx], confidence[idx], agreement[idx], wrong)


def _read_state(path: str) -> pd.DataFrame:
    """Pool, human labels and latest valid proposals, on a private read connection.

    A separate connection lets the refit thread read while the kernel thread writes (WAL).
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        items = pd.read_sql_query("SELECT item_id, text FROM items ORDER BY seq", conn)
        latest = pd.read_sql_query(
            "SELECT item_id, kind, labels, MAX(seq) AS seq FROM events e "
            "WHERE kind IN ('accept', 'correct', 'label', 'skip') AND NOT EXISTS "
            "(SELECT 1 FROM events u WHERE u.undoes = e.seq) GROUP BY item_id",
            conn,
        )
        props = pd.read_sql_query(
            "SELECT item_id, labels, confidence, MAX(seq) AS seq FROM proposals "
            f"WHERE valid = 1 AND {NOT_TRIAL} GROUP BY item_id",
            conn,
        )
        # other valid answers (earlier prompt versions, other models) for cross-model agreement
        others = pd.read_sql_query(
            "SELECT p.item_id, p.labels, p.seq FROM proposals p WHERE p.valid = 1 AND p.seq < "
            "(SELECT MAX(q.seq) FROM proposals q WHERE q.item_id = p.item_id AND q.valid = 1 "
            f"AND {NOT_TRIAL.replace('run_id', 'q.run_id')})",
            conn,
        )
    finally:
        conn.close()
    decided = latest[latest["kind"] != "skip"]
    out = items.merge(
        decided[["item_id", "labels"]].rename(columns={"labels": "human"}), on="item_id", how="left"
    )
    out["skipped"] = out["item_id"].isin(latest.loc[latest["kind"] == "skip", "item_id"])
    out = out.merge(
        props[["item_id", "labels", "confidence"]].rename(columns={"labels": "llm"}),
        on="item_id",
        how="left",
    )
    if len(others):
        latest_labels = props.set_index("item_id")["labels"]
        others["agree"] = (
            others["labels"].to_numpy() == latest_labels.reindex(others["item_id"]).to_numpy()
        )
        share = others.groupby("item_id")["agree"].mean().rename("agreement")
        out = out.merge(share, left_on="item_id", right_index=True, how="left")
    else:
        out["agreement"] = np.nan
    out["human"] = out["human"].map(json.loads, na_action="ignore").astype(object)
    out["llm"] = out["llm"].map(json.loads, na_action="ignore").astype(object)
    return out
