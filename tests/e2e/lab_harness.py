"""Browser harness: a JupyterLab on 127.0.0.1 and Debian's Chromium driven by Playwright.

Shared by the e2e tests (through conftest.py) and by ``bench/ui_latency.py`` (which puts this
directory on ``sys.path``). Follows ``docs/e2e-recipe.md``: isolated Jupyter dirs, no
news/update toasts, kernel idle before Run All, fire-and-forget commands, the server dies with
its parent (PR_SET_PDEATHSIG), and teardown stops only the pids we started.

Env knobs: ``E2E_CHROMIUM`` (browser path), ``E2E_HEADED=1`` (visible browser, needs a display).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("E2E_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The closed network refuses Chromium's background connections; root cannot use the sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
STARTUP_TIMEOUT_S = 90
UI_TIMEOUT_MS = 60_000  # page load + kernel start + first widget render
EXPECT_TIMEOUT_MS = 20_000

# Isolated user settings: no toasts, plain (non-windowed) notebook DOM, no kernel dialogs, and
# widget state saved into the notebook so the test can check what a saved file would hold.
LAB_USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/apputils-extension/sessionDialogs.jupyterlab-settings": {
        "skipKernelRestartDialog": True,
    },
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
}

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the server when the test process dies without teardown."""
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive for our purposes
        with Path(f"/proc/{pid}/stat").open() as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class Lab:
    """A running JupyterLab server we started."""

    url: str
    token: str
    root: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes]
    timings: dict[str, float] = field(default_factory=dict)

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> Any:
        req = urllib.request.Request(  # noqa: S310 (loopback URL we built)
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            body = r.read()
            return json.loads(body) if body else None

    def session_for(self, nb_path: str) -> dict[str, Any]:
        matches = [s for s in self.api("/api/sessions") if s["path"] == nb_path]
        assert len(matches) == 1, matches
        return matches[0]

    def close_sessions(self, nb_path: str) -> None:
        for s in self.api("/api/sessions"):
            if s["path"] == nb_path:
                self.api(f"/api/sessions/{s['id']}", method="DELETE")


@contextlib.contextmanager
def running_lab(base: Path, *, server_extension: bool = True, app: str = "lab") -> Iterator[Lab]:
    """Start JupyterLab on a free loopback port with everything isolated under ``base``.

    The package's server extension (TCP_NODELAY on kernel websockets, ``llmlabel_widget/
    server.py``) is on, as for any user who installed the package; ``server_extension=False``
    turns it off in the isolated user config (the stock server, for ``bench/ui_latency.py``).
    ``app="notebook"`` starts Jupyter Notebook 7 instead (same server, same isolation).
    """
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    for var, sub in {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "IPYTHONDIR": "ipython",
        "JUPYTERLAB_SETTINGS_DIR": "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
    }.items():
        (base / sub).mkdir(exist_ok=True)
        env[var] = str(base / sub)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    if not server_extension:
        off = {"ServerApp": {"jpserver_extensions": {"llmlabel_widget": False}}}
        (base / "config" / "jupyter_server_config.json").write_text(json.dumps(off))
    # The kernel must import the tree under test, wherever `pip install -e` pointed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMLABEL_BASE_URL", "ANYWIDGET_HMR"):
        env.pop(var, None)  # offline, and no hot reload in tests
    for rel, data in LAB_USER_SETTINGS.items():
        p = base / "user-settings" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(data))

    token = uuid.uuid4().hex
    port = _free_port()
    log = base / "jupyterlab.log"
    if app == "lab":
        ui = [
            "jupyterlab",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class="
            "jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
    elif app == "notebook":
        ui = ["notebook", "--JupyterNotebookApp.expose_app_in_browser=True"]
    else:
        raise ValueError(f"app must be 'lab' or 'notebook', got {app!r}")
    cmd = [
        sys.executable,
        "-m",
        *ui,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
    ]
    if os.geteuid() == 0:  # CI here runs as root; jupyter refuses without this
        cmd.append("--allow-root")
    t0 = time.monotonic()
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        lab = Lab(f"http://127.0.0.1:{port}", token, root, env, log, proc)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"jupyter lab exited rc={proc.returncode}:\n{log.read_text()}"
                    )
                try:
                    lab.api("/api/status", timeout=2)
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"jupyter lab not up:\n{log.read_text()}") from None
                    time.sleep(0.1)
            lab.timings["server_start_s"] = round(time.monotonic() - t0, 2)
            yield lab
        finally:
            stop_lab(lab)


