"""The ``retention`` timer: drop old raw readings and 1-minute rollups (Apache edition only).

With the Timescale License edition, ``ioc db migrate`` installed a retention policy and
TimescaleDB's job scheduler does this; the timer then does nothing. With the Apache edition
there are no policies, so every worker runs ``drop_chunks`` every ``retention_interval_s``
(idempotent, so several workers doing it at once is harmless).

Horizons: raw ``readings`` are kept ``retention_days``; the 1-minute rollups
``ROLLUP_1M_FACTOR`` times longer (they are small and answer most history questions); the
1-hour rollups are kept forever.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import faust
import psycopg
from psycopg import sql

from streams.runtime import Runtime

logger = logging.getLogger(__name__)

ROLLUP_1M_FACTOR: Final = 2


async def drop_old_chunks(
    conn: psycopg.AsyncConnection[Any], retention_days: int
) -> dict[str, int]:
    """Drop chunks past their horizon; returns how many chunks each table lost."""
    horizons = {
        "readings": retention_days,
        "rollup_sensor_1m": retention_days * ROLLUP_1M_FACTOR,
        "rollup_area_1m": retention_days * ROLLUP_1M_FACTOR,
    }
    dropped: dict[str, int] = {}
    async with conn.transaction():
        for table, days in horizons.items():
            cur = await conn.execute(
                sql.SQL(
                    "SELECT count(*) FROM drop_chunks({}, older_than =>"
                    " now() - make_interval(days => %s))"
                ).format(sql.Literal(table)),
                (days,),
            )
            row = await cur.fetchone()
            dropped[table] = int(row[0]) if row else 0
    return dropped


def register(app: faust.App, rt: Runtime) -> None:
    async def retention() -> None:
        if not rt.is_started or rt.edition != "apache":
            return
        days = rt.settings.retention_days
        dropped = await rt.with_db("retention", lambda conn: drop_old_chunks(conn, days))
        if any(dropped.values()):
            logger.info("retention dropped chunks: %s", dropped)

    app.timer(rt.settings.retention_interval_s, name="retention")(retention)
