"""Unified alarms end to end, against a real dashboard process and a real ``ioc worker``.

An over-threshold reading goes the whole way: HTTP ingest → ingest agent → alerts agent →
``alert`` on the dashboard topic → alarms agent (stores the alarm, publishes
``alarm.raised``) → the server's feed → hub → two operators' websockets. One operator
acknowledges over HTTP; the other sees ``alarm.acknowledged`` on its socket. Camera faults,
replays (idempotency), permissions and error codes are checked on the same stack.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fixtures.dashboard import Dashboard, add_api_key, add_user, login
from fixtures.streams import dashboard_messages, query
from websockets.asyncio.client import ClientConnection, connect

pytestmark = pytest.mark.integration

DEADLINE_S = 90.0


@pytest.fixture(scope="module")
def worker(dashboard: Dashboard, worker_factory: Callable[..., Any]) -> Any:
    return worker_factory(settings=dashboard.settings)


@pytest.fixture
async def producer(dashboard: Dashboard) -> AsyncIterator[AIOKafkaProducer]:
    prod = AIOKafkaProducer(bootstrap_servers=dashboard.kafka_bootstrap, acks="all")
    await prod.start()
    yield prod
    await prod.stop()


def db_url(dashboard: Dashboard) -> str:
    assert dashboard.settings.database_url is not None
    return dashboard.settings.database_url.get_secret_value()


def operator(dashboard: Dashboard, role: str = "operator") -> tuple[str, httpx.Client]:
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    client = login(dashboard.base_url, name, add_user(dashboard.settings, name, role))
    return name, client


async def wall_socket(dashboard: Dashboard, client: httpx.Client) -> ClientConnection:
    headers = {
        "Origin": dashboard.base_url,
        "Cookie": f"ioc_session={client.cookies['ioc_session']}",
    }
    ws = await connect(dashboard.ws_url, additional_headers=headers, open_timeout=30)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello" and "alarms" in hello["channels"]
    await ws.send(json.dumps({"type": "subscribe", "channels": ["alarms"]}))
    return ws


async def next_alarm(
    ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first alarm message (also inside ``batch`` frames) that satisfies ``predicate``."""

    async def loop() -> dict[str, Any]:
        while True:
            doc = json.loads(await ws.recv())
            for item in doc["items"] if doc["type"] == "batch" else [doc]:
                if str(item.get("type", "")).startswith("alarm.") and predicate(item):
                    return dict(item)

    return await asyncio.wait_for(loop(), DEADLINE_S)


def ingest_pm25(dashboard: Dashboard, value: float) -> None:
    key = add_api_key(dashboard.settings, f"alarm-sensor-{uuid.uuid4().hex[:4]}", "ingest")
    answer = httpx.post(
        dashboard.base_url + "/api/v1/observations",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "sensor_id": "hp-aq-haian",
            "quantity": "pm25",
            "value": value,
            "unit": "ug/m3",
            "time": datetime.now(UTC).isoformat(),
        },
        timeout=30,
    )
    assert answer.status_code == 202, answer.text


