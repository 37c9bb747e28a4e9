"""The MQTT → Kafka bridge (``ioc mqtt``): sensors that speak MQTT feed the same pipeline.

Every message on ``settings.mqtt_topic_filter`` is forwarded *unchanged* to
``observations.raw`` with headers ``ioc-source: mqtt`` and ``ioc-mqtt-topic: <topic>``
(key: the MQTT topic, so one sensor's messages stay in order on one partition). The bridge
does not validate: the stream agent judges every path alike and dead-letters bad payloads
with a reason, so a malformed payload is forwarded too, never dropped. (One exception of
size: a payload above ``max_body_bytes`` is cut to that size and marked ``ioc-truncated``,
which the agent then dead-letters as malformed.)

Delivery is at-least-once: the subscription is QoS 1 in a persistent session (fixed client
id, ``clean_session=False``), and a message is acknowledged to the MQTT broker only after
Kafka acknowledged it. A crash between the two re-delivers the message; the ingest path is
idempotent on event ids. Connection losses on either side are retried with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ioc.replay.sinks import backoff_delays, mqtt_client_args
from ioc.settings import Settings

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 1000


@dataclass
class BridgeStats:
    forwarded: int = 0
    truncated: int = 0
    connects: int = 0


def ready_path(settings: Settings) -> Path:
    """Written (with the pid) once subscribed; ``ioc run`` polls it to know the bridge is up."""
    return settings.run_dir / "mqtt-bridge.ready"


def kafka_headers(topic: str, truncated_from: int | None = None) -> list[tuple[str, bytes]]:
    """Headers that tell the agent (and a person reading dead letters) where it came from."""
    headers = [("ioc-source", b"mqtt"), ("ioc-mqtt-topic", topic.encode())]
    if truncated_from is not None:
        headers.append(("ioc-truncated", str(truncated_from).encode()))
    return headers


def as_bytes(payload: Any) -> bytes:
    """aiomqtt hands over ``bytes``; anything else is encoded as text (never dropped)."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


class Bridge:
    """One bridge: a Kafka producer shared across MQTT (re)connections."""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        mqtt_url: str,
        client_id: str | None = None,
        on_ready: Callable[[], None] | None = None,
        drain_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.stats = BridgeStats()
        self._bootstrap = bootstrap
        self._mqtt = mqtt_client_args(mqtt_url)
        self._client_id = client_id or f"ioc-mqtt-bridge-{settings.topic_prefix}"
        self._topic = settings.topic("observations.raw")
        self._on_ready = on_ready
        self._drain_s = drain_s
        self._producer: Any = None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Forward until cancelled."""
        await self._start_producer()
        try:
            await self._mqtt_loop()
        finally:
            await self._producer.stop()

    async def _start_producer(self) -> None:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        delays = backoff_delays(0.5, 15.0)
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                max_request_size=self.settings.max_body_bytes + 65536,
                linger_ms=2,
            )
            try:
                await producer.start()
            except KafkaError as exc:
                await producer.stop()
                delay = next(delays)
                logger.warning(
                    "Kafka at %s not available (%s); retrying in %.1f s",
                    self._bootstrap,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self._producer = producer
            return

    async def _mqtt_loop(self) -> None:
        import aiomqtt

        where = f"{self._mqtt['hostname']}:{self._mqtt['port']}"
        delays = backoff_delays(0.5, 30.0)
        while True:
            client = aiomqtt.Client(
                **self._mqtt, identifier=self._client_id, clean_session=False, logger=logger
            )
            # aiomqtt 2.5 has no manual-ack switch; paho's (which it wraps) is the way to
            # acknowledge only after Kafka has the message.
            client._client.manual_ack_set(True)
            try:
                async with client:
                    await client.subscribe(self.settings.mqtt_topic_filter, qos=1)
                    self.stats.connects += 1
                    delays = backoff_delays(0.5, 30.0)
                    logger.info(
                        "subscribed to %s on %s; forwarding to %s",
                        self.settings.mqtt_topic_filter,
                        where,
                        self._topic,
                    )
                    if self._on_ready is not None:
                        self._on_ready()
                    try:
                        async for message in client.messages:
                            await self._slots.acquire()
                            task = asyncio.create_task(self._forward(client, message))
                            self._tasks.add(task)
                            task.add_done_callback(self._tasks.discard)
                    finally:
                        await self._drain()  # while connected, so their acks still go out
            except aiomqtt.MqttError as exc:
                delay = next(delays)
                logger.warning("MQTT %s: %s; reconnecting in %.1f s", where, exc, delay)
                await asyncio.sleep(delay)

    async def _forward(self, client: Any, message: Any) -> None:
        from aiokafka.errors import KafkaError

        try:
            topic = str(message.topic)
            payload = as_bytes(message.payload)
            truncated_from = None
            if len(payload) > self.settings.max_body_bytes:
                truncated_from = len(payload)
                payload = payload[: self.settings.max_body_bytes]
                self.stats.truncated += 1
                logger.warning(
                    "payload on %s is %d bytes; forwarded cut to %d bytes",
                    topic,
                    truncated_from,
                    len(payload),
                )
            delays = backoff_delays(0.2, 10.0)
            while True:
                try:
                    fut = await self._producer.send(
                        self._topic,
                        payload,
                        key=topic.encode(),
                        headers=kafka_headers(topic, truncated_from),
                    )
                    await fut
                    break
                except KafkaError as exc:
                    delay = next(delays)
                    logger.warning(
                        "Kafka did not take a message (%s); retrying in %.1f s", exc, delay
                    )
                    await asyncio.sleep(delay)
            self.stats.forwarded += 1
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)
        finally:
            self._slots.release()

    async def _drain(self) -> None:
        """Let messages already taken finish (and be acknowledged) before stopping.

        What is still unfinished after ``drain_s`` is abandoned unacknowledged: the broker
        re-delivers it to the next session.
        """
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self._drain_s)
            for task in pending:
                task.cancel()


async def run_bridge(settings: Settings, bootstrap: str, mqtt_url: str) -> BridgeStats:
    """Run until cancelled, with the ready file present while subscribed."""
    marker = ready_path(settings)

    def ready() -> None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{os.getpid()}\n")

    bridge = Bridge(settings, bootstrap, mqtt_url, on_ready=ready)
    try:
        await bridge.run()
    finally:
        with contextlib.suppress(OSError):
            if marker.read_text().strip() == str(os.getpid()):
                marker.unlink()
    return bridge.stats
