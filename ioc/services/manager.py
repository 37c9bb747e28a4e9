"""Start, stop and describe both backing services, embedded or external.

Two ways to use them:

* daemonized - ``ioc services up`` starts PostgreSQL and Tansu in their own sessions,
  records them in ``settings.run_dir / "services.json"`` (+ pid files) and exits;
  ``ioc services down`` stops them;
* in-process - ``with running(settings) as ep:`` (or ``async with
  running_async(settings)``) starts what is not already running and stops what *it*
  started on exit, exception or KeyboardInterrupt. Services already recorded as
  running (a previous ``ioc services up``) are reused and left running.

A service whose setting is given (``IOC_DATABASE_URL``, ``IOC_KAFKA_BOOTSTRAP_SERVERS``)
is *external*: it is only probed, never started or stopped.

The state file also carries ``dashboard_url`` (written by the dashboard via
``record_dashboard_url``) so that ``ioc services status`` can show every URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ioc.services import broker, postgres
from ioc.services.ports import ServiceError, free_port, kafka_probe, pg_probe
from ioc.services.timescale_build import Progress
from ioc.settings import Settings

logger = logging.getLogger(__name__)

Mode = Literal["embedded", "external"]
NOT_RUNNING = "embedded services are not running: run `ioc services up`"


class ServicesNotRunningError(ServiceError):
    """An embedded service was needed but none is recorded as running."""


@dataclass(frozen=True)
class Endpoints:
    """Where the services are reachable, and whether we run them."""

    database_url: str
    kafka_bootstrap_servers: str
    postgres_mode: Mode
    broker_mode: Mode


# --- state file ---------------------------------------------------------------------


def state_path(settings: Settings) -> Path:
    return settings.run_dir / "services.json"


@contextmanager
def _flock(settings: Settings, name: str) -> Iterator[None]:
    """Exclusive advisory lock ``run_dir/<name>.lock`` (released on close, even on crash)."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def _locked_state(settings: Settings) -> Iterator[dict[str, Any]]:
    """Read-modify-write the state file under a lock, replacing it atomically (0600)."""
    with _flock(settings, "services"):
        state = read_state(settings)
        yield state
        tmp = state_path(settings).with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, indent=2)
        os.replace(tmp, state_path(settings))


def read_state(settings: Settings) -> dict[str, Any]:
    """The state file's content ({} when absent or unreadable)."""
    try:
        data = json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_dashboard_url(settings: Settings, url: str | None) -> None:
    """Called by the dashboard when it listens (url) and when it stops (None)."""
    with _locked_state(settings) as state:
        state["dashboard_url"] = url


def _alive(settings: Settings, state: dict[str, Any], name: str) -> bool:
    """True when the embedded service recorded under ``name`` is still running."""
    entry = state.get(name) or {}
    pid = entry.get("pid")
    if entry.get("mode") != "embedded" or not isinstance(pid, int):
        return False
    if name == "postgres":
        return postgres.running_pid(settings) == pid
    return broker.is_tansu(pid)


# --- lookups ------------------------------------------------------------------------


def database_url(settings: Settings) -> str:
    """The external ``IOC_DATABASE_URL`` or the running embedded cluster's URL."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    state = read_state(settings)
    if not _alive(settings, state, "postgres"):
        raise ServicesNotRunningError(NOT_RUNNING)
    return str(state["postgres"]["url"])


def kafka_bootstrap(settings: Settings) -> str:
    """The external ``IOC_KAFKA_BOOTSTRAP_SERVERS`` or the running embedded broker's."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    state = read_state(settings)
    if not _alive(settings, state, "broker"):
        raise ServicesNotRunningError(NOT_RUNNING)
    return str(state["broker"]["bootstrap"])


# --- up / down ----------------------------------------------------------------------


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _probe_external(what: str, target: str, probe: Callable[[str], bool]) -> None:
    if not probe(target):
        raise ServiceError(f"external {what} at {mask_url(target)} is not reachable")


def up(
    settings: Settings,
    *,
    pg_port: int | None = None,
    kafka_port: int | None = None,
    progress: Progress = print,
) -> tuple[Endpoints, list[str]]:
    """Make both services available; return endpoints and the names *started now*.

    Already-running embedded services are reused. If one fails to start, the ones
    started by this call are stopped again and the error is raised.
    """
    with _flock(settings, "up"):  # two concurrent `up`s must not both start a cluster
        return _up(settings, pg_port, kafka_port, progress)


