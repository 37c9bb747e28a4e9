"""Chaos soak: a long replay of the real readings while stream workers are SIGKILLed over and
over; then the same accounting as the fault suite (``tests/faults/test_worker_kill.py``).

    .venv/bin/python bench/chaos.py [--limit 30000] [--speed 86400] [--workers 2] [--kill-every 15]

Not a test (minutes, not seconds). Uses ``IOC_DATABASE_URL``/``IOC_KAFKA_BOOTSTRAP_SERVERS``
when set, else the embedded services, and a fresh database, topic prefix and group. Every
``--kill-every`` seconds one worker (round robin) is killed with SIGKILL and restarted at once.
At the end: events sent (read back from the raw topic), faults injected, rows stored, lost,
duplicated, dead-lettered, rollup buckets that differ from a recomputation, recovery time per
fault (kill → the next new row). Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
# bench/ and tests/ are not packages: their helpers are imported from the paths above.
from fixtures.faults import raw_items, replay_via_kafka  # noqa: E402
from fixtures.streams import WorkerProcess, query, wait_caught_up, wait_for  # noqa: E402
from ingest import RUN_DIR, fresh, log, services  # noqa: E402

from ioc.settings import Settings  # noqa: E402

ROLLUPS = (
    ("rollup_sensor_1m", "1 minute", "sensor_id"),
    ("rollup_sensor_1h", "1 hour", "sensor_id"),
    ("rollup_area_1m", "1 minute", "area_id"),
    ("rollup_area_1h", "1 hour", "area_id"),
)


def rollup_differences(url: str) -> int:
    """Buckets whose stored rollup differs from a recomputation from the raw rows."""
    bad = 0
    for table, width, owner in ROLLUPS:
        join = "JOIN sensors s ON s.id = r.sensor_id" if owner == "area_id" else ""
        column = "s.area_id" if owner == "area_id" else "r.sensor_id"
        rows = query(
            url,
            f"WITH e AS (SELECT time_bucket(%s::interval, r.time) b, {column} o, r.quantity q,"
            f" count(*) c, sum(r.value) s, min(r.value) lo, max(r.value) hi FROM readings r"
            f" {join} WHERE {column} IS NOT NULL GROUP BY 1, 2, 3)"
            f" SELECT count(*) FROM e FULL JOIN {table} t"
            f" ON t.bucket = e.b AND t.{owner} = e.o AND t.quantity = e.q"
            f" WHERE e.c IS DISTINCT FROM t.count OR abs(e.s - t.sum) > 1e-6 * greatest(1, abs(e.s))"
            f" OR e.lo IS DISTINCT FROM t.min OR e.hi IS DISTINCT FROM t.max",
            [width],
        )
        bad += int(rows[0][0])
    return bad


def soak(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]

    def count() -> int:
        return int(query(url, "SELECT count(*) FROM readings")[0][0])

    workers = [
        WorkerProcess(settings, RUN_DIR / f"chaos-worker-{i}.log").start()
        for i in range(args.workers)
    ]
    outcome: dict[str, int] = {}
    replay = threading.Thread(
        target=lambda: outcome.update(
            code=replay_via_kafka(settings, "--limit", str(args.limit), "--speed", str(args.speed))
        )
    )
    started = time.monotonic()
    replay.start()
    recoveries: list[float] = []
    victim = 0
    while replay.is_alive():
        replay.join(timeout=args.kill_every)
        if not replay.is_alive():
            break
        before = count()
        workers[victim].kill()
        killed_at = time.monotonic()
        workers[victim].start()
        wait_for(lambda b=before: count() > b or not replay.is_alive(), "progress", 300, 0.05)
        recoveries.append(round(time.monotonic() - killed_at, 1))
        log(f"fault {len(recoveries)}: worker {victim} killed, recovered in {recoveries[-1]} s")
        victim = (victim + 1) % len(workers)
    sent = raw_items(settings)
    sent_ids = {str(item.get("event_id")) for item in sent if isinstance(item, dict)}
    dead = lambda: int(query(url, "SELECT count(*) FROM dead_letters")[0][0])  # noqa: E731
    wait_for(lambda: count() + dead() >= len(sent_ids), "all stored", 600, 0.5)
    wait_caught_up(settings, 600)
    total, distinct = query(url, "SELECT count(*), count(DISTINCT (event_id, time)) FROM readings")[
        0
    ]
    stored = {str(r[0]) for r in query(url, "SELECT event_id FROM readings")}
    dead_ids = {
        str(json.loads(p).get("event_id"))
        for (p,) in query(url, "SELECT payload FROM dead_letters")
        if p.startswith("{")
    }
    for worker in workers:
        worker.close()
    return {
        "replay_exit": outcome.get("code"),
        "seconds": round(time.monotonic() - started),
        "events_sent": len(sent),
        "distinct_event_ids": len(sent_ids),
        "faults_injected": len(recoveries),
        "rows_stored": total,
        "rows_lost": len(sent_ids - stored - dead_ids),
        "rows_duplicated": total - distinct,
        "dead_lettered": dead(),
        "rollup_buckets_differing": rollup_differences(url),
        "recovery_s": recoveries,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=30_000, help="readings replayed")
    parser.add_argument("--speed", type=float, default=86_400, help="data seconds per second")
    parser.add_argument("--workers", type=int, default=2, help="workers in the group")
    parser.add_argument("--kill-every", type=float, default=15.0, help="seconds between faults")
    args = parser.parse_args()
    with services() as base, fresh(base, "chaos") as settings:
        result = soak(settings.model_copy(update={"log_level": "INFO"}), args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
