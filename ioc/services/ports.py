"""Free loopback ports and readiness probes for the embedded services.

Readiness is always *polled with a deadline* (``wait_until``) instead of sleeping a
fixed time: a service that is ready in 50 ms is used after 50 ms, and one that never
comes up fails with a clear message after the deadline rather than hanging.

Three probes, from cheapest to most meaningful:

* ``tcp_probe``   - something accepts TCP connections on host:port;
* ``pg_probe``    - PostgreSQL accepts a login and answers ``SELECT 1`` (what
  ``pg_isready`` checks, plus authentication);
* ``kafka_probe`` - a Kafka client can bootstrap and fetch cluster metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """An embedded service could not be started, probed or stopped; the message says why."""


class PortInUseError(ServiceError):
    """A service was asked to listen on a port that something else already holds."""


class NotReadyError(ServiceError, TimeoutError):
    """A service did not become ready before its deadline."""


class MissingBinaryError(ServiceError):
    """A service's executable is not where it was looked for."""


def log_tail(path: Path, lines: int = 25) -> str:
    """Last ``lines`` lines of a log file (empty when absent), for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def free_port(host: str = LOOPBACK) -> int:
    """Return a port that is free on ``host`` right now (the kernel picks it).

    There is an unavoidable race between closing this socket and the service binding
    the port; callers re-check with ``ensure_port_free`` and report a clear error.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when binding ``host:port`` fails because the address is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the servers use, so TIME_WAIT leftovers do not count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def ensure_port_free(port: int, service: str, host: str = LOOPBACK) -> None:
    """Raise ``PortInUseError`` naming the service when ``host:port`` is taken."""
    if port_in_use(port, host):
        raise PortInUseError(
            f"{service}: port {host}:{port} is already in use by another process; "
            "stop it or choose another port"
        )


def tcp_probe(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def pg_probe(url: str, timeout_s: float = 2.0) -> bool:
    """True when PostgreSQL at ``url`` accepts a login and runs ``SELECT 1``."""
    try:
        with psycopg.connect(url, connect_timeout=max(1, round(timeout_s))) as conn:
            conn.execute("SELECT 1")
            return True
    except psycopg.Error as exc:
        logger.debug("pg probe failed: %s", exc)
        return False


async def kafka_probe_async(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """True when an aiokafka client can bootstrap from ``bootstrap`` and fetch metadata."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        async with asyncio.timeout(timeout_s):
            await client.bootstrap()
            await client.fetch_all_metadata()
        return True
    except Exception as exc:  # aiokafka raises a zoo of error types; any means "not ready"
        logger.debug("kafka probe failed: %s", exc)
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.close()


def kafka_probe(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """Synchronous ``kafka_probe_async``; must not be called from a running event loop.

    A TCP probe runs first so that an absent broker costs one refused connect instead
    of aiokafka's noisy retry logging.
    """
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not tcp_probe(host or LOOPBACK, int(port)):
        return False
    return asyncio.run(kafka_probe_async(bootstrap, timeout_s))


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def wait_until(
    probe: Callable[[], bool],
    *,
    what: str,
    deadline_s: float,
    interval_s: float = 0.1,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``probe`` every ``interval_s`` until it returns True or ``deadline_s`` passes.

    ``alive`` (optional) is checked between probes so that a service whose process
    already died fails at once instead of waiting out the whole deadline.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        if probe():
            return
        if alive is not None and not alive():
            raise NotReadyError(f"{what}: the process exited before becoming ready")
        if time.monotonic() >= deadline:
            raise NotReadyError(f"{what}: not ready after {deadline_s:.0f} s")
        time.sleep(interval_s)
