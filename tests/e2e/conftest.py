"""Fixtures for the real-browser tests: one JupyterLab and one Chromium per pytest session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from lab_harness import EXPECT_TIMEOUT_MS, Lab, chromium, running_lab


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    t0 = time.monotonic()
    try:
        with chromium(tmp_path_factory.mktemp("chromium-home")) as b:
            print(f"\n[e2e] chromium {b.version} up in {time.monotonic() - t0:.2f}s")
            yield b
    except RuntimeError as exc:  # fail, never skip: a missing browser must not pass silently
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("lab")) as server:
        print(f"\n[e2e] jupyter lab up in {server.timings['server_start_s']}s (log {server.log})")
        yield server


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    pg.console_log = console
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        shot = tmp_path / "failure.png"
        try:
            pg.screenshot(path=str(shot), full_page=True)
        except Exception as exc:  # the page may be gone; the console log still helps
            console.append(f"(screenshot failed: {exc})")
        (tmp_path / "console.log").write_text("\n".join(console))
        print(f"\n[e2e] failure artifacts: {shot} {tmp_path / 'console.log'}")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Expose each phase's report as item.rep_setup / rep_call (for failure artifacts)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
