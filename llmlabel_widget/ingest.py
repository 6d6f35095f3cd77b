"""Ingest: check a DataFrame of items, plan what adding it changes, then write it at once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .storage import StoreBackend
from .task import LabelTask

if TYPE_CHECKING:
    from .session import Session

OnChanged = Literal["error", "keep"]


@dataclass(frozen=True)
class AddReport:
    """What :meth:`Session.add` did with a DataFrame."""

    added: int
    unchanged: int
    changed: tuple[str, ...]  # ids whose text differs from the stored text (kept as stored)


@dataclass(frozen=True)
class AddPlan:
    """What adding a DataFrame would do, read before anything is written."""

    total: int
    rows: list[tuple[str, str, str, str | None]]  # new items: id, text, hash, metadata JSON
    changed: tuple[str, ...]
    fingerprint: str
    known: list[str]  # fingerprints of earlier identical adds


def content_hash(text: str) -> str:
    """Stable fingerprint of an item's text, used to recognise unchanged items."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def item_key(item_id: object) -> str:
    """The stored form of an item id: ``7``, ``7.0`` and ``np.int64(7)`` are all ``"7"``.

    pandas turns an integer id column into floats when it gains a missing value, so a
    whole-number float must mean the same item as the integer it came from.
    """
    if item_id is None or (isinstance(item_id, float) and np.isnan(item_id)):
        raise ValueError("item id must not be None/NaN")
    if isinstance(item_id, np.generic):
        item_id = item_id.item()
    if isinstance(item_id, float):
        if not np.isfinite(item_id):
            raise ValueError(f"item id must be finite, got {item_id!r}")
        if item_id.is_integer():
            return str(int(item_id))
    if isinstance(item_id, bool):
        raise TypeError(f"item id must not be a bool, got {item_id!r}")
    key = str(item_id)
    _check_encodable(key, "item id")
    return key


def _check_encodable(text: str, what: str) -> None:
    """Refuse text that UTF-8 can not store (a lone surrogate from a broken decode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} {text[:40]!r} is not valid Unicode ({exc.reason} at position "
            f"{exc.start}); fix the text before adding it"
        ) from None


def plan_add(
    data: pd.DataFrame,
    checked: tuple[list[str], list[str]],
    text: str,
    id: str | None,
    *,
    existing: Callable[[], Mapping[str, str]],
    known: list[str],
) -> AddPlan:
    """Which rows are new, unchanged or changed (``existing()``: stored id -> hash)."""
    ids, texts = checked
    hashes = [content_hash(t) for t in texts]
    # Re-running the same cell is the common case: if exactly these rows were stored
    # before, skip reading every stored hash (items are never changed or deleted).
    fingerprint = hashlib.blake2b(
        "\n".join(ids).encode() + b"\0" + "".join(hashes).encode(), digest_size=16
    ).hexdigest()
    if fingerprint in known:
        return AddPlan(len(ids), [], (), fingerprint, known)
    hashes_of = existing()
    new_mask = np.fromiter((i not in hashes_of for i in ids), bool, len(ids))
    _check_legacy_float_ids(hashes_of, [i for i, new in zip(ids, new_mask, strict=True) if new])
    changed = tuple(
        i for i, h, new in zip(ids, hashes, new_mask, strict=True) if not new and hashes_of[i] != h
    )
    extra = [c for c in data.columns if c not in (text, id)]
    new_positions = np.flatnonzero(new_mask)
    metas: list[str | None] = [None] * len(new_positions)
    if extra and len(new_positions):
        lines = (
            data.iloc[new_positions][extra]
            .to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
            .splitlines()
        )
        metas = list(lines)
    rows = [(ids[p], texts[p], hashes[p], m) for p, m in zip(new_positions, metas, strict=True)]
    return AddPlan(len(ids), rows, changed, fingerprint, known)


def validate_frame(data: object, *, text: str, id: str | None) -> tuple[list[str], list[str]]:
    """Check a DataFrame of items; return (ids, texts) or raise naming the problem."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.empty:
        raise ValueError("data is empty: the DataFrame has no rows")
    if text not in data.columns:
        raise ValueError(f"text column {text!r} not found; columns are {list(data.columns)}")
    if id is not None and id not in data.columns:
        raise ValueError(
            f"id column {id!r} not found; columns are {list(data.columns)} "
            "(pass id=None to use the DataFrame index)"
        )
    raw_ids = data.index if id is None else data[id]
    if pd.isna(raw_ids).any():
        bad = np.flatnonzero(pd.isna(raw_ids))[:5].tolist()
        raise ValueError(f"id column {id!r} has missing values at rows {bad}")
    ids = [item_key(v) for v in raw_ids]
    dupes = pd.Series(ids).duplicated(keep=False)
    if dupes.any():
        shown = sorted(set(pd.Series(ids)[dupes]))[:5]
        raise ValueError(f"duplicate ids in column {id!r}: {shown}")
    col = data[text]
    if isinstance(col.dtype, pd.StringDtype):  # pandas' string dtype: only NA can be wrong
        not_str = col.isna().to_numpy(bool)
    else:
        not_str = ~col.map(lambda v: isinstance(v, str)).to_numpy(bool)
    if not_str.any():
        rows = np.flatnonzero(not_str)[:5]
        examples = [f"{ids[r]!r}: {col.iloc[r]!r}" for r in rows]
        raise ValueError(
            f"text column {text!r} has {int(not_str.sum())} value(s) that are not strings "
            f"(NaN/None/numbers), e.g. {'; '.join(examples)}"
        )
    texts = col.tolist()
    try:  # one pass in C; only on failure look for the culprit
        "\n".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        for item_id, value in zip(ids, texts, strict=True):
            _check_encodable(value, f"the text of item {item_id!r}")
    return ids, texts


