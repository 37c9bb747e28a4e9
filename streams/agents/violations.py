"""Agent ``violations``: camera violations from Kafka into PostgreSQL, idempotently.

Each message of ``<prefix>.violations`` (format in docs/CONTRACTS.md, "Vision") is validated
once (:func:`parse_violation`, pure), then stored in one transaction: the camera is upserted
into ``cameras``, the violation inserted with ``ON CONFLICT (event_id) DO NOTHING`` and its
evidence files with their SHA-256. A message delivered twice, or footage processed again
after a restart (same event ids), changes nothing. A malformed message goes to
``dead_letters`` (never silently dropped); a database outage is retried forever by
:meth:`~streams.runtime.Runtime.with_db`, and events are acked (``noack_take`` + manual acks,
as in :mod:`streams.agents.ingest`) only after the transaction committed. Each new violation
is then announced on the dashboard topic as ``violation.new`` (the police review queue).

Example (in :func:`streams.app.create_app`)::

    violations.register(app, rt)
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, Literal, cast

import faust
import psycopg
from psycopg.types.json import Jsonb
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from streams.runtime import Runtime
from streams.schema import bytes_topic

logger = logging.getLogger(__name__)

TOPIC: Final = "violations"


class _In(BaseModel):
    # Newer producers may add fields; the consumer must not fail on them.
    model_config = ConfigDict(extra="ignore", frozen=True)


class CameraIn(_In):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    area_id: str | None = None


class LegalIn(_In):
    decree: str
    category: str
    article: int
    clause: int
    point: str
    citation: str
    fine_min_vnd: int = Field(ge=0)
    fine_max_vnd: int = Field(ge=0)
    points: int = Field(ge=0)


class FileIn(_In):
    path: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class EvidenceIn(_In):
    complete: bool
    files: list[FileIn]


class ViolationIn(_In):
    schema_version: Literal[1] = Field(alias="schema")
    event_id: uuid.UUID
    camera_id: str
    camera: CameraIn
    rule: str = Field(pattern=r"^[a-z_]+$")
    track_id: int
    vehicle_class: str
    time: AwareDatetime
    stream_time_s: float
    where: str
    legal: LegalIn
    measured: dict[str, float | str]
    status: Literal["pending"]
    evidence: EvidenceIn


def parse_violation(raw: bytes) -> ViolationIn:
    """Validate one message; ``ValueError`` says why it is unusable."""
    try:
        v = ViolationIn.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(".".join(str(p) for p in first["loc"]) + f": {first['msg']}") from None
    if v.camera.id != v.camera_id:
        raise ValueError("camera.id differs from camera_id")
    return v


_CAMERA = (
    "INSERT INTO cameras (id, name, area_id, lat, lon) VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, area_id = EXCLUDED.area_id, "
    "lat = EXCLUDED.lat, lon = EXCLUDED.lon, updated_at = now()"
)
_VIOLATION = (
    "INSERT INTO violations (event_id, camera_id, rule, vehicle_class, track_id, time, "
    "stream_time_s, location, legal, measured, status, evidence_complete) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_FILE = (
    "INSERT INTO violation_evidence (event_id, path, kind, sha256, bytes) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
_DEAD = (
    "INSERT INTO dead_letters (source, reason, detail, payload, dedup_key) "
    "VALUES ('violations', 'invalid_violation', %s, %s, %s) ON CONFLICT (dedup_key) DO NOTHING"
)


def _row(v: ViolationIn) -> tuple[Any, ...]:
    time: datetime = v.time
    return (
        v.event_id,
        v.camera_id,
        v.rule,
        v.vehicle_class,
        v.track_id,
        time,
        v.stream_time_s,
        v.where,
        Jsonb(v.legal.model_dump()),
        Jsonb(v.measured),
        v.status,
        v.evidence.complete,
    )


async def store_violations(
    conn: psycopg.AsyncConnection[Any], items: Sequence[ViolationIn]
) -> list[ViolationIn]:
    """Store ``items`` in one transaction; returns those that were new."""
    new: list[ViolationIn] = []
    async with conn.transaction():
        cur = conn.cursor()
        for v in items:
            c = v.camera
            await cur.execute(_CAMERA, (c.id, c.name, c.area_id, c.lat, c.lon))
            await cur.execute(_VIOLATION, _row(v))
            if await cur.fetchone() is None:
                continue  # already stored
            new.append(v)
            await cur.executemany(
                _FILE, [(v.event_id, f.path, f.kind, f.sha256, f.bytes) for f in v.evidence.files]
            )
    return new


async def dead_letter(conn: psycopg.AsyncConnection[Any], bad: Iterable[tuple[bytes, str]]) -> None:
    async with conn.transaction():
        await conn.cursor().executemany(
            _DEAD,
            [
                (reason, raw.decode("utf-8", errors="replace"), hashlib.sha256(raw).hexdigest())
                for raw, reason in bad
            ],
        )


def judge(batch: Sequence[bytes | None]) -> tuple[list[ViolationIn], list[tuple[bytes, str]]]:
    """Split raw messages into valid violations and (payload, reason) dead letters; pure."""
    good: list[ViolationIn] = []
    bad: list[tuple[bytes, str]] = []
    for raw in batch:
        try:
            good.append(parse_violation(raw or b""))
        except ValueError as exc:
            logger.warning("violations: unusable message (%s)", exc)
            bad.append((raw or b"", str(exc)))
    return good, bad


async def store_batch(rt: Runtime, values: Sequence[bytes | None]) -> list[ViolationIn]:
    """Validate and store one batch (transient database failures retried by ``rt.with_db``);
    returns the violations that were new."""
    good, bad = judge(values)

    async def write(conn: psycopg.AsyncConnection[Any]) -> list[ViolationIn]:
        if bad:
            await dead_letter(conn, bad)
        return await store_violations(conn, good)

    new = await rt.with_db("store violations", write)
    rt.counters.messages += len(values)
    rt.counters.dead_letters += len(bad)
    return new


async def process(rt: Runtime, values: Sequence[bytes | None]) -> int:
    """:func:`store_batch`; returns how many violations were new."""
    return len(await store_batch(rt, values))


def new_violation_message(v: ViolationIn) -> bytes:
    """Dashboard-topic notice of a stored violation for the review queue (channel
    ``violations``): ids, rule and severity only - no image, no personal data."""
    return encode(
        {
            "type": "violation.new",
            "event": {
                "event_id": str(v.event_id),
                "camera_id": v.camera_id,
                "camera_name": v.camera.name,
                "rule": v.rule,
                "vehicle_class": v.vehicle_class,
                "time": v.time.isoformat(),
                "status": "pending",
                "fine_max_vnd": v.legal.fine_max_vnd,
                "points": v.legal.points,
            },
        }
    )


def register(app: faust.App, rt: Runtime) -> None:
    """Declare the ``violations`` agent on ``app`` (acks only after the rows are durable)."""
    topic = bytes_topic(app, rt.settings.topic(TOPIC), partitions=rt.settings.topic_partitions)

    @app.agent(topic, name="violations")
    async def violations(stream: faust.StreamT[Any]) -> None:
        await rt.started()
        source = cast("faust.Stream[bytes]", stream)
        async for buffered in source.noack_take(100, within=rt.settings.sink_batch_within_s):
            events = cast(Sequence[faust.EventT[Any]], buffered)
            new = await store_batch(rt, [e.message.value for e in events])
            # the review queue learns of them live (stored first: a page may load the case)
            await rt.publish([(rt.topics.dashboard, None, new_violation_message(v)) for v in new])
            for event in events:
                await source.ack(event)
            if new:
                logger.info("violations: stored %d new of %d", len(new), len(events))


def encode(message: dict[str, Any]) -> bytes:
    """The bytes a producer sends (tests, tools)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
