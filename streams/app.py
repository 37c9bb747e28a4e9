"""The Faust application factory of the stream processing.

``create_app(settings)`` builds a fresh :class:`StreamsApp` each call - there is no module-level
app - so tests, the benchmark and ``ioc worker`` can build apps with different settings in
one interpreter. Nothing connects until the worker starts.

Choices, and why:

* **Raw serializers** (bytes in, bytes out) and our own JSON decoding: the payload's validation
  (:mod:`ioc.domain.observation`) must see every malformed message to dead-letter it, which
  Faust's codecs would turn into crashes or silent skips.
* **No Faust tables.** The embedded broker keeps topics in memory and tables would depend on
  changelog compaction; the alert state is small and rebuilt from PostgreSQL instead.
* **``stream_wait_empty=False``**: the agents ack by hand after their transaction (see
  :mod:`streams.agents.ingest`); at shutdown Faust must commit what was acked and not wait for
  buffered events that will never be acked in this process.
* **``topic_disable_leader=True``**: no leader-election topic; the timers are idempotent and run
  on every worker.
* **Consumer group timeouts** shorter than Faust's 60 s defaults: the embedded broker
  completes a join only after about half the session timeout, and a worker killed with
  ``kill -9`` keeps its partitions until its session expires.
* A 50 ms consumer fetch wait instead of Faust's fixed 1.5 s (:mod:`streams.transport`): the
  embedded broker answers an empty fetch only after the whole wait.
* Web server off (the web server of the centre is ``ioc dashboard``).
"""

from __future__ import annotations

import logging
from typing import Any, Final, cast

import faust
from faust.types import TransportT

from ioc.domain.catalogue import Catalogue, load_catalogue
from ioc.settings import Settings
from streams.agents import (
    alarms,
    alerts,
    evidence_retention,
    feedback,
    feedback_deadlines,
    heartbeat,
    ingest,
    retention,
    traffic_flow,
    violations,
)
from streams.runtime import Runtime
from streams.transport import Transport

logger = logging.getLogger(__name__)

SESSION_TIMEOUT_S: Final = 10.0
HEARTBEAT_INTERVAL_S: Final = 1.0
# Records per poll (Faust: unbounded). The stream buffer stays at Faust's default so that a
# backlog of large batch messages stays bounded (and a take holds <= sink_batch_size messages).
STREAM_BUFFER_MAXSIZE: Final = 4096
MAX_POLL_RECORDS: Final = 5000


class StreamsApp(faust.App):
    """A Faust app that owns a :class:`~streams.runtime.Runtime` and closes it at shutdown,
    on Faust's aiokafka transport with a short fetch wait (see :mod:`streams.transport`)."""

    runtime: Runtime

    def _new_transport(self) -> TransportT:
        return Transport(self.conf.broker_consumer, self)

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        await self.runtime.close()


def broker_urls(bootstrap: str) -> list[str]:
    """``host1:9092,host2:9092`` → Faust broker URLs."""
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def create_app(
    settings: Settings,
    *,
    bootstrap: str | None = None,
    database_url: str | None = None,
    catalogue: Catalogue | None = None,
) -> StreamsApp:
    """Build the app with its agents and timers. ``bootstrap``/``database_url`` default to
    what :mod:`ioc.services.manager` resolves from ``settings``."""
    if bootstrap is None or database_url is None:
        from ioc.services import manager

        bootstrap = bootstrap or manager.kafka_bootstrap(settings)
        database_url = database_url or manager.database_url(settings)
    conf: dict[str, Any] = {
        "broker": broker_urls(bootstrap),
        "value_serializer": "raw",
        "key_serializer": "raw",
        "web_enabled": False,
        "store": "memory://",
        "datadir": str(settings.home / "faust" / settings.streams_app_id),
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "topic_disable_leader": True,
        "stream_wait_empty": False,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": SESSION_TIMEOUT_S,
        "broker_rebalance_timeout": SESSION_TIMEOUT_S,
        "broker_heartbeat_interval": HEARTBEAT_INTERVAL_S,
        "broker_max_poll_records": MAX_POLL_RECORDS,
        "stream_buffer_maxsize": STREAM_BUFFER_MAXSIZE,
    }
    app = StreamsApp(settings.streams_app_id, **conf)
    rt = Runtime(settings, database_url, catalogue or load_catalogue())
    rt.app = app
    app.runtime = rt

    async def _assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        rt.assigned = True

    # Faust's handler type is not satisfiable by any function; the call itself is documented.
    cast(Any, app.on_partitions_assigned).connect(_assigned)

    ingest.register(app, rt)
    alerts.register(app, rt)
    retention.register(app, rt)
    heartbeat.register(app, rt)
    violations.register(app, rt)  # camera violations (streams/agents/violations.py)
    traffic_flow.register(app, rt)  # camera flow per minute (streams/agents/traffic_flow.py)
    alarms.register(app, rt)  # unified alarms (streams/agents/alarms.py)
    feedback.register(app, rt)  # citizen reports (streams/agents/feedback.py)
    feedback_deadlines.register(app, rt)  # overdue + on-time KPIs
    evidence_retention.register(app, rt)  # violation evidence past retention (audited)
    return app
