"""``/ws`` against a real dashboard process: snapshot from TimescaleDB, then live messages
put on the real ``dashboard`` topic; channel permissions; close codes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from fixtures.dashboard import Dashboard, add_api_key, add_user, login
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def city_state(dashboard: Dashboard) -> dict[str, Any]:
    """Rows the snapshot must show: a latest reading, rollups, an active alert."""
    assert dashboard.settings.database_url is not None
    alert_id = uuid.uuid4()
    bucket = NOW.replace(second=0) - timedelta(minutes=2)
    with psycopg.connect(dashboard.settings.database_url.get_secret_value()) as conn:
        conn.execute(
            "INSERT INTO latest_readings VALUES ('hp-aq-lechan', 'pm25', %s, 61.5, 'ug/m3')", (NOW,)
        )
        for i in range(3):
            conn.execute(
                "INSERT INTO rollup_area_1m VALUES (%s, '305', 'pm25', 2, %s, 20, 40)",
                (bucket - timedelta(minutes=i), 60.0 + i),
            )
        conn.execute(
            "INSERT INTO alerts VALUES (%s, 'hp-aq-lechan', 'pm25', 'poor', 2, 'active', %s, %s,"
            " NULL, 61.5, 61.5, 'PM2.5 poor at Le Chan')",
            (alert_id, NOW, NOW),
        )
    return {"alert_id": str(alert_id), "bucket": bucket}


@pytest.fixture
async def producer(dashboard: Dashboard) -> AsyncIterator[AIOKafkaProducer]:
    prod = AIOKafkaProducer(bootstrap_servers=dashboard.kafka_bootstrap, acks="all")
    await prod.start()
    yield prod
    await prod.stop()


async def publish(producer: AIOKafkaProducer, dashboard: Dashboard, doc: dict[str, Any]) -> None:
    await producer.send_and_wait(dashboard.topic("dashboard"), json.dumps(doc).encode(), key=b"k")


async def open_ws(dashboard: Dashboard, role: str | None, **headers: str) -> ClientConnection:
    hdrs = {"Origin": dashboard.base_url, **headers}
    if role is not None:
        name = f"{role}-{uuid.uuid4().hex[:6]}"
        password = await asyncio.to_thread(
            add_user,
            dashboard.settings,
            name,
            role,
            "environment" if role == "department" else None,
        )
        client = await asyncio.to_thread(login, dashboard.base_url, name, password)
        hdrs["Cookie"] = f"ioc_session={client.cookies['ioc_session']}"
        client.close()
    return await connect(dashboard.ws_url, additional_headers=hdrs, open_timeout=DEADLINE_S)


async def receive(ws: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next message (of ``kind``, skipping others)."""

    async def loop() -> dict[str, Any]:
        while True:
            doc: dict[str, Any] = json.loads(await ws.recv())
            if kind is None or doc["type"] == kind:
                return doc

    return await asyncio.wait_for(loop(), DEADLINE_S)


async def close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), DEADLINE_S)
    return closed.value.rcvd.code if closed.value.rcvd else None


def readings(value: float) -> dict[str, Any]:
    return {
        "type": "readings",
        "items": [
            {
                "sensor_id": "hp-aq-lechan",
                "area_id": "305",
                "quantity": "pm25",
                "time": datetime.now(UTC).isoformat(),
                "value": value,
                "unit": "ug/m3",
            }
        ],
    }


