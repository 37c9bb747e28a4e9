"""The Kafka feed of the ``dashboard`` topic into the websocket hub.

One consumer per server process and *no consumer group*: every server must see every
message (fan-out, not work sharing), so it assigns itself all partitions and starts at the
end: clients get the past from their database snapshot, only the future from here. When the
broker is away it retries with exponential back-off; meanwhile the pages keep their last data
and /healthz says "degraded".

Worker heartbeats seen here are what /healthz and the "system" channel report about workers.

Example::

    feed = DashboardFeed(bootstrap, settings.topic("dashboard"), hub)
    task = asyncio.create_task(feed.run())
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dashboard.hub import Hub
from ioc.domain.auth import channel_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    worker: str
    seen_at: float  # monotonic
    message: dict[str, Any]


class DashboardFeed:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        hub: Hub,
        *,
        create_topics: list[str],
        partitions: int = 1,
        max_backoff_s: float = 15.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.hub = hub
        self.ready = False
        self.messages = 0
        self.last_error: str | None = None
        self.workers: dict[str, WorkerSeen] = {}
        self._create = create_topics
        self._partitions = partitions
        self._max_backoff = max_backoff_s
        self._consumer: AIOKafkaConsumer | None = None

    def alive_workers(self, within_s: float) -> list[WorkerSeen]:
        now = time.monotonic()
        return [w for w in self.workers.values() if now - w.seen_at <= within_s]

    async def run(self) -> None:
        """Consume until cancelled, reconnecting with back-off after any broker failure."""
        backoff = 0.5
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("dashboard feed: %s; retrying in %.1f s", self.last_error, backoff)
            finally:
                if self.ready:  # it had been working: start the back-off afresh
                    backoff = 0.5
                self.ready = False
                await self._close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _partitions_of_topic(self) -> list[int]:
        """Create the topics if missing (explicitly: Tansu would auto-create a described one
        with its default partition count), then read the dashboard topic's partitions."""
        from ioc.services.broker import create_topics

        await create_topics(self.bootstrap, self._create, self._partitions)
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id="ioc-dashboard-feed"
        )
        await admin.start()
        try:
            (described,) = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        partitions = sorted(p["partition"] for p in described.get("partitions", []))
        if not partitions:
            raise RuntimeError(f"topic {self.topic} has no partitions yet")
        return partitions

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id="ioc-dashboard-feed",
        )
        self._consumer = consumer
        await consumer.start()
        tps = [TopicPartition(self.topic, p) for p in await self._partitions_of_topic()]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end now, so "ready" means nothing later is missed
            await consumer.position(tp)
        self.ready = True
        self.last_error = None
        logger.info("dashboard feed: following %s (%d partitions)", self.topic, len(tps))
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            for records in batches.values():
                for record in records:
                    self.handle(record.value)
                    await asyncio.sleep(0)  # let the senders drain between messages of a batch

    def handle(self, value: bytes | None) -> None:
        """Route one dashboard-topic message to its channel (unknown types are ignored)."""
        if value is None:
            return
        try:
            text = value.decode("utf-8")
            doc = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            logger.debug("dashboard feed: skipped a message that is not JSON")
            return
        if not isinstance(doc, dict):
            return
        kind = doc.get("type")
        self.messages += 1
        if kind == "heartbeat" and isinstance(doc.get("worker"), str):
            self.workers[doc["worker"]] = WorkerSeen(doc["worker"], time.monotonic(), doc)
        channel = channel_of(kind)
        if channel is not None:
            self.hub.broadcast(channel, text)

    async def end_offsets(
        self, tps: list[TopicPartition], timeout_s: float = 3.0
    ) -> dict[TopicPartition, int] | None:
        """End offsets of any partitions (for consumer lag), ``None`` while disconnected."""
        consumer = self._consumer
        if consumer is None or not self.ready:
            return None
        offsets: dict[TopicPartition, int] = await asyncio.wait_for(
            consumer.end_offsets(tps), timeout_s
        )
        return offsets
