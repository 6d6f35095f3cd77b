"""The PostgreSQL backend on a real server: projects, credentials, parameterised queries."""

from __future__ import annotations

import logging

import pytest

from llmlabel_widget import Session, StoreError


def test_a_project_on_postgres_holds_the_session(pg_cluster, gwsd, gwsd_task):
    url = pg_cluster.url(project="stance")
    with Session.open(url, data=gwsd.head(50), task=gwsd_task) as s:
        first = s.next_items(1)[0]
        s.decide(first, "agree", reviewer="alice")
    with Session.open(url) as again:  # resumes: the task and the decision are stored there
        assert again.task == gwsd_task
        assert again.progress()["decided"] == 1
        assert again.is_decided(first)
        assert type(again.store).__name__ == "PostgresStore"


def test_one_database_holds_several_projects_apart(pg_cluster, gwsd, gwsd_task):
    a = Session.open(pg_cluster.url(project="proj_a"), data=gwsd.head(10), task=gwsd_task)
    b = Session.open(pg_cluster.url(project="proj_b"), data=gwsd.iloc[10:40], task=gwsd_task)
    try:
        a.decide(a.next_items(1)[0], "agree", reviewer="alice")
        assert (a.pool_size(), b.pool_size()) == (10, 30)
        assert b.progress()["decided"] == 0
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize(
    ("query", "problem"),
    [("", "names no project"), ("?project=Bad-Name", "is not usable"), ("?project=1x", "usable")],
)
def test_a_missing_or_bad_project_name_is_a_clear_error(pg_cluster, gwsd_task, query, problem):
    base = pg_cluster.url().split("project=")[0]
    with pytest.raises(StoreError, match=problem):
        Session.open(base.replace("project=", "") + query.lstrip("?"), task=gwsd_task)


def test_a_wrong_password_never_shows_in_the_error(pg_cluster, gwsd_task, caplog):
    secret = "hunter2-very-secret"  # noqa: S105 (the wrong password the test uses)
    url = pg_cluster.url(project="stance", tcp=True, password=secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreError, match="password authentication failed") as err:
        Session.open(url, task=gwsd_task)
    shown = "".join(str(e) for e in (err.value, err.value.__cause__, err.value.__context__))
    assert secret not in shown
    assert secret not in repr(err.value)
    assert secret not in caplog.text


def test_credentials_from_the_url_or_environment_never_reach_reprs(
    pg_cluster, gwsd, gwsd_task, monkeypatch
):
    url = pg_cluster.url(project="creds", tcp=True, password=pg_cluster.password)
    with Session.open(url, data=gwsd.head(5), task=gwsd_task) as s:
        for text in (repr(s), str(s.path), repr(s.store), s.store.url):
            assert pg_cluster.password not in text
            assert "creds" in text
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)  # libpq reads it
    with Session.open(pg_cluster.url(project="creds", tcp=True)) as s:
        assert s.pool_size() == 5


def test_hostile_ids_and_texts_are_values_never_sql(pg_cluster, gwsd_task):
    import pandas as pd

    nasty = "x'); DROP TABLE events; --"
    data = pd.DataFrame({"id": [nasty, "b%_\\"], "text": [nasty + " text", "100% _sure_ \\"]})
    with Session.open(pg_cluster.url(project="hostile"), data=data, task=gwsd_task) as s:
        s.decide(nasty, "agree", reviewer=nasty, note=nasty)
        assert s.is_decided(nasty)
        assert s.store.reviewer_history(nasty, 5)[0]["note"] == nasty
        assert list(s.store.search_items("% _", 5)["item_id"]) == ["b%_\\"]
        assert s.store.count_events() == 1


def test_a_failed_first_open_leaves_no_project_behind(pg_cluster, gwsd_task):
    import pandas as pd

    from llmlabel_widget.store import open_store

    url = pg_cluster.url(project="failed_first")
    bad = pd.DataFrame({"id": ["a", "a"], "text": ["x", "y"]})
    with pytest.raises(ValueError, match="duplicate"):
        Session.open(url, data=bad, task=gwsd_task)
    store = open_store(url)  # a new project again: the failed open dropped its schema
    try:
        assert store.created
    finally:
        store.remove_files()
        store.close()
