"""``GET /healthz``: is the centre working, per component.

- database: ``SELECT 1`` and its latency;
- broker: cluster metadata through a long-lived admin client;
- feed: this server follows the dashboard topic;
- workers: stream workers whose heartbeat was seen within 3 × ``worker_heartbeat_s``;
- lag: consumer lag of the workers' group (``streams_app_id``) on ``observations.raw``,
  committed offsets vs end offsets (informational: ``null`` when not obtainable).

Overall: ``down`` when the database or the broker is down, ``degraded`` when the feed or
the workers are, else ``ok``; HTTP 200 only for ``ok``. Anonymous callers get the overall
status only; the ``health_details`` row of the permission table says who sees the rest.

Example::

    curl -s http://127.0.0.1:8080/healthz   # {"status": "degraded"}  (HTTP 503)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response

from dashboard.context import components
from dashboard.feed import DashboardFeed
from dashboard.responses import json_response
from ioc.domain.auth import ENDPOINTS, Principal, allowed
from ioc.settings import Settings

logger = logging.getLogger(__name__)

TIMEOUT_S = 3.0


class HealthChecker:
    def __init__(
        self, settings: Settings, pool: AsyncConnectionPool, bootstrap: str, feed: DashboardFeed
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._bootstrap = bootstrap
        self._feed = feed
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def _admin_client(self) -> AIOKafkaAdminClient:
        async with self._lock:  # concurrent probes share one client
            if self._admin is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._bootstrap,
                    client_id="ioc-dashboard-health",
                    request_timeout_ms=int(TIMEOUT_S * 1000),
                )
                try:
                    await asyncio.wait_for(admin.start(), TIMEOUT_S)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await admin.close()
                    raise
                self._admin = admin
            return self._admin

    async def _drop_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    async def database(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT_S):
                async with self._pool.connection(timeout=TIMEOUT_S) as db:
                    await db.execute("SELECT 1")
        except Exception as exc:
            return {"status": "down", "error": type(exc).__name__}
        return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}

    async def broker(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            admin = await self._admin_client()
            cluster = await asyncio.wait_for(admin.describe_cluster(), TIMEOUT_S)
        except Exception as exc:
            await self._drop_admin()
            return {"status": "down", "error": type(exc).__name__}
        return {
            "status": "ok",
            "brokers": len(cluster.get("brokers", [])),
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    def workers(self) -> dict[str, Any]:
        within = 3 * self._settings.worker_heartbeat_s
        alive = self._feed.alive_workers(within)
        return {
            "status": "ok" if alive else "degraded",
            "alive": len(alive),
            "workers": [worker_summary(w.message) for w in alive],
        }

    def feed(self) -> dict[str, Any]:
        return {
            "status": "ok" if self._feed.ready else "degraded",
            "messages": self._feed.messages,
            "error": self._feed.last_error,
        }

    async def lag(self) -> dict[str, Any]:
        group = self._settings.streams_app_id
        unknown: dict[str, Any] = {"status": "unknown", "group": group, "total": None}
        try:
            admin = await self._admin_client()
            raw = self._settings.topic("observations.raw")
            (described,) = await asyncio.wait_for(admin.describe_topics([raw]), TIMEOUT_S)
            tps = [TopicPartition(raw, p["partition"]) for p in described.get("partitions", [])]
            if not tps:
                return unknown
            # Partitions named explicitly: Tansu mis-encodes the "all partitions" form.
            committed = await asyncio.wait_for(
                admin.list_consumer_group_offsets(group, partitions=tps), TIMEOUT_S
            )
            ends = await self._feed.end_offsets(tps)
        except Exception as exc:
            return {**unknown, "error": type(exc).__name__}
        known = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        if ends is None or not known:
            return unknown
        per = {
            f"{tp.topic}/{tp.partition}": max(0, ends.get(tp, 0) - offset)
            for tp, offset in known.items()
        }
        return {"status": "ok", "group": group, "total": sum(per.values()), "partitions": per}

    async def check(self, detailed: bool) -> tuple[str, dict[str, Any]]:
        database, broker = await asyncio.gather(self.database(), self.broker())
        parts: dict[str, Any] = {
            "database": database,
            "broker": broker,
            "feed": self.feed(),
            "workers": self.workers(),
        }
        if broker["status"] == "ok" and detailed:
            parts["lag"] = await self.lag()
        if database["status"] != "ok" or broker["status"] != "ok":
            status = "down"
        elif parts["feed"]["status"] != "ok" or parts["workers"]["status"] != "ok":
            status = "degraded"
        else:
            status = "ok"
        return status, parts

    async def close(self) -> None:
        await self._drop_admin()


def worker_summary(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message.get(k) for k in ("worker", "time", "processed", "lag")}


async def healthz(request: Request, principal: Principal) -> Response:
    detailed = allowed(principal, ENDPOINTS["health_details"])
    status, parts = await components(request).health.check(detailed)
    body: dict[str, Any] = {"status": status}
    if detailed:
        body["components"] = parts
    return json_response(body, 200 if status == "ok" else 503)
