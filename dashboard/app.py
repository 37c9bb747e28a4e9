"""The web server's one composition point: :func:`create_app`.

Building the app opens nothing; the lifespan opens the database pool, the ingest producer
and the dashboard-topic feed, and closes them in reverse order. Every route is named after a
row of the permission table (:data:`ioc.domain.auth.ENDPOINTS`) and wrapped by
:func:`dashboard.auth.guarded`; a route without a row makes :func:`create_app` fail, so
nothing is reachable by accident.

Example::

    app = create_app(settings, database_url=url, kafka_bootstrap="127.0.0.1:9092")
    uvicorn.run(app, **ws_protocol.SETTINGS)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from dashboard import feedback, open311, openapi, review, wall
from dashboard.auth import guarded
from dashboard.context import Components, components
from dashboard.feed import DashboardFeed
from dashboard.health import HealthChecker, healthz, worker_summary
from dashboard.hub import Hub
from dashboard.ingest import RawProducer, RegistryCache, observations
from dashboard.pages import Pages
from dashboard.security import RateLimit, SecurityHeaders
from dashboard.sessions import login, login_page, logout, me
from dashboard.snapshot import SnapshotBuilder
from dashboard.throttle import LoginThrottle
from dashboard.ws import websocket_endpoint
from dashboard.ws_protocol import text_frame
from ioc.domain.auth import ENDPOINTS, Principal
from ioc.domain.catalogue import load_catalogue
from ioc.settings import Settings
from ioc.storage.db import open_pool

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def live_page(request: Request, principal: Principal) -> Response:
    return components(request).pages.live()


def routes() -> list[BaseRoute]:
    static = Mount(
        "/static",
        routes=[
            Mount("/app", StaticFiles(directory=STATIC_DIR / "app"), name="app"),
            Mount("/vendor", StaticFiles(directory=STATIC_DIR / "vendor"), name="vendor"),
        ],
        name="static",
    )
    table: list[BaseRoute] = [
        Route("/", guarded("live_page", live_page), name="live_page"),
        Route("/login", guarded("login_page", login_page), methods=["GET"], name="login_page"),
        Route("/login", guarded("login", login), methods=["POST"], name="login"),
        Route("/logout", guarded("logout", logout), methods=["POST"], name="logout"),
        Route("/api/v1/me", guarded("me", me), name="me"),
        Route(
            "/api/v1/observations", guarded("ingest", observations), methods=["POST"], name="ingest"
        ),
        Route("/healthz", guarded("healthz", healthz), name="healthz"),
        WebSocketRoute("/ws", websocket_endpoint, name="websocket"),
        *wall.routes(),
        *review.routes(),
        *feedback.routes(),
        *open311.routes(),
        *openapi.routes(),
        static,
    ]
    names = [getattr(r, "name", None) for r in table]
    unprotected = [n for n in names if n not in ENDPOINTS]
    if unprotected:
        raise RuntimeError(f"routes without a permission row: {unprotected}")
    return table


def _resolve(
    settings: Settings, database_url: str | None, kafka_bootstrap: str | None
) -> tuple[str, str]:
    if database_url is not None and kafka_bootstrap is not None:
        return database_url, kafka_bootstrap
    from ioc.services import manager

    return (
        database_url or manager.database_url(settings),
        kafka_bootstrap or manager.kafka_bootstrap(settings),
    )


def create_app(
    settings: Settings, *, database_url: str | None = None, kafka_bootstrap: str | None = None
) -> Starlette:
    """The ASGI app. URLs default to what :mod:`ioc.services.manager` resolves (at start)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db_url, bootstrap = _resolve(settings, database_url, kafka_bootstrap)
        pool = await open_pool(db_url, min_size=1, max_size=8)
        hub = Hub(
            settings.ws_queue_size,
            batch_after=settings.ws_batch_after,
            tick_s=settings.ws_tick_s,
            encode_frame=text_frame,
        )
        feed = DashboardFeed(
            bootstrap,
            settings.topic("dashboard"),
            hub,
            create_topics=[settings.topic("dashboard"), settings.topic("observations.raw")],
            partitions=settings.topic_partitions,
        )
        producer = RawProducer(
            bootstrap, settings.topic("observations.raw"), settings.max_body_bytes
        )
        within = 3 * settings.worker_heartbeat_s
        ctx = Components(
            settings=settings,
            pool=pool,
            catalogue=load_catalogue(),
            registry=RegistryCache(pool, settings.registry_refresh_s),
            producer=producer,
            hub=hub,
            feed=feed,
            snapshots=SnapshotBuilder(
                pool, lambda: [worker_summary(w.message) for w in feed.alive_workers(within)]
            ),
            health=HealthChecker(settings, pool, bootstrap, feed),
            throttle=LoginThrottle(free_by_kind={"ip": 20}),
            pages=Pages(),
            dashboard_producer=RawProducer(
                bootstrap, settings.topic("dashboard"), settings.max_body_bytes
            ),
        )
        app.state.ioc = ctx
        feed_task = asyncio.create_task(feed.run(), name="dashboard-feed")
        await producer.start()
        logger.info("dashboard ready (database and broker %s)", bootstrap)
        try:
            yield
        finally:
            feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed_task
            await hub.close_all()
            await ctx.health.close()
            await producer.stop()
            await feedback.close(app)  # the citizen-report producer, if one was started
            if ctx.dashboard_producer is not None:
                await ctx.dashboard_producer.stop()
            await pool.close()
            logger.info("dashboard stopped")

    middleware = [Middleware(SecurityHeaders), Middleware(RateLimit, settings=settings)]
    return Starlette(routes=routes(), lifespan=lifespan, middleware=middleware)
