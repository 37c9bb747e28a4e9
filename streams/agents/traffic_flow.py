"""Agent ``traffic_flow``: per-minute camera traffic flow from Kafka into ``traffic_flow``.

Each message of ``<prefix>.traffic.flow`` is one TrafficFlowObserved row (camera, lane,
vehicle class, minute; format in docs/CONTRACTS.md, "Vision") sent by ``ioc vision run``.
Validated once (:func:`parse_flow`, pure); stored with ``ON CONFLICT DO NOTHING`` on
(camera, lane, class, minute), so redelivery or re-processing changes nothing; malformed
messages go to ``dead_letters`` with reason ``invalid_traffic_flow``. Acks only after commit.

Why not the sensor-observation path: a reading there is (sensor, quantity, value); the flow
has a lane and a class per row and three measures, and cameras are not sensors of the
registry. The camera total still reaches ``readings`` as ``traffic_flow`` for cameras that
have a registered sensor (see ``vision/publish.py``).

Example (in :func:`streams.app.create_app`)::

    traffic_flow.register(app, rt)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, cast

import faust
import psycopg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.runtime import Runtime
from streams.schema import bytes_topic

logger = logging.getLogger(__name__)

TOPIC: Final = "traffic.flow"


class FlowIn(BaseModel):
    # Newer producers may add fields (more TrafficFlowObserved attributes): ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = Field(alias="schema")
    id: str = Field(pattern=r"^urn:ngsi-ld:TrafficFlowObserved:", max_length=300)
    type: Literal["TrafficFlowObserved"]
    camera_id: str = Field(min_length=1, max_length=64)
    lane: str = Field(min_length=1, max_length=64)
    vehicle_class: Literal["car", "motorbike", "bus", "truck", "bicycle"]
    dateObservedFrom: AwareDatetime
    dateObservedTo: AwareDatetime
    intensity: int = Field(ge=0, le=100_000)
    occupancy: float | None = Field(default=None, ge=0, le=1)
    averageVehicleSpeed: float | None = Field(default=None, ge=0, le=400)

    @model_validator(mode="after")
    def _period(self) -> FlowIn:
        if self.dateObservedTo <= self.dateObservedFrom:
            raise ValueError("dateObservedTo must be after dateObservedFrom")
        return self


def parse_flow(raw: bytes) -> FlowIn:
    """Validate one message; ``ValueError`` says why it is unusable."""
    try:
        return FlowIn.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise ValueError(f"{where}: {first['msg']}") from None


def judge(batch: Sequence[bytes | None]) -> tuple[list[FlowIn], list[tuple[bytes, str]]]:
    """Split raw messages into valid rows and (payload, reason) dead letters; pure."""
    good: list[FlowIn] = []
    bad: list[tuple[bytes, str]] = []
    for raw in batch:
        try:
            good.append(parse_flow(raw or b""))
        except ValueError as exc:
            logger.warning("traffic_flow: unusable message (%s)", exc)
            bad.append((raw or b"", str(exc)))
    return good, bad


_FLOW = (
    "INSERT INTO traffic_flow (minute, camera_id, lane_id, vehicle_class, intensity, "
    "occupancy, average_speed_kmh, entity_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (camera_id, lane_id, vehicle_class, minute) DO NOTHING"
)
_DEAD = (
    "INSERT INTO dead_letters (source, reason, detail, payload, dedup_key) "
    "VALUES ('traffic_flow', 'invalid_traffic_flow', %s, %s, %s) "
    "ON CONFLICT (dedup_key) DO NOTHING"
)


async def store(
    conn: psycopg.AsyncConnection[Any], good: Sequence[FlowIn], bad: Iterable[tuple[bytes, str]]
) -> int:
    """Write one batch in one transaction; returns the rows that were new."""
    new = 0
    async with conn.transaction():
        cur = conn.cursor()
        for f in good:
            await cur.execute(
                _FLOW,
                (
                    f.dateObservedFrom,
                    f.camera_id,
                    f.lane,
                    f.vehicle_class,
                    f.intensity,
                    f.occupancy,
                    f.averageVehicleSpeed,
                    f.id,
                ),
            )
            new += cur.rowcount
        await cur.executemany(
            _DEAD,
            [
                (reason, raw.decode("utf-8", errors="replace"), hashlib.sha256(raw).hexdigest())
                for raw, reason in bad
            ],
        )
    return new


async def process(rt: Runtime, values: Sequence[bytes | None]) -> int:
    """Validate and store one batch (database failures retried); returns new rows."""
    good, bad = judge(values)

    async def write(conn: psycopg.AsyncConnection[Any]) -> int:
        return await store(conn, good, bad)

    new = await rt.with_db("store traffic flow", write)
    rt.counters.messages += len(values)
    rt.counters.dead_letters += len(bad)
    return new


def register(app: faust.App, rt: Runtime) -> None:
    """Declare the ``traffic_flow`` agent on ``app`` (acks only after the rows are durable)."""
    topic = bytes_topic(app, rt.settings.topic(TOPIC), partitions=rt.settings.topic_partitions)

    @app.agent(topic, name="traffic_flow")
    async def traffic_flow(stream: faust.StreamT[Any]) -> None:
        await rt.started()
        source = cast("faust.Stream[bytes]", stream)
        async for buffered in source.noack_take(500, within=rt.settings.sink_batch_within_s):
            events = cast(Sequence[faust.EventT[Any]], buffered)
            new = await process(rt, [e.message.value for e in events])
            for event in events:
                await source.ack(event)
            if new:
                logger.debug("traffic_flow: stored %d new of %d", new, len(events))
