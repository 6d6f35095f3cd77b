"""Write an annotations frame to ``.jsonl``, ``.csv`` or ``.parquet``, atomically.

The file is written beside its destination under a temporary name and renamed into place,
so an existing export is never left half-written; if writing fails, the temporary file is
removed. JSONL and Parquet keep every value as it is. CSV is for spreadsheets, so its cells
are made unambiguous and safe:

- rows end with CRLF (RFC 4180), and a cell holding a line break is quoted;
- a list or dict cell (the labels of a multi-label task, ``context``, list-valued metadata)
  is a JSON value, e.g. ``["a|b", "c"]``: a label containing ``|``, ``,`` or quotes stays
  one label, and an empty list ``[]`` differs from no label (an empty cell);
- a text cell (or column name) starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading ``'``, so a spreadsheet shows it as text instead of evaluating it as
  a formula (OWASP, "CSV injection"). Plain numbers such as ``-3`` or ``+1.5`` are left
  alone. Strip the ``'`` when reading such cells back as data, or use JSONL or Parquet.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMATS = (".jsonl", ".csv", ".parquet")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

__all__ = ["FORMATS", "FORMULA_START", "csv_cell", "write", "write_atomically"]


def csv_cell(value: object) -> object:
    """One CSV cell: lists and dicts as JSON, formula-like text neutralised with ``'``.

    Examples
    --------
    >>> csv_cell(["a|b", "c"]), csv_cell("=1+1"), csv_cell("-3"), csv_cell("ok")
    ('["a|b", "c"]', "'=1+1", '-3', 'ok')
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _for_csv(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(csv_cell, na_action="ignore")
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out


def write(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` in the format its extension names; return the path.

    Examples
    --------
    >>> write(session.annotations, "labels.csv")  # doctest: +SKIP
    PosixPath('labels.csv')
    """
    dest = Path(path)
    suffix = dest.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported export format {suffix!r}: use .jsonl, .csv or .parquet")
    return write_atomically(dest, lambda tmp: _write_as(df, tmp, suffix))


def write_atomically(dest: Path, fill: Callable[[Path], object]) -> Path:
    """Have ``fill`` write a temporary file beside ``dest``, then rename it into place.

    A failure at any point (Ctrl-C included) removes the temporary file and leaves any
    existing ``dest`` as it was.
    """
    if not dest.parent.is_dir():
        raise FileNotFoundError(f"cannot write {dest}: no directory {dest.parent}")
    if dest.is_dir():
        raise IsADirectoryError(f"cannot write {dest}: it is a directory")
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    try:
        fill(tmp)
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _write_as(df: pd.DataFrame, tmp: Path, suffix: str) -> Any:
    if suffix == ".jsonl":
        return df.to_json(tmp, orient="records", lines=True, date_format="iso", force_ascii=False)
    if suffix == ".csv":
        # CRLF rows (RFC 4180): the csv writer then quotes a cell holding a lone "\r" too,
        # which with "\n" rows would end the row early for every reader
        return _for_csv(df).to_csv(tmp, index=False, lineterminator="\r\n")
    return df.to_parquet(tmp, index=False)
