"""The view's JavaScript unit tests (Vitest + jsdom), run as part of the pytest suite."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_vitest_suite_passes():
    npm = shutil.which("npm")
    assert npm, "npm not found: install Node 20+ (the README's test command needs it)"
    # Fail, never skip: a missing install must not pass silently as "skipped".
    assert (ROOT / "node_modules" / "vitest").is_dir(), "node_modules missing: run `npm ci` first"
    proc = subprocess.run(
        [npm, "test", "--silent"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CI": "1", "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert " passed" in output, output[-3000:]
    assert " failed" not in output, output[-3000:]
