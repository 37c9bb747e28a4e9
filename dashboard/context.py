"""The components one server process is made of, built by the app's lifespan.

Handlers reach them through :func:`components`, never through module globals, so two apps
(e.g. in tests) never share state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from psycopg_pool import AsyncConnectionPool
from starlette.requests import HTTPConnection

from ioc.domain.catalogue import Catalogue
from ioc.settings import Settings

if TYPE_CHECKING:
    from dashboard.feed import DashboardFeed
    from dashboard.health import HealthChecker
    from dashboard.hub import Hub
    from dashboard.ingest import RawProducer, RegistryCache
    from dashboard.pages import Pages
    from dashboard.snapshot import SnapshotBuilder
    from dashboard.throttle import LoginThrottle


@dataclass
class Components:
    settings: Settings
    pool: AsyncConnectionPool
    catalogue: Catalogue
    registry: RegistryCache
    producer: RawProducer
    hub: Hub
    feed: DashboardFeed
    snapshots: SnapshotBuilder
    health: HealthChecker
    throttle: LoginThrottle
    pages: Pages
    dashboard_producer: RawProducer | None = None  # wall: alarm changes to all servers


def components(conn: HTTPConnection) -> Components:
    return cast(Components, conn.app.state.ioc)
