"""What the agents share inside one worker process: the database pool, the sensor registry,
the alert state, the producer helper and the counters the heartbeat reports.

Nothing here touches the network at import or construction time: the pool is opened by
:meth:`Runtime.start`, which the agents await before they consume their first message (so the
alert state is loaded *before* the ingest agent can move ``latest_readings`` forward).

Failure policy (the "never lose a message" rule): every database call goes through
:meth:`Runtime.with_db`, which retries transient failures (server down, connection lost,
serialization failures, pool timeouts) forever with capped exponential back-off. The agents
do not ack their messages until the call succeeded, so a database outage stalls consumption
and nothing is committed past it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import faust
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ioc.domain.alerts import AlertState
from ioc.domain.catalogue import Catalogue
from ioc.domain.observation import SensorInfo, ValidationContext
from ioc.settings import Settings
from ioc.storage.alerts import AlertKey, load_states
from ioc.storage.migrate import Edition
from ioc.storage.readings import prepare_connection
from ioc.storage.registry import aload_sensor_index
from streams.topics import TopicNames

logger = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, OSError)
BACKOFF_MAX_S = 10.0


@dataclass
class Counters:
    """Monotonic counters since the worker started (reported by the heartbeat)."""

    messages: int = 0
    readings: int = 0
    inserted: int = 0
    dead_letters: int = 0
    alert_events: int = 0


class Backoff:
    """Capped exponential back-off: 0.1 s, 0.2 s, … up to ``BACKOFF_MAX_S``."""

    def __init__(self) -> None:
        self.delay = 0.1

    async def wait(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX_S)


class Runtime:
    """Shared state of one worker process; created by :func:`streams.app.create_app`."""

    def __init__(self, settings: Settings, database_url: str, catalogue: Catalogue) -> None:
        self.settings = settings
        self.database_url = database_url
        self.catalogue = catalogue
        self.topics = TopicNames.from_settings(settings)
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"
        self.counters = Counters()
        self.edition: Edition = "apache"
        self.sensors: dict[str, SensorInfo] = {}
        self.alert_states: dict[AlertKey, AlertState] = {}
        self.app: faust.App | None = None
        self.assigned = False  # set once the consumer group gave this worker its share
        self._pool: AsyncConnectionPool | None = None
        self._sensors_at = 0.0
        self._started: asyncio.Event | None = None
        self._start_lock: asyncio.Lock | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def started(self) -> None:
        """Open the pool and load registry, edition and alert state (once; retried)."""
        if self._started is None:
            self._started, self._start_lock = asyncio.Event(), asyncio.Lock()
        assert self._start_lock is not None
        async with self._start_lock:
            if self._started.is_set():
                return
            backoff = Backoff()
            while True:
                try:
                    await self._open()
                    break
                except TRANSIENT as exc:
                    logger.warning("database not reachable yet (%s); retrying", type(exc).__name__)
                    await backoff.wait()
                except psycopg.errors.UndefinedTable:
                    logger.error(
                        "the database has no schema yet: run `ioc db migrate` "
                        "(and `ioc db seed`); retrying"
                    )
                    await backoff.wait()
            self._started.set()

    async def _open(self) -> None:
        if self._pool is None:
            pool = AsyncConnectionPool(
                self.database_url,
                min_size=1,
                max_size=4,
                open=False,
                configure=prepare_connection,
                kwargs={"application_name": "ioc-worker", "autocommit": False},
            )
            await pool.open(wait=True, timeout=10)
            self._pool = pool
        async with self._pool.connection() as conn:
            cur = await conn.execute("SHOW timescaledb.license")
            row = await cur.fetchone()
            self.edition = "timescale" if row and row[0] == "timescale" else "apache"
            self.sensors = await aload_sensor_index(conn)
            self._sensors_at = time.monotonic()
            self.alert_states = await load_states(conn, self.catalogue)
            await conn.rollback()
        logger.info(
            "worker %s ready: TimescaleDB %s edition, %d sensors, %d alert states",
            self.worker_name,
            self.edition,
            len(self.sensors),
            len(self.alert_states),
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def is_started(self) -> bool:
        return self._started is not None and self._started.is_set()

    @property
    def merge_rollups(self) -> bool:
        """With the Timescale edition continuous aggregates compute the rollups."""
        return self.edition == "apache"

    # --- database ----------------------------------------------------------------------

    async def with_db(
        self, what: str, fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """Run ``fn`` with a pooled connection; transient failures are retried forever."""
        assert self._pool is not None, "Runtime.started() was not awaited"
        backoff = Backoff()
        while True:
            try:
                async with self._pool.connection() as conn:
                    return await fn(conn)
            except TRANSIENT as exc:
                logger.warning(
                    "%s: database unavailable (%s: %s); retrying in %.1f s",
                    what,
                    type(exc).__name__,
                    exc,
                    backoff.delay,
                )
                await backoff.wait()

    async def refresh_sensors(self) -> None:
        """Reload the sensor registry every ``registry_refresh_s`` (keeps the old one on error)."""
        if time.monotonic() - self._sensors_at < self.settings.registry_refresh_s:
            return
        assert self._pool is not None
        self._sensors_at = time.monotonic()
        try:
            async with self._pool.connection() as conn:
                self.sensors = await aload_sensor_index(conn)
                await conn.rollback()
        except TRANSIENT as exc:
            logger.warning("sensor registry reload failed (%s); keeping the old one", exc)

    async def reload_alert_states(self) -> None:
        self.alert_states = await self.with_db(
            "load alert state", lambda conn: load_states(conn, self.catalogue)
        )

    def validation_context(self) -> ValidationContext:
        s = self.settings
        return ValidationContext(
            catalogue=self.catalogue,
            sensors=self.sensors,
            now=datetime.now(UTC),
            max_clock_skew=timedelta(seconds=s.max_clock_skew_s),
            max_age=timedelta(days=s.max_age_days),
            max_items=s.max_batch_items,
        )

    # --- broker ------------------------------------------------------------------------

    async def publish(self, messages: list[tuple[str, int | None, bytes]]) -> None:
        """Send (topic, partition, value) messages and wait until the broker has them all.

        Retried with back-off: the caller acks its input only after this returns.
        """
        if not messages:
            return
        assert self.app is not None
        producer = self.app.producer
        backoff = Backoff()
        while True:
            try:
                futures = [
                    await producer.send(topic, None, value, partition, None, None)
                    for topic, partition, value in messages
                ]
                await asyncio.gather(*futures)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # aiokafka's error zoo: all mean "not delivered"
                logger.warning(
                    "publishing %d message(s) failed (%s); retrying",
                    len(messages),
                    type(exc).__name__,
                )
                await backoff.wait()
