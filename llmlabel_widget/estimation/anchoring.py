"""The anchoring meter: how much showing the LLM's proposal changes the reviewer's answer.

With ``blind_share > 0`` the Labeler hides the proposal on a fixed share of items, drawn by a
hash of the item id (so independently of the item's content and of the queue order), until
the reviewer answers; those decisions carry ``{"blind": true}``. Blind and assisted items
are then two random parts of the same reviewed items, and:

- ``agreement_blind`` / ``agreement_assisted``: LLM = human on each (Wilson);
- ``anchoring_shift`` = assisted - blind agreement (Newcombe's hybrid score interval): how
  much seeing the proposal moves the answer towards it;
- ``accepted_wrong``: of the proposals the blind estimate says are wrong (1 - blind
  agreement), the share an assisted reviewer accepted anyway:
  (assisted - blind agreement) / (1 - blind agreement), clipped to [0, 1], with a seeded
  parametric bootstrap over the two binomial counts.

Same columns as ``pool_estimates``: quantity, value, low, high, level, n_human, n_effective,
method.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .intervals import NOT_ENOUGH, _percentiles, newcombe_interval, wilson_interval
from .pairs import _pairs

COLUMNS = ["quantity", "value", "low", "high", "level", "n_human", "n_effective", "method"]
N_BOOT = 2000


def anchoring_estimates(
    ann: pd.DataFrame,
    *,
    human: str = "label",
    llm: str = "llm_label",
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Blind against assisted agreement, and how often assisted reviewers kept a wrong proposal.

    Rows are NaN with the method saying "not enough data: ..." when there are no blind or no
    assisted decisions (or, for ``accepted_wrong``, no blind disagreement).

    Examples
    --------
    >>> ctx = [{"blind": True}] * 4 + [None] * 4
    >>> df = pd.DataFrame({"label": list("aabb" "aaab"), "llm_label": ["a"] * 8,
    ...                    "context": ctx})
    >>> anchoring_estimates(df).set_index("quantity")["value"].round(2).tolist()
    [0.5, 0.75, 0.25, 0.5]
    """
    ans = _pairs(ann, human=human, llm=llm).answers
    blind = ans.context["blind"].to_numpy(bool)
    kb, nb = int(ans.correct[blind].sum()), int(blind.sum())
    ka, na = int(ans.correct[~blind].sum()), int((~blind).sum())
    rows = [
        _share("agreement_blind", kb, nb, level, "LLM = human where the proposal was hidden"),
        _share("agreement_assisted", ka, na, level, "LLM = human where the proposal was shown"),
        _shift(kb, nb, ka, na, level),
        _accepted_wrong(kb, nb, ka, na, level, seed),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _missing(name: str, level: float, nb: int, na: int, why: str) -> list[object]:
    nan = math.nan
    return [name, nan, nan, nan, level, nb + na, 0.0, f"{NOT_ENOUGH}: {why}"]


def _why(nb: int, na: int) -> str:
    if nb == 0:
        return "no blind decisions (use Labeler(session, blind_share=0.1))"
    return "no assisted decisions"


def _share(name: str, k: int, n: int, level: float, what: str) -> list[object]:
    if n == 0:
        why = "no blind decisions" if name.endswith("blind") else "no assisted decisions"
        return _missing(name, level, 0, 0, why)
    low, high = wilson_interval(k, n, level=level)
    return [name, k / n, low, high, level, n, float(n), f"{what}; Wilson"]


def _shift(kb: int, nb: int, ka: int, na: int, level: float) -> list[object]:
    name = "anchoring_shift"
    if nb == 0 or na == 0:
        return _missing(name, level, nb, na, _why(nb, na))
    low, high = newcombe_interval(ka, na, kb, nb, level=level)
    n_eff = nb * na / (nb + na)  # the n of one sample with the same variance, per unit p(1-p)
    method = "assisted - blind agreement; Newcombe hybrid score interval"
    return [name, ka / na - kb / nb, low, high, level, nb + na, n_eff, method]


def _accepted_wrong(kb: int, nb: int, ka: int, na: int, level: float, seed: int) -> list[object]:
    name = "accepted_wrong"
    if nb == 0 or na == 0:
        return _missing(name, level, nb, na, _why(nb, na))
    if kb == nb:
        return _missing(name, level, nb, na, "every blind answer agrees with the LLM")
    value = _ratio(np.array([kb / nb]), np.array([ka / na]))[0]
    rng = np.random.default_rng(seed)
    b = rng.binomial(nb, kb / nb, N_BOOT) / nb
    a = rng.binomial(na, ka / na, N_BOOT) / na
    low, high = _percentiles(_ratio(b, a), level)
    method = (
        "(assisted - blind agreement) / (1 - blind agreement): wrong proposals that assisted "
        f"reviewers accepted; parametric bootstrap ({N_BOOT}, seed {seed})"
    )
    n_eff = nb * na / (nb + na)
    return [name, float(value), low, high, level, nb + na, n_eff, method]


def _ratio(blind: np.ndarray, assisted: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (assisted - blind) / (1 - blind)
    return np.where(blind < 1, np.clip(r, 0.0, 1.0), np.nan)
