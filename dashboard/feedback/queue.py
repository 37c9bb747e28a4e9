"""The department work queue: list, detail and actions on reports (staff only).

Department users see and act on their own department's reports only; operators and admins
see every department and the triage queue (low classifier confidence). Actions go through
the pure lifecycle (:mod:`ioc.feedback.lifecycle`) inside one transaction that locks the
report; each is audited in the timeline (visible to the citizen when public):

* ``accept`` - the department takes the report up (→ in_progress);
* ``request_info`` - a question to the citizen (``question``), status unchanged;
* ``reassign`` - another category (``category``, ``reason``): kept as a training label;
* ``resolve`` - with a ``note`` for the citizen and optional photos (multipart ``media``);
* ``reject`` - with a ``reason`` for the citizen.

Answers: 200 the updated report; 400 bad input; 403 not your department; 404 unknown report;
409 the lifecycle refuses the action (``illegal_transition`` …).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from dashboard.context import components
from dashboard.feedback.intake import IntakeFailure, inspect_all, read_form, store_photo, web_state
from dashboard.feedback.views import media_url
from dashboard.responses import error, json_response
from ioc.domain.auth import Principal
from ioc.feedback.intake import MediaRef
from ioc.feedback.lifecycle import (
    Acknowledged,
    Assigned,
    Event,
    InfoRequested,
    LifecycleError,
    Policy,
    Rejected,
    Resolved,
    apply,
)
from ioc.storage import feedback as store

logger = logging.getLogger(__name__)

MAX_NOTE = 2000
STAFF_ALL = frozenset({"admin", "operator"})


def _may_see(principal: Principal, row: dict[str, Any]) -> bool:
    if principal.role in STAFF_ALL:
        return True
    return principal.department is not None and row["department"] == principal.department


def _summary(row: dict[str, Any], reporters: int) -> dict[str, Any]:
    keep = (
        "report_id", "service_code", "requested_code", "department", "status", "description",
        "lat", "lon", "address", "predicted_code", "confidence", "model_version",
        "triage_reason", "received_at", "ack_due", "resolve_due", "acknowledged_at",
        "closed_at", "case_id", "overdue_ack", "overdue_resolve", "context", "source",
    )  # fmt: skip
    return {**{k: row[k] for k in keep}, "reporters": 1 + reporters}


async def queue_list(request: Request, principal: Principal) -> Response:
    q = request.query_params
    statuses = tuple(s for s in q.get("status", "").split(",") if s)
    department: str | None = q.get("department") or None
    if principal.role not in STAFF_ALL:
        if principal.department is None:
            return error(403, "no_department", "this account is not bound to a department")
        department = principal.department
    if q.get("triage") in ("1", "true"):
        if principal.role not in STAFF_ALL:
            return error(403, "forbidden", "the triage queue is for operators")
        statuses, department = ("triage",), None
    f = store.ReportFilter(
        service_codes=tuple(c for c in q.get("service_code", "").split(",") if c),
        statuses=statuses,
        department=department,
        cases_only=True,
        overdue_only=q.get("overdue") in ("1", "true"),
        limit=500,
    )
    async with components(request).pool.connection() as db:
        rows = await store.list_reports(db, f)
        counts = await store.reporters(db, [r["report_id"] for r in rows])
    items = [_summary(r, counts.get(r["report_id"], 0)) for r in rows]
    return json_response({"department": department, "items": items})


async def report_detail(request: Request, principal: Principal) -> Response:
    rid = str(request.path_params["rid"])
    async with components(request).pool.connection() as db:
        row = await store.get_report(db, rid)
        if row is None:
            return error(404, "not_found", "unknown report")
        if not _may_see(principal, row):
            return error(403, "not_your_department", "this report belongs to another department")
        events = await store.timeline(db, rid, public_only=False)
        media = await store.media_of(db, [rid])
        contact = await store.contact_of(db, rid)
        counts = await store.reporters(db, [rid])
    base = str(request.base_url)
    return json_response(
        {
            **_summary(row, counts.get(rid, 0)),
            "timeline": events,
            "photos": [{**m, "url": media_url(base, m["sha256"])} for m in media.get(rid, [])],
            "contact": contact,
        }
    )


def _event(action: str, fields: dict[str, str], actor: str, now: datetime) -> tuple[Event, str]:
    """The lifecycle event of an action and the note the citizen sees."""
    text = (fields.get("note") or fields.get("reason") or fields.get("question") or "").strip()
    if len(text) > MAX_NOTE:
        raise IntakeFailure(400, "note_too_long", f"at most {MAX_NOTE} characters")
    needs_text = {
        "request_info": "question",
        "reassign": "reason",
        "resolve": "note",
        "reject": "reason",
    }
    if action in needs_text and not text:
        raise IntakeFailure(
            400, f"missing_{needs_text[action]}", f"{needs_text[action]} is required"
        )
    makers: dict[str, Callable[[], Event]] = {
        "accept": lambda: Acknowledged(at=now, actor=actor),
        "request_info": lambda: InfoRequested(at=now, actor=actor, question=text),
        "reassign": lambda: Assigned(at=now, actor=actor, category=fields.get("category", "")),
        "resolve": lambda: Resolved(at=now, actor=actor, note=text),
        "reject": lambda: Rejected(at=now, actor=actor, reason=text),
    }
    if action not in makers:
        raise IntakeFailure(404, "unknown_action", f"unknown action {action!r}")
    return makers[action](), text


async def report_action(request: Request, principal: Principal) -> Response:
    rid, action = str(request.path_params["rid"]), str(request.path_params["action"])
    settings = components(request).settings
    state = await web_state(request)
    policy = Policy.from_catalogue(state.catalogue)
    try:
        fields, files = await read_form(
            request, max(1, settings.feedback_max_photos), settings.feedback_max_photo_bytes
        )
        photos = await asyncio.to_thread(inspect_all, files, settings.feedback_max_photo_bytes)
        if photos and action != "resolve":
            raise IntakeFailure(400, "unexpected_media", "photos go with resolve only")
        event, text = _event(action, fields, principal.name or principal.kind, datetime.now(UTC))
    except IntakeFailure as exc:
        return error(exc.status, exc.code, exc.message)
    for photo in photos:
        await asyncio.to_thread(store_photo, state.media_dir, photo)
    async with components(request).pool.connection() as db, db.transaction():
        loaded = await store.load_state(db, rid)
        if loaded is None:
            return error(404, "not_found", "unknown report")
        before, row = loaded
        if not _may_see(principal, row) or (
            before.status == "triage" and principal.role not in STAFF_ALL
        ):
            return error(403, "not_your_department", "this report belongs to another department")
        if row["case_id"] is not None:
            return error(
                409, "duplicate", f"act on the case {row['case_id']}", case_id=row["case_id"]
            )
        try:
            after, effects = apply(before, event, policy)
        except LifecycleError as exc:
            return error(409, exc.code, str(exc))
        await store.save_transition(
            db, before, after, effects, actor=event.actor, note=text, reason=text
        )
        if photos:
            refs = [
                MediaRef(sha256=p.sha256, content_type=p.content_type, bytes=len(p.stripped))
                for p in photos
            ]
            await store.add_media(db, rid, refs, "resolution")
    logger.info("feedback: %s on %s by %s", action, rid, principal.name)
    return await report_detail(request, principal)
