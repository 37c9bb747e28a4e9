"""``ioc dashboard``: run the web server in the foreground (uvicorn, websockets library).

The listening socket is bound here, before uvicorn starts, so port 0 ("pick a free one")
still tells us the real port. Once uvicorn reports it started, the URL is printed on stdout
(``dashboard: http://127.0.0.1:PORT``) and recorded with
``ioc.services.manager.record_dashboard_url`` for ``ioc run`` and the tests.

Example::

    IOC_DASHBOARD_PORT=8080 ioc dashboard
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from collections.abc import Callable

import uvicorn

from ioc.heap import settle
from ioc.settings import Settings

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_started`` once it listens (it has no event for that)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self.announced = False
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self.announced = True
            self._on_started()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("dashboard", help="run the web server in the foreground")
    p.add_argument("--host", default=None, help="bind address (IOC_DASHBOARD_HOST)")
    p.add_argument("--port", type=int, default=None, help="port, 0 = free (IOC_DASHBOARD_PORT)")
    p.set_defaults(func=cmd_dashboard)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _announce(settings: Settings, url: str, record: Callable[[Settings, str], object]) -> None:
    print(f"dashboard: {url}", flush=True)
    record(settings, url)


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard import ws_protocol
    from dashboard.app import create_app
    from ioc.services.manager import database_url, kafka_bootstrap, record_dashboard_url
    from ioc.services.ports import ServiceError

    host = args.host if args.host is not None else settings.dashboard_host
    port = args.port if args.port is not None else settings.dashboard_port
    try:
        app = create_app(
            settings, database_url=database_url(settings), kafka_bootstrap=kafka_bootstrap(settings)
        )
        sock = bind(host, port)
    except (ServiceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    url = url_of(host, sock.getsockname()[1])
    # /ws: uvicorn's sans-I/O protocol of the websockets library, with the fan-out hook of
    # dashboard.ws_protocol (one frame built per update, written to every idle socket)
    config = uvicorn.Config(
        app,
        **ws_protocol.SETTINGS,
        lifespan="on",
        log_config=None,
        proxy_headers=False,
        ws_max_size=64 * 1024,
        ws_ping_interval=20.0,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    server = _Server(config, on_started=lambda: _announce(settings, url, record_dashboard_url))
    settle(settings.gc_gen0_threshold)  # start-up heap out of the collector's way: ioc/heap.py

    async def serve() -> bool:
        try:
            await server.serve(sockets=[sock])
        finally:
            if server.announced:
                record_dashboard_url(settings, None)
        return server.announced

    try:
        started = asyncio.run(serve())
    finally:
        sock.close()
    if not started:
        logger.error("dashboard did not start (see the errors above)")
        return 1
    return 0
