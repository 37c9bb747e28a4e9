"""Alarm endpoints of the wall: list, detail with history, and the operator actions.

``POST /api/v1/alarms/{id}/{action}`` with ``action`` one of ``ack``, ``assign``, ``comment``,
``clear`` and a small JSON body (``{"text": …}``, ``{"assignee": …}``; optional
``"request_id"`` (UUID) makes a retried request a no-op). The change is committed first
(row-locked, :func:`ioc.storage.alarms.apply_action`), then pushed:

* to this server's hub at once (``Hub.broadcast`` only enqueues): the operator's own wall and
  every other wall on this server see it in milliseconds, even while the broker is slow;
* to the ``dashboard`` topic, so walls connected to *other* web server processes see it too.
  This server's feed then delivers the same message a second time; pages keep the newest
  ``alarm.version`` and ignore the repeat.

Errors: 400 ``invalid_body`` / ``invalid_action`` / ``invalid_id``, 404 ``not_found``, 409
``already_acknowledged`` / ``already_cleared`` / ``alarm_closed``, 422 for text problems.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from dashboard.context import Components, components
from dashboard.responses import BodyTooLarge, dumps, error, json_response, read_limited
from ioc.domain.alarms import (
    Acknowledge,
    Action,
    AlarmError,
    Assign,
    Clear,
    Comment,
    alarm_doc,
    alarm_message,
    derived_id,
    event_doc,
)
from ioc.domain.auth import Principal
from ioc.storage.alarms import AlarmChange, apply_action, get_alarm, history, open_alarms
from ioc.storage.alarms import recently_closed as closed_alarms

logger = logging.getLogger(__name__)

MAX_BODY = 4096
PUBLISH_TIMEOUT_S = 2.0
ACTIONS = frozenset({"ack", "assign", "comment", "clear"})
CONFLICTS = frozenset({"already_acknowledged", "already_cleared", "alarm_closed"})


def _alarm_id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.path_params["alarm_id"]))
    except ValueError:
        return None


async def list_alarms(request: Request, principal: Principal) -> Response:
    async with components(request).pool.connection() as db:
        current = await open_alarms(db)
        closed = await closed_alarms(db, 50)
    return json_response(
        {"open": [alarm_doc(a) for a in current], "closed": [alarm_doc(a) for a in closed]}
    )


async def alarm_detail(request: Request, principal: Principal) -> Response:
    alarm_id = _alarm_id(request)
    if alarm_id is None:
        return error(400, "invalid_id", "alarm ids are UUIDs")
    async with components(request).pool.connection() as db:
        alarm = await get_alarm(db, alarm_id)
        events = await history(db, alarm_id) if alarm is not None else []
    if alarm is None:
        return error(404, "not_found", "no such alarm")
    return json_response({"alarm": alarm_doc(alarm), "history": events})


def _action(kind: str, body: dict[str, Any], principal: Principal) -> Action:
    """The typed action from a request body (raises ``AlarmError`` for a bad body)."""
    request_id = body.get("request_id")
    if request_id is None:
        event_id = uuid.uuid4()
    else:
        try:
            event_id = derived_id("request", uuid.UUID(str(request_id)), kind)
        except ValueError:
            raise AlarmError("invalid_body", "request_id must be a UUID") from None
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise AlarmError("invalid_body", "text must be a string")
    now = datetime.now(UTC)
    actor = principal.name
    if kind == "ack":
        return Acknowledge(event_id=event_id, time=now, actor=actor, text=text)
    if kind == "clear":
        return Clear(event_id=event_id, time=now, actor=actor, text=text)
    if kind == "comment":
        return Comment(event_id=event_id, time=now, actor=actor, text=text or "")
    assignee = body.get("assignee")
    if assignee is not None and not isinstance(assignee, str):
        raise AlarmError("invalid_body", "assignee must be a string or null")
    return Assign(event_id=event_id, time=now, actor=actor, assignee=assignee)


async def push(ctx: Components, change: AlarmChange) -> None:
    """Every open wall: this server's hub now, other servers through the dashboard topic."""
    for event in change.events:
        text = dumps(alarm_message(change.alarm, event))
        ctx.hub.broadcast("alarms", text)
        if ctx.dashboard_producer is None:
            continue
        try:  # bounded: a slow broker must not hold the operator's answer
            await asyncio.wait_for(
                ctx.dashboard_producer.send(text.encode("utf-8"), key=None), PUBLISH_TIMEOUT_S
            )
        except Exception as exc:  # stored and shown here already; other servers resync later
            logger.warning("alarm change not published to the dashboard topic: %s", exc)


async def alarm_action(request: Request, principal: Principal) -> Response:
    ctx = components(request)
    alarm_id = _alarm_id(request)
    kind = str(request.path_params["action"])
    if alarm_id is None:
        return error(400, "invalid_id", "alarm ids are UUIDs")
    if kind not in ACTIONS:
        return error(400, "invalid_action", f"action must be one of {sorted(ACTIONS)}")
    try:
        raw = await read_limited(request, MAX_BODY)
        body = json.loads(raw) if raw.strip() else {}
    except BodyTooLarge:
        return error(413, "body_too_large", f"body exceeds {MAX_BODY} bytes")
    except ValueError:
        return error(400, "invalid_body", "the body must be JSON")
    if not isinstance(body, dict):
        return error(400, "invalid_body", "the body must be a JSON object")
    try:
        action = _action(kind, body, principal)
        async with ctx.pool.connection() as db:
            change = await apply_action(db, alarm_id, action)
    except AlarmError as exc:
        status = 404 if exc.code == "not_found" else 409 if exc.code in CONFLICTS else 422
        if exc.code == "invalid_body":
            status = 400
        return error(status, exc.code, str(exc))
    await push(ctx, change)
    logger.info("alarm %s: %s by %s", alarm_id, kind, principal.name)
    return json_response(
        {"alarm": alarm_doc(change.alarm), "events": [event_doc(e) for e in change.events]}
    )
