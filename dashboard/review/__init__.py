"""Police review of camera violations: the queue page, case API, evidence, decisions, export.

Routes (names are rows of :data:`ioc.domain.auth.ENDPOINTS`, police only)::

    GET  /review                                          review_page
    GET  /api/v1/review/cases?status=&camera=&rule=&since=&until=&order=&limit=  review_list
    GET  /api/v1/review/cases/{event_id}                  review_case      (audited)
    GET  /api/v1/review/cases/{event_id}/evidence/{kind}  review_evidence  (audited, Range)
    POST /api/v1/review/cases/{event_id}/decision         review_decide    (audited)
    GET  /api/v1/review/cases/{event_id}/export           review_export    (audited, ZIP)

Each is wrapped by :func:`dashboard.auth.guarded`; a refusal (401/403, or the login redirect
of the page) is also written to the audit log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard.auth import Handler, authenticate, guarded
from dashboard.context import components
from dashboard.review import api
from ioc.domain.auth import Principal
from ioc.storage import review as store

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parents[1] / "static" / "pages" / "review.html"
PREFIX = "/api/v1/review/cases"


@functools.cache
def _page() -> str:
    return PAGE.read_text(encoding="utf-8")


async def review_page(request: Request, principal: Principal) -> Response:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})


def audited(name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """:func:`guarded`, plus an audit row for every refused call."""
    inner = guarded(name, handler)

    async def endpoint(request: Request) -> Response:
        response = await inner(request)
        if response.status_code in (303, 401, 403):
            principal, _ = await authenticate(request)
            raw = str(request.path_params.get("event_id", ""))
            async with components(request).pool.connection() as conn:
                await store.audit(
                    conn,
                    api.caller_of(principal),
                    "denied",
                    store.parse_event_id(raw),
                    {"endpoint": name, "status": response.status_code},
                )
        return response

    endpoint.__name__ = name
    return endpoint


def routes() -> list[BaseRoute]:
    case = PREFIX + "/{event_id}"
    return [
        Route("/review", audited("review_page", review_page), name="review_page"),
        Route(PREFIX, audited("review_list", api.review_list), name="review_list"),
        Route(case, audited("review_case", api.review_case), name="review_case"),
        Route(
            case + "/evidence/{kind}",
            audited("review_evidence", api.review_evidence),
            name="review_evidence",
        ),
        Route(
            case + "/decision",
            audited("review_decide", api.review_decide),
            methods=["POST"],
            name="review_decide",
        ),
        Route(case + "/export", audited("review_export", api.review_export), name="review_export"),
    ]
