"""Citizen-feedback storage: reports, contacts, timeline, photos, labels (psycopg 3, async).

Writes are idempotent by report id (``ON CONFLICT (report_id) DO NOTHING``: a message
delivered twice stores one report). Transitions go through the pure lifecycle
(:mod:`ioc.feedback.lifecycle`): :func:`load_state` locks the row and rebuilds the machine's
state, the caller applies an event, :func:`save_transition` stores what came back and the
audited timeline entry, in the caller's transaction. Contacts are read only by
:func:`contact_of` (staff) and never appear in lists or logs. All SQL takes bind parameters.

Example::

    async with conn.transaction():
        state, row = await load_state(conn, "HP-7K3M-9QX2")
        new, effects = apply(state, Acknowledged(at=now, actor="binh"), policy)
        await save_transition(conn, state, new, effects, actor="binh")
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ioc.feedback.duplicates import Candidate
from ioc.feedback.intake import ReportMessage
from ioc.feedback.kpi import DeadlineRow
from ioc.feedback.lifecycle import (
    Effect,
    QueueForTriage,
    RecordLabel,
    Report,
    Status,
    Transition,
)

logger = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[Any]

_COLUMNS = (
    "report_id, token, source, client, service_code, requested_code, department, status, "
    "description, lang, lat, lon, location_source, address, predicted_code, confidence, "
    "model_version, triage_reason, received_at, cycle_start, ack_due, resolve_due, "
    "acknowledged_at, closed_at, reopen_count, case_id, overdue_ack, overdue_resolve, "
    "context, updated_at"
)
_COLS = sql.SQL(_COLUMNS)
_INSERT = (
    "INSERT INTO feedback_reports (report_id, token, source, client, service_code, "
    "requested_code, department, status, description, lang, lat, lon, location_source, "
    "address, predicted_code, confidence, model_version, triage_reason, received_at, "
    "cycle_start, ack_due, resolve_due, case_id, context) VALUES (%s, %s, %s, %s, %s, %s, %s, "
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (report_id) DO NOTHING RETURNING report_id"
)
_CONTACT = (
    "INSERT INTO feedback_contacts (report_id, first_name, last_name, email, phone, device_id) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (report_id) DO NOTHING"
)
_EVENT = (
    "INSERT INTO feedback_events (report_id, seq, at, kind, old_status, new_status, actor, "
    "note, public, detail) SELECT %s, coalesce(max(seq) + 1, 0), %s, %s, %s, %s, %s, %s, %s, %s "
    "FROM feedback_events WHERE report_id = %s"
)
_MEDIA = (
    "INSERT INTO feedback_media (report_id, sha256, content_type, bytes, role) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
_LABEL = (
    "INSERT INTO feedback_labels (report_id, at, text, category, previous, actor, reason) "
    "SELECT report_id, %s, description, %s, %s, %s, %s FROM feedback_reports "
    "WHERE report_id = %s ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's answer stored with the report."""

    predicted: str | None
    confidence: float | None
    model_version: str | None


def _triage_reason(effects: Sequence[Effect]) -> str | None:
    for e in effects:
        if isinstance(e, QueueForTriage):
            return e.reason
    return None


async def add_event(
    conn: Conn,
    report_id: str,
    at: datetime,
    kind: str,
    *,
    old: str | None = None,
    new: str | None = None,
    actor: str = "system",
    note: str = "",
    public: bool = True,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        _EVENT,
        (report_id, at, kind, old, new, actor, note, public, Jsonb(detail or {}), report_id),
    )


async def store_report(
    conn: Conn,
    msg: ReportMessage,
    state: Report,
    effects: Sequence[Effect],
    classification: Classification,
    *,
    case_id: str | None,
    context: dict[str, Any],
) -> bool:
    """Insert a new report with its contact, photos and timeline; False if already stored."""
    cur = await conn.execute(
        _INSERT,
        (
            msg.report_id, msg.token, msg.source, msg.client, state.category,
            msg.service_code, state.department, state.status.value, msg.description, msg.lang,
            msg.lat, msg.lon, msg.location_source, msg.address, classification.predicted,
            classification.confidence, classification.model_version, _triage_reason(effects),
            msg.received_at, state.cycle_start, state.ack_due, state.resolve_due, case_id,
            Jsonb(context),
        ),
    )  # fmt: skip
    if await cur.fetchone() is None:
        return False
    c = msg.contact
    if not c.empty or c.device_id:
        await conn.execute(
            _CONTACT, (msg.report_id, c.first_name, c.last_name, c.email, c.phone, c.device_id)
        )
    for m in msg.media:
        await conn.execute(_MEDIA, (msg.report_id, m.sha256, m.content_type, m.bytes, "report"))
    await add_event(conn, msg.report_id, msg.received_at, "received", new="received")
    for step in state.history:
        await add_event(
            conn,
            msg.report_id,
            step.at,
            step.event,
            old=step.old.value,
            new=step.new.value,
            actor=step.actor,
            detail={"category": state.category, "department": state.department},
        )
    if case_id is not None:
        await add_event(
            conn, msg.report_id, msg.received_at, "linked", note=case_id, detail={"case": case_id}
        )
    return True


