"""The ``alerts`` agent: threshold alerts with hysteresis from the stored readings.

Reads ``observations`` (published by the ingest agent only after the rows are durable), feeds
each reading to the pure state machine :func:`ioc.domain.alerts.step` and stores what it
decides with :func:`ioc.storage.alerts.write_events` (idempotent), then announces new events on
the dashboard topic. Acks follow the same rule as the ingest agent (``noack_take``, ack after
the write and the publish; see :mod:`streams.agents.ingest`).

State: one :class:`~ioc.domain.alerts.AlertState` per (sensor, quantity) in memory. It is loaded
from the database before the worker consumes anything (active alerts; ``last_time`` from
``latest_readings``) and again when this worker's share of ``observations`` partitions changes
(another worker may have moved it on). Readings at or before ``last_time`` are ignored, so a
replay changes nothing. The price, documented: readings that were stored but not yet evaluated
when a worker died or partitions moved are not evaluated; the next reading of that sensor
re-establishes the right state (it raises or clears as needed).

Each sensor's readings land on one partition (:func:`streams.topics.partition_for`), so one
agent owns each key. Readings of a batch are evaluated in time order per key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple, cast

import faust
import orjson
import psycopg

from ioc.domain.alerts import AlertState, step
from ioc.domain.catalogue import Quantity
from ioc.storage.alerts import AlertKey, AlertWrite, StoredEvent, write_events
from streams import records
from streams.runtime import Runtime
from streams.schema import bytes_topic
from streams.topics import partition_for

logger = logging.getLogger(__name__)

ALERT_BATCH = 1000  # observations messages per take (each holds up to 1000 readings)


class Reading(NamedTuple):
    time: datetime
    value: float
    area_id: str | None


Grouped = dict[AlertKey, list[Reading]]


def decode(value: bytes | None, alerting: Mapping[str, Quantity], into: Grouped) -> None:
    """Add the readings of one ``observations`` message whose quantity can alert to ``into``,
    grouped by (sensor, quantity). Malformed entries are skipped and logged (this topic is
    written by the ingest agent, so that would be a bug, not bad input)."""
    try:
        items = orjson.loads(value or b"")["readings"]  # internal topic: orjson is exact here
    except (ValueError, KeyError, TypeError):
        logger.error("malformed observations message skipped")
        return
    for item in items:
        try:
            qkey = item["quantity"]
            if qkey not in alerting:
                continue
            time = datetime.fromisoformat(item["time"])  # always ISO 8601 with offset here
            if time.tzinfo is None:
                raise ValueError("naive time")
            area = item.get("area_id")
            reading = Reading(time, float(item["value"]), None if area is None else str(area))
            into.setdefault((str(item["sensor_id"]), qkey), []).append(reading)
        except (ValueError, KeyError, TypeError, OverflowError):
            logger.error("malformed reading in observations message skipped")


def evaluate(
    rt: Runtime, grouped: Grouped
) -> tuple[dict[AlertKey, AlertState | None], list[tuple[StoredEvent, str | None]]]:
    """Run the state machine over a batch, per key in time order, without touching the
    shared state yet.

    Fast path, same result as stepping: a key without an active alert whose readings all stay
    below the lowest level only moves its ``last_time`` forward (most keys, most of the time).
    """
    changed: dict[AlertKey, AlertState | None] = {}
    events: list[tuple[StoredEvent, str | None]] = []
    for key, readings in grouped.items():
        sensor_id, qkey = key
        quantity = rt.catalogue[qkey]
        readings.sort(key=itemgetter(0))
        state = rt.alert_states.get(key)
        if (state is None or state.alert_id is None) and max(
            r.value for r in readings
        ) < quantity.levels[0].at:
            last = readings[-1].time
            if state is None:
                changed[key] = AlertState(last_time=last)
            elif last > state.last_time:
                changed[key] = replace(state, last_time=last)
            continue
        for r in readings:
            state, fired = step(state, sensor_id, r.time, r.value, quantity)
            events += [(StoredEvent(sensor_id, quantity, e), r.area_id) for e in fired]
        changed[key] = state
    return changed, events


async def process(rt: Runtime, events: Sequence[faust.EventT[Any]]) -> None:
    alerting = {k: q for k, q in rt.catalogue.quantities.items() if q.levels}
    grouped: Grouped = {}
    for event in events:
        decode(event.message.value, alerting, grouped)
    changed, fired = evaluate(rt, grouped)
    written = AlertWrite()
    if fired:
        try:
            written = await rt.with_db(
                "store alerts", lambda conn: write_events(conn, [item for item, _ in fired])
            )
        except psycopg.Error as exc:  # not transient: a bug; alerts are derived, move on
            logger.error("storing %d alert event(s) failed: %s", len(fired), exc)
    for key, state in changed.items():
        if state is None:
            rt.alert_states.pop(key, None)
        else:
            rt.alert_states[key] = state
    if written.conflicts:
        logger.warning("alert state was stale for %d key(s); reloading", len(written.conflicts))
        await rt.reload_alert_states()
    area = {item.event.event_id: area_id for item, area_id in fired}
    await rt.publish(
        [  # one partition per sensor: its events reach the live page in order
            (
                rt.topics.dashboard,
                partition_for(item.sensor_id, rt.settings.topic_partitions),
                records.alert_message(
                    item.event, item.sensor_id, area[item.event.event_id], item.quantity.key
                ),
            )
            for item in written.new
        ]
    )
    rt.counters.alert_events += len(written.new)


def register(app: faust.App, rt: Runtime) -> None:
    """Declare the alerts agent and the rebalance hook that marks its state stale."""
    topic = bytes_topic(app, rt.topics.observations, partitions=rt.settings.topic_partitions)
    assigned: dict[str, Any] = {"tps": None, "stale": False}

    async def on_assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        mine = {tp for tp in args[0] if tp.topic == rt.topics.observations}
        if assigned["tps"] is not None and mine != assigned["tps"]:
            assigned["stale"] = True
        assigned["tps"] = mine

    # Faust's handler type is not satisfiable by any function; the call itself is documented.
    cast(Any, app.on_partitions_assigned).connect(on_assigned)

    @app.agent(topic, name="alerts")
    async def alerts(stream: faust.StreamT[Any]) -> None:
        await rt.started()
        source = cast("faust.Stream[bytes]", stream)
        within = rt.settings.sink_batch_within_s
        async for buffered in source.noack_take(ALERT_BATCH, within=within):
            events = cast(Sequence[faust.EventT[Any]], buffered)
            if assigned["stale"]:
                assigned["stale"] = False
                await rt.reload_alert_states()
            await process(rt, events)
            for event in events:
                await source.ack(event)
