"""The learned error model: P(the LLM's label is wrong), from the reviewed items' outcomes."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from .signals import Reviewed, Signals, top_margin


def geometric_doubt(s: Signals) -> np.ndarray:
    """1 - geometric mean of the known signs of a right LLM answer (0.5 where none is known).

    The signs: the LLM's confidence, the share of other LLM answers that agree, and the
    learner's probability for the LLM's label.
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
    regression whose prior is the hand-set score (the logit of :func:`geometric_doubt`'s geometric
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
    cols_r: list[np.ndarray] = [_logit(geometric_doubt(past))]
    cols_o: list[np.ndarray] = [_logit(geometric_doubt(now))]

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
    k = len(cols_r)  # signal columns; a one-hot of the LLM's label follows
    onehot = (past.llm_label[:, None] == np.arange(len(s.classes))).astype(float)
    x_r = np.column_stack([*cols_r, onehot])
    mean, std = x_r[:, 1:].mean(axis=0), x_r[:, 1:].std(axis=0)
    std[std == 0] = 1.0
    x_r[:, 1:] = (x_r[:, 1:] - mean) / std
    prior = np.zeros(x_r.shape[1] + 1)  # [intercept, prior slope, corrections...]
    prior[1] = 1.0
    penalty = np.full(len(prior), ERROR_SHRINK)
    penalty[0], penalty[1] = 0.0, 1.0
    w = _penalised_logit(x_r, np.asarray(r.wrong, dtype=bool)[keep], prior, penalty)
    # The open items' one-hot enters through its weights: no items x classes matrix.
    x_o = np.column_stack(cols_o)
    x_o[:, 1:] = (x_o[:, 1:] - mean[: k - 1]) / std[: k - 1]
    per_label = w[k + 1 :] / std[k - 1 :]
    shift = -float(np.sum(per_label * mean[k - 1 :]))
    label = now.llm_label
    by_label = np.where(label >= 0, per_label[np.maximum(label, 0)], 0.0)
    return 1.0 / (1.0 + np.exp(-(w[0] + x_o @ w[1 : k + 1] + shift + by_label)))


def _learner_view(proba: np.ndarray, llm_label: np.ndarray) -> list[np.ndarray]:
    """The logit of the learner's probability for the LLM's label, and the learner's margin."""
    p_llm = proba[np.arange(len(llm_label)), np.maximum(llm_label, 0)]
    return [_logit(p_llm), 1.0 - top_margin(proba)]


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