def _up(
    settings: Settings, pg_port: int | None, kafka_port: int | None, progress: Progress
) -> tuple[Endpoints, list[str]]:
    state = read_state(settings)
    started: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    try:
        if settings.database_url is not None:
            db_url = settings.database_url.get_secret_value()
            _probe_external("database", db_url, pg_probe)
            entries["postgres"] = {"mode": "external"}
        elif _alive(settings, state, "postgres"):
            db_url = state["postgres"]["url"]
        else:
            port = pg_port or free_port()
            progress(f"starting PostgreSQL+TimescaleDB on 127.0.0.1:{port}")
            pid = postgres.start(settings, port, progress=progress)
            started.append("postgres")
            db_url = postgres.url(settings, port)
            entries["postgres"] = {"mode": "embedded", "pid": pid, "port": port, "url": db_url}
        if settings.kafka_bootstrap_servers:
            bootstrap = settings.kafka_bootstrap_servers
            _probe_external("Kafka", bootstrap, kafka_probe)
            entries["broker"] = {"mode": "external"}
        elif _alive(settings, state, "broker"):
            bootstrap = state["broker"]["bootstrap"]
        else:
            port = kafka_port or free_port()
            progress(f"starting Tansu broker on 127.0.0.1:{port} (memory storage)")
            pid = broker.start(settings, port)
            started.append("broker")
            bootstrap = broker.bootstrap(port)
            entries["broker"] = {"mode": "embedded", "pid": pid, "port": port,
                                 "bootstrap": bootstrap}  # fmt: skip
    except BaseException:
        try:
            _stop(settings, {n: entries[n] for n in started})
        except ServiceError as exc:  # keep the original error; this one is secondary
            logger.warning("cleanup after a failed start: %s", exc)
        raise
    with _locked_state(settings) as new_state:
        new_state.update(entries)
    for name in started:
        _pid_file(settings, name).write_text(f"{entries[name]['pid']}\n")
    endpoints = Endpoints(
        database_url=db_url,
        kafka_bootstrap_servers=bootstrap,
        postgres_mode="external" if settings.database_url is not None else "embedded",
        broker_mode="external" if settings.kafka_bootstrap_servers else "embedded",
    )
    return endpoints, started


def _stop(settings: Settings, entries: dict[str, dict[str, Any]], timeout_s: float = 10) -> None:
    """Stop the given embedded services, collecting rather than raising errors."""
    errors = []
    for name, entry in entries.items():
        try:
            if name == "broker" and isinstance(entry.get("pid"), int):
                broker.stop(entry["pid"], timeout_s)
            elif name == "postgres":
                postgres.stop(settings, timeout_s=max(timeout_s, 30))
        except Exception as exc:
            errors.append(f"{name}: {exc}")
        _pid_file(settings, name).unlink(missing_ok=True)
    if errors:
        raise ServiceError("stopping services failed: " + "; ".join(errors))


def down(settings: Settings, timeout_s: float = 10.0, only: list[str] | None = None) -> list[str]:
    """Stop the embedded services recorded in the state file; return what was stopped."""
    with _locked_state(settings) as state:
        names = [n for n in (only or ["broker", "postgres"]) if _alive(settings, state, n)]
        if only is None:  # also catch services whose state entry was lost
            if postgres.running_pid(settings) and "postgres" not in names:
                names.append("postgres")
            orphan = _read_pid(_pid_file(settings, "broker"))
            if "broker" not in names and orphan and broker.is_tansu(orphan):
                names.append("broker")
                state["broker"] = {"mode": "embedded", "pid": orphan}
        try:
            _stop(settings, {n: state.get(n) or {} for n in names}, timeout_s)
        finally:
            for n in only or ["broker", "postgres"]:
                state.pop(n, None)
    return names


@contextmanager
def running(
    settings: Settings,
    *,
    pg_port: int | None = None,
    kafka_port: int | None = None,
    progress: Progress = print,
) -> Iterator[Endpoints]:
    """Services available inside the block; what this call started is stopped after."""
    endpoints, started = up(settings, pg_port=pg_port, kafka_port=kafka_port, progress=progress)
    try:
        yield endpoints
    finally:
        if started:
            down(settings, only=started)


@asynccontextmanager
async def running_async(
    settings: Settings,
    *,
    pg_port: int | None = None,
    kafka_port: int | None = None,
    progress: Progress = print,
) -> AsyncIterator[Endpoints]:
    """``running`` for asyncio code: start/stop run in a worker thread.

    If the task is cancelled while services start, the start is allowed to finish
    and then everything it started is stopped, so nothing leaks.
    """
    task = asyncio.ensure_future(
        asyncio.to_thread(up, settings, pg_port=pg_port, kafka_port=kafka_port, progress=progress)
    )
    try:
        endpoints, started = await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            _, late = await task
            await asyncio.to_thread(down, settings, only=late)
        raise
    try:
        yield endpoints
    finally:
        if started:
            await asyncio.to_thread(down, settings, only=started)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and tables)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"


def status(settings: Settings) -> dict[str, Any]:
    """Everything ``ioc services status --json`` prints (URLs unmasked: it is for tools)."""
    state = read_state(settings)
    out: dict[str, Any] = {"database_url": None, "kafka_bootstrap_servers": None}
    for name in ("postgres", "broker"):
        external = (
            settings.database_url is not None
            if name == "postgres"
            else bool(settings.kafka_bootstrap_servers)
        )
        entry = state.get(name) or {}
        alive = _alive(settings, state, name)
        out[name] = {
            "mode": "external" if external else "embedded",
            "running": None if external else alive,
            "pid": entry.get("pid") if alive else None,
            "port": entry.get("port") if alive else None,
        }
    if not settings.kafka_bootstrap_servers:
        out["broker"]["storage"] = "memory: topics and messages are lost when the broker stops"
    else:
        out["broker"]["storage"] = None
    out["mode"] = {name: out[name]["mode"] for name in ("postgres", "broker")}
    with contextlib.suppress(ServicesNotRunningError):
        out["database_url"] = database_url(settings)
    with contextlib.suppress(ServicesNotRunningError):
        out["kafka_bootstrap_servers"] = kafka_bootstrap(settings)
    edition = version = None
    if out["database_url"] and pg_probe(out["database_url"]):
        edition, version = postgres.timescaledb_info(out["database_url"])
    out["timescaledb_edition"], out["timescaledb_version"] = edition, version
    out["rollup_mode"] = {"timescale": "continuous_aggregates", "apache": "streams"}.get(
        edition or ""
    )
    out["dashboard_url"] = state.get("dashboard_url")
    return out
