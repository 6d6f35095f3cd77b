"""The pool's audit order: one uniformly random permutation of every item, fixed by a seed.

An audit slot in the queue shows the first open item of this order. Items decided by any
other route (selector, filter, search, history) join the audit sample when the order
reaches them, at no cost, so the audit sample is always the first ``M`` items of the
order: a simple random sample of the whole pool, each item included with probability
``M / N``. Positions come from a keyed hash of each item id, so growing the pool keeps
the order uniformly random and each old item's relative place in it.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np


def new_audit_seed() -> int:
    """A fresh random seed for a pool's audit order (drawn once, kept in the store)."""
    return secrets.randbits(62)


def audit_positions(ids: np.ndarray | list[str], seed: int) -> np.ndarray:
    """Each item's position (0 = first) in the audit order of ``ids`` under ``seed``.

    Examples
    --------
    >>> sorted(audit_positions(["a", "b", "c"], 7).tolist())
    [0, 1, 2]
    """
    prefix = f"{int(seed)}\x1f".encode()
    keys = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(prefix + str(i).encode(), digest_size=8).digest(), "big")
            for i in ids
        ),
        dtype=np.uint64,
        count=len(ids),
    )
    order = np.lexsort((np.asarray(ids, dtype=str), keys))
    pos = np.empty(len(ids), dtype=np.int64)
    pos[order] = np.arange(len(ids))
    return pos


def audit_reach(pos: np.ndarray, resolved: np.ndarray) -> int:
    """``M``: how far the audit order has got, the number of leading positions resolved.

    ``resolved`` marks items that are decided (by any route) or skipped (a non-response).
    """
    todo = pos[~np.asarray(resolved, dtype=bool)]
    return int(todo.min()) if len(todo) else len(pos)
