"""Small units (issue 12): no product module over 600 lines, no function over 80."""

from __future__ import annotations

import ast
from pathlib import Path

import llmlabel_widget

PACKAGE = Path(llmlabel_widget.__file__).parent
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, str]:
    return {
        p.relative_to(PACKAGE).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(PACKAGE.rglob("*.py"))
        if "static" not in p.parts
    }


def _long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """``(name, lines)`` of every function or method longer than ``limit`` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append((node.name, length))
    return found


def test_no_module_is_over_600_lines():
    long = {
        name: len(source.splitlines())
        for name, source in _modules().items()
        if len(source.splitlines()) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these modules by job (lines): {long}"


def test_no_function_is_over_80_lines():
    long = {
        name: found
        for name, source in _modules().items()
        if (found := _long_functions(source, MAX_FUNCTION_LINES))
    }
    assert long == {}, f"split these functions (name, lines): {long}"


def test_the_checks_find_long_units():
    body = "".join(f"        x{k} = {k}\n" for k in range(80))
    source = f"def short():\n    pass\n\n\nclass C:\n    async def long(self):\n{body}"
    assert _long_functions(source, MAX_FUNCTION_LINES) == [("long", 81)]
    assert len(_modules()) > 40
    assert "store/sqlite.py" in _modules()