async def load_state(conn: Conn, report_id: str) -> tuple[Report, dict[str, Any]] | None:
    """Lock a report (``FOR UPDATE``) and rebuild its lifecycle state; ``None`` if unknown."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL("SELECT {} FROM feedback_reports WHERE report_id = %s FOR UPDATE").format(_COLS),
        (report_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await cur.execute(
        "SELECT at, kind, old_status, new_status, actor FROM feedback_events "
        "WHERE report_id = %s AND old_status IS NOT NULL ORDER BY seq",
        (report_id,),
    )
    history = tuple(
        Transition(e["at"], e["kind"], Status(e["old_status"]), Status(e["new_status"]), e["actor"])
        for e in await cur.fetchall()
    )
    state = Report(
        report_id=row["report_id"],
        status=Status(row["status"]),
        received_at=row["received_at"],
        cycle_start=row["cycle_start"],
        category=row["service_code"],
        department=row["department"],
        confidence=row["confidence"],
        ack_due=row["ack_due"],
        resolve_due=row["resolve_due"],
        acknowledged_at=row["acknowledged_at"],
        closed_at=row["closed_at"],
        reopen_count=row["reopen_count"],
        history=history,
    )
    return state, row


async def save_transition(
    conn: Conn,
    before: Report,
    after: Report,
    effects: Sequence[Effect],
    *,
    actor: str,
    note: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Store the state the lifecycle returned, its timeline entry and any new label."""
    await conn.execute(
        "UPDATE feedback_reports SET status = %s, service_code = %s, department = %s, "
        "ack_due = %s, resolve_due = %s, acknowledged_at = %s, closed_at = %s, "
        "cycle_start = %s, reopen_count = %s, triage_reason = coalesce(%s, triage_reason), "
        "overdue_ack = overdue_ack AND %s, overdue_resolve = overdue_resolve AND %s, "
        "updated_at = now() WHERE report_id = %s",
        (
            after.status.value, after.category, after.department, after.ack_due,
            after.resolve_due, after.acknowledged_at, after.closed_at, after.cycle_start,
            after.reopen_count, _triage_reason(effects), after.ack_due == before.ack_due,
            after.resolve_due == before.resolve_due, after.report_id,
        ),
    )  # fmt: skip
    step = after.history[-1]
    await add_event(
        conn,
        after.report_id,
        step.at,
        step.event,
        old=step.old.value,
        new=step.new.value,
        actor=step.actor,
        note=note,
        detail={"category": after.category, "department": after.department, **(detail or {})},
    )
    for e in effects:
        if isinstance(e, RecordLabel):
            await conn.execute(
                _LABEL, (step.at, e.category, e.previous, e.actor, reason, e.report_id)
            )


async def add_media(conn: Conn, report_id: str, media: Sequence[Any], role: str) -> None:
    for m in media:
        await conn.execute(_MEDIA, (report_id, m.sha256, m.content_type, m.bytes, role))


# --- reads -------------------------------------------------------------------------------


async def open_candidates(
    conn: Conn, service_code: str, lat: float, lon: float, since: datetime, radius_m: float
) -> list[Candidate]:
    """Open reports of a category inside a bounding box of ``radius_m`` since ``since``."""
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    cur = await conn.execute(
        "SELECT report_id, case_id, service_code, lat, lon, received_at, description "
        "FROM feedback_reports WHERE service_code = %s AND received_at >= %s "
        "AND status NOT IN ('resolved', 'rejected') AND lat BETWEEN %s AND %s "
        "AND lon BETWEEN %s AND %s ORDER BY received_at DESC LIMIT 200",
        (service_code, since, lat - dlat, lat + dlat, lon - dlon, lon + dlon),
    )
    return [Candidate(*row) for row in await cur.fetchall()]


