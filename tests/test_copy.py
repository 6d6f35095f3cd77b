"""``llmlabel-widget copy``: a project moves from SQLite to PostgreSQL and back, unchanged."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from llmlabel_widget import Session, StoreError
from llmlabel_widget.cli import copy


def filled(path, gwsd, gwsd_task):
    s = Session.open(path, data=gwsd.head(60), task=gwsd_task)
    ids = s.store.all_ids()
    s.add_proposals(
        [{"item_id": i, "labels": ["agree"], "valid": True, "source": "recorded"} for i in ids[:30]]
    )
    s.store.save_prompt_version("v1", '{"p": 1}')
    for i in ids[:10]:
        s.accept(i, reviewer="alice")
    s.decide(ids[10], "neutral_or_disagree", reviewer="bob", note="unsure")
    s.undo(reviewer="alice")
    s.skip(ids[11], reviewer="bob")
    return s


def same(a: Session, b: Session) -> None:
    pd.testing.assert_frame_equal(a.store.live_events(), b.store.live_events())
    pd.testing.assert_frame_equal(
        a.annotations.reset_index(drop=True), b.annotations.reset_index(drop=True)
    )
    assert a.store.count_events() == b.store.count_events()
    assert a.store.prompt_versions() == b.store.prompt_versions()
    assert a.task == b.task


def test_copy_to_postgres_and_back_keeps_the_project(tmp_path, pg_cluster, gwsd, gwsd_task):
    src = filled(tmp_path / "a.labels.db", gwsd, gwsd_task)
    url = pg_cluster.url(project="copied")
    done = subprocess.run(
        [sys.executable, "-m", "llmlabel_widget.cli", "copy", str(src.path), url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "60 items" in done.stdout
    with Session.open(url) as pg:
        same(src, pg)
        pg.decide(pg.store.all_ids()[20], "agree", reviewer="carol")  # numbering goes on
        assert pg.undo(reviewer="carol")["item_id"] == pg.store.all_ids()[20]
    back = tmp_path / "back.labels.db"
    assert copy(url, str(back))["events"] == src.store.count_events() + 2
    with Session.open(url) as pg, Session.open(back) as again:
        same(pg, again)
    src.close()


def test_copy_refuses_an_existing_destination_and_a_missing_source(
    tmp_path, pg_cluster, gwsd, gwsd_task
):
    src = filled(tmp_path / "a.labels.db", gwsd, gwsd_task)
    src.close()
    url = pg_cluster.url(project="taken")
    copy(str(src.path), url)
    with pytest.raises(StoreError, match="exists already"):
        copy(str(src.path), url)
    with pytest.raises(StoreError, match="exists"):
        copy(url, str(src.path))
    with pytest.raises(StoreError, match="no project"):
        copy(pg_cluster.url(project="nothing_here"), str(tmp_path / "x.labels.db"))
    assert not (tmp_path / "x.labels.db").exists()


def batch_tables(s: Session) -> tuple[list, list, list]:
    jobs = s.store.batch_jobs()
    parts = [p for j in jobs for p in s.store.batch_parts(j["job_id"])]
    requests = [r for j in jobs for r in s.store.batch_requests(j["job_id"])]
    return jobs, parts, requests


def test_copy_carries_batch_jobs_both_ways(tmp_path, pg_cluster, gwsd, gwsd_task):
    src = filled(tmp_path / "a.labels.db", gwsd, gwsd_task)
    ids = src.store.all_ids()
    line = '{{"custom_id": "{}"}}'
    parts = {
        k: [(f"c{k}-{i}", i, f"key-{i}", ("d1",) if k else (), line.format(i)) for i in ids[k::2]]
        for k in (0, 1)
    }
    src.store.add_batch_job("job-1", {"prompt_version": "v1", "model": "m"}, parts)
    src.store.update_batch_part("job-1", 1, state="submitted", batch_id="b1", info={"n": 30})
    url = pg_cluster.url(project="batched")
    copied = copy(str(src.path), url)
    assert (copied["batch_jobs"], copied["batch_parts"], copied["batch_requests"]) == (1, 2, 60)
    back = tmp_path / "back.labels.db"
    copy(url, str(back))
    with Session.open(url) as pg, Session.open(back) as again:
        assert batch_tables(pg) == batch_tables(src) == batch_tables(again)
        assert again.store.batch_lines("job-1", 0) == src.store.batch_lines("job-1", 0)
    src.close()
