"""Citizen endpoints: the report form and status pages, categories, submission, status.

The pages are static shells (Vietnamese by default, English by a toggle; no inline script,
no CDN); their data comes from the JSON endpoints below. Submission answers 202 with the
tracking code once the report is queued; errors are ``{"error": code, "message": …}``
with 400/413/415/429/503 (see :mod:`dashboard.feedback.intake`).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from dashboard.context import components
from dashboard.feedback.intake import (
    IntakeFailure,
    accept_report,
    client_keys,
    media_path,
    read_form,
    web_state,
)
from dashboard.feedback.views import status_view
from dashboard.responses import error, json_response
from ioc.domain.auth import Principal
from ioc.feedback.intake import CODE_PATTERN, IntakeError, validate_reply
from ioc.storage import feedback as store

logger = logging.getLogger(__name__)

PAGES = Path(__file__).resolve().parent.parent / "static" / "pages"
_SHA = re.compile(r"^[0-9a-f]{64}$")


def _page(name: str) -> Response:
    body = (PAGES / name).read_text(encoding="utf-8")
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


async def form_page(request: Request, principal: Principal) -> Response:
    return _page("citizen.html")


async def status_page(request: Request, principal: Principal) -> Response:
    return _page("citizen_status.html")


async def services(request: Request, principal: Principal) -> Response:
    cat = (await web_state(request)).catalogue
    items = [
        {"code": code, "vi": c.names.vi, "en": c.names.en, "group": c.group}
        for code, c in cat.categories.items()
    ]
    return json_response({"services": items})


async def submit(request: Request, principal: Principal) -> Response:
    settings = components(request).settings
    try:
        fields, files = await read_form(
            request, settings.feedback_max_photos, settings.feedback_max_photo_bytes
        )
        msg = await accept_report(request, source="web", client=None, fields=fields, files=files)
    except IntakeFailure as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return error(exc.status, exc.code, exc.message, headers=headers)
    return json_response(
        {
            "code": msg.report_id,
            "token": msg.token,
            "status_url": f"/feedback/status?code={msg.report_id}",
            "photos": len(msg.media),
            "location_source": msg.location_source,
        },
        202,
    )


async def status(request: Request, principal: Principal) -> Response:
    code = str(request.path_params["code"]).strip().upper()
    if not CODE_PATTERN.match(code):
        return error(400, "invalid_code", "a tracking code looks like HP-XXXX-XXXX")
    cat = (await web_state(request)).catalogue
    async with components(request).pool.connection() as db:
        view = await status_view(db, code, str(request.base_url), cat)
    if view is None:
        return error(404, "not_found", "no report with this code (yet)")
    return json_response(view)


async def media(request: Request, principal: Principal) -> Response:
    sha = str(request.path_params["sha"])
    if not _SHA.match(sha):
        return error(404, "not_found", "unknown photo")
    async with components(request).pool.connection() as db:
        kind = await store.media_type(db, sha)
    path = media_path((await web_state(request)).media_dir, sha)
    if kind is None or not path.is_file():
        return error(404, "not_found", "unknown photo")
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "private, max-age=86400"})


async def areas(request: Request, principal: Principal) -> Response:
    """The city's districts as GeoJSON, for the map pin."""
    async with components(request).pool.connection() as db:
        rows = await store.area_shapes(db)
    features = [
        {
            "type": "Feature",
            "id": r["id"],
            "properties": {"name": r["name_vi"] or r["name"]},
            "geometry": r["geometry"],
        }
        for r in rows
    ]
    return json_response({"type": "FeatureCollection", "features": features})


async def reply(request: Request, principal: Principal) -> Response:
    """The citizen answers a question: needs the report's token (given at submission)."""
    code = str(request.path_params["code"]).strip().upper()
    state = await web_state(request)
    try:
        fields, _ = await read_form(request, 0, 1)
        text = validate_reply(fields.get("message", ""))
    except IntakeFailure as exc:
        return error(exc.status, exc.code, exc.message)
    except IntakeError as exc:
        return error(400, exc.code, str(exc))
    keys = client_keys(request, None)
    wait = state.throttle.retry_after(keys)
    if wait is not None:
        return error(
            429, "too_many_reports", "too many messages", headers={"Retry-After": str(wait)}
        )
    async with components(request).pool.connection() as db, db.transaction():
        done = await store.add_citizen_reply(
            db, code, fields.get("token", ""), datetime.now(UTC), text
        )
    if done == "not_found":
        return error(404, "not_found", "unknown code or token")
    if done == "closed":
        return error(409, "closed", "the report is closed")
    state.throttle.failure(keys)
    logger.info("feedback: citizen replied on %s", code)
    return json_response({"ok": True}, 201)
