"""Open311 GeoReport v2 at ``/open311/v2/``: services, requests, tokens in JSON and XML.

Any GeoReport client works unchanged: ``GET services.{fmt}``, ``GET services/{code}.{fmt}``,
``POST requests.{fmt}`` (form or multipart with ``media``; ``api_key`` required),
``GET requests.{fmt}`` (filters ``service_request_id``, ``service_code``, ``start_date``,
``end_date``, ``status``; default the last 90 days, at most 1000), ``GET requests/{id}.{fmt}``
and ``GET tokens/{token}.{fmt}``. Errors are GeoReport error lists in the caller's format.
Contacts are accepted on POST but never returned.

The service request id is the citizen's tracking code; the report is stored by the
``feedback`` agent shortly after the POST answered, so ``requests/{id}`` may answer 404 for
a moment (the token endpoint is for exactly that case).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dashboard.auth import guarded
from dashboard.context import components
from dashboard.feedback.intake import IntakeFailure, accept_report, read_form, web_state
from dashboard.feedback.views import public_requests
from dashboard.open311.render import FORMATS, Format, georeport_error, render
from ioc.domain.auth import KEY_ROLES, Principal, api_key_matches, api_key_prefix
from ioc.storage import feedback as store
from ioc.storage.users import aget_api_key

logger = logging.getLogger(__name__)

PREFIX = "/open311/v2"
MAX_RESULTS = 1000
DEFAULT_SPAN = timedelta(days=90)


def _fmt(request: Request) -> Format | None:
    fmt = str(request.path_params.get("fmt", "")).lower()
    return cast(Format, fmt) if fmt in FORMATS else None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _not_found(request: Request) -> Response:
    return georeport_error("json", 404, "unknown format: use .json or .xml", code="not_found")


async def services(request: Request, principal: Principal) -> Response:
    fmt = _fmt(request)
    if fmt is None:
        return _not_found(request)
    state = await web_state(request)
    return render(fmt, "services", "service", state.catalogue.open311_services())


async def service_definition(request: Request, principal: Principal) -> Response:
    fmt = _fmt(request)
    if fmt is None:
        return _not_found(request)
    state = await web_state(request)
    code = str(request.path_params["code"])
    if code not in state.catalogue.categories:
        return georeport_error(
            fmt, 404, f"unknown service_code {code}", code="unknown_service_code"
        )
    return render(fmt, "service_definition", None, {"service_code": code, "attributes": []})


async def _api_client(request: Request, key: str) -> str | None:
    prefix = api_key_prefix(key)
    if prefix is None:
        return None
    async with components(request).pool.connection() as db:
        row = await aget_api_key(db, prefix)
    if row is None or not api_key_matches(key, row.key_hash) or row.role not in KEY_ROLES:
        return None
    return str(row.name)


async def post_request(request: Request, principal: Principal) -> Response:
    fmt = _fmt(request)
    if fmt is None:
        return _not_found(request)
    settings = components(request).settings
    try:
        fields, files = await read_form(
            request, max(1, settings.feedback_max_photos), settings.feedback_max_photo_bytes
        )
        key = fields.get("api_key") or request.query_params.get("api_key")
        client = principal.name if principal.kind == "apikey" else None
        if client is None:
            client = await _api_client(request, key) if key else None
        if client is None:
            return georeport_error(fmt, 403, "a valid api_key is required", code="invalid_api_key")
        msg = await accept_report(
            request, source="open311", client=client, fields=fields, files=files
        )
    except IntakeFailure as exc:
        extra = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return georeport_error(fmt, exc.status, exc.message, code=exc.code, headers=extra)
    answer = [
        {
            "service_request_id": msg.report_id,
            "token": msg.token,
            "service_notice": "Theo dõi tại /feedback/status?code=" + msg.report_id,
            "account_id": None,
        }
    ]
    return render(fmt, "service_requests", "request", answer, 201)


def _date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not a W3C date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (raw or "").split(",") if p.strip())


_STATUS = {
    "open": ("received", "triage", "routed", "in_progress"),
    "closed": ("resolved", "rejected"),
}


async def list_requests(request: Request, principal: Principal) -> Response:
    fmt = _fmt(request)
    if fmt is None:
        return _not_found(request)
    q = request.query_params
    try:
        start, end = _date(q.get("start_date"), "start_date"), _date(q.get("end_date"), "end_date")
    except ValueError as exc:
        return georeport_error(fmt, 400, str(exc), code="invalid_date")
    statuses: list[str] = []
    for s in _list(q.get("status")):
        if s not in _STATUS:
            return georeport_error(fmt, 400, "status must be open or closed", code="invalid_status")
        statuses += _STATUS[s]
    ids = _list(q.get("service_request_id"))
    if not ids and start is None and end is None:
        start = datetime.now(UTC) - DEFAULT_SPAN
    f = store.ReportFilter(
        report_ids=ids,
        service_codes=_list(q.get("service_code")),
        statuses=tuple(statuses),
        start=start,
        end=end,
        limit=MAX_RESULTS,
    )
    state = await web_state(request)
    async with components(request).pool.connection() as db:
        rows = await store.list_reports(db, f)
        docs = await public_requests(db, rows, _base(request), state.catalogue)
    return render(fmt, "service_requests", "request", docs)


async def get_request(request: Request, principal: Principal) -> Response:
    fmt = _fmt(request)
    if fmt is None:
        return _not_found(request)
    rid = str(request.path_params["rid"])
    state = await web_state(request)
    async with components(request).pool.connection() as db:
        rows = await store.list_reports(db, store.ReportFilter(report_ids=(rid,)))
        docs = await public_requests(db, rows, _base(request), state.catalogue)
    if not docs:
        return georeport_error(fmt, 404, f"unknown service_request_id {rid}", code="not_found")
    return render(fmt, "service_requests", "request", docs)


async def get_token(request: Request, principal: Principal) -> Response:
    fmt = _fmt(request)
    if fmt is None:
        return _not_found(request)
    token = str(request.path_params["token"])
    async with components(request).pool.connection() as db:
        rid = await store.report_for_token(db, token)
    if rid is None:
        return georeport_error(fmt, 404, "unknown token (or not processed yet)", code="not_found")
    doc: list[dict[str, Any]] = [{"service_request_id": rid, "token": token}]
    return render(fmt, "service_requests", "request", doc)


def routes() -> list[BaseRoute]:
    p = PREFIX
    return [
        Route(
            f"{p}/services.{{fmt}}", guarded("open311_services", services), name="open311_services"
        ),
        Route(
            f"{p}/services/{{code}}.{{fmt}}",
            guarded("open311_service", service_definition),
            name="open311_service",
        ),
        Route(
            f"{p}/requests.{{fmt}}",
            guarded("open311_post_request", post_request),
            methods=["POST"],
            name="open311_post_request",
        ),
        Route(
            f"{p}/requests.{{fmt}}",
            guarded("open311_requests", list_requests),
            methods=["GET"],
            name="open311_requests",
        ),
        Route(
            f"{p}/requests/{{rid}}.{{fmt}}",
            guarded("open311_request", get_request),
            name="open311_request",
        ),
        Route(
            f"{p}/tokens/{{token}}.{{fmt}}",
            guarded("open311_token", get_token),
            name="open311_token",
        ),
    ]