async def test_alarm_from_the_stream_is_acknowledged_on_one_wall_and_seen_on_another(
    dashboard: Dashboard, worker: Any, producer: AIOKafkaProducer
) -> None:
    name_a, http_a = await asyncio.to_thread(operator, dashboard)
    _, http_b = await asyncio.to_thread(operator, dashboard)
    wall_a = await wall_socket(dashboard, http_a)
    wall_b = await wall_socket(dashboard, http_b)
    try:
        await asyncio.to_thread(ingest_pm25, dashboard, 163.4)  # very bad: severity 4

        def haian(doc: dict[str, Any]) -> bool:
            return bool(doc["alarm"]["source_ref"] == "hp-aq-haian/pm25")

        raised_a = await next_alarm(wall_a, haian)
        raised_b = await next_alarm(wall_b, haian)
        assert raised_a["type"] == raised_b["type"] == "alarm.raised"
        alarm = raised_a["alarm"]
        assert alarm["source_kind"] == "sensor_alert" and alarm["severity"] == 4
        assert alarm["state"] == "active_unacked" and alarm["area_id"] == "306"

        answer = await asyncio.to_thread(
            http_a.post, f"/api/v1/alarms/{alarm['id']}/ack", json={"text": "đã nhận"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["alarm"]["state"] == "active_acked"
        seen = await next_alarm(wall_b, lambda d: d["type"] == "alarm.acknowledged")
        assert seen["alarm"]["id"] == alarm["id"] and seen["alarm"]["acked_by"] == name_a
        assert seen["event"]["text"] == "đã nhận"

        again = await asyncio.to_thread(http_a.post, f"/api/v1/alarms/{alarm['id']}/ack")
        assert again.status_code == 409 and again.json()["error"] == "already_acknowledged"
        detail = (await asyncio.to_thread(http_b.get, f"/api/v1/alarms/{alarm['id']}")).json()
        assert [e["kind"] for e in detail["history"]] == ["raised", "acknowledged"]

        # The alert message replayed (a redelivery): no second alarm, no new event. A camera
        # fault sent after it on the same partition marks when the agent has seen it.
        original = [
            m
            for m in await asyncio.to_thread(dashboard_messages, dashboard.settings)
            if m.get("type") == "alert" and m["event"]["sensor_id"] == "hp-aq-haian"
        ]
        assert original
        marker = f"cam-{uuid.uuid4().hex[:6]}"
        offline = {"type": "camera", "camera_id": marker, "connected": False, "error": None}
        for doc in (*original, {**offline, "time": datetime.now(UTC).isoformat()}):
            await producer.send_and_wait(
                dashboard.topic("dashboard"), json.dumps(doc).encode(), partition=0
            )
        await next_alarm(wall_b, lambda d: d["alarm"]["source_ref"] == marker)
        url = db_url(dashboard)
        rows = query(url, "SELECT count(*) FROM alarm_events WHERE alarm_id = %s", (alarm["id"],))
        assert rows == [(2,)]
        rows = query(url, "SELECT count(*) FROM alarms WHERE source_ref = 'hp-aq-haian/pm25'")
        assert rows == [(1,)]
    finally:
        await wall_a.close()
        await wall_b.close()
        http_a.close()
        http_b.close()


async def test_camera_fault_raises_and_recovery_clears(
    dashboard: Dashboard, worker: Any, producer: AIOKafkaProducer
) -> None:
    _, http = await asyncio.to_thread(operator, dashboard)
    wall = await wall_socket(dashboard, http)
    camera = f"cam-{uuid.uuid4().hex[:6]}"

    async def health(connected: bool) -> None:
        doc = {
            "type": "camera",
            "camera_id": camera,
            "name": "Cầu Rào",
            "time": datetime.now(UTC).isoformat(),
            "connected": connected,
            "error": None,
        }
        await producer.send_and_wait(
            dashboard.topic("dashboard"), json.dumps(doc).encode(), key=camera.encode()
        )

    try:
        await health(False)
        await health(False)  # still down: no second event
        raised = await next_alarm(wall, lambda d: d["alarm"]["source_ref"] == camera)
        assert raised["type"] == "alarm.raised" and raised["alarm"]["severity"] == 4
        await health(True)
        cleared = await next_alarm(wall, lambda d: d["alarm"]["source_ref"] == camera)
        assert cleared["type"] == "alarm.cleared"
        assert cleared["alarm"]["state"] == "cleared_unacked"
        url = db_url(dashboard)
        kinds = query(
            url,
            "SELECT e.kind FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id"
            " WHERE a.source_ref = %s ORDER BY e.time",
            (camera,),
        )
        assert [k for (k,) in kinds] == ["raised", "cleared"]
    finally:
        await wall.close()
        http.close()


def test_alarm_actions_are_checked(dashboard: Dashboard) -> None:
    _, police = operator(dashboard, "police")
    _, op = operator(dashboard)
    try:
        listing = police.get("/api/v1/alarms")
        assert listing.status_code == 200 and "open" in listing.json()
        some = str(uuid.uuid4())
        assert police.post(f"/api/v1/alarms/{some}/ack").status_code == 403
        assert op.post(f"/api/v1/alarms/{some}/ack").json()["error"] == "not_found"
        assert op.post(f"/api/v1/alarms/{some}/explode").json()["error"] == "invalid_action"
        assert op.post("/api/v1/alarms/not-a-uuid/ack").json()["error"] == "invalid_id"
        bad = op.post(f"/api/v1/alarms/{some}/comment", content=b"[1]")
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_body"
        foreign = httpx.post(
            f"{dashboard.base_url}/api/v1/alarms/{some}/ack",
            cookies={"ioc_session": op.cookies["ioc_session"]},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403 and foreign.json()["error"] == "csrf_failed"
        series = op.get("/api/v1/wall/series", params={"quantity": "pm25", "window": "1m"})
        assert series.status_code == 200 and series.json()["quantity"] == "pm25"
        assert op.get("/api/v1/wall/series", params={"span": "0"}).status_code == 400
        geo = op.get("/api/v1/wall/map").json()
        assert len(geo["areas"]["features"]) == 15 and geo["sensors"]
    finally:
        police.close()
        op.close()
