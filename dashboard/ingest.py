"""``POST /api/v1/observations``: HTTP ingest for sensor clients (API key, role ingest/admin).

The body is judged item by item with the same pure validator the stream agent uses, against
a sensor-registry cache, and then forwarded *as received* as one Kafka message to
``observations.raw`` (header ``ioc-source: http``). The answer comes only after the broker
acknowledged the message (``acks=all``), so anything answered 202 is not lost.

Answers: 202 ``{"accepted": n, "rejected": [{"index","reason","field","message"}]}`` when at
least one item is valid; 422 ``{"error": "no_valid_items", "rejected": [...]}`` when none;
400 malformed JSON, 413 body or batch too large, 415 not ``application/json``, 503 broker or
registry unavailable. A decodable, size-valid body is forwarded even when items are invalid:
the stream agent dead-letters them with their reason, so nothing vanishes silently.

Retries are safe: every item has an event id (sent, or derived from sensor, quantity and
time), and storage is idempotent on it. A client that got no answer (timeout, 503) simply
resends the same batch.

Example::

    curl -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
         -d '{"sensor_id":"hp-aq-lechan","quantity":"pm25","value":41.5,"unit":"ug/m3",
              "time":"2026-11-23T07:00:00+07:00"}' http://127.0.0.1:8080/api/v1/observations
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response

from dashboard.context import components
from dashboard.responses import BodyTooLarge, error, json_response, read_limited
from ioc.domain.auth import Principal
from ioc.domain.observation import (
    PayloadError,
    SensorInfo,
    ValidationContext,
    decode_items,
    validate_items,
)
from ioc.storage.registry import aload_sensor_index

logger = logging.getLogger(__name__)

SOURCE_HEADER = ("ioc-source", b"http")
_THREAD_ABOVE_BYTES = 64 * 1024  # validate big batches off the event loop


class Unavailable(RuntimeError):
    """A dependency (registry, broker) cannot serve right now: answer 503, client retries."""


class RegistryCache:
    """Active sensors, reloaded at most every ``refresh_s`` (a failed reload keeps the old)."""

    def __init__(self, pool: AsyncConnectionPool, refresh_s: float) -> None:
        self._pool = pool
        self._refresh_s = refresh_s
        self._index: dict[str, SensorInfo] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> Mapping[str, SensorInfo]:
        if self._index is not None and time.monotonic() - self._loaded_at < self._refresh_s:
            return self._index
        async with self._lock:
            if self._index is not None and time.monotonic() - self._loaded_at < self._refresh_s:
                return self._index
            try:
                async with self._pool.connection() as db:
                    self._index = await aload_sensor_index(db)
                self._loaded_at = time.monotonic()
                logger.debug("sensor registry reloaded: %d sensors", len(self._index))
            except Exception as exc:
                if self._index is None:
                    raise Unavailable(f"sensor registry unavailable: {exc}") from exc
                logger.warning("sensor registry reload failed, keeping the old one: %s", exc)
                self._loaded_at = time.monotonic()
            return self._index


class RawProducer:
    """A long-lived ``acks=all`` producer, started lazily so a late broker is not fatal."""

    def __init__(self, bootstrap: str, topic: str, max_bytes: int, timeout_s: float = 15.0) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    client_id="ioc-http-ingest",
                    max_request_size=self._max_bytes + 64 * 1024,
                    request_timeout_ms=int(self._timeout_s * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), self._timeout_s)
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def start(self) -> None:
        try:
            await self._ensure()
        except Exception as exc:
            logger.warning("ingest producer not started yet (%s); will retry on demand", exc)

    async def send(self, value: bytes, key: bytes | None) -> None:
        """Return once the broker acknowledged; raise :class:`Unavailable` otherwise."""
        try:
            producer = await self._ensure()
            await asyncio.wait_for(
                producer.send_and_wait(self.topic, value, key=key, headers=[SOURCE_HEADER]),
                self._timeout_s,
            )
        except Exception as exc:
            raise Unavailable(f"broker unavailable: {type(exc).__name__}") from exc

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


def _key(items: list[Any]) -> bytes | None:
    """Key by sensor when a batch has one sensor (keeps its readings in order on a partition)."""
    ids = {repr(i.get("sensor_id")) for i in items if isinstance(i, dict)}
    if len(ids) != 1 or not items or not isinstance(items[0], dict):
        return None
    only = items[0].get("sensor_id")
    if not isinstance(only, str):  # any JSON value may arrive here: lists, numbers, null
        return None
    try:
        return only.encode()
    except UnicodeEncodeError:  # a lone surrogate (valid JSON escape, not valid UTF-8)
        return None


async def observations(request: Request, principal: Principal) -> Response:
    ctx = components(request)
    settings = ctx.settings
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return error(415, "unsupported_media_type", "Content-Type must be application/json")
    if request.headers.get("content-encoding", "identity").lower() != "identity":
        return error(415, "unsupported_media_type", "compressed bodies are not accepted")
    try:
        body = await read_limited(request, settings.max_body_bytes)
    except BodyTooLarge:
        return error(413, "body_too_large", f"body exceeds {settings.max_body_bytes} bytes")
    try:
        items = decode_items(body)
    except PayloadError as exc:
        if exc.reason == "malformed_json":
            return error(400, "malformed_json", exc.message)
        return await _forward_then(
            ctx.producer, body, None, error(422, exc.reason, exc.message, rejected=[])
        )
    if len(items) > settings.max_batch_items:
        return error(
            413,
            "too_many_items",
            f"{len(items)} items; at most {settings.max_batch_items} per batch",
        )
    try:
        sensors = await ctx.registry.get()
    except Unavailable as exc:
        return error(503, "unavailable", str(exc), headers={"Retry-After": "5"})
    vctx = ValidationContext(
        ctx.catalogue,
        sensors,
        datetime.now(UTC),
        timedelta(seconds=settings.max_clock_skew_s),
        timedelta(days=settings.max_age_days),
        settings.max_batch_items,
    )
    if len(body) > _THREAD_ABOVE_BYTES:
        good, bad = await asyncio.to_thread(validate_items, items, vctx)
    else:
        good, bad = validate_items(items, vctx)
    rejected = [r.as_dict() for r in bad]
    if good:
        answer = json_response({"accepted": len(good), "rejected": rejected}, 202)
    else:
        answer = error(422, "no_valid_items", "no item of the batch is valid", rejected=rejected)
    logger.debug("ingest from %s: %d accepted, %d rejected", principal.name, len(good), len(bad))
    return await _forward_then(ctx.producer, body, _key(items), answer)


async def _forward_then(
    producer: RawProducer, body: bytes, key: bytes | None, answer: Response
) -> Response:
    try:
        await producer.send(body, key)
    except Unavailable as exc:
        logger.warning("ingest: %s", exc)
        return error(
            503,
            "broker_unavailable",
            "the message broker did not acknowledge; retry",
            headers={"Retry-After": "5"},
        )
    return answer
