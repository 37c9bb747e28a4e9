"""The MQTT → Kafka bridge against a private mosquitto and the embedded Kafka broker.

mosquitto is started on a free loopback port in a temp dir (never the system one on 1883);
without ``/usr/sbin/mosquitto`` these tests are skipped.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiokafka import AIOKafkaConsumer

from ioc.mqtt_bridge import ready_path, run_bridge
from ioc.replay.progress import Progress
from ioc.replay.runner import due_stream, make_schedule, open_feeds, replay
from ioc.replay.sinks import MqttSink
from ioc.replay.sources import feeds_from_registry, select_feeds
from ioc.services.broker import create_topics
from ioc.services.ports import free_port, tcp_probe
from ioc.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.mqtt]

MOSQUITTO = Path("/usr/sbin/mosquitto")


class Mosquitto:
    """A private broker; ``restart()`` keeps the port (to test reconnects)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(MOSQUITTO), "-c", str(self.conf)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not tcp_probe("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    if not MOSQUITTO.exists() or shutil.which(str(MOSQUITTO)) is None:
        pytest.skip("no MQTT broker: /usr/sbin/mosquitto is not installed")
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def bridge_settings(services: Any, mosquitto: Mosquitto, tmp_path: Path) -> Settings:
    settings = Settings(
        home=tmp_path / "home",
        kafka_bootstrap_servers=services.kafka_bootstrap_servers,
        topic_prefix=f"t{secrets.token_hex(4)}",
        mqtt_url=mosquitto.url,
    )
    await create_topics(services.kafka_bootstrap_servers, [settings.topic("observations.raw")], 1)
    return settings


async def _wait(what: str, probe: Any, deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def bridge(bridge_settings: Settings) -> AsyncIterator[asyncio.Task[Any]]:
    task = asyncio.create_task(
        run_bridge(
            bridge_settings,
            str(bridge_settings.kafka_bootstrap_servers),
            str(bridge_settings.mqtt_url),
        )
    )
    await _wait("bridge subscription", ready_path(bridge_settings).exists)
    yield task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _items(records: list[Any]) -> list[Any]:
    return [i for r in records for i in json.loads(r.value)]


async def _consume(
    settings: Settings,
    count: int | None = None,
    *,
    items: int | None = None,
    deadline_s: float = 30.0,
    settle_s: float = 1.0,
) -> list[Any]:
    """Records of the raw topic, once ``count`` records (or ``items`` items) are there.

    Then it reads on for ``settle_s`` so that an extra (duplicate) message would be seen.
    """
    consumer = AIOKafkaConsumer(
        settings.topic("observations.raw"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[Any] = []

    def enough() -> bool:
        return len(got) >= count if count is not None else len(_items(got)) >= (items or 0)

    try:
        deadline = time.monotonic() + deadline_s
        while not enough() and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                got.extend(records)
        settle = time.monotonic() + settle_s
        while time.monotonic() < settle:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                got.extend(records)
    finally:
        await consumer.stop()
    return got


async def _publish(url_port: int, messages: list[tuple[str, bytes]]) -> None:
    async with aiomqtt.Client("127.0.0.1", url_port) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def test_forwards_payloads_unchanged_with_headers(
    bridge: asyncio.Task[Any], bridge_settings: Settings, mosquitto: Mosquitto
) -> None:
    good = json.dumps(
        {
            "sensor_id": "hp-aq-lechan",
            "quantity": "pm25",
            "value": 12.5,
            "unit": "ug/m3",
            "time": "2026-11-23T07:00:00+07:00",
        }
    ).encode()
    malformed = b'{"sensor_id": "hp-aq-lechan", "value": '
    await _publish(
        mosquitto.port, [("ioc/sensors/hp-aq-lechan", good), ("ioc/sensors/broken", malformed)]
    )
    records = await _consume(bridge_settings, 2)
    by_value = {r.value: r for r in records}
    assert set(by_value) == {good, malformed}  # the malformed one is forwarded, not dropped
    headers = dict(by_value[malformed].headers)
    assert headers["ioc-source"] == b"mqtt"
    assert headers["ioc-mqtt-topic"] == b"ioc/sensors/broken"
    assert by_value[good].key == b"ioc/sensors/hp-aq-lechan"


async def test_persistent_session_and_reconnect(
    bridge_settings: Settings, mosquitto: Mosquitto
) -> None:
    """Messages published while the bridge is away arrive later; a broker restart is survived."""
    args = (bridge_settings, str(bridge_settings.kafka_bootstrap_servers), mosquitto.url)
    task = asyncio.create_task(run_bridge(*args))
    await _wait("bridge subscription", ready_path(bridge_settings).exists)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await _publish(mosquitto.port, [("ioc/sensors/a", b'{"n": 1}')])  # queued for the session
    task = asyncio.create_task(run_bridge(*args))
    try:
        assert [r.value for r in await _consume(bridge_settings, 1)] == [b'{"n": 1}']
        # Broker restart (sessions are not persisted): the bridge reconnects with back-off.
        ready_path(bridge_settings).unlink()
        mosquitto.stop()
        mosquitto.start()
        await _wait("bridge re-subscription", ready_path(bridge_settings).exists)
        await _publish(mosquitto.port, [("ioc/sensors/a", b'{"n": 2}')])
        values = [r.value for r in await _consume(bridge_settings, 2)]
        assert values == [b'{"n": 1}', b'{"n": 2}']
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_replay_through_mqtt_reaches_kafka(
    bridge: asyncio.Task[Any], bridge_settings: Settings, mosquitto: Mosquitto
) -> None:
    feeds = select_feeds(
        feeds_from_registry(bridge_settings.sensors_file), ["hanoi_us_embassy", "i94"]
    )
    readers = open_feeds(feeds, bridge_settings.shared_dir / "data")
    schedule = make_schedule(readers, "compressed", 3600 * 24 * 30)
    sink = MqttSink(mosquitto.url)
    await sink.start()
    try:
        counters = await replay(
            due_stream(readers, schedule), sink, Progress("mqtt", enabled=False), limit=500
        )
    finally:
        await sink.close()
    assert counters.sent == 500
    records = await _consume(bridge_settings, items=500)
    items = _items(records)
    assert len(items) == 500
    assert {i["sensor_id"] for i in items} == {"hp-aq-hongbang", "hp-tf-cambridge"}
    assert all(dict(r.headers)["ioc-mqtt-topic"].startswith(b"ioc/sensors/hp-") for r in records)


async def test_not_acknowledged_until_kafka_has_it(
    bridge_settings: Settings, mosquitto: Mosquitto
) -> None:
    """While Kafka refuses, the message stays unacknowledged; the next session gets it."""
    from aiokafka.errors import KafkaConnectionError

    from ioc.mqtt_bridge import Bridge

    marker = ready_path(bridge_settings)
    marker.parent.mkdir(parents=True, exist_ok=True)
    failing = Bridge(
        bridge_settings,
        str(bridge_settings.kafka_bootstrap_servers),
        mosquitto.url,
        on_ready=lambda: marker.write_text("1"),
        drain_s=0.2,
    )
    attempts = 0

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        nonlocal attempts
        attempts += 1
        raise KafkaConnectionError("simulated outage")

    task = asyncio.create_task(failing.run())
    await _wait("bridge subscription", marker.exists)
    failing._producer.send = refuse
    await _publish(mosquitto.port, [("ioc/sensors/a", b'{"outage": true}')])
    await _wait("retries against the failing broker", lambda: attempts >= 2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert failing.stats.forwarded == 0

    marker.unlink()
    task = asyncio.create_task(
        run_bridge(bridge_settings, str(bridge_settings.kafka_bootstrap_servers), mosquitto.url)
    )
    try:
        records = await _consume(bridge_settings, 1)
        assert [r.value for r in records] == [b'{"outage": true}']
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
