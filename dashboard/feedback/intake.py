"""The web side of report intake, shared by the citizen page and Open311 ``POST requests``.

Order matters for "nothing half-stored": the body is bounded, the form parsed, every photo
checked (size 413, type 415, EXIF position read, EXIF stripped) and the submission validated
*before* anything is written; only then are the cleaned photos written (content-addressed,
so a retry rewrites the same file) and the message published to ``feedback.reports``. The
answer (tracking code + token) comes only after the broker acknowledged the message; the
``feedback`` agent writes the database. Floods: at most ``IOC_FEEDBACK_RATE_LIMIT`` accepted
reports per client address and per contact within ``IOC_FEEDBACK_RATE_WINDOW_S`` (429).

Example::

    msg = await accept_report(request, source="web", client=None)   # or raises IntakeFailure
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from dashboard.context import components
from dashboard.ingest import RawProducer, Unavailable
from dashboard.throttle import LoginThrottle
from ioc.feedback.catalogue import FeedbackCatalogue, load_feedback_catalogue
from ioc.feedback.intake import IntakeError, Limits, MediaRef, ReportMessage, new_message
from ioc.feedback.intake import validate_submission as validate
from ioc.feedback.media import MediaError, Photo, inspect_photo

logger = logging.getLogger(__name__)

TOPIC = "feedback.reports"
# One key for every report: they share a partition, so the agent sees them in arrival order
# and a later report links to the earlier one (citizen reports are a few per second at most).
ORDER_KEY = b"feedback"
_FORM_SLACK = 256 * 1024


class IntakeFailure(Exception):
    """A refused request: HTTP status, machine-readable code, message."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass
class FeedbackWeb:
    """Per-app state of the feedback endpoints (created on first use)."""

    catalogue: FeedbackCatalogue
    producer: RawProducer
    throttle: LoginThrottle
    media_dir: Path
    limits: Limits
    bootstrap: str
    topic_ready: bool = False


_LOCK = asyncio.Lock()


async def web_state(request: Request) -> FeedbackWeb:
    state: FeedbackWeb | None = getattr(request.app.state, "feedback", None)
    if state is not None:
        return state
    async with _LOCK:
        state = getattr(request.app.state, "feedback", None)
        if state is None:
            s = components(request).settings
            bootstrap = s.kafka_bootstrap_servers
            if bootstrap is None:
                from ioc.services import manager

                bootstrap = manager.kafka_bootstrap(s)
            window = s.feedback_rate_window_s
            state = FeedbackWeb(
                catalogue=load_feedback_catalogue(),
                producer=RawProducer(bootstrap, s.topic(TOPIC), s.max_body_bytes + 64 * 1024),
                throttle=LoginThrottle(
                    free_failures=s.feedback_rate_limit,
                    window_s=window,
                    base_lockout_s=min(60.0, window),
                    max_lockout_s=window,
                ),
                media_dir=s.feedback_media_dir or (s.home / "feedback-media"),
                limits=Limits(max_description=s.feedback_max_description),
                bootstrap=bootstrap,
            )
            request.app.state.feedback = state
    return state


async def _ensure_topic(request: Request, state: FeedbackWeb) -> None:
    if state.topic_ready:
        return
    from ioc.services.broker import create_topics

    s = components(request).settings
    try:
        await create_topics(state.bootstrap, [s.topic(TOPIC)], s.topic_partitions)
    except Exception as exc:
        raise IntakeFailure(503, "unavailable", "the broker is not reachable") from exc
    state.topic_ready = True


def media_path(media_dir: Path, sha256: str) -> Path:
    return media_dir / sha256[:2] / sha256


def store_photo(media_dir: Path, photo: Photo) -> None:
    """Write a cleaned photo once (content-addressed; atomic rename)."""
    target = media_path(media_dir, photo.sha256)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as out:
        out.write(photo.stripped)
    os.replace(tmp, target)


