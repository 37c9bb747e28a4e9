"""Registry of areas and sensors: loaded from files the city can replace, kept in the database.

Areas: GeoJSON features (``id``; ``name_en``/``name``; ``name_vi``; ``label_lon``/``label_lat``
or ``centroid_lon``/``centroid_lat``) or a CSV with columns ``id,name,lat,lon[,name_vi,kind]``.
Sensors: CSV with columns ``id,kind,name,area_id,lat,lon``.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ioc.domain.observation import SensorInfo

logger = logging.getLogger(__name__)


class RegistryFileError(ValueError):
    """A registry file is missing, malformed or inconsistent; the message names file and row."""


@dataclass(frozen=True)
class Area:
    id: str
    name: str
    name_vi: str | None
    kind: str
    lat: float | None
    lon: float | None
    geometry: dict[str, Any] | None


@dataclass(frozen=True)
class Sensor:
    id: str
    kind: str
    name: str
    area_id: str | None
    lat: float | None
    lon: float | None


def _float(value: Any, where: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise RegistryFileError(f"{where}: {value!r} is not a number") from exc


def read_areas(path: Path) -> list[Area]:
    """Areas from a GeoJSON FeatureCollection or a CSV file."""
    if not path.is_file():
        raise RegistryFileError(f"areas file {path} does not exist (setting IOC_AREAS_FILE)")
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [
            Area(
                r["id"],
                r["name"],
                r.get("name_vi") or None,
                r.get("kind") or "area",
                _float(r.get("lat"), f"{path}:{i + 2} lat"),
                _float(r.get("lon"), f"{path}:{i + 2} lon"),
                None,
            )
            for i, r in enumerate(rows)
        ]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        features = doc["features"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryFileError(f"{path}: not a GeoJSON FeatureCollection ({exc})") from exc
    areas = []
    for i, feat in enumerate(features):
        props = feat.get("properties") or {}
        fid = feat.get("id") or props.get("id")
        if fid is None:
            raise RegistryFileError(f"{path}: feature {i} has no id")
        name = props.get("name_en") or props.get("name") or str(fid)
        lat = props.get("label_lat", props.get("centroid_lat"))
        lon = props.get("label_lon", props.get("centroid_lon"))
        kind = str(props.get("type_en") or "area")
        areas.append(
            Area(
                str(fid),
                str(name),
                props.get("name_vi"),
                kind,
                _float(lat, f"{path} feature {fid} lat"),
                _float(lon, f"{path} feature {fid} lon"),
                feat.get("geometry"),
            )
        )
    return areas


def read_sensors(path: Path) -> list[Sensor]:
    if not path.is_file():
        raise RegistryFileError(f"sensors file {path} does not exist (setting IOC_SENSORS_FILE)")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i, r in enumerate(rows):
        where = f"{path}:{i + 2}"
        if not r.get("id") or not r.get("kind"):
            raise RegistryFileError(f"{where}: id and kind are required")
        out.append(
            Sensor(
                r["id"],
                r["kind"],
                r.get("name") or r["id"],
                r.get("area_id") or None,
                _float(r.get("lat"), f"{where} lat"),
                _float(r.get("lon"), f"{where} lon"),
            )
        )
    return out


def seed(conn: psycopg.Connection[Any], areas: list[Area], sensors: list[Sensor]) -> None:
    """Upsert areas and sensors (idempotent). Unknown area ids in sensors are refused."""
    known = {a.id for a in areas} | {
        str(r[0]) for r in conn.execute("SELECT id FROM areas").fetchall()
    }
    for s in sensors:
        if s.area_id is not None and s.area_id not in known:
            raise RegistryFileError(f"sensor {s.id}: area {s.area_id!r} is not a known area")
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO areas (id, name, name_vi, kind, lat, lon, geometry) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "name = EXCLUDED.name, name_vi = EXCLUDED.name_vi, kind = EXCLUDED.kind, "
                "lat = EXCLUDED.lat, lon = EXCLUDED.lon, geometry = EXCLUDED.geometry, updated_at = now()",
                [
                    (
                        a.id,
                        a.name,
                        a.name_vi,
                        a.kind,
                        a.lat,
                        a.lon,
                        Jsonb(a.geometry) if a.geometry is not None else None,
                    )
                    for a in areas
                ],
            )
            cur.executemany(
                "INSERT INTO sensors (id, kind, name, area_id, lat, lon) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, "
                "area_id = EXCLUDED.area_id, lat = EXCLUDED.lat, lon = EXCLUDED.lon, updated_at = now()",
                [(s.id, s.kind, s.name, s.area_id, s.lat, s.lon) for s in sensors],
            )
    logger.info("registry seeded: %d areas, %d sensors", len(areas), len(sensors))


def load_sensor_index(conn: psycopg.Connection[Any]) -> dict[str, SensorInfo]:
    """What validation needs: active sensors by id."""
    rows = conn.execute("SELECT id, kind, area_id FROM sensors WHERE active").fetchall()
    return {str(r[0]): SensorInfo(str(r[1]), None if r[2] is None else str(r[2])) for r in rows}


async def aload_sensor_index(conn: psycopg.AsyncConnection[Any]) -> dict[str, SensorInfo]:
    cur = await conn.execute("SELECT id, kind, area_id FROM sensors WHERE active")
    rows = await cur.fetchall()
    return {str(r[0]): SensorInfo(str(r[1]), None if r[2] is None else str(r[2])) for r in rows}
