"""At-least-once delivery with an idempotent sink, against the real broker and database.

One scenario for the module (the three tests look at its outcome): a few thousand readings -
single-reading messages and batched messages, late ones, and resent duplicates - go to
``observations.raw`` while the worker runs; it is killed with SIGKILL mid-stream, the rest is
sent while it is down, and it is restarted. Then a second worker with a *new consumer group*
replays both topics from offset 0. Afterwards:

* there are exactly as many rows as distinct readings sent, with no duplicates;
* the replay changed nothing (readings, rollups, latest values, dead letters, alerts);
* every rollup row equals a SQL recomputation from the raw rows (sensor and area, 1m and 1h).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixtures.streams import WorkerProcess, produce, query, wait_caught_up, wait_for

from ioc.settings import Settings

pytestmark = pytest.mark.integration

SENSORS = ["hp-aq-hongbang", "hp-aq-ngoquyen", "hp-aq-lechan", "hp-aq-kienan"]
SINGLE = 1500  # readings sent one per message
BATCHED = 1500  # readings sent 50 per message
DUPLICATES = 200  # readings sent a second time (same event id and time)


def _readings(n: int, rng: random.Random) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        late = i % 10 == 0  # every tenth reading is two days late
        when = now - timedelta(days=2 if late else 0, seconds=rng.uniform(0, 3 * 3600))
        out.append(
            {
                "sensor_id": SENSORS[i % len(SENSORS)],
                "quantity": "pm25",
                "value": round(rng.uniform(0, 45), 2),
                "unit": "ug/m3",
                "time": when.isoformat(),
                "event_id": str(uuid.uuid4()),
            }
        )
    return out


def _snapshot(url: str) -> dict[str, Any]:
    tables = {
        "readings": "SELECT event_id, time, sensor_id, quantity, value FROM readings"
        " ORDER BY event_id, time",
        "latest": "SELECT * FROM latest_readings ORDER BY 1, 2",
        "dead": "SELECT dedup_key, reason FROM dead_letters ORDER BY 1",
        "alerts": "SELECT id, state, level, peak_value FROM alerts ORDER BY 1",
        "alert_events": "SELECT event_id, time, kind FROM alert_events ORDER BY 1, 2",
    }
    for table in ("rollup_sensor_1m", "rollup_sensor_1h", "rollup_area_1m", "rollup_area_1h"):
        tables[table] = f"SELECT * FROM {table} ORDER BY 1, 2, 3"
    return {name: query(url, sql) for name, sql in tables.items()}


@dataclass
class Scenario:
    settings: Settings
    sent: int
    killed_at: int
    before_replay: dict[str, Any]
    after_replay: dict[str, Any]


@pytest.fixture(scope="module")
def scenario(worker_factory: Callable[..., WorkerProcess], streams_settings: Settings) -> Scenario:
    url = streams_settings.database_url.get_secret_value()  # type: ignore[union-attr]
    rng = random.Random(20261123)
    readings = _readings(SINGLE + BATCHED, rng)
    singles = [json.dumps(r).encode() for r in readings[:SINGLE]]
    batches = [
        json.dumps({"observations": readings[i : i + 50]}).encode()
        for i in range(SINGLE, SINGLE + BATCHED, 50)
    ]
    duplicates = [json.dumps(r).encode() for r in rng.sample(readings, DUPLICATES)]

    def count() -> int:
        return int(query(url, "SELECT count(*) FROM readings")[0][0])

    worker = worker_factory()
    sender = threading.Thread(target=produce, args=(streams_settings, "observations.raw", singles))
    sender.start()
    killed_at = wait_for(count, "the first rows", deadline_s=60, interval_s=0.02)
    worker.kill()  # SIGKILL mid-stream: no final commit, maybe a batch half done
    sender.join()
    produce(streams_settings, "observations.raw", batches + duplicates)
    worker.start()
    wait_for(lambda: count() >= len(readings), f"{len(readings)} rows", deadline_s=120)
    wait_caught_up(streams_settings)
    before = _snapshot(url)

    replay = worker_factory(streams_app_id=f"{streams_settings.streams_app_id}-replay")
    wait_caught_up(replay.settings)
    after = _snapshot(url)
    return Scenario(streams_settings, len(readings), killed_at, before, after)


def test_exactly_the_readings_sent_are_stored_despite_kill_9(scenario: Scenario) -> None:
    url = scenario.settings.database_url.get_secret_value()  # type: ignore[union-attr]
    total, distinct = query(url, "SELECT count(*), count(DISTINCT (event_id, time)) FROM readings")[
        0
    ]
    assert (total, distinct) == (scenario.sent, scenario.sent)
    assert scenario.killed_at > 0
    assert query(url, "SELECT count(*) FROM dead_letters")[0][0] == 0


def test_replay_from_offset_zero_with_a_new_group_changes_nothing(scenario: Scenario) -> None:
    for table, rows in scenario.before_replay.items():
        assert scenario.after_replay[table] == rows, f"{table} changed by the replay"


def _recomputed(url: str, width: str, owner: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    join = "JOIN sensors s ON s.id = r.sensor_id" if owner == "area_id" else ""
    column = "s.area_id" if owner == "area_id" else "r.sensor_id"
    rows = query(
        url,
        f"SELECT time_bucket(%s::interval, r.time), {column}, r.quantity, count(*),"
        f" sum(r.value), min(r.value), max(r.value) FROM readings r {join}"
        f" WHERE {column} IS NOT NULL GROUP BY 1, 2, 3",
        [width],
    )
    return {tuple(r[:3]): tuple(r[3:]) for r in rows}


@pytest.mark.parametrize(
    ("table", "width", "owner"),
    [
        ("rollup_sensor_1m", "1 minute", "sensor_id"),
        ("rollup_sensor_1h", "1 hour", "sensor_id"),
        ("rollup_area_1m", "1 minute", "area_id"),
        ("rollup_area_1h", "1 hour", "area_id"),
    ],
)
def test_rollups_equal_a_recomputation_from_the_raw_rows(
    scenario: Scenario, table: str, width: str, owner: str
) -> None:
    url = scenario.settings.database_url.get_secret_value()  # type: ignore[union-attr]
    expected = _recomputed(url, width, owner)
    stored = {
        tuple(r[:3]): tuple(r[3:])
        for r in query(url, f"SELECT bucket, {owner}, quantity, count, sum, min, max FROM {table}")
    }
    assert stored.keys() == expected.keys()
    assert len(stored) > 1
    for key, (count, total, low, high) in expected.items():
        assert stored[key] == (count, pytest.approx(total), low, high), key
