"""The Dashboard's view: its plotly figure under a strip that reports the cell and the theme.

The strip (``js/dashboard.js``) tells Python the width of the cell and JupyterLab's theme
colours; :class:`~llmlabel_widget.dashboard.Dashboard` lays its figure out and paints it with
them (:mod:`llmlabel_widget.chart_layout`). Loading anywidget waits for the first display, so a
script using the Dashboard headless never needs the JS bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

STATIC = Path(__file__).parent / "static"


class DashboardFrame(anywidget.AnyWidget):
    """Reports what the figure cannot see. Shown: nothing (an empty strip).

    Configuration (set by the front end): ``width`` of the cell in pixels (0 until a view
    reports it) and ``theme``, JupyterLab's colours by role (see ``js/dashboard.js``).
    """

    _esm = STATIC / "dashboard.js"
    width = traitlets.Int(0).tag(sync=True)
    theme = traitlets.Dict().tag(sync=True)


def framed(figure: Any) -> tuple[DashboardFrame, ipywidgets.VBox]:
    """A new frame and the box that shows it above ``figure``."""
    frame = DashboardFrame()
    box = ipywidgets.VBox([frame, figure], layout=ipywidgets.Layout(width="100%"))
    box.add_class("llmlabel-dashboard")
    return frame, box
