"""``ioc db migrate|seed``: schema and registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ioc.services.manager import database_url
from ioc.settings import Settings
from ioc.storage.db import connect
from ioc.storage.migrate import migrate
from ioc.storage.registry import read_areas, read_sensors, seed


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("db", help="database schema and registry")
    sub = group.add_subparsers(dest="db_command", required=True)
    p = sub.add_parser("migrate", help="apply numbered migrations (idempotent)")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("seed", help="load areas and sensors from the registry files")
    p.add_argument("--areas", type=Path, default=None, help="areas GeoJSON/CSV (IOC_AREAS_FILE)")
    p.add_argument("--sensors", type=Path, default=None, help="sensors CSV (IOC_SENSORS_FILE)")
    p.set_defaults(func=cmd_seed)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with connect(database_url(settings)) as conn:
        report = migrate(conn, retention_days=settings.retention_days)
    if args.json:
        print(
            json.dumps(
                {
                    "applied": report.applied,
                    "already_applied": report.already,
                    "timescaledb_edition": report.edition,
                    "timescaledb_version": report.timescaledb_version,
                }
            )
        )
    else:
        print(
            f"TimescaleDB {report.timescaledb_version} ({report.edition} edition); "
            f"applied {len(report.applied)} migration(s), {report.already} already applied"
        )
        for name in report.applied:
            print(f"  + {name}")
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    areas = read_areas(args.areas or settings.areas_file)
    sensors = read_sensors(args.sensors or settings.sensors_file)
    with connect(database_url(settings)) as conn:
        seed(conn, areas, sensors)
    print(f"seeded {len(areas)} areas and {len(sensors)} sensors")
    return 0
