"""The live dashboard: one FigureWidget updated in place, throttled; the HTML report."""

from __future__ import annotations

import asyncio
import logging
import math
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from llmlabel_widget import LabelTask, RecordedAnnotator, Session
from llmlabel_widget import metrics as m
from llmlabel_widget.dashboard import Dashboard, apply, build_figure, write_report


@pytest.fixture
def recorded(db, gwsd, gwsd_task) -> Session:
    rec = RecordedAnnotator(gwsd, label="llm_label", confidence="llm_confidence")
    s = Session.open(db, data=gwsd[["id", "text"]].head(300), task=gwsd_task, annotator=rec)
    s.propose(progress=False)
    yield s
    s.close()


def decide(session: Session, gwsd: pd.DataFrame, rows: slice) -> None:
    for i, g in zip(gwsd["id"][rows], gwsd["gold_label"][rows], strict=True):
        session.decide(i, g, annotator="gold")


def notes(fig) -> dict[str, str | None]:
    """Visible "not enough data" notes per panel."""
    return {a.name: (a.text if a.visible else None) for a in fig.layout.annotations if a.name}


def by_key(fig, key: str):
    """A trace by the key the dashboard addresses it by (its ``meta``), not its position."""
    (found,) = [t for t in fig.data if t.meta == key]
    return found


def floats(obj) -> list[float]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in floats(v)]
    if isinstance(obj, list | tuple | np.ndarray):
        return [x for v in obj for x in floats(v)]
    return [obj] if isinstance(obj, float) else []


def test_one_figure_widget_of_fixed_size_updated_in_place(recorded, gwsd):
    dash = Dashboard(recorded, width=1000, height=700, n_boot=200)
    fig = dash.figure
    assert isinstance(fig, go.FigureWidget)
    assert (fig.layout.width, fig.layout.height) == (1000, 700)
    n_traces = len(fig.data)
    assert all(v is not None for v in notes(fig).values())  # nothing decided yet
    decide(recorded, gwsd, slice(0, 40))
    dash.refresh()
    decide(recorded, gwsd, slice(40, 80))
    dash.refresh()
    assert dash.figure is fig
    assert len(fig.data) == n_traces
    heat = by_key(fig, "confusion")
    assert int(np.sum(heat.z)) == 80
    expected = m.accuracy(recorded.annotations).value
    assert by_key(fig, "cumulative").y[-1] == pytest.approx(expected)
    assert by_key(fig, "cumulative").x[-1] == 80
    table = by_key(fig, "headline").cells.values
    assert table[1][0].startswith(f"{expected:.3f} · ")
    # a Session's pool estimate (issue 14): no audit item among the 80, so only worst cases
    assert " · not enough data: no audit item among the " in table[1][1]
    shown = notes(fig)
    assert shown["empty-1-1"] is None
    assert shown["empty-1-2"] is None
    assert "learning curve" in shown["empty-2-2"]
    assert dash.draws == 3


def test_on_decision_without_a_loop_updates_synchronously(recorded, gwsd):
    dash = Dashboard(recorded, n_boot=100, min_interval=60)
    decide(recorded, gwsd, slice(0, 5))
    dash.on_decision(None)
    decide(recorded, gwsd, slice(5, 6))
    dash.on_decision(None)
    assert dash.draws == 3
    assert int(np.sum(by_key(dash.figure, "confusion").z)) == 6


def test_on_decision_coalesces_into_one_trailing_redraw_on_the_loop(recorded, gwsd):
    now = [100.0]
    dash = Dashboard(recorded, n_boot=100, min_interval=0.05, clock=lambda: now[0])

    async def burst() -> tuple[int, int]:
        for k in range(10):
            decide(recorded, gwsd, slice(k, k + 1))
            dash.on_decision(None)
        during = dash.draws
        for _ in range(500):  # the trailing redraw runs on this loop via call_later
            if dash._pending is None:
                break
            await asyncio.sleep(0.01)
        return during, dash.draws

    during, after = asyncio.run(burst())
    assert during == 1  # only the initial draw: the burst waits for the trailing redraw
    assert after == 2  # ten decisions, one redraw
    assert int(np.sum(by_key(dash.figure, "confusion").z)) == 10  # and it shows the newest data


