"""``ioc services up|down|status``: the embedded database and broker as daemons.

``up`` leaves PostgreSQL+TimescaleDB and Tansu running after the command exits (for
``ioc worker``, ``ioc dashboard`` ... in other terminals); ``down`` stops them.
``status --json`` is the machine-readable way for scripts to find the URLs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from ioc.services import manager
from ioc.services.ports import ServiceError
from ioc.settings import Settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("services", help="embedded PostgreSQL+TimescaleDB and Kafka")
    sub = group.add_subparsers(dest="services_command", required=True)
    p = sub.add_parser("up", help="start the embedded services in the background")
    p.add_argument("--pg-port", type=int, default=None, help="PostgreSQL port (default: free)")
    p.add_argument("--kafka-port", type=int, default=None, help="broker port (default: free)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop the embedded services")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds before SIGKILL")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="show what runs where")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    def progress(line: str) -> None:
        print(line, flush=True)

    try:
        endpoints, started = manager.up(
            settings, pg_port=args.pg_port, kafka_port=args.kafka_port, progress=progress
        )
    except ServiceError as exc:
        return _fail(exc)
    reused = "" if started else " (already running)"
    print(f"database: {manager.mask_url(endpoints.database_url)} [{endpoints.postgres_mode}]")
    print(f"kafka:    {endpoints.kafka_bootstrap_servers} [{endpoints.broker_mode}]{reused}")
    print("stop with `ioc services down`; `ioc services status --json` shows the full URLs")
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    try:
        stopped = manager.down(settings, timeout_s=args.timeout)
    except ServiceError as exc:
        return _fail(exc)
    print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def _table(info: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        return "-" if value is None else str(value)

    db_url = info["database_url"]
    rows = [
        ("SERVICE", "MODE", "RUNNING", "PID", "ADDRESS"),
        ("postgres", info["postgres"]["mode"], show(info["postgres"]["running"]),
         show(info["postgres"]["pid"]), manager.mask_url(db_url) if db_url else "-"),
        ("broker", info["broker"]["mode"], show(info["broker"]["running"]),
         show(info["broker"]["pid"]), show(info["kafka_bootstrap_servers"])),
        ("dashboard", "-", "-", "-", show(info["dashboard_url"])),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[4]
             for row in rows]  # fmt: skip
    lines.append("")
    if info["timescaledb_version"]:
        lines.append(
            f"TimescaleDB: {info['timescaledb_version']} ({info['timescaledb_edition']} "
            f"edition), rollups by {show(info['rollup_mode'])}"
        )
    else:
        lines.append("TimescaleDB: unknown (database not running or extension unavailable)")
    if info["broker"]["storage"]:
        lines.append(f"broker storage: {info['broker']['storage']}")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    try:
        info = manager.status(settings)
    except ServiceError as exc:
        return _fail(exc)
    print(json.dumps(info, indent=2) if args.json else _table(info))
    return 0
