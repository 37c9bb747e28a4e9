"""Login, logout and "who am I" for people.

Login accepts the HTML form (answers with a redirect and the session cookie) or JSON
(``{"username", "password"}`` → ``{"username", "role", "expires_at"}``, for scripts and tests).
Passwords are verified with argon2id in a worker thread (it is slow on purpose and must not
block the event loop); unknown users are verified against a dummy hash so the answer takes as
long as for a wrong password. Repeated failures are throttled per user name and per IP.

Example::

    curl -c jar -H 'Content-Type: application/json' -d '{"username":"lan","password":"…"}' \\
         http://127.0.0.1:8080/login
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboard.auth import SESSION_COOKIE, safe_next, same_origin
from dashboard.context import components
from dashboard.responses import BodyTooLarge, error, json_response, read_limited
from ioc.domain.auth import (
    DUMMY_HASH,
    Principal,
    allowed_channels,
    hash_password,
    new_session_token,
    password_needs_rehash,
    sha256_hex,
    verify_password,
)
from ioc.storage.users import acreate_session, adelete_session, aget_user, aset_password_hash

logger = logging.getLogger(__name__)

LOGIN_BODY_LIMIT = 8192


async def login_page(request: Request, principal: Principal) -> Response:
    return components(request).pages.login(next_path=safe_next(request.query_params.get("next")))


async def _credentials(request: Request) -> tuple[bool, dict[str, Any]]:
    """``(is_json, fields)`` from a JSON or urlencoded body."""
    body = await read_limited(request, LOGIN_BODY_LIMIT)
    if request.headers.get("content-type", "").startswith("application/json"):
        doc = json.loads(body or b"{}")
        return True, doc if isinstance(doc, dict) else {}
    fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
    return False, {k: v[0] for k, v in fields.items()}


async def login(request: Request, principal: Principal) -> Response:
    ctx = components(request)
    if same_origin(request) is False:  # browsers always send Origin on POST
        return error(403, "csrf_failed", "cross-origin login refused")
    try:
        is_json, fields = await _credentials(request)
    except BodyTooLarge:
        return error(413, "body_too_large", f"login body exceeds {LOGIN_BODY_LIMIT} bytes")
    except (ValueError, UnicodeDecodeError):
        return error(400, "malformed_request", "body must be JSON or a urlencoded form")
    username = fields.get("username")
    password = fields.get("password")
    next_path = safe_next(fields.get("next") if isinstance(fields.get("next"), str) else None)
    if not (isinstance(username, str) and isinstance(password, str) and username and password):
        if is_json:
            return error(400, "invalid_request", "username and password are required")
        return ctx.pages.login(next_path=next_path, problem="missing", status=400)
    client_ip = request.client.host if request.client else "unknown"
    keys = (f"user:{username.lower()}", f"ip:{client_ip}")
    wait = ctx.throttle.retry_after(keys)
    if wait is not None:
        if is_json:
            return error(
                429, "too_many_attempts", f"retry in {wait} s", headers={"Retry-After": str(wait)}
            )
        return ctx.pages.login(
            next_path=next_path,
            username=username,
            problem="throttled",
            retry_after=wait,
            status=429,
        )
    async with ctx.pool.connection() as db:
        user = await aget_user(db, username)
    usable = user is not None and not user.disabled
    stored = user.password_hash if user is not None and usable else DUMMY_HASH
    ok = await asyncio.to_thread(verify_password, stored, password) and usable
    if not ok or user is None:
        ctx.throttle.failure(keys)
        logger.info("login failed from %s", client_ip)
        if is_json:
            return error(401, "invalid_credentials", "wrong user name or password")
        return ctx.pages.login(
            next_path=next_path, username=username, problem="invalid", status=401
        )
    ctx.throttle.success(keys[0])
    token, token_hash = new_session_token()
    async with ctx.pool.connection() as db:
        if password_needs_rehash(user.password_hash):
            await aset_password_hash(db, user.id, await asyncio.to_thread(hash_password, password))
        expires = await acreate_session(db, token_hash, user.id, ctx.settings.session_ttl_s)
    logger.info("user %s logged in (role %s)", user.username, user.role)
    response: Response
    if is_json:
        response = json_response(
            {
                "username": user.username,
                "role": user.role,
                "department": user.department,
                "expires_at": expires,
            }
        )
    else:
        response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ctx.settings.session_ttl_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request, principal: Principal) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with components(request).pool.connection() as db:
            await adelete_session(db, sha256_hex(token))
    wants_json = "application/json" in request.headers.get("accept", "")
    response: Response = (
        json_response({"ok": True}) if wants_json else RedirectResponse("/login", status_code=303)
    )
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def me(request: Request, principal: Principal) -> Response:
    return json_response(
        {
            "username": principal.name,
            "kind": principal.kind,
            "role": principal.role,
            "department": principal.department,
            "channels": sorted(allowed_channels(principal.role)),
        }
    )