def check_on_changed(on_changed: object) -> None:
    if on_changed not in ("error", "keep"):
        raise ValueError(f"on_changed must be 'error' or 'keep', got {on_changed!r}")


def _check_legacy_float_ids(existing: Mapping[str, str], new_ids: Sequence[str]) -> None:
    """Refuse ids that an older release stored in float form ("7.0" for item 7)."""
    if not new_ids:
        return
    as_float = {i[:-2]: i for i in existing if i.endswith(".0") and i[:-2].lstrip("-").isdigit()}
    clash = [(i, as_float[i]) for i in new_ids if i in as_float]
    if clash:
        shown = ", ".join(f"{new!r} (stored as {old!r})" for new, old in clash[:5])
        raise ValueError(
            f"{len(clash)} id(s) match items stored with a float id: {shown}. Nothing was "
            "added. Pass those ids as strings in the stored form "
            "(df[id] = df[id].map('{:.1f}'.format)) or start a new store."
        )


def check_compatible(old: LabelTask, new: LabelTask) -> None:
    """Instructions and descriptions may change; labels already used must stay."""
    removed = [n for n in old.names if n not in new.names]
    if removed:
        raise ValueError(
            f"the store's task has labels {list(old.names)}; the new task drops {removed}. "
            "Labels may be added or re-described, not removed."
        )
    if old.multi_label != new.multi_label:
        raise ValueError("the store's task and the new task differ in multi_label")


def apply_add(
    store: StoreBackend, plan: AddPlan | None, on_changed: OnChanged, task: LabelTask | None
) -> tuple[AddReport, bool]:
    """Write the new rows (and a changed task) in one transaction, or raise first.

    Returns what was added, and whether anything was written.
    """
    if plan is not None and plan.changed and on_changed == "error":
        shown = ", ".join(repr(c) for c in plan.changed[:5])
        more = f" and {len(plan.changed) - 5} more" if len(plan.changed) > 5 else ""
        raise ValueError(
            f"{len(plan.changed)} item(s) changed text under the same id: {shown}{more}. "
            "Nothing was added. Give changed rows new ids, or pass on_changed='keep' to "
            "keep the stored text."
        )
    meta = {} if task is None else {"task": task.to_json()}
    if plan is not None and not plan.changed and plan.fingerprint not in plan.known:
        meta["data_fingerprints"] = " ".join([*plan.known[-9:], plan.fingerprint])
    rows = [] if plan is None else plan.rows
    added = store.add_items(rows, meta=meta) if rows or meta else 0
    wrote = bool(rows or meta)
    if plan is None:
        return AddReport(added=0, unchanged=0, changed=()), wrote
    report = AddReport(
        added=added,
        unchanged=plan.total - len(plan.rows) - len(plan.changed),
        changed=plan.changed,
    )
    return report, wrote


def resolve_task(stored: str | None, task: LabelTask | None, path: object) -> LabelTask:
    """The task to use: ``task``, checked against the stored one, or the stored one."""
    old = None if stored is None else LabelTask.from_json(stored)
    if task is None:
        task = old
    elif old is not None and task != old:
        check_compatible(old, task)
    if task is None:  # a new store, or an empty file left by an earlier failed open
        raise ValueError(f"{path} is a new store: pass task=LabelTask(...)")
    return task


def open_session(
    cls: type[Session],
    path: str | Path,
    data: pd.DataFrame | None,
    text: str,
    id: str | None,
    task: LabelTask | None,
    annotator: Any,
    user: str | None,
    selector: Any,
    on_changed: OnChanged,
) -> Session:
    """:meth:`Session.open`: a call that raises changes nothing (the file of a new store is
    removed again)."""
    if task is not None and not isinstance(task, LabelTask):
        raise TypeError(f"task must be a LabelTask, got {type(task).__name__}")
    check_on_changed(on_changed)
    checked = None if data is None else validate_frame(data, text=text, id=id)
    from .store import is_url, open_store  # opening a store is the one place a backend is chosen

    remote = is_url(path)
    target = Path(path)
    is_new = not remote and (
        not target.exists() or (target.is_file() and target.stat().st_size == 0)
    )
    if is_new and task is None:
        raise ValueError(f"{path} is a new store: pass task=LabelTask(...)")
    # Everything that can fail is checked before the first write, and the task and the
    # new items are written in one transaction: a call that raises changes nothing.
    store = open_store(path)
    is_new = is_new or bool(getattr(store, "created", False))
    shown = getattr(store, "url", path)  # a PostgreSQL URL without its password
    session: Session | None = None
    try:
        stored = store.get_meta("task")
        task = resolve_task(stored, task, shown)
        session = cls(store, task, annotator=annotator, user=user, selector=selector)
        plan = (
            None if data is None or checked is None else session._plan_add(data, checked, text, id)
        )
        changed = stored is None or task != LabelTask.from_json(stored)
        session._apply_add(plan, on_changed, task=task if changed else None)
    except BaseException:
        if session is not None:
            session.close()  # nothing was written: the checkpoint in close() is a no-op
        else:
            store.close()
        if is_new:
            store.remove_files()
        raise
    return session
