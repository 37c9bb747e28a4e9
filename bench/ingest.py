"""Ingest benchmark: the Faust pipeline against its baselines, side by side, in one run.

    .venv/bin/python bench/ingest.py [--n 200000] [--batch 100] [--modes single,batched]

Not a test. It uses the services of ``IOC_DATABASE_URL``/``IOC_KAFKA_BOOTSTRAP_SERVERS`` when
set, else the embedded ones (started, and stopped afterwards, if not already running), and a
fresh database and topic prefix per measurement. It ends by printing ONE JSON line.

What is measured, for single-reading messages and for batched messages (``--batch`` readings
per message, like an HTTP batch):

* (a) ``faust``: the real ``ioc worker`` (a subprocess) - validation, COPY via staging +
  ``ON CONFLICT``, rollups, latest values, dead letters, ``observations`` and dashboard
  messages, acks after commit;
* (b) ``raw_loop``: the same work (the same functions) in a bare aiokafka ``getmany`` loop
  that commits offsets after each batch (a subprocess too);
* (c) ``copy``: COPY alone straight into the hypertable (the ceiling; binary, as the sink
  does), and (d) ``executemany``: a pipelined, server-side prepared ``executemany`` INSERT into
  the same hypertable with the same rows, batches and transactions (the COPY ≥ 5× comparison);
  both without Kafka. To explain the ratio: ``copy_text`` (text format), ``sink`` (the
  pipeline's own path: staging + ``ON CONFLICT`` + rollups + latest values) and both methods
  into an UNLOGGED table without indexes (``*_no_index``: what the hypertable's three indexes
  cost). ``client_cpu_us_per_row`` is this process's CPU time per row.

Both consumers run with the collector settings of ``IOC_GC_GEN0_THRESHOLD`` (``ioc/heap.py``);
``--gc-baseline`` adds ``faust_gc_default``: the worker with the interpreter's defaults.

Throughput: the topic is filled first, then the consumer starts; readings/s between the first
and the last row becoming visible (``count(*)`` polled every 0.5 s, every 20 ms near the end).
Latency: a fresh run at half the measured maximum rate; one reading in ``PROBE_EVERY`` is a
probe (its own sensor and quantity, event time = send time); event→row is when a poller (every
10 ms) first sees it in ``readings``, event→dashboard when a ``readings`` message carrying it
(or a later probe) arrives on the dashboard topic. For (c)/(d): batch start to commit.

Everything runs on this machine (broker, database, consumers, this producer): the figures are
for the box as it is at the time, other load included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import SecretStr

from ioc.heap import settle
from ioc.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SENSORS = [
    "hp-aq-hongbang",
    "hp-aq-ngoquyen",
    "hp-aq-lechan",
    "hp-aq-kienan",
    "hp-aq-haian",
    "hp-wx-ngoquyen",
    "hp-wx-lechan",
    "hp-tf-cambridge",
]
PROBE = ("hp-bk-tambac", "bicycle_flow")
PROBE_EVERY = 50
LATENCY_SECONDS = 15.0
# Consumer logs and the embedded services' home; removed at the end unless something failed.
RUN_DIR = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
RUN_DIR.chmod(0o711)  # the embedded PostgreSQL runs as user postgres and must reach its home
KEEP: list[Path] = []


def log(*parts: Any) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- data ---------------------------------------------------------------------------------


def reading(i: int, when: datetime) -> dict[str, Any]:
    """A small native reading; every PROBE_EVERY-th is a probe."""
    if i % PROBE_EVERY == 0:
        return {
            "sensor_id": PROBE[0],
            "quantity": PROBE[1],
            "value": float(i % 4000),
            "time": when.isoformat(),
        }
    return {
        "sensor_id": SENSORS[i % len(SENSORS)],
        "quantity": "pm25",
        "value": round((i * 7.3) % 45, 2),
        "unit": "ug/m3",
        "time": when.isoformat(),
    }


def messages(n: int, batch: int, start: datetime) -> list[bytes]:
    """``n`` readings with distinct times (so distinct derived event ids)."""
    items = [reading(i, start + timedelta(microseconds=i)) for i in range(n)]
    if batch <= 1:
        return [json.dumps(r).encode() for r in items]
    return [json.dumps({"observations": items[i : i + batch]}).encode() for i in range(0, n, batch)]


# --- services, databases, processes -------------------------------------------------------


@contextlib.contextmanager
def services() -> Iterator[Settings]:
    base = Settings()
    if base.database_url is not None and base.kafka_bootstrap_servers:
        yield base
        return
    from ioc.services.manager import running

    home = RUN_DIR / "home"
    home.mkdir()
    with running(Settings(home=home), progress=log) as ep:
        yield Settings(
            home=home,
            database_url=ep.database_url,
            kafka_bootstrap_servers=ep.kafka_bootstrap_servers,
        )


@contextlib.contextmanager
def fresh(base: Settings, label: str) -> Iterator[Settings]:
    """A new database (migrated, seeded) and a new topic prefix and consumer group."""
    from ioc.storage.migrate import migrate
    from ioc.storage.registry import read_areas, read_sensors, seed

    assert base.database_url is not None
    admin = base.database_url.get_secret_value()
    name = f"ioc_bench_{label}_{secrets.token_hex(3)}"
    for attempt in range(10):  # CREATE DATABASE fails while template1 is busy elsewhere
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            break
        except psycopg.errors.ObjectInUse:
            if attempt == 9:
                raise
            time.sleep(0.5)
    url = psycopg.conninfo.make_conninfo(admin, dbname=name)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn, retention_days=base.retention_days)
            seed(conn, read_areas(base.areas_file), read_sensors(base.sensors_file))
        token = secrets.token_hex(3)
        yield base.model_copy(
            update={
                "database_url": SecretStr(url),
                "topic_prefix": f"bench{token}",
                "streams_app_id": f"bench-{label}-{token}",
                "worker_heartbeat_s": 0.5,
                "max_age_days": 3650.0,
            }
        )
    finally:
        drop(admin, name)


def drop(admin: str, name: str) -> None:
    """Drop a bench database. TimescaleDB's scheduler may briefly hold a superuser connection
    to it, which FORCE cannot end for a non-superuser: retry, then leave it (and say so)."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    for _ in range(40):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(statement)
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            time.sleep(0.25)
    log(f"could not drop database {name}; drop it by hand")


