"""The snapshot a websocket client gets on (re)subscribe and resync, from TimescaleDB.

Live messages only carry changes; the snapshot carries the state they apply to: areas and
sensors (names and positions), the latest reading per sensor and quantity, the last 60
minutes of per-area 1-minute rollups, active alerts, open alarms, cameras with their
violations of the last hour, and the workers seen alive. The rollup window
is anchored on the newest stored bucket, not on the wall clock, so a replay of past data
charts as well as live data.

Only the parts of the caller's channels are included. Format::

    {"type": "snapshot", "time": ISO, "channels": [...], "areas": [...], "sensors": [...],
     "latest": [...], "rollups": [...], "alerts": [...], "alarms": [...], "cameras": [...],
     "violations_hour": [...], "workers": [...]}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from dashboard.responses import dumps
from ioc.domain.alarms import alarm_doc
from ioc.storage.alarms import open_alarms

logger = logging.getLogger(__name__)

ROLLUP_WINDOW_MIN = 60

_AREAS = "SELECT id, name, name_vi, kind FROM areas ORDER BY name"
_SENSORS = "SELECT id, kind, name, area_id, lat, lon FROM sensors WHERE active ORDER BY id"
_LATEST = """
    SELECT l.sensor_id, s.area_id, a.name AS area_name, a.name_vi AS area_name_vi,
           l.quantity, l.time, l.value, l.unit
    FROM latest_readings l JOIN sensors s ON s.id = l.sensor_id
    LEFT JOIN areas a ON a.id = s.area_id
    ORDER BY s.area_id, l.sensor_id, l.quantity"""
_ROLLUPS = """
    WITH newest AS (SELECT max(bucket) AS b FROM rollup_area_1m_v)
    SELECT r.bucket, r.area_id, r.quantity, r.count, r.mean, r.min, r.max
    FROM rollup_area_1m_v r, newest
    WHERE r.bucket > newest.b - make_interval(mins => %s)
    ORDER BY r.bucket"""
_ALERTS = """
    SELECT a.id AS alert_id, a.sensor_id, s.area_id, a.quantity, a.level, a.severity,
           a.value, a.peak_value AS peak, a.updated_at AS time, a.raised_at, a.message
    FROM alerts a LEFT JOIN sensors s ON s.id = a.sensor_id
    WHERE a.state = 'active'
    ORDER BY a.severity DESC, a.raised_at DESC LIMIT 500"""


_CAMERAS = "SELECT id, name, area_id, lat, lon FROM cameras WHERE active ORDER BY id"
_VIOLATIONS_HOUR = """
    SELECT camera_id, count(*) AS count FROM violations
    WHERE time > now() - interval '1 hour' GROUP BY camera_id ORDER BY camera_id"""


class SnapshotBuilder:
    def __init__(
        self, pool: AsyncConnectionPool, workers: Callable[[], list[dict[str, Any]]]
    ) -> None:
        self._pool = pool
        self._workers = workers

    async def build(self, channels: frozenset[str]) -> str:
        """JSON text of the snapshot for ``channels``."""
        doc: dict[str, Any] = {
            "type": "snapshot",
            "time": datetime.now(UTC),
            "channels": sorted(channels),
        }
        async with self._pool.connection() as db:
            cur = db.cursor(row_factory=dict_row)
            if channels & {"sensors", "alerts"}:
                doc["areas"] = await (await cur.execute(_AREAS)).fetchall()
                doc["sensors"] = await (await cur.execute(_SENSORS)).fetchall()
            if "sensors" in channels:
                doc["latest"] = await (await cur.execute(_LATEST)).fetchall()
                rollups = await cur.execute(_ROLLUPS, (ROLLUP_WINDOW_MIN,))
                doc["rollups"] = await rollups.fetchall()
            if "alerts" in channels:
                doc["alerts"] = await (await cur.execute(_ALERTS)).fetchall()
            if "alarms" in channels:
                doc["alarms"] = [alarm_doc(a) for a in await open_alarms(db)]
            if "cameras" in channels:
                doc["cameras"] = await (await cur.execute(_CAMERAS)).fetchall()
                doc["violations_hour"] = await (await cur.execute(_VIOLATIONS_HOUR)).fetchall()
        if "system" in channels:
            doc["workers"] = self._workers()
        return dumps(doc)
