"""Citizen feedback on the web: citizen pages, photos, the department work queue.

Open311 lives in :mod:`dashboard.open311`; both share :mod:`dashboard.feedback.intake`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dashboard.auth import guarded
from dashboard.feedback import citizen, queue
from dashboard.feedback.intake import FeedbackWeb
from ioc.domain.auth import Principal


async def close(app: Starlette) -> None:
    """Stop what the feedback endpoints started (called by the app's lifespan)."""
    state: FeedbackWeb | None = getattr(app.state, "feedback", None)
    if state is not None:
        await state.producer.stop()


async def queue_page(request: Request, principal: Principal) -> Response:
    return citizen._page("citizen_queue.html")


def routes() -> list[BaseRoute]:
    return [
        Route("/feedback", guarded("citizen_page", citizen.form_page), name="citizen_page"),
        Route(
            "/feedback/status", guarded("citizen_page", citizen.status_page), name="citizen_page"
        ),
        Route(
            "/feedback/api/services",
            guarded("citizen_services", citizen.services),
            name="citizen_services",
        ),
        Route(
            "/feedback/api/areas",
            guarded("citizen_services", citizen.areas),
            name="citizen_services",
        ),
        Route(
            "/feedback/api/reports",
            guarded("citizen_submit", citizen.submit),
            methods=["POST"],
            name="citizen_submit",
        ),
        Route(
            "/feedback/api/status/{code}",
            guarded("citizen_status", citizen.status),
            name="citizen_status",
        ),
        Route(
            "/feedback/api/status/{code}/reply",
            guarded("citizen_reply", citizen.reply),
            methods=["POST"],
            name="citizen_reply",
        ),
        Route(
            "/feedback/media/{sha}", guarded("feedback_media", citizen.media), name="feedback_media"
        ),
        Route(
            "/feedback/queue",
            guarded("feedback_queue_page", queue_page),
            name="feedback_queue_page",
        ),
        Route(
            "/api/v1/feedback/queue",
            guarded("feedback_queue", queue.queue_list),
            name="feedback_queue",
        ),
        Route(
            "/api/v1/feedback/reports/{rid}",
            guarded("feedback_report", queue.report_detail),
            name="feedback_report",
        ),
        Route(
            "/api/v1/feedback/reports/{rid}/{action}",
            guarded("feedback_action", queue.report_action),
            methods=["POST"],
            name="feedback_action",
        ),
    ]