def test_on_decision_redraws_at_once_when_the_last_draw_is_old(recorded, gwsd):
    now = [100.0]
    dash = Dashboard(recorded, n_boot=100, min_interval=0.5, clock=lambda: now[0])

    async def later() -> tuple[int, int]:
        now[0] += 1.0
        decide(recorded, gwsd, slice(0, 3))
        dash.on_decision(None)
        during = dash.draws  # never drawn inside the decision's callback
        for _ in range(500):  # computed on a worker thread, drawn on this loop
            if dash._pending is None:
                break
            await asyncio.sleep(0.01)
        return during, dash.draws

    assert asyncio.run(later()) == (1, 2)
    assert dash._pending is None
    assert int(np.sum(by_key(dash.figure, "confusion").z)) == 3


def test_a_redraw_left_on_a_stopped_loop_does_not_block_later_ones(recorded, gwsd):
    now = [100.0]
    dash = Dashboard(recorded, n_boot=100, min_interval=0.5, clock=lambda: now[0])

    async def schedule_and_leave() -> None:
        dash.on_decision(None)  # within min_interval: a trailing redraw is scheduled

    asyncio.run(schedule_and_leave())  # the loop ends before the redraw could run
    assert dash.draws == 1
    decide(recorded, gwsd, slice(0, 2))
    dash.on_decision(None)  # no loop now: draws at once instead of waiting forever
    assert dash.draws == 2
    assert int(np.sum(by_key(dash.figure, "confusion").z)) == 2


def test_a_failing_refresh_is_logged_not_raised(recorded, caplog):
    dash = Dashboard(recorded, n_boot=100)

    class Broken:
        task = recorded.task

        @property
        def annotations(self):
            raise RuntimeError("store closed")

    dash.session = Broken()
    with caplog.at_level(logging.ERROR, logger="llmlabel_widget.dashboard"):
        dash.on_decision(None)
    assert dash.error == "RuntimeError: store closed"
    assert "dashboard refresh failed" in caplog.text


def test_learning_curve_panel(recorded):
    curve = pd.DataFrame({"n_labels": [10, 20, 40], "accuracy": [0.6, 0.7, 0.75]})
    dash = Dashboard(recorded, n_boot=100, learning_curve=curve)
    assert list(by_key(dash.figure, "learning").x) == [10, 20, 40]
    assert notes(dash.figure)["empty-2-2"] is None
    points = [curve.head(1)]
    dash.learning_curve = lambda: points[-1]  # a callable is read at every refresh
    dash.refresh()
    assert "two or more points" in notes(dash.figure)["empty-2-2"]
    assert by_key(dash.figure, "learning").visible is False
    points.append(curve.assign(low=curve.accuracy - 0.1, high=curve.accuracy + 0.1))
    dash.refresh()
    assert list(by_key(dash.figure, "learning").error_y.array) == pytest.approx([0.1, 0.1, 0.1])
    dash.learning_curve = pd.DataFrame({"labels": [1, 2]})
    dash.refresh()
    assert "lacks column(s) ['accuracy', 'n_labels']" in notes(dash.figure)["empty-2-2"]


@pytest.mark.parametrize(
    ("human", "llm"),
    [([], []), (["a"], ["a"]), (["a"] * 4, ["a"] * 4), (["a", "b"], ["b", "a"])],
    ids=["empty", "one", "one class", "all disagree"],
)
def test_tiny_cases_draw_no_nan(human, llm):
    df = pd.DataFrame(
        {
            "label": pd.Series(human, dtype=object),
            "llm_label": pd.Series(llm, dtype=object),
            "llm_confidence": [0.9] * len(human),
        }
    )
    fig = build_figure()
    apply(fig, m.summarize(df, labels=["a", "b"], n_boot=100))
    values = floats(fig.to_plotly_json()["data"])
    assert not any(math.isnan(v) for v in values)
    cells = by_key(fig, "headline").cells.values
    assert "nan" not in " ".join(str(c) for col in cells for c in col).lower()
    if not human:
        assert all(v is not None for v in notes(fig).values())


def test_multi_label_confusion_panel_says_single_label_only(tmp_path, gwsd):
    task = LabelTask(labels=["agree", "neutral_or_disagree"], multi_label=True)
    s = Session.open(tmp_path / "ml.labels.db", data=gwsd[["id", "text"]].head(20), task=task)
    s.decide(gwsd["id"][0], ["agree"], annotator="h")
    dash = Dashboard(s, n_boot=100)
    assert notes(dash.figure)["empty-1-2"] == "single-label only"
    s.close()


