"""The readings sink: one PostgreSQL transaction per batch, idempotent, COPY-fast.

Why it looks like this:

* **COPY into a staging table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING``.** COPY is
  the fastest way in, but it cannot skip duplicates; the ``INSERT … SELECT`` can. The staging
  table is a ``TEMP … ON COMMIT DELETE ROWS`` table created once per pooled connection
  (:func:`prepare_connection`, the pool's ``configure`` hook), so a batch runs no DDL. The
  COPY is **binary** with declared types (:func:`copy_rows`): psycopg's C row writer costs
  about a third of formatting the text format in Python, and the server parses no text.
* **Only newly inserted rows are rolled up.** ``RETURNING`` tells which rows of the batch were
  new; only those are aggregated (:mod:`ioc.domain.rollup`) and merged into the rollup tables
  with ``count = t.count + excluded.count …``. A replay or a retry inserts nothing, so it adds
  nothing to any window. Late data of any age merges into its own window (no watermark).
* **Everything in one transaction**: raw rows, rollups, ``latest_readings`` and dead letters
  commit together, so a crash leaves either all of a batch or none of it; the Kafka offsets are
  committed only after this returns (see :mod:`streams.agents.ingest`).
* With the Timescale License edition the rollup merge is skipped (continuous aggregates do it),
  and the touched windows for the live page are read back from the ``rollup_area_1m_v`` view.

Example::

    async with pool.connection() as conn:
        result = await write_batch(conn, observations, dead_letters, merge_rollups=True)
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg import sql

from ioc.domain.observation import Observation
from ioc.domain.rollup import WINDOWS, Agg, RollupKey, bucket_start, rollup

STAGING: Final = "ioc_staging_readings"
_STAGING_DDL: Final = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS {} ("
    " time timestamptz NOT NULL, sensor_id text NOT NULL, quantity text NOT NULL,"
    " value double precision NOT NULL, unit text NOT NULL, quality text NOT NULL,"
    " event_id uuid NOT NULL) ON COMMIT DELETE ROWS"
).format(sql.Identifier(STAGING))
COPY_COLUMNS: Final = "time, sensor_id, quantity, value, unit, quality, event_id"
COPY_TYPES: Final = ("timestamptz", "text", "text", "float8", "text", "text", "uuid")
_COPY: Final = sql.SQL(
    "COPY {} (time, sensor_id, quantity, value, unit, quality, event_id) FROM STDIN (FORMAT BINARY)"
).format(sql.Identifier(STAGING))
_INSERT: Final = sql.SQL(
    "INSERT INTO readings (time, sensor_id, quantity, value, unit, quality, event_id)"
    " SELECT time, sensor_id, quantity, value, unit, quality, event_id FROM {}"
    " ON CONFLICT DO NOTHING RETURNING event_id, time"
).format(sql.Identifier(STAGING))
_LATEST: Final = (
    "INSERT INTO latest_readings AS l (sensor_id, quantity, time, value, unit)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::float8[], %s::text[])"
    " ON CONFLICT (sensor_id, quantity) DO UPDATE"
    " SET time = excluded.time, value = excluded.value, unit = excluded.unit"
    " WHERE l.time < excluded.time"
)
_DEAD: Final = (
    "INSERT INTO dead_letters (source, reason, detail, payload, dedup_key)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
    " ON CONFLICT (dedup_key) DO NOTHING RETURNING reason"
)
# Every rollup table the streams maintain, with its owner column.
ROLLUP_TABLES: Final = (
    ("rollup_sensor_1m", "sensor_id"),
    ("rollup_sensor_1h", "sensor_id"),
    ("rollup_area_1m", "area_id"),
    ("rollup_area_1h", "area_id"),
)
# COPY text format: these characters must be backslash-escaped inside a field.
_COPY_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One refused item or message, stored with why it was refused."""

    dedup_key: str
    source: str
    reason: str
    detail: str
    payload: str


@dataclass(frozen=True, slots=True)
class Window:
    """Merged totals of one stored rollup window (what the live page shows)."""

    bucket: datetime
    owner: str
    quantity: str
    agg: Agg


@dataclass(slots=True)
class SinkResult:
    """What one committed batch changed."""

    inserted: list[Observation] = field(default_factory=list)
    latest: list[Observation] = field(default_factory=list)  # newest new reading per key
    area_windows: list[Window] = field(default_factory=list)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)


