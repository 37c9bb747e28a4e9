"""A worker and a web server sharing one database, topic prefix and home (feedback tests).

The shared ``dashboard`` fixture passes only a fixed set of settings to its process; the
feedback tests need theirs (rate limit, media folder), so they start ``ioc dashboard`` with
every setting (``worker_env``), next to a worker from ``worker_factory``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fixtures.dashboard import serve_dashboard
from fixtures.streams import worker_env

from ioc.settings import Settings


@dataclass(frozen=True)
class WebServer:
    base_url: str
    settings: Settings
    log: Path


@contextmanager
def web_server(settings: Settings, log: Path) -> Iterator[WebServer]:
    with serve_dashboard(settings, worker_env(settings), log) as base_url:
        yield WebServer(base_url, settings, log)
