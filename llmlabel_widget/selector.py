"""What to review next: the public names of :mod:`llmlabel_widget.selection`, where they live."""

from __future__ import annotations

from .selection import *  # noqa: F403
from .selection import __all__ as __all__