async def prepare_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """Pool ``configure`` hook: the connection's staging table, created once."""
    await conn.execute(_STAGING_DDL)
    await conn.commit()


def clean_text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; it becomes U+FFFD (the rest is kept as sent)."""
    return value.replace("\x00", "\ufffd")


def _copy_field(value: str) -> str:
    """A text field escaped for COPY's text format."""
    return clean_text(value.translate(_COPY_ESCAPES))


class _Escaped(dict[str, str]):
    """Escaped COPY fields, computed once per distinct value (identifiers repeat a lot)."""

    def __missing__(self, value: str) -> str:
        out = self[value] = _copy_field(value)
        return out


def copy_text(observations: Sequence[Observation]) -> bytes:
    """The COPY ``text`` format of the batch; hand-made because it is the hot loop.

    UUIDs go as 32 hex digits (accepted by PostgreSQL, cheaper to format than the dashed form).
    """
    e = _Escaped()
    return "".join(
        [
            f"{o.time.isoformat()}\t{e[o.sensor_id]}\t{e[o.quantity]}\t{o.value!r}\t"
            f"{e[o.unit]}\t{e[o.quality]}\t{o.event_id.hex}\n"
            for o in observations
        ]
    ).encode("utf-8")


async def copy_rows(copy: psycopg.AsyncCopy, observations: Sequence[Observation]) -> None:
    """Write the batch to a binary ``COPY … (time, sensor_id, quantity, value, unit, quality,
    event_id) FROM STDIN (FORMAT BINARY)``. Text fields are validated identifiers (registry,
    catalogue); NUL, which PostgreSQL text cannot hold, is still replaced (once per value)."""
    copy.set_types(list(COPY_TYPES))
    clean: dict[str, str] = {}

    def c(value: str) -> str:
        out = clean.get(value)
        if out is None:
            out = clean[value] = clean_text(value)
        return out

    write = copy.write_row
    for o in observations:
        await write(
            (o.time, c(o.sensor_id), c(o.quantity), o.value, c(o.unit), c(o.quality), o.event_id)
        )


def rollups(new: Sequence[Observation]) -> dict[str, dict[RollupKey, Agg]]:
    """All four rollups of a batch, keyed by table, from ONE pass over the readings.

    The per-sensor 1-minute windows come from :func:`ioc.domain.rollup.rollup`; the 1-hour
    and per-area windows are merges of those partial aggregates (an hour is the merge of its
    minutes, an area the merge of its sensors), which is exact for count, min and max and
    equal up to float rounding for the sum - and four times cheaper than four passes.
    """
    sensor_1m = rollup(new, WINDOWS["1m"], by="sensor")
    area_of = {o.sensor_id: o.area_id for o in new}  # one registry per batch: consistent
    hour = WINDOWS["1h"]

    def fold(
        parts: dict[RollupKey, Agg], rekey: Callable[[RollupKey], RollupKey | None]
    ) -> dict[RollupKey, Agg]:
        out: dict[RollupKey, Agg] = {}
        for key, agg in parts.items():
            target = rekey(key)
            if target is not None:
                seen = out.get(target)
                out[target] = agg if seen is None else seen.merge(agg)
        return out

    def to_area(key: RollupKey) -> RollupKey | None:
        area = area_of[key[1]]
        return None if area is None else (key[0], area, key[2])

    area_1m = fold(sensor_1m, to_area)
    return {
        "rollup_sensor_1m": sensor_1m,
        "rollup_sensor_1h": fold(sensor_1m, lambda k: (bucket_start(k[0], hour), k[1], k[2])),
        "rollup_area_1m": area_1m,
        "rollup_area_1h": fold(area_1m, lambda k: (bucket_start(k[0], hour), k[1], k[2])),
    }


def _merge_sql(table: str, owner: str) -> sql.Composed:
    t, o = sql.Identifier(table), sql.Identifier(owner)
    return sql.SQL(
        "INSERT INTO {t} AS t (bucket, {o}, quantity, count, sum, min, max)"
        " SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::bigint[],"
        " %s::float8[], %s::float8[], %s::float8[])"
        " ON CONFLICT ({o}, quantity, bucket) DO UPDATE SET count = t.count + excluded.count,"
        " sum = t.sum + excluded.sum, min = least(t.min, excluded.min),"
        " max = greatest(t.max, excluded.max)"
        " RETURNING bucket, {o}, quantity, count, sum, min, max"
    ).format(t=t, o=o)


