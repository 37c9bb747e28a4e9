"""Kafka consumer of the signal-phase feeds (I/O shell of :mod:`vision.signal_feed`).

A thread runs one aiokafka consumer over every ``signal.feed_topic`` of the cameras (no
consumer group: each camera process reads the whole feed). It starts a few messages before
the end of each partition (``backlog``) so the phase in force when the pipeline starts is
known, then follows new messages. The camera loop calls :meth:`drain` each round; the
queue is bounded (old messages are dropped first when the loop stalls).

Example::

    inbox = FeedConsumer(bootstrap, ["hp.signals.junction-a"])
    pipeline.signal_inbox = inbox
    ...
    inbox.close()
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Sequence

logger = logging.getLogger(__name__)


class FeedConsumer:
    """Phase-feed messages from Kafka, collected on a thread; :meth:`drain` takes them."""

    def __init__(
        self, bootstrap: str, topics: Sequence[str], backlog: int = 20, max_queue: int = 10_000
    ) -> None:
        self.bootstrap, self.topics, self.backlog = bootstrap, sorted(set(topics)), backlog
        self._q: deque[tuple[str, bytes]] = deque(maxlen=max_queue)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.received = 0
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="signal-feed", daemon=True
        )
        self._thread.start()

    def drain(self) -> list[tuple[str, bytes]]:
        with self._lock:
            out = list(self._q)
            self._q.clear()
        return out

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    async def _main(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.errors import KafkaError

        delay = 0.5
        while not self._stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
            )
            try:
                await consumer.start()
                await consumer.topics()  # metadata of every topic, for partitions_for_topic
                parts = [
                    TopicPartition(t, p)
                    for t in self.topics
                    for p in sorted(consumer.partitions_for_topic(t) or ())
                ]
                if not parts:
                    raise KafkaError(f"topics {self.topics} have no partitions (missing?)")
                consumer.assign(parts)
                ends = await consumer.end_offsets(parts)
                for tp in parts:
                    consumer.seek(tp, max(0, ends[tp] - self.backlog))
                self.ready.set()
                delay = 0.5
                while not self._stop.is_set():
                    batch = await consumer.getmany(timeout_ms=200)
                    for tp, msgs in batch.items():
                        with self._lock:
                            self._q.extend((tp.topic, m.value or b"") for m in msgs)
                        self.received += len(msgs)
            except KafkaError as exc:
                logger.warning(
                    "signal feed %s at %s: %s; retrying in %.1f s",
                    self.topics,
                    self.bootstrap,
                    exc,
                    delay,
                )
                self._stop.wait(delay)
                delay = min(15.0, delay * 2)
            finally:
                await consumer.stop()
