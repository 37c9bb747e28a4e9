"""Where a replay sends its readings: the three ingestion paths a real sensor could use.

* :class:`HttpSink` - ``POST /api/v1/observations`` with an API key, one batch per call;
  5xx answers and connection errors are retried with back-off (safe: every item carries its
  deterministic ``event_id``), 4xx answers are counted as rejections, 401/403 stop the run.
* :class:`MqttSink` - publishes to ``ioc/sensors/<sensor_id>`` (QoS 1), one message per
  sensor per batch, as a station that reports all its quantities at once would.
* :class:`KafkaSink` - produces to ``observations.raw`` with header ``ioc-source: replay``,
  keyed by sensor id so one sensor's readings stay in order on one partition.

MQTT and Kafka are fire-and-validate-later: their rejections are dead-lettered by the stream
agent, so only the HTTP path can report them back to the replay.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger(__name__)

Item = dict[str, Any]


class SinkError(RuntimeError):
    """The sink cannot go on (refused credentials, retries exhausted); the message says why."""


@dataclass
class Outcome:
    """What the receiving side said about one batch (``rejected`` only known over HTTP)."""

    sent: int
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


class Sink(Protocol):
    name: str

    async def start(self) -> None: ...

    async def send(self, items: Sequence[Item]) -> Outcome: ...

    async def close(self) -> None: ...


def _by_sensor(items: Sequence[Item]) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        groups[str(item["sensor_id"])].append(item)
    return groups


def backoff_delays(first_s: float = 0.2, cap_s: float = 10.0) -> Iterator[float]:
    """Endless exponential back-off with jitter: 0.2, 0.4, 0.8 … capped at ``cap_s``."""
    delay = first_s
    while True:
        yield delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
        delay = min(cap_s, delay * 2)


def count_rejections(status: int, body: Any, size: int) -> tuple[int, Counter[str]]:
    """Rejected items and reasons from an ingest answer (pure, tolerant of the answer's shape).

    2xx: ``{"rejected": [{"reason": …}, …]}`` (or a count); 4xx: the whole batch, with the
    reason the body gives (``{"reason": …}`` / ``{"error": …}``) or ``http_<status>``.
    """
    reasons: Counter[str] = Counter()
    doc = body if isinstance(body, dict) else {}
    rejected = doc.get("rejected")
    fallback = "rejected" if 200 <= status < 300 else f"http_{status}"
    if isinstance(rejected, list) and rejected:
        for r in rejected:
            reasons[str(r.get("reason", fallback)) if isinstance(r, dict) else fallback] += 1
        return (len(rejected) if status < 300 else size), reasons
    if 200 <= status < 300:
        if isinstance(rejected, int) and not isinstance(rejected, bool) and rejected > 0:
            reasons[fallback] += rejected
            return rejected, reasons
        return 0, reasons
    reason = doc.get("reason") or doc.get("error")
    reasons[str(reason) if isinstance(reason, str) else fallback] += size
    return size, reasons


class HttpSink:
    """Batched POSTs to the web server's ingest endpoint."""

    name = "http"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        give_up_after_s: float = 120.0,
        timeout_s: float = 30.0,
        max_body_bytes: int = 1_048_576,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/observations"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._give_up_after_s = give_up_after_s
        self._timeout_s = timeout_s
        self._max_body = max_body_bytes
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._timeout_s, transport=self._transport)

    async def send(self, items: Sequence[Item]) -> Outcome:
        """POST ``items``; a body above the server's limit is split in halves first."""
        body = json.dumps({"observations": list(items)}).encode()
        if len(body) > self._max_body and len(items) > 1:
            half = len(items) // 2
            first, second = await self.send(items[:half]), await self.send(items[half:])
            return Outcome(
                first.sent + second.sent,
                first.rejected + second.rejected,
                first.reasons + second.reasons,
            )
        return await self._post(body, len(items))

    async def _post(self, body: bytes, size: int) -> Outcome:
        if self._client is None:
            raise RuntimeError("HttpSink.start() was not called")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_after_s
        delays = backoff_delays()
        while True:
            try:
                resp = await self._client.post(self.url, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code in (401, 403):
                    raise SinkError(
                        f"{self.url} refused the API key (HTTP {resp.status_code}); "
                        "create one with `ioc apikeys create NAME --role ingest`"
                    )
                if resp.status_code < 500:
                    try:
                        doc = resp.json()
                    except ValueError:
                        doc = None
                    rejected, reasons = count_rejections(resp.status_code, doc, size)
                    if resp.status_code >= 400:
                        logger.debug(
                            "batch of %d refused: HTTP %d %s",
                            size,
                            resp.status_code,
                            resp.text[:300],
                        )
                    return Outcome(size, rejected, reasons)
                problem = f"HTTP {resp.status_code}"
            if loop.time() >= deadline:
                raise SinkError(
                    f"{self.url}: giving up after {self._give_up_after_s:.0f} s "
                    f"of failures (last: {problem})"
                )
            delay = next(delays)
            logger.warning("ingest failed (%s); retrying in %.1f s", problem, delay)
            await asyncio.sleep(delay)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def mqtt_client_args(url: str) -> dict[str, Any]:
    """``mqtt://user:pass@host:port`` → aiomqtt ``Client`` keyword arguments (pure).

    ``mqtts://`` turns TLS on with the system's trust store.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    args: dict[str, Any] = {
        "hostname": parts.hostname or "127.0.0.1",
        "port": parts.port or (8883 if tls else 1883),
    }
    if parts.username:
        args["username"] = parts.username
    if parts.password:
        args["password"] = parts.password
    if tls:
        import ssl

        args["tls_context"] = ssl.create_default_context()
    return args


class MqttSink:
    """Publishes like a fleet of MQTT sensors: ``ioc/sensors/<sensor_id>``, QoS 1."""

    name = "mqtt"

    def __init__(self, url: str, topic_root: str = "ioc/sensors") -> None:
        self._args = mqtt_client_args(url)
        self._root = topic_root.rstrip("/")
        self._client: Any = None

    async def start(self) -> None:
        import aiomqtt

        client = aiomqtt.Client(**self._args, max_inflight_messages=200)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            where = f"{self._args['hostname']}:{self._args['port']}"
            raise SinkError(f"MQTT broker {where}: {exc}") from exc
        self._client = client

    async def send(self, items: Sequence[Item]) -> Outcome:
        import aiomqtt

        try:
            await asyncio.gather(
                *(
                    self._client.publish(f"{self._root}/{sensor}", json.dumps(group), qos=1)
                    for sensor, group in _by_sensor(items).items()
                )
            )
        except aiomqtt.MqttError as exc:
            raise SinkError(f"MQTT publish failed: {exc}") from exc
        return Outcome(len(items))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None


class KafkaSink:
    """Produces straight to the raw observations topic, as an external producer would."""

    name = "kafka"

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", linger_ms=5)
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise SinkError(f"Kafka at {self._bootstrap}: {exc}") from exc
        self._producer = producer

    async def send(self, items: Sequence[Item]) -> Outcome:
        """Produce one message per sensor; return once the broker acknowledged them all."""
        from aiokafka.errors import KafkaError

        try:
            futures = [
                await self._producer.send(
                    self._topic,
                    json.dumps(group).encode(),
                    key=sensor.encode(),
                    headers=[("ioc-source", b"replay")],
                )
                for sensor, group in _by_sensor(items).items()
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:  # the producer already retried internally
            raise SinkError(f"Kafka did not take a batch: {exc}") from exc
        return Outcome(len(items))

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
