"""Timer ``feedback_deadlines``: overdue citizen reports and on-time rates, live.

Every ``IOC_FEEDBACK_DEADLINE_INTERVAL_S`` each worker reads the open reports (and those
closed in the last 30 days), asks the pure :mod:`ioc.feedback.kpi` which deadlines were
newly missed, flags them with an ``UPDATE … RETURNING`` (so an alert is raised exactly once
even with several workers) and publishes to the dashboard topic:

* ``{"type": "feedback.overdue", "report_id", "department", "service_code", "missed":
  ["ack"|"resolve"], "ack_due", "resolve_due", "time"}`` per newly overdue report;
* ``{"type": "feedback.kpi", "time", "departments": {key: {"open", "overdue", "resolved",
  "resolved_on_time", "on_time_rate"}}, "overall": {...}}`` every run.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import faust
import psycopg

from ioc.feedback.kpi import ALL, DeadlineRow, department_kpis, newly_overdue
from ioc.storage import feedback as store
from streams.runtime import Runtime

logger = logging.getLogger(__name__)

KPI_WINDOW: Final = timedelta(days=30)


def overdue_message(row: DeadlineRow, missed: tuple[str, ...], now: datetime) -> dict[str, Any]:
    return {
        "type": "feedback.overdue",
        "report_id": row.report_id,
        "department": row.department,
        "service_code": row.service_code,
        "missed": list(missed),
        "ack_due": row.ack_due.isoformat() if row.ack_due else None,
        "resolve_due": row.resolve_due.isoformat() if row.resolve_due else None,
        "time": now.isoformat(),
    }


def kpi_message(rows: list[DeadlineRow], now: datetime) -> dict[str, Any]:
    kpis = department_kpis(rows, now)
    overall = kpis.pop(ALL, None)
    return {
        "type": "feedback.kpi",
        "time": now.isoformat(),
        "departments": {k: v.as_dict() for k, v in kpis.items()},
        "overall": overall.as_dict() if overall else None,
    }


async def check(rt: Runtime, now: datetime) -> list[dict[str, Any]]:
    """Flag newly overdue reports; return the dashboard messages to publish."""

    async def run(conn: psycopg.AsyncConnection[Any]) -> list[dict[str, Any]]:
        async with conn.transaction():
            rows = await store.deadline_rows(conn, now - KPI_WINDOW)
            out = []
            for row, missed in newly_overdue(rows, now):
                if await store.mark_overdue(conn, row.report_id, missed, now):
                    out.append(overdue_message(row, missed, now))
            out.append(kpi_message(rows, now))
            return out

    return await rt.with_db("feedback deadlines", run)


def register(app: faust.App, rt: Runtime) -> None:
    async def deadlines() -> None:
        if not rt.is_started:
            return
        messages = await check(rt, datetime.now(UTC))
        for m in messages:
            if m["type"] == "feedback.overdue":
                logger.info("feedback: report %s overdue (%s)", m["report_id"], m["missed"])
        await rt.publish([(rt.topics.dashboard, None, json.dumps(m).encode()) for m in messages])

    app.timer(rt.settings.feedback_deadline_interval_s, name="feedback_deadlines")(deadlines)