def test_unknown_options_are_refused(recorded):
    with pytest.raises(TypeError, match="colour"):
        Dashboard(recorded, colour="red")
    with pytest.raises(TypeError, match="annotations"):
        Dashboard(object())


def test_report_is_self_contained_html(recorded, gwsd, tmp_path):
    decide(recorded, gwsd, slice(0, 50))
    recorded.decide(gwsd["id"][60], "agree", annotator="gold", context={"blind": True})
    path = write_report(recorded.annotations, tmp_path / "quality.html", labels=recorded.task)
    assert path == tmp_path / "quality.html"
    text = path.read_text(encoding="utf-8")
    assert len(text) > 1_000_000  # plotly.js is inside
    assert not re.search(r"<script[^>]+src=", text)
    assert "cdn.plot.ly/plotly-" not in text  # what include_plotlyjs="cdn" would load
    assert "naive only: reviewed items were not sampled at random" in text
    assert "Correction patterns" in text
    assert "Blind vs assisted decisions" in text
    assert list(tmp_path.glob(".*.tmp")) == []


def test_report_escapes_label_text(tmp_path):
    df = pd.DataFrame({"label": ["<b>x</b>", "y"], "llm_label": ["y", "y"]})
    text = write_report(df, tmp_path / "r.html", title="<i>t</i>", n_boot=50).read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "<b>x</b>" not in text.split("<body>", 1)[1].split("<div", 1)[0]
    assert "<title>&lt;i&gt;t&lt;/i&gt;</title>" in text


def trace(fig, name: str):
    """The one trace with this legend name."""
    (found,) = [t for t in fig.data if t.name == name]
    return found


def test_interval_band_is_the_wilson_interval_around_the_agreement_line(recorded, gwsd):
    """The shaded band spans the 95% Wilson interval of the cumulative agreement.

    Drawn as two traces: the upper bound (no fill), then the lower bound filled up to the
    trace before it. Collapsing either bound onto the line, or moving the fill off its
    upper bound, makes the band vanish.
    """
    from scipy.stats import binomtest

    decide(recorded, gwsd, slice(0, 60))
    dash = Dashboard(recorded, n_boot=100)
    fig = dash.figure
    upper, lower = trace(fig, "upper"), trace(fig, "interval (Wilson)")
    traces = list(fig.data)
    assert traces.index(lower) == traces.index(upper) + 1
    assert lower.fill == "tonexty"
    assert upper.fill in (None, "none")
    ann = recorded.annotations
    reviewed = ann[ann["decision"].notna()].sort_values("decision_seq")
    agree = (reviewed["label"] == reviewed["llm_label"]).astype(int).cumsum().to_numpy()
    n = np.arange(1, len(reviewed) + 1)
    bounds = [
        binomtest(int(k), int(m)).proportion_ci(0.95, method="wilson")
        for k, m in zip(agree, n, strict=True)
    ]
    assert list(upper.x) == list(lower.x) == list(n)
    assert list(upper.y) == pytest.approx([b.high for b in bounds], abs=1e-9)
    assert list(lower.y) == pytest.approx([b.low for b in bounds], abs=1e-9)
    width = np.asarray(upper.y) - np.asarray(lower.y)
    assert width.min() > 0.05  # 60 decisions: a band, not a line
    line = np.asarray(trace(fig, "cumulative agreement").y)
    assert np.all(np.asarray(lower.y) < line)  # at k = n the upper bound is 1, the line too
    assert np.all(line <= np.asarray(upper.y))


def test_traces_are_addressed_by_key_not_by_position(recorded, gwsd):
    """apply() finds each trace by its key, so reordering the traces changes nothing drawn."""
    decide(recorded, gwsd, slice(0, 30))
    summary = m.summarize(recorded.annotations, labels=recorded.task, n_boot=50)
    fig = build_figure()
    fig.data = fig.data[::-1]
    apply(fig, summary)
    heat = next(t for t in fig.data if t.type == "heatmap")
    assert int(np.sum(heat.z)) == 30
    assert trace(fig, "cumulative agreement").x[-1] == 30
    assert trace(fig, "precision").type == "bar"
    assert len(trace(fig, "precision").x) == 2
    table = next(t for t in fig.data if t.type == "table")
    assert table.cells.values[0][0] == "accuracy (reviewed, naive)"


