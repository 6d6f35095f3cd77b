"""Made-up intent-classification pools shaped like Banking77 (short queries, many intents).

Banking77 (Casanueva et al. 2020) has 13,083 customer queries of about 12 words over 77
intents. Here each intent gets a few words of its own; a query mixes two or three of them
with words every intent shares, so intents overlap as real ones do. Nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHARED = [
    "i",
    "my",
    "the",
    "a",
    "to",
    "is",
    "can",
    "you",
    "please",
    "how",
    "do",
    "why",
    "did",
    "what",
    "card",
    "account",
    "money",
    "bank",
    "app",
    "help",
    "need",
    "want",
    "still",
    "have",
    "been",
    "not",
    "it",
    "this",
    "with",
    "for",
    "on",
    "from",
    "was",
    "today",
    "yesterday",
]
TOPICS = [
    "card",
    "transfer",
    "payment",
    "cash",
    "atm",
    "refund",
    "exchange",
    "top-up",
    "pin",
    "fee",
    "balance",
    "identity",
    "statement",
    "charge",
    "deposit",
    "salary",
    "limit",
    "passcode",
    "beneficiary",
    "virtual",
]
ACTIONS = [
    "lost",
    "stolen",
    "declined",
    "pending",
    "failed",
    "blocked",
    "arrived",
    "missing",
    "reverted",
    "wrong",
    "expired",
    "activate",
    "cancel",
    "change",
    "verify",
    "order",
    "link",
    "freeze",
    "unlock",
    "receive",
]


def intents(n: int) -> list[str]:
    """``n`` distinct intent names, such as ``card_declined``."""
    names = [f"{t}_{a}" for a in ACTIONS for t in TOPICS]
    if n > len(names):
        raise ValueError(f"at most {len(names)} intents")
    order = np.random.default_rng(77).permutation(len(names))
    return sorted(names[i] for i in order[:n])


def pool(items: int, classes: int, *, seed: int = 0) -> pd.DataFrame:
    """``items`` queries over ``classes`` intents: columns ``id``, ``text``, ``gold_label``."""
    rng = np.random.default_rng(seed)
    names = intents(classes)
    own = {n: [*n.split("_"), f"{n.split('_')[0]}{i}"] for i, n in enumerate(names)}
    gold = rng.choice(names, items)
    texts = []
    for g in gold:
        words = list(rng.choice(SHARED, rng.integers(6, 11)))
        words += list(rng.choice(own[g], rng.integers(2, 4)))
        if rng.random() < 0.3:  # a word of another intent: intents overlap
            words.append(str(rng.choice(own[names[rng.integers(classes)]])))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return pd.DataFrame({"id": [f"s{i}" for i in range(items)], "text": texts, "gold_label": gold})
