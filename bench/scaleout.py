"""Scale-out benchmark: 1, 2 and 3 Faust workers sharing the partitions of one consumer
group, and a rebalance after one of two workers is killed (SIGKILL) with nothing lost.

    .venv/bin/python bench/scaleout.py [--n 60000] [--batch 100] [--workers 1,2,3]

Not a test. Uses ``IOC_DATABASE_URL``/``IOC_KAFKA_BOOTSTRAP_SERVERS`` when set, else the
embedded services (started and stopped here), a fresh database, topic prefix and consumer
group per measurement, ``IOC_TOPIC_PARTITIONS`` (default 4) partitions. Ends by printing ONE
JSON line.

Per measurement: the workers are started first and each must publish a heartbeat (it is
assigned), then ``--n`` readings (``--batch`` per message, spread over the partitions) are
produced and the time from the first to the last stored row is taken. Each worker's last
heartbeat says how many readings *it* stored: that shows whether the partitions really were
shared. The rebalance run kills one of two workers after a third of the rows and checks that
the survivor takes its partitions over: every reading stored, none twice.

Everything shares one machine (broker, database, workers, producer): with 2 cores, more
workers cannot be faster than the CPU allows; the point is that sharing and fail-over work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (  # bench/ is not a package
    consumer_process,
    count_rows,
    dashboard_watch,
    fresh,
    log,
    messages,
    produce,
    services,
)

from ioc.settings import Settings


def _workers_seen(watch: list[tuple[float, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each worker's latest heartbeat."""
    out: dict[str, dict[str, Any]] = {}
    for _, message in watch:
        if message.get("type") == "heartbeat":
            out[str(message.get("worker"))] = message
    return out


async def _wait_workers(
    watch: list[tuple[float, dict[str, Any]]], n: int, procs: list[Any]
) -> None:
    deadline = time.monotonic() + 180
    while len(_workers_seen(watch)) < n:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"only {len(_workers_seen(watch))} of {n} workers got ready")
        await asyncio.sleep(0.1)


async def _drain(url: str, n: int, procs: list[Any], deadline_s: float) -> tuple[float, float]:
    """Poll until ``n`` rows; returns (time of the first row, time of the last)."""
    first: float | None = None
    deadline = time.monotonic() + deadline_s
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            count, now = await count_rows(conn), time.monotonic()
            if first is None and count > 0:
                first = now
            if count >= n:
                return first or now, now
            if now > deadline or not any(p.poll() is None for p in procs):
                raise RuntimeError(f"stalled at {count}/{n} rows")
            await asyncio.sleep(0.05)


async def throughput(base: Settings, workers: int, n: int, batch: int) -> dict[str, Any]:
    with fresh(base, f"w{workers}") as s:
        url = s.database_url.get_secret_value()  # type: ignore[union-attr]
        with contextlib.ExitStack() as stack:
            async with dashboard_watch(s) as watch:
                procs = [stack.enter_context(consumer_process("faust", s)) for _ in range(workers)]
                await _wait_workers(watch, workers, procs)
                await asyncio.sleep(2 * s.worker_heartbeat_s)  # let the last rebalance settle
                values = messages(n, batch, datetime.now(UTC) - timedelta(hours=1))
                producing = asyncio.create_task(produce(s, values))
                first, last = await _drain(url, n, procs, 1800)
                await producing
                await asyncio.sleep(2 * s.worker_heartbeat_s)  # final heartbeats
                per_worker = {w: m.get("processed") for w, m in _workers_seen(watch).items()}
        rows = (
            psycopg.connect(url)
            .execute("SELECT count(*), count(DISTINCT (event_id, time)) FROM readings")
            .fetchone()
        )
    rate = n / max(last - first, 1e-6)
    log(f"{workers} worker(s): {rate:,.0f} readings/s; per worker {per_worker}; rows {rows}")
    return {
        "workers": workers,
        "readings_per_s": round(rate),
        "first_to_last_row_s": round(last - first, 2),
        "processed_per_worker": per_worker,
        "rows": rows[0] if rows else None,
        "duplicates": (rows[0] - rows[1]) if rows else None,
    }


async def rebalance(base: Settings, n: int, batch: int) -> dict[str, Any]:
    """Two workers; kill -9 one after a third of the rows; the survivor must finish."""
    with fresh(base, "rebalance") as s:
        url = s.database_url.get_secret_value()  # type: ignore[union-attr]
        with contextlib.ExitStack() as stack:
            async with dashboard_watch(s) as watch:
                procs = [stack.enter_context(consumer_process("faust", s)) for _ in range(2)]
                await _wait_workers(watch, 2, procs)
                await asyncio.sleep(2 * s.worker_heartbeat_s)
                values = messages(n, batch, datetime.now(UTC) - timedelta(hours=1))
                chunk = max(1, len(values) // 20)

                async def paced() -> None:  # ~20 s of sending, so the kill lands mid-stream
                    for i in range(0, len(values), chunk):
                        await produce(s, values[i : i + chunk])
                        await asyncio.sleep(1.0)

                producing = asyncio.create_task(paced())
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    at_kill = 0
                    while at_kill < n // 3:
                        at_kill = await count_rows(conn)
                        await asyncio.sleep(0.02)  # polling interval
                before_kill = {w: m.get("processed") for w, m in _workers_seen(watch).items()}
                victim = procs[0]
                victim.kill()
                victim.wait()
                killed_at = time.monotonic()
                outcome = "completed"
                try:
                    _, last = await _drain(url, n, procs[1:], 300)
                    recovery = round(last - killed_at, 1)
                except RuntimeError as exc:
                    outcome, recovery = f"not completed: {exc}", None
                await producing
                await asyncio.sleep(2 * s.worker_heartbeat_s)
                per_worker = {w: m.get("processed") for w, m in _workers_seen(watch).items()}
        rows = (
            psycopg.connect(url)
            .execute("SELECT count(*), count(DISTINCT (event_id, time)) FROM readings")
            .fetchone()
        )
    result = {
        "sent": n,
        "rows_at_kill": at_kill,
        "outcome": outcome,
        "seconds_from_kill_to_last_row": recovery,
        "rows": rows[0] if rows else None,
        "lost": n - rows[1] if rows else None,
        "duplicates": (rows[0] - rows[1]) if rows else None,
        "processed_per_worker_at_kill": before_kill,
        "processed_per_worker": per_worker,
    }
    log(f"rebalance after kill -9: {result}")
    return result


async def run(args: argparse.Namespace, base: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {"n": args.n, "batch": args.batch, "partitions": base.topic_partitions}
    out["throughput"] = [
        await throughput(base, int(w), args.n, args.batch) for w in args.workers.split(",")
    ]
    if not args.no_rebalance:
        out["rebalance"] = await rebalance(base, args.n, args.batch)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60_000, help="readings per measurement")
    parser.add_argument("--batch", type=int, default=100, help="readings per Kafka message")
    parser.add_argument("--workers", default="1,2,3", help="worker counts to measure")
    parser.add_argument("--no-rebalance", action="store_true", help="skip the kill -9 run")
    args = parser.parse_args()
    with services() as base:
        result = asyncio.run(run(args, base))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
