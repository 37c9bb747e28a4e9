"""A database outage loses nothing: the worker keeps retrying without acking, the web server
says so on ``/healthz``, and once the database is back every reading is stored exactly once.

The test runs its own PostgreSQL (``stoppable_postgres``; the session's one is shared with
other modules) and stops it for several seconds while readings keep arriving over Kafka and
over HTTP ingest. (Moved here from ``tests/integration/test_streams_outage.py`` and extended
with the web server's side.)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fixtures.dashboard import add_api_key
from fixtures.faults import OwnPostgres
from fixtures.streams import WorkerProcess, produce, query, wait_caught_up, wait_for
from pydantic import SecretStr

from ioc.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.integration]

OUTAGE_S = 5.0


def _readings(n: int, offset_s: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "sensor_id": "hp-aq-haian",
            "quantity": "pm25",
            "value": 5.0,
            "time": (now - timedelta(seconds=offset_s + i)).isoformat(),
            "event_id": str(uuid.uuid4()),
        }
        for i in range(n)
    ]


def _encoded(items: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(item).encode() for item in items]


def _status(base_url: str) -> str:
    try:
        return str(httpx.get(base_url + "/healthz", timeout=10).json()["status"])
    except httpx.TransportError:
        return "unreachable"


def test_readings_sent_while_the_database_is_down_are_stored_once_it_is_back(
    worker_factory: Callable[..., WorkerProcess],
    dashboard_process: Callable[[Settings], Any],
    streams_settings: Settings,
    stoppable_postgres: OwnPostgres,
) -> None:
    pg = stoppable_postgres
    url = pg.url
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
    server = dashboard_process(settings)
    key = add_api_key(settings, "outage-sensor", "ingest")
    produce(settings, "observations.raw", _encoded(_readings(300, 0)))
    wait_for(lambda: count() == 300, "the first 300 rows")
    wait_for(lambda: _status(server.base_url) == "ok", "healthz ok before the outage")

    pg.stop()
    stopped_at = time.monotonic()
    wait_for(lambda: _status(server.base_url) == "down", "healthz to show the outage")
    produce(settings, "observations.raw", _encoded(_readings(300, 1000)))
    during = _readings(50, 2000)
    answer = httpx.post(
        server.base_url + "/api/v1/observations",
        json={"observations": during},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    # Accepted (the broker has it) or refused with a retryable 503 - never a 5xx crash.
    assert answer.status_code in (202, 503), (answer.status_code, answer.text)
    if answer.status_code == 503:
        assert "retry-after" in answer.headers
    wait_for(lambda: time.monotonic() - stopped_at >= OUTAGE_S, "the outage to last", 30, 0.2)
    assert worker.proc is not None and worker.proc.poll() is None  # retrying, not crashed
    assert _status(server.base_url) == "down"

    pg.start()
    restarted_at = time.monotonic()
    # The client retries, as the answer told it to, until the server has its database back.
    retry_until = time.monotonic() + 90
    while answer.status_code == 503 and time.monotonic() < retry_until:
        time.sleep(min(float(answer.headers.get("retry-after", "1")), 1.0))
        answer = httpx.post(
            server.base_url + "/api/v1/observations",
            json={"observations": during},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
    assert answer.status_code == 202, answer.text
    wait_for(lambda: count() >= 650, "all 650 rows", deadline_s=120)
    recovery = time.monotonic() - restarted_at
    wait_for(lambda: _status(server.base_url) == "ok", "healthz ok after the outage", 60)
    wait_caught_up(settings)
    assert query(url, "SELECT count(*), count(DISTINCT event_id) FROM readings") == [(650, 650)]
    print(
        f"\n[faults] database outage: {time.monotonic() - stopped_at:.1f} s incl. recovery,"
        f" healthz down during it, 650 events (50 over HTTP), lost 0, duplicated 0,"
        f" stored {recovery:.1f} s after the database was back"
    )
    assert worker.stop() == 0