async def read_form(
    request: Request, max_files: int, max_photo_bytes: int
) -> tuple[dict[str, str], list[tuple[bytes, str | None]]]:
    """Fields and (bytes, declared type) of uploaded files; JSON bodies are accepted too."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = max_files * max_photo_bytes + _FORM_SLACK
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IntakeFailure(413, "body_too_large", f"the request exceeds {limit} bytes")
    if not ctype and (declared is None or declared == "0"):
        return {}, []  # an action without a body
    if ctype == "application/json":
        import json

        body = await request.body()
        try:
            doc = json.loads(body)
        except ValueError:
            raise IntakeFailure(400, "malformed_json", "the body is not JSON") from None
        if not isinstance(doc, dict):
            raise IntakeFailure(400, "malformed_json", "the body must be a JSON object")
        return {k: str(v) for k, v in doc.items() if v is not None}, []
    if ctype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise IntakeFailure(415, "unsupported_media_type", "send multipart/form-data")
    if ctype == "multipart/form-data" and declared is None:
        raise IntakeFailure(411, "length_required", "multipart uploads need a Content-Length")
    try:
        form = await request.form(max_files=max_files + 1, max_fields=50, max_part_size=64 * 1024)
    except MultiPartException as exc:
        raise IntakeFailure(400, "malformed_form", str(exc)) from None
    fields: dict[str, str] = {}
    files: list[tuple[bytes, str | None]] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key not in ("media", "photo"):
                continue
            data = await value.read(max_photo_bytes + 1)
            if data:
                files.append((data, value.content_type))
        elif key not in fields:
            fields[key] = value
    await form.close()
    if len(files) > max_files:
        raise IntakeFailure(413, "too_many_photos", f"at most {max_files} photos per report")
    return fields, files


def client_keys(request: Request, msg_contact_key: str | None) -> list[str]:
    host = request.client.host if request.client else "unknown"
    keys = [f"ip:{host}"]
    if msg_contact_key:
        keys.append("contact:" + hashlib.sha256(msg_contact_key.encode()).hexdigest()[:32])
    return keys


def inspect_all(files: list[tuple[bytes, str | None]], max_bytes: int) -> list[Photo]:
    try:
        return [inspect_photo(data, declared=kind, max_bytes=max_bytes) for data, kind in files]
    except MediaError as exc:
        raise IntakeFailure(exc.status, exc.code, str(exc)) from None


async def accept_report(
    request: Request,
    *,
    source: Literal["web", "open311"],
    client: str | None,
    fields: dict[str, str],
    files: list[tuple[bytes, str | None]],
) -> ReportMessage:
    """Validate, throttle, store photos, publish; raise :class:`IntakeFailure` when refused."""
    state = await web_state(request)
    settings = components(request).settings
    photos = await asyncio.to_thread(inspect_all, files, settings.feedback_max_photo_bytes)
    located = next((p.location for p in photos if p.location is not None), None)
    try:
        sub = validate(
            fields, services=state.catalogue.categories, limits=state.limits, photo_location=located
        )
    except IntakeError as exc:
        raise IntakeFailure(400, exc.code, str(exc)) from None
    keys = client_keys(request, sub.contact.throttle_key())
    wait = state.throttle.retry_after(keys)
    if wait is not None:
        raise IntakeFailure(429, "too_many_reports", "too many reports; try again later", wait)
    for photo in photos:
        await asyncio.to_thread(store_photo, state.media_dir, photo)
    media = tuple(
        MediaRef(sha256=p.sha256, content_type=p.content_type, bytes=len(p.stripped))
        for p in photos
    )
    msg = new_message(sub, now=datetime.now(UTC), source=source, client=client, media=media)
    await _ensure_topic(request, state)
    try:
        await state.producer.send(msg.encode(), ORDER_KEY)
    except Unavailable as exc:
        raise IntakeFailure(503, "unavailable", "the report could not be queued; retry") from exc
    state.throttle.failure(keys)  # counts accepted reports
    logger.info("feedback: accepted report %s (%s, %d photos)", msg.report_id, source, len(photos))
    return msg
