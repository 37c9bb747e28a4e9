"""A worker and a web server sharing one database, topic prefix and home (feedback tests).

The shared ``dashboard`` fixture passes only a fixed set of settings to its process; the
feedback tests need theirs (rate limit, media folder), so they start ``ioc dashboard`` with
every setting (``worker_env``), next to a worker from ``worker_factory``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fixtures.dashboard import REPO, _read_url, _wait_ready, ioc_cli
from fixtures.streams import worker_env

from ioc.settings import Settings


@dataclass(frozen=True)
class WebServer:
    base_url: str
    settings: Settings
    log: Path


@contextmanager
def web_server(settings: Settings, log: Path) -> Iterator[WebServer]:
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*ioc_cli(), "dashboard"],
            env=worker_env(settings),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        base_url = _read_url(proc, log)
        _wait_ready(base_url, settings, log)
        yield WebServer(base_url, settings, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