_DIST = sql.SQL(
    "2 * 6371000 * asin(least(1, sqrt(power(sin(radians(lat - %s) / 2), 2) + "
    "cos(radians(%s)) * cos(radians(lat)) * power(sin(radians(lon - %s) / 2), 2))))"
)


async def nearby_context(
    conn: Conn, lat: float, lon: float, at: datetime, radius_m: float = 2000.0
) -> dict[str, Any]:
    """Nearest cameras and the latest readings of nearby sensors at time ``at``."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(
            "SELECT id, name, round(({d})::numeric, 0)::float AS distance_m FROM cameras "
            "WHERE active AND lat IS NOT NULL AND lon IS NOT NULL "
            "AND {d} <= %s ORDER BY 3 LIMIT 3"
        ).format(d=_DIST),
        (lat, lat, lon, lat, lat, lon, radius_m),
    )
    cameras = await cur.fetchall()
    await cur.execute(
        sql.SQL(
            "SELECT id, round(({d})::numeric, 0)::float AS distance_m FROM sensors "
            "WHERE active AND lat IS NOT NULL AND lon IS NOT NULL AND {d} <= %s "
            "ORDER BY 2 LIMIT 5"
        ).format(d=_DIST),
        (lat, lat, lon, lat, lat, lon, radius_m),
    )
    sensors = {r["id"]: r["distance_m"] for r in await cur.fetchall()}
    readings: list[dict[str, Any]] = []
    if sensors:
        await cur.execute(
            "SELECT DISTINCT ON (sensor_id, quantity) sensor_id, quantity, time, value, unit "
            "FROM readings WHERE sensor_id = ANY(%s) AND time <= %s AND time > %s "
            "ORDER BY sensor_id, quantity, time DESC",
            (list(sensors), at, at - timedelta(hours=6)),
        )
        readings = [
            {**r, "time": r["time"].isoformat(), "distance_m": sensors[r["sensor_id"]]}
            for r in await cur.fetchall()
        ]
    return {"cameras": cameras, "readings": readings}


async def training_labels(conn: Conn) -> list[tuple[str, str]]:
    """(text, category) of every manual (re)assignment, newest label per report."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (report_id) text, category FROM feedback_labels "
        "ORDER BY report_id, at DESC"
    )
    return [(r[0], r[1]) for r in await cur.fetchall()]


async def get_report(conn: Conn, report_id: str) -> dict[str, Any] | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL("SELECT {} FROM feedback_reports WHERE report_id = %s").format(_COLS), (report_id,)
    )
    return await cur.fetchone()


