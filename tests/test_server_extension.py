"""The package's Jupyter server extension (TCP_NODELAY on kernel websockets) and light import."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

import llmlabel_widget
from llmlabel_widget import server


def test_installing_the_package_enables_the_extension():
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = out.stdout + out.stderr
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("llmlabel_widget "))
    assert "enabled" in line
    assert "OK" in text.split("llmlabel_widget 0", 1)[1][:40]  # it validates: importable


def _app(current: object) -> SimpleNamespace:
    logged: list[str] = []
    log = SimpleNamespace(info=lambda msg, *a: logged.append(msg % a))
    settings = {server.SETTING: current}
    return SimpleNamespace(web_app=SimpleNamespace(settings=settings), log=log, logged=logged)


def test_the_stock_kernel_connection_is_replaced():
    app = _app(ZMQChannelsWebsocketConnection)
    server._load_jupyter_server_extension(app)
    assert app.web_app.settings[server.SETTING] is server.NoDelayKernelConnection
    assert app.logged == ["llmlabel_widget: TCP_NODELAY on kernel websockets"]


def test_a_gateway_or_custom_connection_is_left_alone():
    class Custom(ZMQChannelsWebsocketConnection):
        pass

    app = _app(Custom)
    server._load_jupyter_server_extension(app)
    assert app.web_app.settings[server.SETTING] is Custom
    assert "left as they are" in app.logged[0]


def test_the_connection_sets_nodelay_before_connecting(monkeypatch: pytest.MonkeyPatch):
    calls: list[object] = []
    monkeypatch.setattr(
        ZMQChannelsWebsocketConnection, "connect", lambda self: calls.append("connect")
    )
    handler = SimpleNamespace(set_nodelay=lambda flag: calls.append(("nodelay", flag)))
    conn = server.NoDelayKernelConnection.__new__(server.NoDelayKernelConnection)
    conn.__dict__["_trait_values"] = {"websocket_handler": handler}
    server.NoDelayKernelConnection.connect(conn)
    assert calls == [("nodelay", True), "connect"]


def test_importing_the_package_is_light():
    # The Jupyter server imports the package for its extension: no pandas/sklearn/openai there.
    code = (
        "import sys, llmlabel_widget, llmlabel_widget.server; "
        "print(sorted(m for m in ('pandas', 'sklearn', 'openai', 'anywidget') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves():
    assert set(llmlabel_widget.__all__) - {"__version__"} == set(llmlabel_widget._EXPORTS)
    for name in llmlabel_widget.__all__:
        assert getattr(llmlabel_widget, name) is not None
    assert "Session" in dir(llmlabel_widget)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = llmlabel_widget.Nope
