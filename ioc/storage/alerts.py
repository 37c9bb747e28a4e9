"""Alert state and alert events in PostgreSQL, written idempotently.

The state machine is pure (:mod:`ioc.domain.alerts`); this module loads its starting state and
stores what it decided:

* ``alert_events`` is unique on ``(event_id, time)`` and event ids are deterministic, so writing
  the same event twice (a retry, a replay) inserts it once. Only events that were *new* are
  returned, so only those are announced on the live page.
* ``alerts`` is upserted by id; updates only move forward (``updated_at <= event time``) and a
  clear only applies to an active alert. The partial unique index allows one active alert per
  (sensor, quantity): a "raised" that collides with another active alert is not stored and is
  reported back (:attr:`AlertWrite.conflicts`) so the caller reloads its stale state.

Example::

    states = await load_states(conn, catalogue)
    written = await write_events(conn, [StoredEvent("hp-aq-1", quantity, event)])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ioc.domain.alerts import AlertEvent, AlertState
from ioc.domain.catalogue import Catalogue, Quantity

logger = logging.getLogger(__name__)

AlertKey = tuple[str, str]  # (sensor_id, quantity)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An alert event with what it is about."""

    sensor_id: str
    quantity: Quantity
    event: AlertEvent


@dataclass(slots=True)
class AlertWrite:
    """Outcome of :func:`write_events`."""

    new: list[StoredEvent] = field(default_factory=list)
    conflicts: set[AlertKey] = field(default_factory=set)


def _level_index(quantity: Quantity | None, name: str) -> int:
    """Index of a stored level name; 0 if the catalogue no longer has it (still active)."""
    if quantity is None:
        return 0
    for index, level in enumerate(quantity.levels):
        if level.name == name:
            return index
    return 0


async def load_states(
    conn: psycopg.AsyncConnection[Any], catalogue: Catalogue
) -> dict[AlertKey, AlertState]:
    """Starting state per key: active alerts, and ``last_time`` from ``latest_readings``.

    Readings at or before ``last_time`` are then ignored, which is what makes a replay of
    old readings change nothing.
    """
    cur = await conn.execute(
        "SELECT coalesce(l.sensor_id, a.sensor_id), coalesce(l.quantity, a.quantity), l.time,"
        " a.id, a.level, a.raised_at, a.peak_value, a.updated_at"
        " FROM latest_readings l FULL JOIN (SELECT * FROM alerts WHERE state = 'active') a"
        " ON a.sensor_id = l.sensor_id AND a.quantity = l.quantity"
    )
    states: dict[AlertKey, AlertState] = {}
    for (
        sensor_id,
        qkey,
        l_time,
        alert_id,
        level,
        raised_at,
        peak,
        updated_at,
    ) in await cur.fetchall():
        key = (str(sensor_id), str(qkey))
        if alert_id is None:
            states[key] = AlertState(last_time=l_time)
            continue
        last = max(t for t in (l_time, updated_at) if t is not None)
        states[key] = AlertState(
            last_time=last,
            alert_id=alert_id,
            level=_level_index(catalogue.get(key[1]), str(level)),
            raised_at=raised_at,
            peak=float(peak),
        )
    return states


def _message(item: StoredEvent) -> str:
    e, q = item.event, item.quantity
    verb = {"raised": "raised", "level_changed": "now", "cleared": "cleared"}[e.kind]
    return f"{q.label} {verb} {e.level}: {e.value:g} {q.unit} (peak {e.peak:g}) at {item.sensor_id}"


async def write_events(
    conn: psycopg.AsyncConnection[Any], events: Sequence[StoredEvent]
) -> AlertWrite:
    """Store events in order, in one transaction; returns those that were new."""
    out = AlertWrite()
    if not events:
        return out
    async with conn.transaction():
        for item in events:
            e = item.event
            if e.kind == "raised":
                cur = await conn.execute(
                    "INSERT INTO alerts (id, sensor_id, quantity, level, severity, state,"
                    " raised_at, updated_at, value, peak_value, message)"
                    " VALUES (%s, %s, %s, %s, %s, 'active', %s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (
                        e.alert_id,
                        item.sensor_id,
                        item.quantity.key,
                        e.level,
                        e.severity,
                        e.raised_at,
                        e.time,
                        e.value,
                        e.peak,
                        _message(item),
                    ),
                )
                if cur.rowcount == 0:
                    known = await conn.execute("SELECT 1 FROM alerts WHERE id = %s", (e.alert_id,))
                    if await known.fetchone() is None:
                        out.conflicts.add((item.sensor_id, item.quantity.key))
                        continue
            elif e.kind == "level_changed":
                await conn.execute(
                    "UPDATE alerts SET level = %s, severity = %s, value = %s,"
                    " peak_value = greatest(peak_value, %s), updated_at = %s, message = %s"
                    " WHERE id = %s AND state = 'active' AND updated_at <= %s",
                    (
                        e.level,
                        e.severity,
                        e.value,
                        e.peak,
                        e.time,
                        _message(item),
                        e.alert_id,
                        e.time,
                    ),
                )
            else:
                await conn.execute(
                    "UPDATE alerts SET state = 'cleared', cleared_at = %s, updated_at = %s,"
                    " value = %s, peak_value = greatest(peak_value, %s), message = %s"
                    " WHERE id = %s AND state = 'active'",
                    (e.time, e.time, e.value, e.peak, _message(item), e.alert_id),
                )
            cur = await conn.execute(
                "INSERT INTO alert_events (time, alert_id, event_id, kind, level, value)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING event_id",
                (e.time, e.alert_id, e.event_id, e.kind, e.level, e.value),
            )
            if await cur.fetchone() is not None:
                out.new.append(item)
    return out
