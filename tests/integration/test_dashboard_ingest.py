"""``POST /api/v1/observations`` against a real dashboard process, database and broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fixtures.dashboard import Dashboard, add_api_key, add_user, login, run_cli

pytestmark = pytest.mark.integration

URL = "/api/v1/observations"
DEADLINE_S = 30.0


def item(value: float = 35.2, **over: Any) -> dict[str, Any]:
    doc = {
        "sensor_id": "hp-aq-lechan",
        "quantity": "pm25",
        "value": value,
        "unit": "ug/m3",
        "time": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_id": str(uuid.uuid4()),
    }
    doc.update(over)
    return doc


def post(
    dashboard: Dashboard,
    key: str | None,
    body: Any = None,
    *,
    content: bytes | None = None,
    content_type: str = "application/json",
    **headers: str,
) -> httpx.Response:
    hdrs = {"Content-Type": content_type, **headers}
    if key is not None:
        hdrs["Authorization"] = f"Bearer {key}"
    data = content if content is not None else json.dumps(body).encode()
    return httpx.post(dashboard.base_url + URL, content=data, headers=hdrs, timeout=30)


class RawTopic:
    """Follows ``observations.raw`` from its current end (no consumer group)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def next_matching(self, needle: bytes) -> Any:
        async def loop() -> Any:
            while True:
                batches = await self.consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        if needle in record.value:
                            return record

        return await asyncio.wait_for(loop(), DEADLINE_S)


@pytest.fixture
async def raw_topic(dashboard: Dashboard) -> AsyncIterator[RawTopic]:
    consumer = AIOKafkaConsumer(bootstrap_servers=dashboard.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        topic = dashboard.topic("observations.raw")
        await consumer.topics()
        partitions = consumer.partitions_for_topic(topic)
        assert partitions, f"{topic} was not created by the dashboard"
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        yield RawTopic(consumer)
    finally:
        await consumer.stop()


async def test_valid_batch_is_acknowledged_after_it_reached_the_raw_topic(
    dashboard: Dashboard, ingest_api_key: str, raw_topic: RawTopic
) -> None:
    batch = {"observations": [item(12.5), item(13.5, sensor_id="hp-aq-kienan")]}
    answer = await asyncio.to_thread(post, dashboard, ingest_api_key, batch)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 2, "rejected": []}
    record = await raw_topic.next_matching(batch["observations"][0]["event_id"].encode())
    assert json.loads(record.value) == batch  # forwarded as received, one message
    assert ("ioc-source", b"http") in list(record.headers)


async def test_partial_batch_is_202_with_reasons_and_forwarded_whole(
    dashboard: Dashboard, ingest_api_key: str, raw_topic: RawTopic
) -> None:
    good = item(20.0)
    batch = [
        good,
        item(sensor_id="hp-nope"),
        item(unit="kg"),
        item(value=-5.0),
        item(time="2026-01-01T00:00:00"),
        "not an object",
    ]
    answer = await asyncio.to_thread(post, dashboard, ingest_api_key, batch)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    reasons = {r["index"]: (r["reason"], r["field"]) for r in body["rejected"]}
    assert reasons == {
        1: ("unknown_sensor", "sensor_id"),
        2: ("unit_mismatch", "unit"),
        3: ("out_of_range", "value"),
        4: ("bad_timestamp", "time"),
        5: ("invalid_schema", None),
    }
    assert all(r["message"] for r in body["rejected"])
    record = await raw_topic.next_matching(good["event_id"].encode())
    assert len(json.loads(record.value)) == 6  # the invalid items go on for dead-lettering


async def test_nothing_valid_is_422_and_still_forwarded(
    dashboard: Dashboard, ingest_api_key: str, raw_topic: RawTopic
) -> None:
    bad = item(quantity="radiation")
    answer = await asyncio.to_thread(post, dashboard, ingest_api_key, [bad])
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "no_valid_items" and body["message"]
    assert body["rejected"][0]["reason"] == "unknown_quantity"
    await raw_topic.next_matching(bad["event_id"].encode())


def test_malformed_json_is_400(dashboard: Dashboard, ingest_api_key: str) -> None:
    answer = post(dashboard, ingest_api_key, content=b'{"sensor_id": ')
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed_json"


def test_wrong_content_type_is_415(dashboard: Dashboard, ingest_api_key: str) -> None:
    for ctype in ("text/plain", "application/x-www-form-urlencoded", ""):
        answer = post(dashboard, ingest_api_key, [item()], content_type=ctype)
        assert answer.status_code == 415, ctype
        assert answer.json()["error"] == "unsupported_media_type"
    ok = post(dashboard, ingest_api_key, [item()], content_type="application/json; charset=utf-8")
    assert ok.status_code == 202


def test_body_over_the_limit_is_413_even_without_content_length(
    dashboard: Dashboard, ingest_api_key: str
) -> None:
    limit = dashboard.settings.max_body_bytes
    big = json.dumps([item()] * (limit // 150 + 10)).encode()
    assert len(big) > limit
    answer = post(dashboard, ingest_api_key, content=big)
    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"

    def chunks() -> Any:  # chunked upload: no Content-Length to trust
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = httpx.post(
        dashboard.base_url + URL,
        content=chunks(),
        timeout=30,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {ingest_api_key}"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"] == "body_too_large"


def test_too_many_items_is_413(dashboard: Dashboard, ingest_api_key: str) -> None:
    n = dashboard.settings.max_batch_items + 1
    answer = post(dashboard, ingest_api_key, content=json.dumps([{}] * n).encode())
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_many_items"


def test_missing_or_bad_credentials_are_401(dashboard: Dashboard, ingest_api_key: str) -> None:
    for key, extra in (
        (None, {}),
        ("ioc_000000000000_forged", {}),
        (ingest_api_key + "x", {}),
        ("not-a-key", {}),
    ):
        answer = post(dashboard, key, [item()], **extra)
        assert answer.status_code == 401, key
        assert answer.json()["error"] == "unauthorized"
        assert "Bearer" in answer.headers["www-authenticate"]
    by_header = post(dashboard, None, [item()], **{"X-API-Key": ingest_api_key})
    assert by_header.status_code == 202


def test_revoked_key_is_401(dashboard: Dashboard) -> None:
    key = add_api_key(dashboard.settings, "to-revoke", "ingest")
    assert post(dashboard, key, [item()]).status_code == 202
    run_cli(dashboard.settings, "apikeys", "revoke", "to-revoke")
    assert post(dashboard, key, [item()]).status_code == 401
    listed = json.loads(run_cli(dashboard.settings, "apikeys", "list", "--json"))
    assert any(k["name"] == "to-revoke" and k["revoked_at"] for k in listed)
    assert key not in json.dumps(listed)


def test_roles_other_than_ingest_and_admin_are_403(dashboard: Dashboard) -> None:
    police_key = add_api_key(dashboard.settings, "police-tool", "police")
    answer = post(dashboard, police_key, [item()])
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    admin_key = add_api_key(dashboard.settings, "admin-tool", "admin")
    assert post(dashboard, admin_key, [item()]).status_code == 202
    operator = login(
        dashboard.base_url, "op-ingest", add_user(dashboard.settings, "op-ingest", "operator")
    )
    try:
        answer = operator.post(URL, json=[item()])
    finally:
        operator.close()
    assert answer.status_code == 403
