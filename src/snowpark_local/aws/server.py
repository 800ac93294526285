"""moto in server mode, on the loopback interface."""

from __future__ import annotations

import logging

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def start_moto() -> tuple[ThreadedMotoServer, int]:
    """moto in server mode on 127.0.0.1 and a free port; returns the server and its port."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, server.get_host_and_port()[1]
