"""The estimation functions under their first address: re-exports ``llmlabel_widget.estimation``.

``from llmlabel_widget.metrics import quality_table`` keeps working; new code may import from
``llmlabel_widget.estimation``. See that package for what each figure means.
"""

from __future__ import annotations

from .estimation import *  # noqa: F403
from .estimation import __all__ as __all__
