"""Serving the web app with uvicorn, in one process or several sharing one listening socket.

uvicorn's own ``--workers N`` binds the shared socket without saying it is TCP (``proto`` 0).
Accepted connections inherit that, and asyncio turns ``TCP_NODELAY`` on only for sockets that say
they are TCP, so Nagle's algorithm stays on: every request after the first on a kept-alive
connection waited ~40 ms for the browser's delayed ACK (uvicorn issue #3149; the benchmark's floor
was 85 requests/s because of it). ``listening_socket`` binds through uvicorn and re-wraps the
descriptor so the kernel's answer (TCP) is what asyncio sees.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from app.config import Settings
from app.logs import configure_logging, wants_json


def listening_socket(config: uvicorn.Config) -> socket.socket:
    """The socket uvicorn would bind for ``config``, with its protocol read back from the kernel."""
    bound = config.bind_socket()
    if bound.family not in (socket.AF_INET, socket.AF_INET6) or bound.proto:
        return bound
    tcp = socket.socket(fileno=bound.detach())  # family, type and proto read from the descriptor
    tcp.set_inheritable(True)
    return tcp


def serve(app: str, *, host: str, port: int, workers: int = 1, **options: object) -> None:
    """Serve the ASGI app at import path ``app`` until interrupted (uvicorn's own lines in JSON too
    when ``app.logs`` says so)."""
    debug = Settings.from_env().debug
    if wants_json(debug):
        configure_logging(debug)
        options.setdefault("log_config", None)
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    sock = listening_socket(config)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
