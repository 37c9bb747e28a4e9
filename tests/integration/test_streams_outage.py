"""A database outage loses nothing: the worker keeps retrying without acking, and once the
database is back every reading is stored exactly once.

The test runs its own PostgreSQL (the session's one is shared with other modules) and stops
it while readings keep arriving."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fixtures.streams import WorkerProcess, produce, query, wait_caught_up, wait_for
from pydantic import SecretStr

from ioc.services import postgres
from ioc.services.ports import free_port
from ioc.settings import Settings
from ioc.storage.migrate import migrate
from ioc.storage.registry import read_areas, read_sensors, seed

pytestmark = pytest.mark.integration


@pytest.fixture
def own_database(fresh_home: Path) -> Iterator[tuple[Settings, int]]:
    settings = Settings(home=fresh_home)
    port = free_port()
    postgres.start(settings, port, progress=lambda line: None)
    try:
        url = postgres.url(settings, port)
        with psycopg.connect(url) as conn:
            migrate(conn, retention_days=settings.retention_days)
            seed(conn, read_areas(settings.areas_file), read_sensors(settings.sensors_file))
        yield settings, port
    finally:
        postgres.stop(settings)


def _readings(n: int, offset_s: int) -> list[bytes]:
    now = datetime.now(UTC)
    return [
        json.dumps(
            {
                "sensor_id": "hp-aq-haian",
                "quantity": "pm25",
                "value": 5.0,
                "time": (now - timedelta(seconds=offset_s + i)).isoformat(),
                "event_id": str(uuid.uuid4()),
            }
        ).encode()
        for i in range(n)
    ]


def test_readings_sent_while_the_database_is_down_are_stored_once_it_is_back(
    worker_factory: Callable[..., WorkerProcess],
    streams_settings: Settings,
    own_database: tuple[Settings, int],
) -> None:
    pg_settings, port = own_database
    url = postgres.url(pg_settings, port)
    settings = streams_settings.model_copy(
        update={
            "database_url": SecretStr(url),
            "topic_prefix": streams_settings.topic_prefix + "o",
            "streams_app_id": streams_settings.streams_app_id + "-outage",
        }
    )

    def count() -> int:
        return int(query(url, "SELECT count(*) FROM readings")[0][0])

    worker = worker_factory(settings)
    produce(settings, "observations.raw", _readings(300, 0))
    wait_for(lambda: count() == 300, "the first 300 rows")

    postgres.stop(pg_settings)
    produce(settings, "observations.raw", _readings(300, 1000))
    assert worker.proc is not None and worker.proc.poll() is None  # retrying, not crashed
    postgres.start(pg_settings, port, progress=lambda line: None)

    wait_for(lambda: count() >= 600, "all 600 rows", deadline_s=120)
    wait_caught_up(settings)
    assert query(url, "SELECT count(*), count(DISTINCT event_id) FROM readings") == [(600, 600)]
    assert worker.stop() == 0
