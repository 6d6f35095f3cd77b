"""Real labeled data sets shipped with the package (see README.md here for sources and terms)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
DEFAULT = "gwsd_climate_stance_gpt4o"


def names() -> list[str]:
    """Names of the shipped data sets."""
    return sorted(p.name.removesuffix(".csv.gz") for p in HERE.glob("*.csv.gz"))


def load(name: str = DEFAULT) -> pd.DataFrame:
    """Load a shipped data set as a DataFrame (columns as in its ``NAME.README.md``).

    Examples
    --------
    >>> df = load("gwsd_climate_stance_gpt4o")
    >>> {"id", "text", "gold_label", "llm_label", "llm_confidence"} <= set(df.columns)
    True
    """
    path = HERE / f"{name}.csv.gz"
    if not path.exists():
        raise ValueError(f"no shipped data set {name!r}; available: {names()}")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def readme(name: str = DEFAULT) -> str:
    """The source, licence and column description of a shipped data set."""
    return (HERE / f"{name}.README.md").read_text(encoding="utf-8")
