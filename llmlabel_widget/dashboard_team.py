"""The Dashboard's reviewers panel, shown under the charts in a team project.

One row per reviewer (items labelled, skipped) and the team's agreement figures
(:meth:`Session.team_metrics`: kappa per pair, alpha, each reviewer vs the LLM), refreshed
with the charts.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

N_BOOT = 200  # bootstrap resamples for the panel's intervals (the charts' redraw budget)


def reviewers_html(session: Any) -> str:
    """The panel's HTML: decisions per reviewer, then agreement with intervals."""
    events = session.store.live_events()
    kinds = events[events["kind"] != "note"]
    counts = (
        kinds.assign(labelled=kinds["kind"] != "skip")
        .groupby("annotator")["labelled"]
        .agg(labelled="sum", skipped=lambda s: int((~s).sum()))
    )
    agreement = session.team_metrics(n_boot=N_BOOT)
    conflicts = len(session.conflicts())
    rows = "".join(
        f"<tr><td>{html.escape(str(who))}</td><td>{int(r.labelled)}</td>"
        f"<td>{int(r.skipped)}</td></tr>"
        for who, r in counts.iterrows()
    )
    figures = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td>{_num(r['value'])}</td>"
        f"<td>{_num(r['low'])} to {_num(r['high'])}</td><td>{int(r['n'])}</td></tr>"
        for name, r in agreement.iterrows()
    )
    return (
        "<div class='llmlabel-reviewers'><h4>Reviewers</h4><table>"
        "<tr><th>reviewer</th><th>labelled</th><th>skipped</th></tr>"
        f"{rows}</table><table><tr><th>agreement</th><th>value</th><th>95% interval</th>"
        f"<th>n</th></tr>{figures}</table>"
        f"<p>{conflicts} conflict(s) waiting for adjudication (session.conflicts())</p></div>"
    )


def _num(x: Any) -> str:
    return "n/a" if pd.isna(x) else f"{float(x):.3f}"


def reviewers_panel(dash: Any) -> None:
    """Show or refresh the reviewers panel of ``dash`` (a Dashboard) in a team project."""
    settings = getattr(dash.session, "team_settings", None)
    if not callable(settings) or settings() is None:
        return
    import ipywidgets

    panel = getattr(dash, "_reviewers", None)
    if panel is None:
        panel = dash._reviewers = ipywidgets.HTML()
    panel.value = reviewers_html(dash.session)
    box = getattr(dash, "_box", None)
    if box is not None and panel not in box.children:
        box.children = (*box.children, panel)
