"""``/healthz`` against real services: degraded without workers, ok once a worker's heartbeat
is seen on the dashboard topic, consumer lag of the workers' group."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fixtures.dashboard import Dashboard

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0


def health(client: httpx.Client) -> tuple[int, dict[str, Any]]:
    answer = client.get("/healthz")
    return answer.status_code, answer.json()


def test_without_workers_it_is_degraded_503(operator_client: httpx.Client) -> None:
    status, body = health(operator_client)
    assert status == 503 and body["status"] == "degraded"
    parts = body["components"]
    assert parts["database"]["status"] == "ok" and parts["database"]["latency_ms"] >= 0
    assert parts["broker"]["status"] == "ok" and parts["broker"]["brokers"] >= 1
    assert parts["feed"]["status"] == "ok"
    assert parts["workers"] == {"status": "degraded", "alive": 0, "workers": []}
    assert parts["lag"]["status"] == "unknown"  # the group never committed


async def test_heartbeat_makes_it_ok_and_lag_is_reported(
    dashboard: Dashboard, operator_client: httpx.Client, ingest_api_key: str
) -> None:
    raw = dashboard.topic("observations.raw")
    group = dashboard.settings.streams_app_id
    committer = AIOKafkaConsumer(
        bootstrap_servers=dashboard.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    producer = AIOKafkaProducer(bootstrap_servers=dashboard.kafka_bootstrap)
    await committer.start()
    await producer.start()
    try:
        await committer.topics()
        tps = [TopicPartition(raw, p) for p in committer.partitions_for_topic(raw) or ()]
        committer.assign(tps)
        ends = await committer.end_offsets(tps)
        await committer.commit({tp: ends[tp] for tp in tps})  # "the worker is up to date"
        accepted = await asyncio.to_thread(
            httpx.post,
            dashboard.base_url + "/api/v1/observations",
            json={
                "sensor_id": "hp-aq-haian",
                "quantity": "pm25",
                "value": 9.0,
                "time": datetime.now(UTC).isoformat(),
            },
            headers={"Authorization": f"Bearer {ingest_api_key}"},
        )
        assert accepted.status_code == 202  # one message the "worker" has not consumed

        deadline = time.monotonic() + DEADLINE_S
        while True:
            beat = {
                "type": "heartbeat",
                "worker": "test-host:42",
                "time": datetime.now(UTC).isoformat(),
                "processed": 7,
                "lag": 1,
            }
            await producer.send_and_wait(dashboard.topic("dashboard"), json.dumps(beat).encode())
            status, body = await asyncio.to_thread(health, operator_client)
            if status == 200 or time.monotonic() > deadline:
                break
        assert status == 200 and body["status"] == "ok", body
        workers = body["components"]["workers"]
        assert workers["alive"] == 1 and workers["workers"][0]["worker"] == "test-host:42"
        lag = body["components"]["lag"]
        assert lag["status"] == "ok" and lag["group"] == group and lag["total"] == 1, lag
    finally:
        await producer.stop()
        await committer.stop()