def env_of(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is not None:
            env[f"IOC_{name.upper()}"] = (
                value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
            )
    env["IOC_LOG_LEVEL"] = "WARNING"
    return env


@contextlib.contextmanager
def consumer_process(kind: str, settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """``ioc worker`` (kind faust) or this file's ``--raw-loop`` (kind raw_loop)."""
    if kind == "faust":
        cmd = [
            sys.executable,
            "-c",
            "import sys; from ioc.cli import main; sys.exit(main())",
            "worker",
        ]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--raw-loop"]
    logfile = RUN_DIR / f"{kind}-{secrets.token_hex(3)}.log"
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env_of(settings), cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.returncode not in (0, -signal.SIGTERM):
            KEEP.append(logfile)
            log(f"{kind} exited {proc.returncode}; log: {logfile}")


# --- Kafka helpers ------------------------------------------------------------------------


async def produce(settings: Settings, values: list[bytes]) -> float:
    """Send everything as fast as possible; returns messages/s."""
    from aiokafka import AIOKafkaProducer

    from streams.topics import ensure_topics

    await ensure_topics(str(settings.kafka_bootstrap_servers), settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=str(settings.kafka_bootstrap_servers),
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    try:
        started = time.monotonic()
        pending = []
        for value in values:
            pending.append(await producer.send(settings.topic("observations.raw"), value))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return len(values) / (time.monotonic() - started)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def dashboard_watch(settings: Settings) -> AsyncIterator[list[tuple[float, dict[str, Any]]]]:
    """Collect (arrival time, message) of every dashboard message while the block runs."""
    from aiokafka import AIOKafkaConsumer

    got: list[tuple[float, dict[str, Any]]] = []
    consumer = AIOKafkaConsumer(
        settings.topic("dashboard"),
        bootstrap_servers=str(settings.kafka_bootstrap_servers),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )

    async def pump() -> None:
        async for record in consumer:
            got.append((time.time(), json.loads(record.value)))

    await consumer.start()
    task = asyncio.create_task(pump())
    try:
        yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def wait_heartbeat(
    watch: list[tuple[float, dict[str, Any]]],
    proc: subprocess.Popen[bytes],
    deadline_s: float = 120,
) -> None:
    deadline = time.monotonic() + deadline_s
    while not any(m.get("type") == "heartbeat" for _, m in watch):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"consumer not ready (exit {proc.poll()})")
        await asyncio.sleep(0.05)


# --- (a)/(b): throughput and latency through Kafka ----------------------------------------


async def count_rows(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT count(*) FROM readings")).fetchone()
    return int(row[0]) if row else 0


async def throughput(kind: str, base: Settings, n: int, batch: int) -> dict[str, Any]:
    with fresh(base, kind) as s:
        url = s.database_url.get_secret_value()  # type: ignore[union-attr]
        produced = await produce(s, messages(n, batch, datetime.now(UTC) - timedelta(hours=1)))
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            with consumer_process(kind, s) as proc:
                launched = time.monotonic()
                first: tuple[float, int] | None = None
                deadline = launched + 1800
                while True:
                    count, now = await count_rows(conn), time.monotonic()
                    if first is None and count > 0:
                        first = (now, count)
                    if count >= n:
                        break
                    if proc.poll() is not None or now > deadline:
                        raise RuntimeError(f"{kind}: stalled at {count}/{n} rows")
                    # count(*) is not free on a big table: poll slowly in the middle.
                    await asyncio.sleep(0.5 if first is not None and count < 0.9 * n else 0.02)
        assert first is not None
        if first[1] >= n:  # all in one go (tiny --n): only a bound, start-up included
            rate = n / (now - launched)
        else:
            rate = (n - first[1]) / max(now - first[0], 1e-6)
        log(f"{kind} batch={batch}: {rate:,.0f} readings/s (producer {produced:,.0f} msg/s)")
        return {
            "readings_per_s": round(rate),
            "rows": count,
            "producer_msgs_per_s": round(produced),
        }


async def paced_send(settings: Settings, rate: float, batch: int, seconds: float) -> list[datetime]:
    """Send ``rate`` readings/s for ``seconds``; event time = send time. Returns probe times."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=str(settings.kafka_bootstrap_servers),
        linger_ms=2,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    probes: list[datetime] = []
    sent = 0
    topic = settings.topic("observations.raw")
    try:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            while sent < rate * elapsed:
                now = datetime.now(UTC)
                size = max(batch, 1)
                items = [reading(sent + k, now + timedelta(microseconds=k)) for k in range(size)]
                probes += [
                    datetime.fromisoformat(r["time"]) for r in items if r["sensor_id"] == PROBE[0]
                ]
                body = items[0] if batch <= 1 else {"observations": items}
                await producer.send(topic, json.dumps(body).encode())
                sent += size
            await asyncio.sleep(0.005)
        await producer.flush()
    finally:
        await producer.stop()
    return probes


def first_at_or_after(events: list[tuple[float, datetime]], probes: list[datetime]) -> list[float]:
    """Latency of each probe: the first event whose time reaches it, minus the probe's time."""
    out: list[float] = []
    events = sorted(events)
    best = datetime.min.replace(tzinfo=UTC)
    reached: list[tuple[datetime, float]] = []
    for at, seen in events:
        if seen > best:
            best = seen
            reached.append((seen, at))
    j = 0
    for probe in sorted(probes):
        while j < len(reached) and reached[j][0] < probe:
            j += 1
        if j < len(reached):
            out.append(reached[j][1] - probe.timestamp())
    return out


async def latency(kind: str, base: Settings, rate: float, batch: int) -> dict[str, Any]:
    from streams.topics import ensure_topics

    with fresh(base, kind + "lat") as s:
        url = s.database_url.get_secret_value()  # type: ignore[union-attr]
        await ensure_topics(str(s.kafka_bootstrap_servers), s)
        polls: list[tuple[float, datetime]] = []
        stop = asyncio.Event()

        async def poll() -> None:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                while not stop.is_set():
                    cur = await conn.execute(
                        "SELECT max(time) FROM readings WHERE sensor_id = %s AND quantity = %s",
                        PROBE,
                    )
                    row = await cur.fetchone()
                    if row and row[0] is not None:
                        polls.append((time.time(), row[0]))
                    await asyncio.sleep(0.01)

        async with dashboard_watch(s) as watch:
            with consumer_process(kind, s) as proc:
                await wait_heartbeat(watch, proc)
                poller = asyncio.create_task(poll())
                probes = await paced_send(s, rate, batch, LATENCY_SECONDS)
                deadline = time.monotonic() + 120
                while not polls or polls[-1][1] < probes[-1]:
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)  # let the last dashboard messages arrive
                stop.set()
                await poller
        shown = [
            (at, datetime.fromisoformat(item["time"]))
            for at, m in watch
            if m.get("type") == "readings"
            for item in m["items"]
            if (item["sensor_id"], item["quantity"]) == PROBE
        ]
    to_row = first_at_or_after(polls, probes)
    to_dash = first_at_or_after(shown, probes)
    result = {
        "rate_readings_per_s": round(rate),
        "probes": len(probes),
        "event_to_row_p50_s": _r(percentile(to_row, 50)),
        "event_to_row_p99_s": _r(percentile(to_row, 99)),
        "event_to_dashboard_p50_s": _r(percentile(to_dash, 50)),
        "event_to_dashboard_p99_s": _r(percentile(to_dash, 99)),
        "probes_seen_in_db": len(to_row),
        "probes_seen_on_dashboard": len(to_dash),
    }
    log(f"{kind} batch={batch} at {rate:,.0f}/s: {result}")
    return result


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- (b): the raw aiokafka loop (child process) -------------------------------------------


async def raw_loop(settings: Settings) -> None:
    """The same work as the ingest agent, in a bare ``getmany`` loop; commits after each batch."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from psycopg_pool import AsyncConnectionPool

    from ioc.domain.catalogue import load_catalogue
    from ioc.domain.observation import ValidationContext
    from ioc.storage.readings import prepare_connection, write_batch
    from ioc.storage.registry import aload_sensor_index
    from streams import records
    from streams.agents.ingest import chunks
    from streams.judge import judge_message

    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]
    bootstrap = str(settings.kafka_bootstrap_servers)
    catalogue = load_catalogue()
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=2,
        open=False,
        configure=prepare_connection,
        kwargs={"autocommit": False},
    )
    await pool.open(wait=True)
    async with pool.connection() as conn:
        sensors = await aload_sensor_index(conn)
    consumer = AIOKafkaConsumer(
        settings.topic("observations.raw"),
        bootstrap_servers=bootstrap,
        group_id=settings.streams_app_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        fetch_max_wait_ms=50,
    )  # as the worker: streams/transport.py
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024)
    await consumer.start()
    await producer.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    dashboard, observations = settings.topic("dashboard"), settings.topic("observations")

    async def store_then_commit(parts: list[Any], offsets: dict[Any, int]) -> None:
        for part in parts:
            obs = [o for _, j in part for o in j.observations]
            dead = [d for _, j in part for d in j.dead_letters]
            async with pool.connection() as conn:
                result = await write_batch(conn, obs, dead, merge_rollups=True)
            out: list[tuple[str, int | None, bytes]] = [
                (observations, p, v)
                for p, v in records.observations_messages(obs, settings.topic_partitions)
            ]
            if result.inserted:
                out.append((dashboard, None, records.readings_message(result.latest)))
            if result.area_windows:
                out.append((dashboard, None, records.rollups_message(result.area_windows)))
            futures = [await producer.send(t, v, partition=p) for t, p, v in out]
            await asyncio.gather(*futures)
        await consumer.commit(offsets)

    ready = False
    pending: asyncio.Future[None] | None = None
    try:
        while not stopping.is_set():
            data = await consumer.getmany(
                timeout_ms=int(settings.sink_batch_within_s * 1000),
                max_records=settings.sink_batch_size,
            )
            if not ready and consumer.assignment():
                ready = True
                await producer.send_and_wait(
                    dashboard, records.heartbeat_message("raw-loop", datetime.now(UTC), 0, None)
                )
            if not data:
                continue
            ctx = ValidationContext(
                catalogue,
                sensors,
                datetime.now(UTC),
                timedelta(minutes=5),
                timedelta(days=settings.max_age_days),
            )
            judged = [
                (r, judge_message(r.topic, r.partition, r.offset, r.value, r.headers, ctx))
                for recs in data.values()
                for r in recs
            ]
            parts = chunks(judged, settings.sink_batch_size)
            # The same one-batch overlap as the ingest agent: validate N+1 while N is stored.
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(
                store_then_commit(parts, {tp: recs[-1].offset + 1 for tp, recs in data.items()})
            )
        if pending is not None:
            await pending
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()


# --- (c)/(d): COPY alone and executemany, no Kafka ----------------------------------------


PLAIN_DDL = (
    "CREATE UNLOGGED TABLE plain_readings (time timestamptz NOT NULL, sensor_id text NOT NULL,"
    " quantity text NOT NULL, value double precision NOT NULL, unit text NOT NULL,"
    " quality text NOT NULL, event_id uuid NOT NULL)"
)
# label: (how, table). "copy" and "executemany" are the comparison (the same hypertable with its
# indexes, the same batches and transactions); the rest explain it.
DB_RUNS = {
    "copy": ("copy_binary", "readings"),
    "copy_text": ("copy_text", "readings"),
    "executemany": ("executemany", "readings"),
    "sink": ("sink", "readings"),
    "copy_no_index": ("copy_binary", "plain_readings"),
    "executemany_no_index": ("executemany", "plain_readings"),
}


async def _db_batch(conn: psycopg.AsyncConnection[Any], how: str, table: str, chunk: Any) -> None:
    from ioc.storage.readings import COPY_COLUMNS, copy_rows, copy_text, write_batch

    if how == "sink":  # the pipeline's own path: staging + ON CONFLICT + rollups + latest
        await write_batch(conn, chunk, [], merge_rollups=True)
        return
    target = sql.Identifier(table)
    async with conn.transaction(), conn.cursor() as cur:
        if how == "copy_binary":
            stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)")
            async with cur.copy(stmt.format(target, sql.SQL(COPY_COLUMNS))) as copy:
                await copy_rows(copy, chunk)
        elif how == "copy_text":
            stmt = sql.SQL("COPY {} ({}) FROM STDIN")
            async with cur.copy(stmt.format(target, sql.SQL(COPY_COLUMNS))) as copy:
                await copy.write(copy_text(chunk))
        else:  # psycopg 3 pipelines executemany and prepares the statement server-side
            stmt = sql.SQL("INSERT INTO {} ({}) VALUES (%s, %s, %s, %s, %s, %s, %s)")
            await cur.executemany(
                stmt.format(target, sql.SQL(COPY_COLUMNS)),
                [
                    (o.time, o.sensor_id, o.quantity, o.value, o.unit, o.quality, o.event_id)
                    for o in chunk
                ],
            )


async def db_only(base: Settings, n: int) -> dict[str, Any]:
    """(c) COPY alone and (d) pipelined executemany, same rows, batches and table; plus
    figures that explain the ratio (text COPY, the pipeline's sink, no indexes)."""
    import uuid

    from ioc.domain.observation import Observation
    from ioc.storage.readings import prepare_connection

    size = base.sink_batch_size
    start = datetime.now(UTC) - timedelta(hours=2)
    rows = [
        Observation(
            uuid.uuid4(),
            SENSORS[i % len(SENSORS)],
            start + timedelta(microseconds=i),
            "pm25",
            (i * 7.3) % 45,
            "ug/m3",
            "good",
            "304",  # an area of the registry, for the sink's area rollups
        )
        for i in range(n)
    ]
    out: dict[str, Any] = {}
    for label, (how, table) in DB_RUNS.items():
        with fresh(base, label.replace("_", "")) as s:
            url = s.database_url.get_secret_value()  # type: ignore[union-attr]
            async with await psycopg.AsyncConnection.connect(url) as conn:
                await prepare_connection(conn)
                if table == "plain_readings":
                    await conn.execute(PLAIN_DDL)
                    await conn.commit()
                waits: list[float] = []
                cpu, began = time.process_time(), time.monotonic()
                for i in range(0, n, size):
                    chunk, t0 = rows[i : i + size], time.monotonic()
                    await _db_batch(conn, how, table, chunk)
                    waits += [time.monotonic() - t0] * len(chunk)
                rate = n / (time.monotonic() - began)
                cpu = time.process_time() - cpu
        out[label] = {
            "readings_per_s": round(rate),
            "client_cpu_us_per_row": round(cpu / n * 1e6, 2),
            "p50_s": _r(percentile(waits, 50)),
            "p99_s": _r(percentile(waits, 99)),
        }
        log(f"{label}: {out[label]}")
    return out


# --- main ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace, base: Settings) -> dict[str, Any]:
    result: dict[str, Any] = {
        "n": args.n,
        "batch_readings_per_message": args.batch,
        "cpus": os.cpu_count(),
        "note": "faust includes the alerts agent",
    }
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        batch = 1 if mode == "single" else args.batch
        section: dict[str, Any] = {}
        for kind in ("faust", "raw_loop"):
            section[kind] = await throughput(kind, base, args.n, batch)
        if args.gc_baseline:  # the same worker with the interpreter's collector settings
            plain = base.model_copy(update={"gc_gen0_threshold": 0})
            section["faust_gc_default"] = await throughput("faust", plain, args.n, batch)
        section["faust_vs_raw"] = round(
            section["faust"]["readings_per_s"] / max(section["raw_loop"]["readings_per_s"], 1), 3
        )
        if not args.skip_latency:
            for kind in ("faust", "raw_loop"):
                rate = section[kind]["readings_per_s"] / 2
                section[kind]["half_rate"] = await latency(kind, base, rate, batch)
        result[mode] = section
    result.update(await db_only(base, args.n))
    result["copy_vs_executemany"] = round(
        result["copy"]["readings_per_s"] / max(result["executemany"]["readings_per_s"], 1), 2
    )
    result["copy_vs_executemany_no_index"] = round(
        result["copy_no_index"]["readings_per_s"]
        / max(result["executemany_no_index"]["readings_per_s"], 1),
        2,
    )
    goals: dict[str, Any] = {
        "faust_ge_half_raw": {m: result[m]["faust_vs_raw"] >= 0.5 for m in modes},
        "faust_ge_20000_per_s": {m: result[m]["faust"]["readings_per_s"] >= 20_000 for m in modes},
        "copy_ge_5x_executemany": result["copy_vs_executemany"] >= 5,
    }
    if modes:
        goals["best_faust_mode"] = max((result[m]["faust"]["readings_per_s"], m) for m in modes)[1]
    if modes and not args.skip_latency:
        goals["faust_p99_event_to_row_le_1s_at_half_rate"] = {
            m: (result[m]["faust"]["half_rate"]["event_to_row_p99_s"] or 1e9) <= 1.0 for m in modes
        }
    result["goals"] = goals
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="readings per measurement")
    parser.add_argument("--batch", type=int, default=100, help="readings per batched message")
    parser.add_argument(
        "--modes", default="single,batched", help="single,batched; empty: (c)/(d) only"
    )
    parser.add_argument("--skip-latency", action="store_true", help="throughput only")
    parser.add_argument(
        "--gc-baseline",
        action="store_true",
        help="also run the Faust worker with IOC_GC_GEN0_THRESHOLD=0 (interpreter defaults)",
    )
    parser.add_argument("--raw-loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_loop:
        shutil.rmtree(RUN_DIR, ignore_errors=True)  # the parent owns the run folder
        settings = Settings()
        settle(settings.gc_gen0_threshold)  # as the worker does (ioc/heap.py)
        asyncio.run(raw_loop(settings))
        return 0
    try:
        with services() as base:
            result = asyncio.run(run(args, base))
    finally:
        if KEEP:
            log(f"logs kept in {RUN_DIR}")
        else:
            shutil.rmtree(RUN_DIR, ignore_errors=True)
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