async def test_operator_gets_snapshot_then_live_updates(
    dashboard: Dashboard, city_state: dict[str, Any], producer: AIOKafkaProducer
) -> None:
    async with await open_ws(dashboard, "operator") as ws:
        hello = await receive(ws)
        assert hello["type"] == "hello" and {"alerts", "sensors", "system"} <= set(
            hello["channels"]
        )
        channels = ["alerts", "sensors", "system"]  # (the wall's channels have their tests)
        await ws.send(json.dumps({"type": "subscribe", "channels": channels}))
        snap = await receive(ws)
        assert snap["type"] == "snapshot"
        assert snap["channels"] == ["alerts", "sensors", "system"]
        assert {"id": "305", "name": "Le Chan"}.items() <= next(
            a for a in snap["areas"] if a["id"] == "305"
        ).items()
        latest = [r for r in snap["latest"] if r["sensor_id"] == "hp-aq-lechan"]
        assert latest[0]["value"] == 61.5 and latest[0]["area_id"] == "305"
        assert latest[0]["area_name"] == "Le Chan" and latest[0]["area_name_vi"] == "Lê Chân"
        means = [r["mean"] for r in snap["rollups"] if r["area_id"] == "305"]
        assert means == [31.0, 30.5, 30.0]  # sum / count, oldest first
        assert [a["alert_id"] for a in snap["alerts"]] == [city_state["alert_id"]]
        assert snap["workers"] == []

        update = readings(88.8)
        await publish(producer, dashboard, update)
        live = await receive(ws)
        assert live == update  # passed through unchanged

        alert = {"type": "alert", "event": {"kind": "cleared", "alert_id": city_state["alert_id"]}}
        await publish(producer, dashboard, alert)
        assert await receive(ws) == alert


async def test_reconnect_and_resync_get_a_fresh_snapshot(dashboard: Dashboard) -> None:
    for _ in range(2):
        async with await open_ws(dashboard, "police") as ws:
            await receive(ws, "hello")
            await ws.send(json.dumps({"type": "subscribe", "channels": ["sensors"]}))
            first = await receive(ws, "snapshot")
            await ws.send(json.dumps({"type": "resync"}))
            second = await receive(ws, "snapshot")
            assert first["time"] <= second["time"] and second["channels"] == ["sensors"]


async def test_police_cannot_subscribe_to_system_and_gets_no_heartbeats(
    dashboard: Dashboard, producer: AIOKafkaProducer
) -> None:
    async with await open_ws(dashboard, "police") as ws:
        hello = await receive(ws, "hello")
        assert {"alerts", "sensors"} <= set(hello["channels"])
        assert "system" not in hello["channels"]
        await ws.send(json.dumps({"type": "subscribe", "channels": ["sensors", "system"]}))
        snap = await receive(ws, "snapshot")
        assert snap["channels"] == ["sensors"] and "workers" not in snap
        refused = await receive(ws, "error")
        assert refused["error"] == "forbidden_channel" and "system" in refused["message"]
        await publish(
            producer,
            dashboard,
            {
                "type": "heartbeat",
                "worker": "w:1",
                "time": datetime.now(UTC).isoformat(),
                "processed": 1,
                "lag": 0,
            },
        )
        marker = readings(12.0)
        await publish(producer, dashboard, marker)  # same partition: after the heartbeat
        assert await receive(ws) == marker


async def test_unknown_commands_are_refused(dashboard: Dashboard) -> None:
    async with await open_ws(dashboard, "operator") as ws:
        await receive(ws, "hello")
        for bad in (
            '{"type": "shutdown"}',
            "not json",
            '["subscribe"]',
            '{"type": "subscribe", "channels": "sensors"}',
        ):
            await ws.send(bad)
            assert (await receive(ws, "error"))["error"] in ("unknown_command", "invalid_command")
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws, "pong"))["type"] == "pong"


async def test_unauthenticated_and_machine_callers_are_closed_4401(dashboard: Dashboard) -> None:
    ws = await open_ws(dashboard, None)
    assert await close_code(ws) == 4401
    ws = await open_ws(dashboard, None, Cookie="ioc_session=forged")
    assert await close_code(ws) == 4401
    key = await asyncio.to_thread(add_api_key, dashboard.settings, "ws-key", "admin")
    ws = await open_ws(dashboard, None, Authorization=f"Bearer {key}")
    assert await close_code(ws) == 4401


async def test_cross_origin_socket_is_closed_4403(dashboard: Dashboard) -> None:
    ws = await open_ws(dashboard, "operator", Origin="http://evil.example")
    assert await close_code(ws) == 4403


async def test_department_may_follow_sensors_and_alerts(dashboard: Dashboard) -> None:
    async with await open_ws(dashboard, "department") as ws:
        hello = await receive(ws, "hello")
        assert hello["role"] == "department" and "system" not in hello["channels"]
        await ws.send(json.dumps({"type": "subscribe", "channels": ["alerts"]}))
        snap = await receive(ws, "snapshot")
        assert "alerts" in snap and "latest" not in snap