def stop_lab(lab: Lab) -> None:
    """Stop only what we started: the server pid, then any kernel pids it spawned."""
    proc = lab.proc
    kids = _children(proc.pid)  # kernels run in their own sessions: collect their pids first
    if proc.poll() is None:
        with contextlib.suppress(Exception):
            lab.api("/api/shutdown", method="POST", timeout=5)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    for pid in kids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def chromium(home: Path) -> Iterator[Any]:
    """One headless Debian Chromium (Playwright allows one sync_playwright per thread)."""
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    # Debian's Chromium writes crash and dconf data under $HOME whatever --user-data-dir says.
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=not os.environ.get("E2E_HEADED"),
            args=CHROMIUM_ARGS,
            env=env,
        )
        try:
            yield browser
        finally:
            browser.close()


# -- notebooks ----------------------------------------------------------------------------------
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def code_cell(source: str, i: int) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": f"e2e-{i}",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def write_notebook(path: Path, sources: list[str]) -> None:
    """An nbformat-4.5 notebook of code cells, as plain JSON (importing nbformat is slow)."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
        "cells": [code_cell(src, i) for i, src in enumerate(sources)],
    }
    path.write_text(json.dumps(nb, indent=1))


# -- driving the page ---------------------------------------------------------------------------
# True once the current notebook's kernel session is ready and idle (needs expose_app_in_browser).
JS_KERNEL_IDLE = """(path) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path || !w.sessionContext) return false;
  const s = w.sessionContext;
  return !!(s.isReady && s.session && s.session.kernel && s.session.kernel.status === 'idle');
}"""

# Every code cell ran (has an execution count) and the kernel is idle again.
JS_ALL_RAN = """(path) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path || !w.sessionContext) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  return w.content.widgets.every(c => c.model.type !== 'code' || c.model.executionCount !== null);
}"""

# What a leaked shortcut would change: cell count, cell types, notebook mode.
JS_NOTEBOOK_STATE = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return {count: nb.widgets.length, mode: nb.mode, types: nb.widgets.map(c => c.model.type)};
}"""

JS_ERROR_OUTPUTS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const errs = [];
  for (const c of nb.widgets) {
    if (c.model.type !== 'code') continue;
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') errs.push(o.ename + ': ' + o.evalue);
    }
  }
  return errs;
}"""

JS_DIRTY = "() => window.jupyterapp.shell.currentWidget.context.model.dirty"


def goto_notebook(page: Any, lab: Lab, name: str, *, app: str = "lab") -> None:
    # `reset` ignores any saved workspace layout; `token` logs the browser in.
    if app == "notebook":
        page.goto(f"{lab.url}/notebooks/{name}?token={lab.token}")
    else:
        page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")
    page.wait_for_function(JS_KERNEL_IDLE, arg=name, timeout=UI_TIMEOUT_MS)


def run_command(page: Any, command: str) -> None:
    # Fire and forget: a command's promise can wait on a dialog forever, and page.evaluate has
    # no timeout. Completion is awaited with expect(...) / wait_for_function instead.
    page.evaluate("(c) => { window.jupyterapp.commands.execute(c); }", command)


def run_all(page: Any, name: str) -> None:
    run_command(page, "notebook:run-all-cells")
    page.wait_for_function(JS_ALL_RAN, arg=name, timeout=UI_TIMEOUT_MS, polling=100)


def save_notebook(page: Any) -> None:
    run_command(page, "docmanager:save")
    page.wait_for_function(f"() => !({JS_DIRTY})()", timeout=EXPECT_TIMEOUT_MS)


def _client(lab: Lab, nb_path: str, timeout: float) -> Any:
    from jupyter_client import BlockingKernelClient

    kid = lab.session_for(nb_path)["kernel"]["id"]
    kc = BlockingKernelClient(
        connection_file=str(Path(lab.env["JUPYTER_RUNTIME_DIR"]) / f"kernel-{kid}.json")
    )
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=timeout)
    return kc


def kernel_eval(lab: Lab, nb_path: str, expr: str, code: str = "", timeout: float = 60) -> str:
    """Run ``code`` (optional) then evaluate ``expr`` in the notebook's live kernel."""
    kc = _client(lab, nb_path, timeout)
    try:
        reply = kc.execute(
            code,
            silent=True,
            store_history=False,
            user_expressions={"v": expr},
            reply=True,
            timeout=timeout,
        )
        content = reply["content"]
        assert content["status"] == "ok", content
        value = content["user_expressions"]["v"]
        assert value["status"] == "ok", value
        return str(value["data"]["text/plain"])
    finally:
        kc.stop_channels()
