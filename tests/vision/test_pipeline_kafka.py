"""The camera pipeline's Kafka producer against the real (embedded) broker: messages arrive,
as JSON, keyed by camera, and closing flushes what was queued."""

from __future__ import annotations

import json
import secrets

import pytest
from aiokafka import AIOKafkaConsumer

from ioc.services.broker import create_topics
from vision.publish import KafkaPublisher

pytestmark = pytest.mark.integration


async def test_publisher_delivers_to_kafka(services: object) -> None:
    bootstrap = services.kafka_bootstrap_servers  # type: ignore[attr-defined]
    topic = f"test-vision-{secrets.token_hex(4)}"
    await create_topics(bootstrap, [topic], 1)
    pub = KafkaPublisher(bootstrap)
    pub.send(topic, {"type": "camera", "camera_id": "c1", "connected": True}, key="c1")
    pub.send(
        topic, {"event_id": "e1", "rule": "red_light", "vehicle": "Xe máy"}, key="c1", urgent=True
    )
    pub.close(timeout=30)
    assert pub.sent == 2 and pub.dropped == 0
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        got = []
        while len(got) < 2:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "messages did not arrive"
            got += [(m.key, json.loads(m.value)) for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()
    assert {k for k, _ in got} == {b"c1"}
    assert {v.get("type") or v["rule"] for _, v in got} == {"camera", "red_light"}
    assert any(v.get("vehicle") == "Xe máy" for _, v in got)
