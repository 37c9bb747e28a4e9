"""The embedded services really work: hypertables, a Kafka round trip, the CLI lifecycle,
and clear errors when a port is taken or a binary is missing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ioc.services import broker, manager, postgres
from ioc.services.ports import (
    MissingBinaryError,
    PortInUseError,
    pid_alive,
    port_in_use,
    tcp_probe,
)
from ioc.settings import Settings

if TYPE_CHECKING:
    from conftest import TestServices

pytestmark = pytest.mark.integration

CLI = """
import argparse, sys
from ioc.cli import services
from ioc.settings import Settings
parser = argparse.ArgumentParser()
services.register(parser.add_subparsers(dest="cmd", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args, Settings()))
"""


@pytest.fixture
def home(fresh_home: Path) -> Iterator[Path]:
    """A fresh IOC_HOME; anything left running in it is stopped afterwards."""
    yield fresh_home
    manager.down(embedded(fresh_home))


def embedded(home: Path, **kw: object) -> Settings:
    return Settings(home=home, database_url=None, kafka_bootstrap_servers=None, **kw)  # type: ignore[arg-type]


def ioc_services(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env["IOC_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-c", CLI, "services", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_hypertable_and_time_bucket(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (ts timestamptz NOT NULL, v double precision)")
        conn.execute("SELECT create_hypertable('t', 'ts')")
        conn.execute(
            "INSERT INTO t SELECT g, 1 FROM generate_series("
            "'2025-01-01 00:00+00'::timestamptz, '2025-01-01 02:59+00', '1 minute') g"
        )
        rows = conn.execute(
            "SELECT time_bucket('1 hour', ts) AS b, count(*) FROM t GROUP BY b ORDER BY b"
        ).fetchall()
    assert [n for _, n in rows] == [60, 60, 60]


async def test_kafka_round_trip(services: TestServices) -> None:
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    bootstrap = services.kafka_bootstrap_servers
    assert await broker.create_topics(bootstrap, [topic], partitions=3) == [topic]
    assert await broker.create_topics(bootstrap, [topic], partitions=3) == []  # idempotent
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"sensor-1")
        assert len(await producer.partitions_for(topic)) == 3
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(  # Tansu joins after session_timeout/2: keep it short
        topic, bootstrap_servers=bootstrap, group_id="test", auto_offset_reset="earliest",
        session_timeout_ms=2000, heartbeat_interval_ms=500,
    )  # fmt: skip
    await consumer.start()
    try:
        message = await consumer.getone()
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"sensor-1", b"hello")


def test_cli_lifecycle(home: Path) -> None:
    up = ioc_services(home, "up")
    assert up.returncode == 0, up.stderr
    info = json.loads(ioc_services(home, "status", "--json").stdout)  # `up` process has exited
    assert info["timescaledb_edition"] == "apache"
    assert info["rollup_mode"] == "streams"
    assert info["timescaledb_version"]
    assert info["mode"] == {"postgres": "embedded", "broker": "embedded"}
    assert info["dashboard_url"] is None
    assert pid_alive(info["postgres"]["pid"])
    with psycopg.connect(info["database_url"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    host, port = info["kafka_bootstrap_servers"].split(":")
    assert tcp_probe(host, int(port))

    manager.record_dashboard_url(embedded(home), "http://127.0.0.1:8080")
    assert "http://127.0.0.1:8080" in ioc_services(home, "status").stdout

    down = ioc_services(home, "down")
    assert down.returncode == 0, down.stderr
    assert "broker" in down.stdout and "postgres" in down.stdout
    for name in ("postgres", "broker"):
        assert not pid_alive(info[name]["pid"])
        assert not port_in_use(info[name]["port"])
    after = json.loads(ioc_services(home, "status", "--json").stdout)
    assert after["database_url"] is None and after["postgres"]["running"] is False
    with pytest.raises(manager.ServicesNotRunningError, match="ioc services up"):
        manager.database_url(embedded(home))


def test_context_manager_stops_on_exception(home: Path) -> None:
    settings = embedded(home)
    with pytest.raises(RuntimeError, match="boom"), manager.running(settings) as ep:
        pids = manager.status(settings)
        assert manager.kafka_bootstrap(settings) == ep.kafka_bootstrap_servers
        raise RuntimeError("boom")
    assert postgres.running_pid(settings) is None
    assert not any(pid_alive(pids[name]["pid"]) for name in ("postgres", "broker"))


async def test_async_context_manager(home: Path) -> None:
    settings = embedded(home)
    async with manager.running_async(settings) as ep:
        assert manager.database_url(settings) == ep.database_url
        info = manager.status(settings)
    assert not any(pid_alive(info[name]["pid"]) for name in ("postgres", "broker"))
    assert not port_in_use(info["postgres"]["port"])


def test_port_in_use_is_a_clear_error(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"postgres: port 127.0.0.1:{port} is already"):
            manager.up(embedded(home), pg_port=port)
        # broker fails after postgres started: postgres must be stopped again
        with pytest.raises(PortInUseError, match=f"broker: port 127.0.0.1:{port}"):
            manager.up(embedded(home), kafka_port=port)
    assert postgres.running_pid(embedded(home)) is None
    assert manager.read_state(embedded(home)).get("postgres") is None


def test_missing_binary_is_a_clear_error(home: Path) -> None:
    settings = embedded(home, pg_bin_dir=home / "no-such-bin")
    with pytest.raises(MissingBinaryError, match="IOC_PG_BIN_DIR"):
        manager.up(settings)
