"""What to review next: a task learner L trained on human labels, and acquisition strategies.

The learner (TF-IDF word and character n-grams + logistic regression, or any estimator with
``predict_proba``) is refitted off the hot path; strategies are plain functions from
:class:`Signals` to one score per open item (higher = review sooner), registered by name.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import clone
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

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


@strategy("least_confidence")
def least_confidence(s: Signals) -> np.ndarray:
    """1 - the learner's top probability."""
    return 1.0 - _sorted_proba(s)[:, 0]


@strategy("margin")
def margin(s: Signals) -> np.ndarray:
    """1 - (top probability - second): small margins first."""
    p = _sorted_proba(s)
    second = p[:, 1] if p.shape[1] > 1 else 0.0
    return 1.0 - (p[:, 0] - second)


@strategy("entropy")
def entropy(s: Signals) -> np.ndarray:
    """Shannon entropy of the learner's prediction."""
    p = np.clip(_proba(s), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


@strategy("llm_confidence")
def low_llm_confidence(s: Signals) -> np.ndarray:
    """1 - the LLM's confidence (unknown confidence counts as 0.5)."""
    return 1.0 - np.nan_to_num(s.llm_confidence, nan=0.5)


@strategy("disagreement")
def disagreement(s: Signals) -> np.ndarray:
    """Likely LLM errors: the learner doubts its label, the LLM is unsure, other models differ.

    Score = 1 - geometric mean of the available signs of a right answer: the learner's
    probability for the LLM's label, the LLM's confidence, and the share of other recorded
    LLM answers (other models or prompt versions) that agree. Items with no LLM label are
    scored by the learner's own uncertainty (margin).
    """
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
    score = np.where(known > 0, 1.0 - np.exp(log_mean), 0.5)
    if s.proba is None:
        return score
    return np.where(has, score, margin(s))


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
    return 0.5 * _rank(margin(s)) + 0.5 * _rank(disagreement(s))


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
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose from {sorted(STRATEGIES)}")
        if not 0.0 <= explore <= 1.0:
            raise ValueError("explore must be between 0 and 1")
        if estimator is not None and not hasattr(estimator, "predict_proba"):
            raise TypeError("estimator must have predict_proba")
        self.strategy = strategy
        self.estimator = estimator
        self.embeddings = embeddings
        self.explore = explore
        self.min_labels = max(2, min_labels)
        self.distill = distill
        self.seed = seed
        self.debounce = debounce
        self.sync_limit = sync_limit
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

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, session: Session) -> Selector:
        """Read the pool of ``session`` and rank it.

        Pools up to ``sync_limit`` items are ranked before this returns; larger ones are
        featurised in the background (tens of seconds at 100,000 items) while the queue
        serves pool order, so a view never waits for it.
        """
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

    def on_refit(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` (from the refit thread) after each background refit."""
        self._listeners.append(fn)

    def notify(self, item_id: str | None = None) -> None:
        """A decision was recorded: drop the item from the queue now, refit soon (debounced)."""
        if item_id is not None:
            self._done.add(item_id)
        with self._lock:
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
            self._running, self._dirty, self._timer = True, False, None
        try:
            self.refit()
        except Exception as exc:  # a failed refit must never break labeling
            log.exception("selector refit failed")
            self.status.errors = [*self.status.errors[-4:], f"{type(exc).__name__}: {exc}"]
        finally:
            with self._lock:
                self._running = False
                again = self._dirty
        for fn in self._listeners:
            fn()
        if again:
            self.notify()

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
        if learns:
            proba, note = self._fit_predict(frame, decided, open_mask, classes, rng)
        else:
            proba, note = None, f"{self.strategy}: no learner"
        open_idx = np.flatnonzero(open_mask)
        llm_idx = frame["llm"].map(
            lambda v: classes.index(v[0]) if isinstance(v, list) and v and v[0] in classes else -1
        )
        signals = Signals(
            proba=proba,
            classes=classes,
            llm_label=llm_idx.to_numpy()[open_idx].astype(int),
            llm_confidence=frame["confidence"].to_numpy(float)[open_idx],
            llm_agreement=frame["agreement"].to_numpy(float)[open_idx],
            features=None if self._features is None else self._features[open_idx],
            rng=rng,
        )
        name = self.strategy
        needs_learner = ("margin", "entropy", "least_confidence", "hybrid", "disagreement")
        if proba is None and name in needs_learner:
            has_conf = np.isfinite(signals.llm_confidence).any()
            name = "llm_confidence" if has_conf else "diversity"
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
        self._done = set()
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
    ) -> tuple[np.ndarray | None, str]:
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
            return None, why + "; ranking by LLM confidence, else diversity"
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
        return f"learner doubts the LLM (p={p_llm:.2f} for its label) · {llm}"
    if name == "entropy":
        return f"learner unsure (entropy {score:.2f}) · {llm}"
    if name == "least_confidence":
        return f"learner unsure (top p {1 - score:.2f}) · {llm}"
    if name == "llm_confidence":
        return f"low {llm}"
    if name == "diversity":
        return "covers an unexplored region of the data"
    if name == "in_order":
        return "next in pool"
    return name


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
