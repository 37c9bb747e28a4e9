"""HTTP handlers of the police review (routes in :mod:`dashboard.review`).

Every handler reads through the caller's scope: a case outside it, a malformed or guessed
id, answers 404 exactly like a case that does not exist, and is written to the audit log.
Every case view, evidence request, decision (accepted or refused) and export is audited.
Evidence is served by case id + kind only, after its SHA-256 was checked against the value
recorded at capture (409 ``evidence_tampered`` otherwise), with HTTP Range support so clips
are seekable.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from dashboard.context import components
from dashboard.responses import BodyTooLarge, error, json_response, read_limited
from dashboard.review.rules import legal_for, rule_names
from ioc.domain.auth import Principal
from ioc.review.case import Case, options
from ioc.review.export import Blob, IntegrityError, build_case_zip
from ioc.review.notice import build_notice, render_html
from ioc.review.queue import parse_filters
from ioc.review.workflow import WorkflowError, parse_action
from ioc.storage import review as store

logger = logging.getLogger(__name__)

MAX_DECISION_BYTES = 8192
CONFLICT_CODES = frozenset({"bad_transition", "stale_version", "same_rule"})


def caller_of(principal: Principal) -> store.Caller:
    return store.Caller(principal.name or "anonymous", principal.role, principal.user_id)


async def audit(
    request: Request, principal: Principal, what: str, event_id: str | None, **detail: Any
) -> None:
    async with components(request).pool.connection() as conn:
        await store.audit(conn, caller_of(principal), what, event_id, detail)


async def not_found(request: Request, principal: Principal, endpoint: str) -> Response:
    raw = str(request.path_params.get("event_id", ""))
    eid = store.parse_event_id(raw)
    await audit(
        request, principal, "not_found", eid, endpoint=endpoint, **({} if eid else {"id": raw[:80]})
    )
    return error(404, "not_found", "no such case")


async def _load(request: Request, principal: Principal) -> Case | None:
    eid = store.parse_event_id(str(request.path_params.get("event_id", "")))
    if eid is None:
        return None
    async with components(request).pool.connection() as conn:
        return await store.get_case(conn, eid, caller_of(principal))


async def review_list(request: Request, principal: Principal) -> Response:
    try:
        filters = parse_filters(dict(request.query_params))
    except WorkflowError as exc:
        return error(400, exc.code, str(exc))
    async with components(request).pool.connection() as conn:
        cases = await store.list_queue(conn, caller_of(principal), filters)
    names = rule_names()
    return json_response({"cases": [c.summary(names) for c in cases], "options": options(names)})


async def review_case(request: Request, principal: Principal) -> Response:
    case = await _load(request, principal)
    if case is None:
        return await not_found(request, principal, "review_case")
    async with components(request).pool.connection() as conn:
        await store.audit(conn, caller_of(principal), "view", case.event_id, {})
        history = await store.transitions(conn, case.event_id)
    body = case.to_json(rule_names())
    body["history"] = history
    return json_response(body)


async def review_evidence(request: Request, principal: Principal) -> Response:
    case = await _load(request, principal)
    if case is None:
        return await not_found(request, principal, "review_evidence")
    kind = str(request.path_params["kind"])
    ref = case.evidence_of(kind)
    if ref is None:
        await audit(request, principal, "not_found", case.event_id, kind=kind[:40])
        return error(404, "no_such_evidence", "this case has no evidence of that kind")
    if case.evidence_purged_at is not None:
        return error(410, "evidence_purged", "evidence removed by the retention policy")
    root = store.evidence_root(components(request).settings)
    try:
        path = await asyncio.to_thread(store.evidence_path, root, ref)
        actual = await asyncio.to_thread(store.sha256_of, path)
    except store.EvidenceMissing:
        await audit(
            request, principal, "integrity_error", case.event_id, kind=kind, problem="missing"
        )
        return error(409, "evidence_missing", "the evidence file is missing from the store")
    if actual != ref.sha256:
        logger.error("case %s: evidence %s fails its SHA-256 check", case.event_id, kind)
        await audit(request, principal, "integrity_error", case.event_id, kind=kind, sha256=actual)
        return error(409, "evidence_tampered", "the file differs from what was recorded")
    await audit(
        request,
        principal,
        "evidence",
        case.event_id,
        kind=kind,
        range=request.headers.get("range", "")[:60],
    )
    return FileResponse(
        path,
        media_type=ref.media_type,
        headers={"Cache-Control": "private, no-store"},
        content_disposition_type="inline",
    )


async def review_decide(request: Request, principal: Principal) -> Response:
    eid = store.parse_event_id(str(request.path_params.get("event_id", "")))
    if eid is None:
        return await not_found(request, principal, "review_decide")
    try:
        body = json.loads(await read_limited(request, MAX_DECISION_BYTES) or b"null")
    except BodyTooLarge:
        return error(413, "body_too_large", f"at most {MAX_DECISION_BYTES} bytes")
    except ValueError:
        return error(400, "invalid_json", "the body is not JSON")
    if not isinstance(body, dict):
        return error(400, "invalid_body", "a JSON object is expected")
    version = body.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        return error(400, "bad_version", "version: an integer")
    names = rule_names()
    caller = caller_of(principal)
    try:
        action = parse_action(body, names.keys())
        async with components(request).pool.connection() as conn:
            t = await store.decide(conn, eid, caller, action, version, legal_for)
    except WorkflowError as exc:
        await audit(
            request,
            principal,
            "decision_refused",
            eid,
            code=exc.code,
            action=str(body.get("action"))[:20],
        )
        return error(409 if exc.code in CONFLICT_CODES else 400, exc.code, str(exc))
    if t is None:
        return await not_found(request, principal, "review_decide")
    async with components(request).pool.connection() as conn:
        case = await store.get_case(conn, eid, caller)
    assert case is not None
    return json_response(
        {
            "transition": {"action": t.action, "from": t.from_status, "to": t.to_status},
            "case": case.to_json(names),
        }
    )


async def review_export(request: Request, principal: Principal) -> Response:
    case = await _load(request, principal)
    if case is None:
        return await not_found(request, principal, "review_export")
    if case.evidence_purged_at is not None:
        return error(410, "evidence_purged", "evidence removed by the retention policy")
    ctx = components(request)
    root = store.evidence_root(ctx.settings)
    try:
        blobs = [
            Blob(
                ref.kind,
                ref.name,
                ref.sha256,
                await asyncio.to_thread(store.read_evidence, root, ref),
            )
            for ref in case.evidence
        ]
    except store.EvidenceMissing as exc:
        await audit(
            request, principal, "integrity_error", case.event_id, kind=str(exc), problem="missing"
        )
        return error(409, "evidence_missing", "an evidence file is missing from the store")
    names = rule_names()
    now = datetime.now(UTC)
    notice = None
    if case.plate is not None:
        notice = render_html(build_notice(case, names, ctx.settings.review_detecting_unit, now))
    caller = caller_of(principal)
    async with ctx.pool.connection() as conn:
        await store.audit(conn, caller, "export", case.event_id, {"files": len(blobs)})
        rows = [store.audit_json(r) for r in await store.case_audit(conn, case.event_id)]
    try:
        data = build_case_zip(case.to_json(names), blobs, rows, notice, now, caller.name)
    except IntegrityError as exc:
        logger.error("case %s: export refused: %s", case.event_id, exc)
        await audit(
            request, principal, "integrity_error", case.event_id, kind=exc.kind, sha256=exc.actual
        )
        return error(409, "evidence_tampered", str(exc), kind=exc.kind)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="case-{case.event_id}.zip"',
        },
    )