def _columns(parts: dict[RollupKey, Agg]) -> list[list[Any]]:
    keys = list(parts)
    aggs = [parts[k] for k in keys]
    return [
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [a.count for a in aggs],
        [a.sum for a in aggs],
        [a.min for a in aggs],
        [a.max for a in aggs],
    ]


def _windows(rows: list[tuple[Any, ...]]) -> list[Window]:
    return [
        Window(r[0], str(r[1]), str(r[2]), Agg(int(r[3]), float(r[4]), float(r[5]), float(r[6])))
        for r in rows
    ]


def latest_per_key(observations: Sequence[Observation]) -> list[Observation]:
    """The newest reading per (sensor, quantity)."""
    best: dict[tuple[str, str], Observation] = {}
    for obs in observations:
        key = (obs.sensor_id, obs.quantity)
        seen = best.get(key)
        if seen is None or obs.time > seen.time:
            best[key] = obs
    return list(best.values())


async def _insert_readings(
    conn: psycopg.AsyncConnection[Any], observations: Sequence[Observation]
) -> list[Observation]:
    """COPY → staging → readings; returns the observations that were new."""
    if not observations:
        return []
    async with conn.cursor() as cur:
        async with cur.copy(_COPY) as copy:
            await copy_rows(copy, observations)
        await cur.execute(_INSERT)
        if cur.rowcount == len(observations):  # all new: no need to convert the rows
            return list(observations)
        returned = await cur.fetchall()
    by_key = {(o.event_id, o.time): o for o in observations}
    new: list[Observation] = []
    for event_id, time in returned:
        key = (event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)), time)
        new.append(by_key[key])
    return new


async def _touched_area_windows(
    conn: psycopg.AsyncConnection[Any], keys: list[RollupKey]
) -> list[Window]:
    """Timescale edition: totals of the touched windows, from the continuous aggregate view."""
    if not keys:
        return []
    cur = await conn.execute(
        "SELECT v.bucket, v.area_id, v.quantity, v.count, v.mean * v.count, v.min, v.max"
        " FROM rollup_area_1m_v v JOIN unnest(%s::timestamptz[], %s::text[], %s::text[])"
        " AS k(bucket, area_id, quantity) USING (bucket, area_id, quantity)",
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]),
    )
    return _windows(await cur.fetchall())


async def write_batch(
    conn: psycopg.AsyncConnection[Any],
    observations: Sequence[Observation],
    dead_letters: Sequence[DeadLetter],
    *,
    merge_rollups: bool,
) -> SinkResult:
    """Store one batch atomically; safe to call again with the same batch (idempotent)."""
    result = SinkResult()
    async with conn.transaction():
        result.inserted = new = await _insert_readings(conn, observations)
        parts_of = rollups(new) if new else {}
        area_1m = parts_of.get("rollup_area_1m", {})
        async with conn.pipeline():
            cursors = []
            if new and merge_rollups:
                for table, owner in ROLLUP_TABLES:
                    parts = parts_of[table]
                    if parts:
                        cur = conn.cursor()
                        await cur.execute(_merge_sql(table, owner), _columns(parts))
                        cursors.append((table, cur))
            if new:
                result.latest = latest = latest_per_key(new)
                await conn.execute(
                    _LATEST,
                    (
                        [o.sensor_id for o in latest],
                        [o.quantity for o in latest],
                        [o.time for o in latest],
                        [o.value for o in latest],
                        [o.unit for o in latest],
                    ),
                )
            dead_cur = None
            if dead_letters:
                dead_cur = conn.cursor()
                await dead_cur.execute(
                    _DEAD,
                    (
                        [clean_text(d.source) for d in dead_letters],
                        [d.reason for d in dead_letters],
                        [clean_text(d.detail) for d in dead_letters],
                        [clean_text(d.payload) for d in dead_letters],
                        [clean_text(d.dedup_key) for d in dead_letters],
                    ),
                )
            for table, cur in cursors:
                rows = await cur.fetchall()
                if table == "rollup_area_1m":
                    result.area_windows = _windows(rows)
            if dead_cur is not None:
                result.dead_letter_reasons = Counter(str(r[0]) for r in await dead_cur.fetchall())
        if new and not merge_rollups:
            result.area_windows = await _touched_area_windows(conn, list(area_1m))
    return result
