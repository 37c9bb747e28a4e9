"""kill -9 the Faust worker three times while real readings are replayed, then let it recover.

Real data: ``ioc replay --via kafka`` of the Hanoi US Embassy PM2.5 feed and the Beijing
Dongsi station (``../shared/data/environment``), compressed time. The worker is SIGKILLed
whenever the stored row count passes a quarter, a half and three quarters of what is being
sent (the replay runs for about a minute, so each kill lands mid-ingestion with batches in
flight), and restarted at once. Recovery time per fault: from the kill until the new worker
stored its first new row.

Afterwards, against the ground truth read back from the raw topic:

* 0 lost: every event id sent is stored, or dead-lettered with a reason;
* 0 duplicated: one row per ``(event_id, time)``, and one event id per row;
* every 1-minute and 1-hour rollup equals a recomputation from the raw rows.

The numbers (events, faults, recovery time per fault) are printed for the report.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fixtures.faults import raw_items, replay_via_kafka
from fixtures.streams import WorkerProcess, query, wait_caught_up, wait_for

from ioc.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.integration]

LIMIT = 4000  # readings replayed
KILLS = 3


def _rollup_mismatches(url: str, table: str, width: str, owner: str) -> list[Any]:
    join = "JOIN sensors s ON s.id = r.sensor_id" if owner == "area_id" else ""
    column = "s.area_id" if owner == "area_id" else "r.sensor_id"
    expected = {
        tuple(r[:3]): tuple(r[3:])
        for r in query(
            url,
            f"SELECT time_bucket(%s::interval, r.time), {column}, r.quantity, count(*),"
            f" sum(r.value), min(r.value), max(r.value) FROM readings r {join}"
            f" WHERE {column} IS NOT NULL GROUP BY 1, 2, 3",
            [width],
        )
    }
    stored = {
        tuple(r[:3]): tuple(r[3:])
        for r in query(url, f"SELECT bucket, {owner}, quantity, count, sum, min, max FROM {table}")
    }
    bad: list[Any] = [("missing or extra buckets", sorted(set(stored) ^ set(expected))[:5])]
    if not bad[0][1]:
        bad = []
    for key, (count, total, low, high) in expected.items():
        got = stored.get(key)
        if got is not None and (
            got[0] != count
            or abs(got[1] - total) > 1e-6 * max(1.0, abs(total))
            or got[2:] != (low, high)
        ):
            bad.append((key, got, (count, total, low, high)))
    return bad


def test_kill_9_three_times_during_a_replay_loses_and_duplicates_nothing(
    worker_factory: Callable[..., WorkerProcess], streams_settings: Settings
) -> None:
    settings = streams_settings.model_copy(
        update={"sink_batch_size": 200, "sink_batch_within_s": 0.05}
    )
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]

    def count() -> int:
        return int(query(url, "SELECT count(*) FROM readings")[0][0])

    worker = worker_factory(settings)
    outcome: dict[str, int] = {}
    replay = threading.Thread(
        target=lambda: outcome.update(
            code=replay_via_kafka(
                settings,
                "--sources",
                "hanoi_us_embassy",
                "beijing:Dongsi",
                "--limit",
                str(LIMIT),
                "--speed",
                str(3600 * 12),
            )
        )
    )
    replay.start()
    recoveries: list[float] = []
    for k in range(1, KILLS + 1):
        wait_for(lambda k=k: count() >= k * LIMIT // (KILLS + 1), f"kill point {k}", 120, 0.01)
        worker.kill()
        killed_at, rows_at_kill = time.monotonic(), count()
        worker.start()
        wait_for(
            lambda r=rows_at_kill: count() > r or not replay.is_alive(),
            "progress after the restart",
            120,
            0.05,
        )
        recoveries.append(time.monotonic() - killed_at)
    replay.join(timeout=300)
    assert outcome.get("code") == 0, outcome

    sent = raw_items(settings)
    sent_ids = {item["event_id"] for item in sent}
    assert len(sent) >= LIMIT * 0.99
    wait_for(
        lambda: (
            count() + int(query(url, "SELECT count(*) FROM dead_letters")[0][0]) >= len(sent_ids)
        ),
        "every sent reading stored or dead-lettered",
        180,
        0.5,
    )
    wait_caught_up(settings)

    total, distinct_keys, distinct_ids = query(
        url,
        "SELECT count(*), count(DISTINCT (event_id, time)), count(DISTINCT event_id) FROM readings",
    )[0]
    stored_ids = {str(r[0]) for r in query(url, "SELECT event_id FROM readings")}
    dead = query(url, "SELECT reason, payload FROM dead_letters")
    dead_ids: set[str] = set()
    for _, payload in dead:
        doc = json.loads(payload)
        if isinstance(doc, dict) and "event_id" in doc:
            dead_ids.add(str(doc["event_id"]))
    lost = sent_ids - stored_ids - dead_ids
    print(
        f"\n[faults] kill -9: events sent {len(sent)} ({len(sent_ids)} distinct ids),"
        f" faults {KILLS}, stored {total}, dead-lettered {len(dead)},"
        f" lost {len(lost)}, duplicated {total - distinct_keys},"
        f" recovery s {[round(r, 1) for r in recoveries]}"
    )
    assert not lost, sorted(lost)[:5]
    assert total == distinct_keys == distinct_ids  # no duplicate rows, no id stored twice
    assert stored_ids <= sent_ids
    for table, width, owner in (
        ("rollup_sensor_1m", "1 minute", "sensor_id"),
        ("rollup_sensor_1h", "1 hour", "sensor_id"),
        ("rollup_area_1m", "1 minute", "area_id"),
        ("rollup_area_1h", "1 hour", "area_id"),
    ):
        assert _rollup_mismatches(url, table, width, owner) == [], table
    assert worker.stop() == 0
