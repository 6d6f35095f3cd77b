"""Jupyter server extension: kernel messages leave the server at once (TCP_NODELAY).

Tornado keeps Nagle's algorithm on for websockets. A widget's answer to a key press is a few
small frames (the kernel's "busy" status, the state update, "idle"); with Nagle the update waits
until the browser acknowledges the "busy" frame, and browsers delay that ACK (40 ms on Linux).
On the development machine a trivial widget round trip took 51 ms stock and 8.6 ms with
TCP_NODELAY; for the Labeler, keys in quick succession get the next item painted in 62 ms stock
and 22 ms with it (median; ``python bench/ui_latency.py --pace 0`` measures both ways).
The flag costs a few more packets on the loopback or LAN link to the browser; nothing else
changes.

Installing the package enables the extension through
``etc/jupyter/jupyter_server_config.d/llmlabel_widget.json``; turn it off with
``jupyter server extension disable llmlabel_widget``. A server that already uses another
kernel websocket class (a gateway, or one configured by the user) is left as it is.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

SETTING = "kernel_websocket_connection_class"


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
    """The stock kernel websocket connection, with TCP_NODELAY set when it opens."""

    def connect(self) -> Any:
        self.websocket_handler.set_nodelay(True)
        return super().connect()


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings = serverapp.web_app.settings
    current = settings.get(SETTING)
    if current is not ZMQChannelsWebsocketConnection:
        serverapp.log.info("llmlabel_widget: kernel websockets use %r; left as they are", current)
        return
    settings[SETTING] = NoDelayKernelConnection
    serverapp.log.info("llmlabel_widget: TCP_NODELAY on kernel websockets")
