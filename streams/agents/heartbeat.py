"""The ``heartbeat`` timer: "this worker is alive" on the dashboard topic.

Every ``worker_heartbeat_s`` each worker publishes ``{"type": "heartbeat", "worker":
"<host>:<pid>", "time", "processed", "lag"}``: ``processed`` counts readings this worker
validated since it started; ``lag`` is how far its committed offsets on ``observations.raw``
trail the partitions' ends, when Faust's monitor already knows both (else ``null``; the web
server also computes the group's lag itself).

Heartbeats start only once the worker is started (database pool open, state loaded) and not
rebalancing, so tests and the launcher can use the first heartbeat as a readiness signal.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from streams import records
from streams.runtime import Runtime

logger = logging.getLogger(__name__)


def raw_lag(app: faust.App, topic: str) -> int | None:
    """Sum of (end offset - committed offset) over this worker's raw partitions, if known."""
    monitor = app.monitor
    ends = monitor.tp_end_offsets or {}
    committed = monitor.tp_committed_offsets or {}
    total = 0
    known = False
    for tp in app.consumer.assignment():
        if tp.topic != topic or tp not in ends or tp not in committed:
            continue
        total += max(0, int(ends[tp]) - int(committed[tp]))
        known = True
    return total if known else None


def is_ready(app: faust.App, rt: Runtime) -> bool:
    return rt.is_started and rt.assigned and not app.rebalancing


def register(app: faust.App, rt: Runtime) -> None:
    async def heartbeat() -> None:
        if not is_ready(app, rt):
            return
        message = records.heartbeat_message(
            rt.worker_name, datetime.now(UTC), rt.counters.readings, raw_lag(app, rt.topics.raw)
        )
        await rt.publish([(rt.topics.dashboard, None, message)])

    app.timer(rt.settings.worker_heartbeat_s, name="heartbeat")(heartbeat)
