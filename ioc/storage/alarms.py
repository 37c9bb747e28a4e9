"""Storage of unified alarms: the current row in ``alarms``, every transition in
``alarm_events`` (hypertable, migration 0010).

Each call is one transaction that locks the alarm row (``SELECT … FOR UPDATE``), feeds the
pure state machine (:func:`ioc.domain.alarms.apply`) and stores what it returns, so the
stream agent and operators' HTTP requests never overwrite each other. Idempotent: an input
whose event id is already stored changes nothing (a replayed message, a retried request).

Example::

    async with pool.connection() as conn:
        change = await apply_signal(conn, signal)        # None: nothing new
        change = await apply_action(conn, alarm_id, Acknowledge(...))
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ioc.domain.alarms import (
    Action,
    Alarm,
    AlarmError,
    AlarmEvent,
    Signal,
    apply,
)

COLUMNS = (
    "id",
    "source_kind",
    "source_ref",
    "severity",
    "active",
    "acknowledged",
    "title",
    "area_id",
    "detail",
    "assignee",
    "raised_at",
    "updated_at",
    "cleared_at",
    "acked_at",
    "acked_by",
    "closed_at",
    "version",
    "source_time",
)
_COLS = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
_SELECT = sql.SQL("SELECT {} FROM alarms ").format(_COLS)
_BY_SOURCE = _SELECT + sql.SQL(
    "WHERE source_kind = %s AND source_ref = %s AND closed_at IS NULL FOR UPDATE"
)
_BY_ID = _SELECT + sql.SQL("WHERE id = %s FOR UPDATE")
_GET = _SELECT + sql.SQL("WHERE id = %s")
_OPEN = _SELECT + sql.SQL(
    "WHERE closed_at IS NULL"
    " ORDER BY active DESC, acknowledged, severity DESC, raised_at DESC LIMIT %s"
)
_RECENT_CLOSED = _SELECT + sql.SQL("WHERE closed_at IS NOT NULL ORDER BY closed_at DESC LIMIT %s")
_UPSERT = sql.SQL(
    "INSERT INTO alarms ({cols}) VALUES ({values}) ON CONFLICT (id) DO UPDATE SET {updates}"
).format(
    cols=_COLS,
    values=sql.SQL(", ").join(sql.Placeholder(c) for c in COLUMNS),
    updates=sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
        for c in COLUMNS
        if c not in ("id", "source_kind", "source_ref", "raised_at")
    ),
)
_SEEN = "SELECT 1 FROM alarm_events WHERE event_id = %s LIMIT 1"
_EVENT = """
    INSERT INTO alarm_events (time, alarm_id, event_id, kind, actor, severity, text)
    VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"""
_HISTORY = """
    SELECT event_id, kind, time, actor, severity, text FROM alarm_events
    WHERE alarm_id = %s ORDER BY time, kind LIMIT %s"""


@dataclass(frozen=True, slots=True)
class AlarmChange:
    alarm: Alarm
    events: list[AlarmEvent]


def _row(row: dict[str, Any]) -> Alarm:
    return Alarm(**row)


def _params(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "source_kind": alarm.source_kind,
        "source_ref": alarm.source_ref,
        "severity": alarm.severity,
        "active": alarm.active,
        "acknowledged": alarm.acknowledged,
        "title": alarm.title,
        "area_id": alarm.area_id,
        "detail": Jsonb(alarm.detail),
        "assignee": alarm.assignee,
        "raised_at": alarm.raised_at,
        "updated_at": alarm.updated_at,
        "cleared_at": alarm.cleared_at,
        "acked_at": alarm.acked_at,
        "acked_by": alarm.acked_by,
        "closed_at": alarm.closed_at,
        "version": alarm.version,
        "source_time": alarm.source_time or alarm.raised_at,
    }


async def _seen(cur: psycopg.AsyncCursor[Any], event_id: uuid.UUID) -> bool:
    return await (await cur.execute(_SEEN, (event_id,))).fetchone() is not None


async def _store(cur: psycopg.AsyncCursor[Any], alarm: Alarm, events: list[AlarmEvent]) -> None:
    await cur.execute(_UPSERT, _params(alarm))
    await cur.executemany(
        _EVENT,
        [(e.time, e.alarm_id, e.event_id, e.kind, e.actor, e.severity, e.text) for e in events],
    )


async def apply_signal(conn: psycopg.AsyncConnection[Any], signal: Signal) -> AlarmChange | None:
    """Feed a source signal to that source's open alarm and commit; ``None``: nothing new."""
    for attempt in range(2):
        try:
            async with conn.transaction():
                cur = conn.cursor(row_factory=dict_row)
                if await _seen(cur, signal.event_id):
                    return None
                key = (signal.source_kind, signal.source_ref)
                row = await (await cur.execute(_BY_SOURCE, key)).fetchone()
                current = _row(row) if row else None
                alarm, events = apply(current, signal)
                if alarm is None or not events:
                    return None
                await _store(cur, alarm, events)
                return AlarmChange(alarm, events)
        except psycopg.errors.UniqueViolation:
            if attempt:  # two writers raised the same source at once: the loser retries
                raise
    return None


async def apply_action(
    conn: psycopg.AsyncConnection[Any], alarm_id: uuid.UUID, action: Action
) -> AlarmChange:
    """An operator's action on one alarm (commits). Raises :class:`AlarmError`.

    A retried request (same event id) answers with the alarm as it is, without new events.
    """
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        row = await (await cur.execute(_BY_ID, (alarm_id,))).fetchone()
        if row is None:
            raise AlarmError("not_found", "no such alarm")
        current = _row(row)
        if await _seen(cur, action.event_id):
            return AlarmChange(current, [])
        alarm, events = apply(current, action)
        assert alarm is not None
        if events:
            await _store(cur, alarm, events)
        return AlarmChange(alarm, events)


async def open_alarms(conn: psycopg.AsyncConnection[Any], limit: int = 500) -> list[Alarm]:
    cur = conn.cursor(row_factory=dict_row)
    return [_row(r) for r in await (await cur.execute(_OPEN, (limit,))).fetchall()]


async def recently_closed(conn: psycopg.AsyncConnection[Any], limit: int = 50) -> list[Alarm]:
    cur = conn.cursor(row_factory=dict_row)
    return [_row(r) for r in await (await cur.execute(_RECENT_CLOSED, (limit,))).fetchall()]


async def get_alarm(conn: psycopg.AsyncConnection[Any], alarm_id: uuid.UUID) -> Alarm | None:
    cur = conn.cursor(row_factory=dict_row)
    row = await (await cur.execute(_GET, (alarm_id,))).fetchone()
    return _row(row) if row else None


async def history(
    conn: psycopg.AsyncConnection[Any], alarm_id: uuid.UUID, limit: int = 500
) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    return list(await (await cur.execute(_HISTORY, (alarm_id, limit))).fetchall())
