"""``ioc replay`` end to end: through Kafka (raw topic) and through HTTP ingest (stored rows).

The HTTP test needs the whole ingest path: the web server (``dashboard``, ``ingest_api_key``
from ``tests/fixtures/dashboard.py``) and a stream worker (``worker_factory`` from
``tests/fixtures/streams.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from ioc.cli import replay as replay_cli
from ioc.services.broker import create_topics
from ioc.settings import Settings

if TYPE_CHECKING:  # imported by pytest as plugins; importing them first would skip rewriting
    from fixtures.dashboard import Dashboard
    from fixtures.streams import WorkerProcess

pytestmark = pytest.mark.integration


def run_replay(settings: Settings, *argv: str) -> int:
    """``ioc replay ARGV`` in this process with these settings."""
    parser = argparse.ArgumentParser()
    replay_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["replay", "--no-progress", *argv])
    code: int = args.func(args, settings)
    return code


async def _raw_items(settings: Settings, want: int, deadline_s: float = 30.0) -> list[Any]:
    """(headers, item) of the raw topic once ``want`` items arrived, plus 1 s to see extras."""
    consumer = AIOKafkaConsumer(
        settings.topic("observations.raw"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = time.monotonic() + deadline_s
        settle: float | None = None
        while time.monotonic() < (settle or deadline):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out.extend((dict(r.headers), item) for r in records for item in json.loads(r.value))
            if settle is None and len(out) >= want:
                settle = time.monotonic() + 1.0
    finally:
        await consumer.stop()
    return out


@pytest.fixture
def kafka_settings(services: Any, tmp_path: Path) -> Settings:
    settings = Settings(
        home=tmp_path,
        database_url=services.database_url,
        kafka_bootstrap_servers=services.kafka_bootstrap_servers,
        topic_prefix=f"r{secrets.token_hex(4)}",
    )
    asyncio.run(
        create_topics(services.kafka_bootstrap_servers, [settings.topic("observations.raw")], 2)
    )
    return settings


def test_replay_via_kafka_compressed(kafka_settings: Settings) -> None:
    started = time.time()
    assert (
        run_replay(
            kafka_settings,
            "--via",
            "kafka",
            "--limit",
            "2000",
            "--speed",
            str(3600 * 24 * 7),
            "--sources",
            "beijing",
            "fremont",
        )
        == 0
    )
    got = asyncio.run(_raw_items(kafka_settings, 2000))
    assert len(got) == 2000
    assert all(h["ioc-source"] == b"replay" for h, _ in got)
    items = [i for _, i in got]
    assert {i["sensor_id"] for i in items} >= {"hp-aq-ngoquyen", "hp-bk-tambac"}
    assert len({i["event_id"] for i in items}) == 2000
    # Compressed: event times are "now" (the run's wall-clock window), not 2015.
    from datetime import datetime

    times = [datetime.fromisoformat(i["time"]).timestamp() for i in items]
    assert started - 1 <= min(times) and max(times) <= time.time() + 1


def test_replay_original_shifted_is_repeatable(kafka_settings: Settings) -> None:
    argv = (
        "--via",
        "kafka",
        "--limit",
        "300",
        "--time-mode",
        "original-shifted",
        "--sources",
        "hanoi_us_embassy",
    )
    assert run_replay(kafka_settings, *argv) == 0
    assert run_replay(kafka_settings, *argv) == 0
    items = [i for _, i in asyncio.run(_raw_items(kafka_settings, 600))]
    assert len(items) == 600
    first, second = items[:300], items[300:]
    assert [(i["event_id"], i["time"]) for i in first] == [
        (i["event_id"], i["time"]) for i in second
    ]
    # Hanoi 2016-01-01 01:00 +07 shifted by whole years, hour and day kept.
    assert first[0]["time"].endswith("-12-31T18:00:00+00:00")
    assert first[0]["value"] == 94.7


def test_http_replay_stores_exactly_what_was_sent(
    dashboard: Dashboard, ingest_api_key: str, worker_factory: Callable[..., WorkerProcess]
) -> None:
    """A few thousand real readings through HTTP ingest: exactly that many rows stored."""
    from fixtures.streams import wait_caught_up

    settings = dashboard.settings
    # The worker reads what the web server produces (same topics and database).
    worker = worker_factory(settings, streams_app_id=f"replay-{secrets.token_hex(4)}")
    limit = 3000
    # Beijing and I-94 hold no value outside the catalogue's ranges: nothing is refused.
    assert (
        run_replay(
            settings,
            "--via",
            "http",
            "--url",
            dashboard.base_url,
            "--api-key",
            ingest_api_key,
            "--limit",
            str(limit),
            "--speed",
            str(3600 * 24 * 30),
            "--sources",
            "beijing",
            "i94",
        )
        == 0
    )
    # Every batch was answered 202 only once in Kafka; the worker has committed them all
    # once its group has no lag left, so the count is final (no waiting for a count).
    wait_caught_up(worker.settings)
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT event_id), count(DISTINCT sensor_id) FROM readings"
        ).fetchone()
    assert row is not None and (row[0], row[1]) == (limit, limit)
    assert row[2] == 5  # four Beijing stations and the I-94 counter
