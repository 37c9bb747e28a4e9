"""``/ws``: the live websocket of the pages (session cookie only).

Protocol, client → server (an allow-list of typed commands, see ``WS_COMMANDS``)::

    {"type": "subscribe", "channels": ["sensors", "alerts", "system"]}
    {"type": "unsubscribe", "channels": ["system"]}
    {"type": "resync"}            # ask for a fresh snapshot
    {"type": "ping"}

server → client: ``hello`` (who you are, which channels you may use), ``snapshot`` after
every (un)subscribe or resync, then the dashboard-topic messages of the subscribed channels
as they arrive (``readings``, ``rollups``, ``alert``, ``deadletter``, ``heartbeat``,
``alarm.*``, ``camera*``, …; see ``MESSAGE_CHANNEL``), possibly several at once as
``{"type": "batch", "items": [...]}`` when the rate is high, and ``error`` for a refused
command. Close codes: 4401 not logged in / session ended, 4403 role or
origin refused, 1013 too slow (reconnect), 1011 snapshot unavailable.

The session is re-checked every ``RECHECK_S`` and at its expiry, so a logout, an expired
session or a disabled user also ends an open socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from dashboard.auth import authenticate, same_origin
from dashboard.context import Components, components
from dashboard.hub import Client
from dashboard.responses import dumps
from dashboard.ws_protocol import frame_writer
from ioc.domain.auth import ENDPOINTS, Principal, allowed, allowed_channels, command_allowed

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
RECHECK_S = 60.0
MAX_COMMAND_BYTES = 4096


async def websocket_endpoint(ws: WebSocket) -> None:
    ctx = components(ws)
    await ws.accept()
    principal, expires = await authenticate(ws)
    if principal.kind != "user":
        await ws.close(CLOSE_UNAUTHENTICATED, "log in first")
        return
    if not allowed(principal, ENDPOINTS["websocket"]) or same_origin(ws) is False:
        await ws.close(CLOSE_FORBIDDEN, "forbidden")
        return

    async def send(text: str) -> None:
        await ws.send_text(text)

    async def close(code: int, reason: str) -> None:
        await ws.close(code, reason)

    permitted = allowed_channels(principal.role)
    await ws.send_text(
        dumps(
            {
                "type": "hello",
                "user": principal.name,
                "role": principal.role,
                "channels": sorted(permitted),
            }
        )
    )
    client = ctx.hub.add(
        principal.name, send, close, ctx.snapshots.build, write_frame=frame_writer(ws.scope)
    )
    try:
        await _receive_loop(ws, ctx, client, principal, expires, permitted)
    except WebSocketDisconnect:
        pass
    finally:
        await ctx.hub.remove(client)


async def _still_valid(ws: WebSocket) -> tuple[bool, datetime | None]:
    principal, expires = await authenticate(ws)
    return principal.kind == "user", expires


async def _receive_loop(
    ws: WebSocket,
    ctx: Components,
    client: Client,
    principal: Principal,
    expires: datetime | None,
    permitted: frozenset[str],
) -> None:
    while not client.dropped:
        remaining = RECHECK_S
        if expires is not None:
            remaining = min(RECHECK_S, max(0.0, (expires - datetime.now(UTC)).total_seconds()))
        try:
            message = await asyncio.wait_for(ws.receive(), timeout=remaining + 0.5)
        except TimeoutError:
            ok, expires = await _still_valid(ws)
            if not ok:
                with contextlib.suppress(Exception):
                    await ws.close(CLOSE_UNAUTHENTICATED, "session ended")
                return
            continue
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        command = _parse(message.get("text"))
        if command is None or not command_allowed(principal.role, command.get("type")):
            _reject(client, "unknown_command", "commands are JSON objects with an allowed type")
            continue
        kind = command["type"]
        if kind == "ping":
            _reply(client, {"type": "pong"})
        elif kind == "resync":
            client.request_snapshot()
        else:
            wanted = command.get("channels")
            if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
                _reject(client, "invalid_command", "channels must be a list of names")
                continue
            granted = frozenset(wanted) & permitted
            if kind == "subscribe":
                channels = client.channels | granted
            else:
                channels = client.channels - granted
            ctx.hub.subscribe(client, channels)  # clears the queue: errors go after it
            refused = sorted(set(wanted) - permitted)
            if refused:
                _reject(client, "forbidden_channel", f"not allowed: {refused}")


def _parse(text: object) -> dict[str, Any] | None:
    if not isinstance(text, str) or len(text) > MAX_COMMAND_BYTES:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _reply(client: Client, doc: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        client.queue.put_nowait(dumps(doc))


def _reject(client: Client, code: str, message: str) -> None:
    logger.debug("websocket %s: %s", client.name, code)
    _reply(client, {"type": "error", "error": code, "message": message})