async def report_for_token(conn: Conn, token: str) -> str | None:
    cur = await conn.execute("SELECT report_id FROM feedback_reports WHERE token = %s", (token,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def timeline(conn: Conn, report_id: str, *, public_only: bool) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT report_id, seq, at, kind, old_status, new_status, actor, note, public, detail "
        "FROM feedback_events WHERE report_id = %s AND (public OR NOT %s) ORDER BY seq",
        (report_id, public_only),
    )
    return await cur.fetchall()


async def media_of(conn: Conn, report_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT report_id, sha256, content_type, bytes, role FROM feedback_media "
        "WHERE report_id = ANY(%s) ORDER BY report_id, role, sha256",
        (list(report_ids),),
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in await cur.fetchall():
        out.setdefault(r["report_id"], []).append(r)
    return out


async def media_type(conn: Conn, sha256: str) -> str | None:
    cur = await conn.execute(
        "SELECT content_type FROM feedback_media WHERE sha256 = %s LIMIT 1", (sha256,)
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def contact_of(conn: Conn, report_id: str) -> dict[str, Any] | None:
    """The reporter's contact (staff only; never log it)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT first_name, last_name, email, phone FROM feedback_contacts WHERE report_id = %s",
        (report_id,),
    )
    return await cur.fetchone()


async def reporters(conn: Conn, case_ids: Sequence[str]) -> dict[str, int]:
    """Number of linked duplicate reports per case."""
    cur = await conn.execute(
        "SELECT case_id, count(*) FROM feedback_reports WHERE case_id = ANY(%s) GROUP BY case_id",
        (list(case_ids),),
    )
    return {r[0]: int(r[1]) for r in await cur.fetchall()}


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Filters of lists (Open311 ``requests`` and the work queue); all optional."""

    report_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    department: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    cases_only: bool = False
    overdue_only: bool = False
    limit: int = 200


async def list_reports(conn: Conn, f: ReportFilter) -> list[dict[str, Any]]:
    """Newest first; duplicates are hidden with ``cases_only``."""
    where = ["true"]
    params: list[Any] = []
    if f.report_ids:
        where.append("report_id = ANY(%s)")
        params.append(list(f.report_ids))
    if f.service_codes:
        where.append("service_code = ANY(%s)")
        params.append(list(f.service_codes))
    if f.statuses:
        where.append("status = ANY(%s)")
        params.append(list(f.statuses))
    if f.department is not None:
        where.append("department = %s")
        params.append(f.department)
    if f.start is not None:
        where.append("received_at >= %s")
        params.append(f.start)
    if f.end is not None:
        where.append("received_at <= %s")
        params.append(f.end)
    if f.cases_only:
        where.append("case_id IS NULL")
    if f.overdue_only:
        where.append("(overdue_ack OR overdue_resolve)")
    params.append(f.limit)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(
            "SELECT {} FROM feedback_reports WHERE {} ORDER BY received_at DESC LIMIT %s"
        ).format(_COLS, sql.SQL(" AND ").join(sql.SQL(w) for w in where)),
        params,
    )
    return await cur.fetchall()


# --- deadlines ---------------------------------------------------------------------------


async def deadline_rows(conn: Conn, closed_since: datetime) -> list[DeadlineRow]:
    """Open reports and reports closed since ``closed_since`` (cases only)."""
    cur = await conn.execute(
        "SELECT report_id, department, service_code, status, ack_due, resolve_due, closed_at, "
        "overdue_ack, overdue_resolve FROM feedback_reports WHERE case_id IS NULL AND "
        "(status NOT IN ('resolved', 'rejected') OR closed_at >= %s)",
        (closed_since,),
    )
    return [DeadlineRow(*row) for row in await cur.fetchall()]


async def mark_overdue(
    conn: Conn, report_id: str, kinds: Sequence[Literal["ack", "resolve"]], at: datetime
) -> bool:
    """Flag missed deadlines once; True when this call flagged them (alert exactly once)."""
    ack, resolve = "ack" in kinds, "resolve" in kinds
    cur = await conn.execute(
        "UPDATE feedback_reports SET overdue_ack = overdue_ack OR %s, "
        "overdue_resolve = overdue_resolve OR %s WHERE report_id = %s "
        "AND ((%s AND NOT overdue_ack) OR (%s AND NOT overdue_resolve)) RETURNING report_id",
        (ack, resolve, report_id, ack, resolve),
    )
    if await cur.fetchone() is None:
        return False
    await add_event(
        conn,
        report_id,
        at,
        "overdue",
        note=",".join(kinds),
        public=False,
        detail={"missed": list(kinds)},
    )
    return True


async def last_notes(conn: Conn, report_ids: Sequence[str]) -> dict[str, str]:
    """Latest public note (answer, question, reason) per report."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (report_id) report_id, note FROM feedback_events "
        "WHERE report_id = ANY(%s) AND public AND note <> '' AND kind <> 'linked' "
        "ORDER BY report_id, seq DESC",
        (list(report_ids),),
    )
    return {r[0]: r[1] for r in await cur.fetchall()}


async def area_shapes(conn: Conn) -> list[dict[str, Any]]:
    """Districts with their GeoJSON geometry (public city data) for the citizen map."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, name, name_vi, geometry FROM areas WHERE geometry IS NOT NULL ORDER BY id"
    )
    return await cur.fetchall()


async def add_citizen_reply(
    conn: Conn, report_id: str, token: str, at: datetime, text: str
) -> Literal["ok", "not_found", "closed"]:
    """Append the citizen's answer to the timeline if ``token`` is the report's."""
    import hmac

    cur = await conn.execute(
        "SELECT token, status FROM feedback_reports WHERE report_id = %s FOR UPDATE", (report_id,)
    )
    row = await cur.fetchone()
    if row is None or not hmac.compare_digest(str(row[0]), token):
        return "not_found"
    if row[1] in ("resolved", "rejected"):
        return "closed"
    await add_event(conn, report_id, at, "citizenreply", actor="citizen", note=text)
    await conn.execute(
        "UPDATE feedback_reports SET updated_at = now() WHERE report_id = %s", (report_id,)
    )
    return "ok"
