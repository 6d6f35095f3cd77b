"""The task learner L: features of the pool, and a classifier trained on the human labels."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

log = logging.getLogger(__name__)


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


def pool_features(
    ids: np.ndarray, texts: Sequence[str], embeddings: Mapping[str, Sequence[float]] | None
) -> Any:
    """The learner's features for the pool: ``embeddings`` if given, else :func:`text_features`.

    Returns ``None`` when the texts give no features (e.g. only empty or stop-word texts).
    """
    if embeddings is not None:
        return np.array([embeddings[i] for i in ids], dtype=float)
    try:
        return text_features(list(texts))
    except ValueError as exc:
        log.warning("no text features: %s", exc)
        return None


ROW_SPACE_MAX = 1500  # above this many training rows, the eigendecomposition costs more


class RowSpaceLogistic(LogisticRegression):  # type: ignore[misc]
    """L2 logistic regression fitted in the span of its training rows: the same model, faster.

    With an L2 penalty the best weights are a combination of the training rows (the
    representer theorem), so nothing changes when the fit runs on the rows' coordinates in
    that span: with ``X X^T = U L U^T``, fit on ``Z = U L^(1/2)`` (one column per training
    row) and map the weights back, ``W = B L^(-1/2) U^T X``. Logits and penalty are the same.
    Multinomial L-BFGS then optimises ``classes x rows`` numbers instead of
    ``classes x features``: with 77 classes, 500 labels and 16,000 TF-IDF features, 38,500
    instead of 1.2 million, which is where the refit's cost grew with the number of classes.
    With few weights (two classes, or fewer weights than rows squared) or above
    ``ROW_SPACE_MAX`` rows it fits on the features the training rows use (the others get
    weight 0 under L2 anyway). Predictions use the mapped-back ``coef_`` as usual.
    In the span it solves with ``newton-cg`` instead of ``lbfgs``: the objective is strictly
    convex, so both find the same weights, and on the few, dense span coordinates Newton-CG
    needs a handful of iterations where L-BFGS needs dozens (0.3 s against 1.8 s for 500
    labels and 77 classes).
    """

    coef_: np.ndarray

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RowSpaceLogistic:
        """Fit as :class:`~sklearn.linear_model.LogisticRegression` would, in the row span."""
        if self.l1_ratio not in (0, 0.0, None) or self.penalty not in ("l2", "deprecated"):
            return super().fit(X, y, sample_weight=sample_weight)  # the span argument needs L2
        x: Any = sparse.csr_matrix(X, dtype=float) if sparse.issparse(X) else np.asarray(X, float)
        n, d = x.shape
        used = np.unique(x.indices) if sparse.issparse(x) else np.arange(d)
        if len(used) == 0:  # no training row has any feature: only the intercept can learn
            return super().fit(x, y, sample_weight=sample_weight)
        xu = x[:, used]
        outputs = len(np.unique(np.asarray(y, dtype=object)))
        outputs = 1 if outputs <= 2 else outputs  # a binary model has one weight vector
        # the span pays when the weights (outputs x features) outnumber the n^3 decomposition
        if n > ROW_SPACE_MAX or outputs * len(used) <= n * n:
            super().fit(xu, y, sample_weight=sample_weight)
            coef = np.asarray(self.coef_)
        else:
            gram = xu @ xu.T
            lam, u = np.linalg.eigh(gram.toarray() if sparse.issparse(gram) else gram)
            keep = lam > max(lam.max(), 1e-300) * 1e-10
            lam, u = lam[keep], u[:, keep]
            # on few dense columns Newton-CG needs a handful of steps
            solver: str = self.solver  # type: ignore[has-type]
            self.solver = "newton-cg" if solver == "lbfgs" else solver
            try:
                super().fit(u * np.sqrt(lam), y, sample_weight=sample_weight)
            finally:
                self.solver = solver
            span = u / np.sqrt(lam)  # rows -> span coordinates
            coef = np.asarray(xu.T @ (span @ np.asarray(self.coef_).T)).T
        self.coef_ = np.zeros((coef.shape[0], d))
        self.coef_[:, used] = coef
        self.n_features_in_ = d
        return self


def default_learner() -> Any:
    """Logistic regression for TF-IDF word and character n-grams (:class:`RowSpaceLogistic`)."""
    return RowSpaceLogistic(C=4.0, max_iter=300)


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
    names = list(classes)
    labels = np.asarray(y, dtype=object)
    n = len(labels)
    out = np.zeros((n, len(names)))
    fold = np.random.default_rng(seed).permutation(n) % max(2, min(folds, n))
    for f in np.unique(fold):
        test, train = fold == f, fold != f
        seen = sorted(set(labels[train]))
        if len(seen) < 2:
            out[np.ix_(test, [names.index(seen[0])])] = 1.0
            continue
        est = clone(estimator)
        if sample_weight is None:
            est.fit(x[train], labels[train])
        else:
            est.fit(x[train], labels[train], sample_weight=sample_weight[train])
        cols = [names.index(c) for c in est.classes_]
        out[np.ix_(test, cols)] = est.predict_proba(x[test])
    return out


def fit_multi_label(
    estimator: Any, x: Any, y: Sequence[Sequence[str]], x_open: Any, classes: list[str]
) -> np.ndarray:
    """Per-label probabilities for the open items (0.5 for labels never seen, or always on)."""
    target = MultiLabelBinarizer(classes=classes).fit_transform(y)
    keep = target.std(axis=0) > 0  # labels never seen (or always on) can't be learned
    model = OneVsRestClassifier(estimator).fit(x, target[:, keep])
    proba = np.full((x_open.shape[0], len(classes)), 0.5)
    proba[:, keep] = model.predict_proba(x_open)
    return proba


def fit_single_label(
    estimator: Any, x: Any, y: Sequence[str], x_open: Any, classes: list[str], weights: np.ndarray
) -> tuple[Any, np.ndarray]:
    """The fitted learner, and its class probabilities for the open items (0 for unseen)."""
    estimator.fit(x, list(y), sample_weight=weights)
    seen = estimator.predict_proba(x_open)
    if list(estimator.classes_) == classes:
        return estimator, seen
    proba = np.zeros((x_open.shape[0], len(classes)))
    proba[:, [classes.index(c) for c in estimator.classes_]] = seen
    return estimator, proba
