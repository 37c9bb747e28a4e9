"""The ``alarms`` agent: unified alarms from the messages other agents put on ``dashboard``.

Its input is the dashboard topic itself, because every alarm source already announces itself
there: sensor alerts (``alert``, after the alerts agent stored them), camera health
(``camera``), camera violations (``camera_violation``, counted for surges, and
``camera_violation_withdrawn``, taken out of that count again) and citizen
feedback (``feedback.overdue`` …, once the feedback service publishes them). Each message is
mapped to a signal by :func:`ioc.domain.alarm_sources.signal_of`, applied by
:func:`ioc.storage.alarms.apply_signal` (one transaction, row-locked, idempotent by event id)
and every resulting transition is published back as ``alarm.<kind>`` (the agent ignores its
own ``alarm.*`` messages). Acks follow the ingest agent's rule: after the write and publish.

Surge counting lives in memory (a :class:`~ioc.domain.alarm_sources.SurgeDetector` per
worker); after a restart it starts counting afresh, which can only delay a surge alarm.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import faust
import psycopg

from ioc.domain.alarm_sources import SurgeDetector, signal_of
from ioc.domain.alarms import Signal, alarm_message
from ioc.storage.alarms import AlarmChange, apply_signal
from streams import records
from streams.runtime import Runtime
from streams.schema import bytes_topic
from streams.topics import partition_for

logger = logging.getLogger(__name__)

ALARM_BATCH = 500
INTERESTING = frozenset({"alert", "camera", "camera_violation", "camera_violation_withdrawn"})
SKIP = (b'"camera_frame"', b'"alarm.', b'"readings"', b'"rollups"', b'"heartbeat"')


def decode(value: bytes | None) -> dict[str, Any] | None:
    """A dashboard message worth a look (cheap test of its head before parsing big frames)."""
    if not value or any(marker in value[:40] for marker in SKIP):
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    kind = doc.get("type")
    if not isinstance(kind, str) or not (kind in INTERESTING or kind.startswith("feedback.")):
        return None
    return doc


async def process(rt: Runtime, surges: SurgeDetector, events: Sequence[faust.EventT[Any]]) -> int:
    signals: list[Signal] = []
    for event in events:
        doc = decode(event.message.value)
        if doc is None:
            continue
        try:
            signal = signal_of(doc, surges)
        except (ValueError, TypeError) as exc:
            logger.warning(
                "dashboard message of type %s not usable for alarms: %s", doc["type"], exc
            )
            continue
        if signal is not None:
            signals.append(signal)
    changes: list[AlarmChange] = []
    for signal in signals:
        try:
            change = await rt.with_db("store alarm", _applier(signal))
        except psycopg.Error as exc:  # not transient: a bug; alarms are derived, move on
            logger.error("storing an alarm signal failed: %s", exc)
            continue
        if change is not None:
            changes.append(change)
    await rt.publish(
        [
            (
                rt.topics.dashboard,
                partition_for(c.alarm.source_ref, rt.settings.topic_partitions),
                records.dumps(alarm_message(c.alarm, e)),
            )
            for c in changes
            for e in c.events
        ]
    )
    return sum(len(c.events) for c in changes)


def _applier(
    signal: Signal,
) -> Callable[[psycopg.AsyncConnection[Any]], Awaitable[AlarmChange | None]]:
    async def run(conn: psycopg.AsyncConnection[Any]) -> AlarmChange | None:
        return await apply_signal(conn, signal)

    return run


def register(app: faust.App, rt: Runtime) -> None:
    """Declare the alarms agent on the dashboard topic."""
    topic = bytes_topic(app, rt.topics.dashboard, partitions=rt.settings.topic_partitions)
    surges = SurgeDetector(rt.settings.alarm_surge_window_s, rt.settings.alarm_surge_count)

    @app.agent(topic, name="alarms")
    async def alarms(stream: faust.StreamT[Any]) -> None:
        await rt.started()
        source = cast("faust.Stream[bytes]", stream)
        within = rt.settings.sink_batch_within_s
        async for buffered in source.noack_take(ALARM_BATCH, within=within):
            events = cast(Sequence[faust.EventT[Any]], buffered)
            await process(rt, surges, events)
            for event in events:
                await source.ack(event)