def test_close_stops_redraws_and_closes_the_private_reader(recorded, gwsd):
    import llmlabel_widget.session as session_module

    before = set(session_module._OPEN)
    dash = Dashboard(recorded, n_boot=50, min_interval=0.0)

    async def one_trailing_redraw() -> None:
        decide(recorded, gwsd, slice(0, 4))
        dash.on_decision(None)
        for _ in range(500):
            if dash._pending is None and dash.draws == 2:
                break
            await asyncio.sleep(0.01)

    asyncio.run(one_trailing_redraw())
    assert dash.draws == 2
    readers = set(session_module._OPEN) - before
    assert len(readers) == 1  # the worker thread read through its own session
    (reader,) = readers
    dash.close()
    assert reader not in set(session_module._OPEN)
    assert set(session_module._OPEN) == before
    dash.close()  # twice is harmless
    decide(recorded, gwsd, slice(4, 6))
    dash.on_decision(None)
    assert dash.draws == 2  # closed: no more redraws
    assert not recorded._closed  # the session itself stays open


async def _settle(dash: Dashboard, draws: int) -> None:
    """Let the loop run the trailing redraw (a worker computes, the loop draws)."""
    for _ in range(500):
        if dash._pending is None and dash.draws >= draws:
            return
        await asyncio.sleep(0.01)


def test_session_decisions_and_undo_redraw_every_dashboard_with_no_wiring(recorded, gwsd):
    first = Dashboard(recorded, n_boot=50, min_interval=0.0)
    second = Dashboard(recorded, n_boot=50, min_interval=0.0)

    async def decide_in_a_cell() -> tuple[int, int]:
        decide(recorded, gwsd, slice(0, 3))  # as in a notebook cell: the kernel's loop runs
        await _settle(first, 2)
        await _settle(second, 2)
        seen = int(np.sum(by_key(first.figure, "confusion").z))
        recorded.undo(annotator="gold")
        await _settle(first, 3)
        await _settle(second, 3)
        return seen, int(np.sum(by_key(second.figure, "confusion").z))

    assert asyncio.run(decide_in_a_cell()) == (3, 2)
    assert (first.draws, second.draws) == (3, 3)
    first.close()
    second.close()


def test_close_unsubscribes_from_the_session(recorded, gwsd):
    dash = Dashboard(recorded, n_boot=50, min_interval=0.0)
    other = Dashboard(recorded, n_boot=50, min_interval=0.0)
    dash.close()

    async def decide_after_close() -> None:
        decide(recorded, gwsd, slice(0, 2))
        await _settle(other, 2)

    asyncio.run(decide_after_close())
    assert dash.draws == 1  # closed: the session no longer calls it
    assert other.draws == 2
    assert dash._decided not in recorded._recorder._listeners
    other.close()


def test_a_failing_listener_never_undoes_or_blocks_the_decision(recorded, gwsd, caplog):
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("boom")

    recorded.on_decision(broken)
    recorded.on_decision(seen.append)
    with caplog.at_level(logging.ERROR):
        decision = recorded.decide(gwsd["id"][0], gwsd["gold_label"][0], annotator="gold")
    assert seen == [decision]
    assert "decision listener" in caplog.text
    assert recorded.progress()["decided"] == 1
    recorded.on_decision(broken, remove=True)
    recorded.on_decision(seen.append, remove=True)
    recorded.undo(annotator="gold")
    assert seen == [decision]  # removed: no longer called


def test_the_synced_state_is_the_whole_figure_after_each_redraw(recorded, gwsd):
    """A view rendered later (page reload) starts from the synced state, not the messages."""
    dash = Dashboard(recorded, n_boot=50, min_interval=0.0)
    dash._repr_mimebundle_()  # displayed before any decision, as in a notebook
    decide(recorded, gwsd, slice(0, 30))
    dash.refresh()
    state = dash.figure.get_state()
    data = {str(t.get("meta")): t for t in state["_widget_data"]}
    labels = [str(v) for v in by_key(dash.figure, "confusion").x]
    assert list(data["confusion"]["x"]) == labels  # label names, not 0/1
    assert len(labels) >= 2
    cells = data["headline"]["cells"]["values"]
    assert cells[0][0] == "accuracy (reviewed, naive)"
    assert cells[1][0] == by_key(dash.figure, "headline").cells.values[1][0]
    pool = data["pool"]
    assert list(pool["x"]) == []  # no audit item among the 30: no pool estimate to draw
    assert pool["visible"] is False
    layout = state["_widget_layout"]
    assert "30 reviewed" in layout["title"]["text"]
    dash.close()
