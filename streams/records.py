"""JSON messages the worker produces (see docs/CONTRACTS.md), built from domain objects.

Pure functions returning bytes: the topics use the raw serializer, because Faust's per-event
codec machinery costs more than it gives here and the consumers (the alerts agent, the web
server) read plain JSON. Times are ISO 8601 in UTC.

Example::

    observations_messages(readings, partitions=4)  # -> [(2, b'{"readings": [...]}'), ...]
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from ioc.domain.alerts import AlertEvent
from ioc.domain.observation import Observation
from ioc.storage.readings import Window
from streams.topics import partition_for

# Largest number of readings in one ``observations`` message: keeps messages well under the
# broker's 1 MiB default even for a batch of tens of thousands of readings.
MAX_READINGS_PER_MESSAGE: Final = 1000


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def iso(time: datetime) -> str:
    return time.isoformat()


def reading_doc(obs: Observation) -> dict[str, Any]:
    return {
        "sensor_id": obs.sensor_id,
        "quantity": obs.quantity,
        "time": iso(obs.time),
        "value": obs.value,
        "unit": obs.unit,
        "area_id": obs.area_id,
    }


class _Fields(dict[tuple[str, str, str, str | None], str]):
    """The constant part of a reading's JSON per (sensor, quantity, unit, area), made once."""

    def __missing__(self, key: tuple[str, str, str, str | None]) -> str:
        sensor_id, quantity, unit, area_id = key
        out = self[key] = (
            f'"sensor_id":{json.dumps(sensor_id)},"quantity":{json.dumps(quantity)},'
            f'"unit":{json.dumps(unit)},"area_id":{json.dumps(area_id)}'
        )
        return out


def observations_messages(
    readings: Iterable[Observation], partitions: int
) -> list[tuple[int, bytes]]:
    """``observations`` messages of a stored batch, one or more per partition.

    Readings are spread by sensor (:func:`streams.topics.partition_for`) so each sensor's alert
    state lives in exactly one alerts agent. The JSON is assembled from cached fragments (this
    runs for every reading; ``json.dumps`` of a dict per reading costs three times as much);
    values are finite floats (validated), whose ``repr`` is valid JSON.
    """
    fields = _Fields()
    where: dict[str, int] = {}
    by_partition: dict[int, list[str]] = defaultdict(list)
    for o in readings:
        partition = where.get(o.sensor_id)
        if partition is None:
            partition = where[o.sensor_id] = partition_for(o.sensor_id, partitions)
        by_partition[partition].append(
            f"{{{fields[(o.sensor_id, o.quantity, o.unit, o.area_id)]},"
            f'"time":"{o.time.isoformat()}","value":{o.value!r}}}'
        )
    out: list[tuple[int, bytes]] = []
    for partition, docs in sorted(by_partition.items()):
        for start in range(0, len(docs), MAX_READINGS_PER_MESSAGE):
            body = ",".join(docs[start : start + MAX_READINGS_PER_MESSAGE])
            out.append((partition, f'{{"readings":[{body}]}}'.encode()))
    return out


def readings_message(latest: Sequence[Observation]) -> bytes:
    items = [
        {
            "sensor_id": o.sensor_id,
            "area_id": o.area_id,
            "quantity": o.quantity,
            "time": iso(o.time),
            "value": o.value,
            "unit": o.unit,
        }
        for o in latest
    ]
    return dumps({"type": "readings", "items": items})


def rollups_message(windows: Sequence[Window]) -> bytes:
    items = [
        {
            "bucket": iso(w.bucket),
            "area_id": w.owner,
            "quantity": w.quantity,
            "count": w.agg.count,
            "mean": w.agg.mean,
            "min": w.agg.min,
            "max": w.agg.max,
        }
        for w in windows
    ]
    return dumps({"type": "rollups", "window": "1m", "items": items})


def deadletter_message(reasons: Counter[str]) -> bytes:
    return dumps({"type": "deadletter", "count": sum(reasons.values()), "reasons": dict(reasons)})


def alert_message(event: AlertEvent, sensor_id: str, area_id: str | None, quantity: str) -> bytes:
    return dumps(
        {
            "type": "alert",
            "event": {
                "kind": event.kind,
                "alert_id": str(event.alert_id),
                "sensor_id": sensor_id,
                "area_id": area_id,
                "quantity": quantity,
                "level": event.level,
                "severity": event.severity,
                "value": event.value,
                "peak": event.peak,
                "time": iso(event.time),
                "raised_at": iso(event.raised_at),
            },
        }
    )


def heartbeat_message(worker: str, time: datetime, processed: int, lag: int | None) -> bytes:
    return dumps(
        {
            "type": "heartbeat",
            "worker": worker,
            "time": iso(time),
            "processed": processed,
            "lag": lag,
        }
    )
