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


def default_learner() -> Any:
    """TF-IDF word 1-2-grams + character 3-5-grams, logistic regression."""
    return LogisticRegression(C=4.0, max_iter=300)


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
    classes = list(classes)
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
    proba = np.zeros((x_open.shape[0], len(classes)))
    proba[:, [classes.index(c) for c in estimator.classes_]] = estimator.predict_proba(x_open)
    return estimator, proba
