"""Who is calling, and the one guard every route goes through.

People authenticate with a session cookie (a random token; the ``sessions`` table keeps only
its SHA-256), machines with an API key in ``Authorization: Bearer <key>`` or ``X-API-Key``.
:func:`guarded` wraps each endpoint with the row of :data:`ioc.domain.auth.ENDPOINTS` named
after the route: anonymous callers of a page are sent to the login form, of an API get 401,
callers with the wrong role get 403. Cookie-authenticated writes must come from our own
origin (CSRF: ``SameSite=Strict`` plus an ``Origin``/``Referer`` check). While the database
is down every guarded route answers 503 ``database_unavailable`` with ``Retry-After``; text
the database cannot store (NUL, lone surrogates) is a 400 ``invalid_input``, never a 500.

Example::

    Route("/", guarded("live_page", live_page), name="live_page")
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import quote, urlsplit

import psycopg
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from dashboard.context import components
from dashboard.responses import error
from ioc.domain.auth import (
    ENDPOINTS,
    Permission,
    Principal,
    allowed,
    api_key_matches,
    api_key_prefix,
    sha256_hex,
)
from ioc.storage.users import aget_api_key, asession_user

logger = logging.getLogger(__name__)

SESSION_COOKIE = "ioc_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Handler = Callable[[Request, Principal], Awaitable[Response]]


def presented_api_key(conn: HTTPConnection) -> str | None:
    auth = conn.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = conn.headers.get("x-api-key", "").strip()
    return key or None


async def authenticate(conn: HTTPConnection) -> tuple[Principal, datetime | None]:
    """The caller and, for a session, when it expires. Bad credentials → anonymous."""
    pool = components(conn).pool
    key = presented_api_key(conn)
    if key is not None:
        prefix = api_key_prefix(key)
        if prefix is None:
            return Principal.anonymous(), None
        async with pool.connection() as db:
            row = await aget_api_key(db, prefix)
        if row is None or not api_key_matches(key, row.key_hash):
            logger.info("rejected API key with prefix %s", prefix)
            return Principal.anonymous(), None
        return Principal("apikey", row.name, row.role, row.department), None
    token = conn.cookies.get(SESSION_COOKIE)
    if token:
        async with pool.connection() as db:
            found = await asession_user(db, sha256_hex(token))
        if found is not None:
            user, expires = found
            return Principal.user(user.id, user.username, user.role, user.department), expires
    return Principal.anonymous(), None


def same_origin(conn: HTTPConnection) -> bool | None:
    """Does ``Origin`` (else ``Referer``) name this server? ``None`` when neither is sent."""
    claimed = conn.headers.get("origin") or conn.headers.get("referer")
    if not claimed or claimed == "null":
        return None if not claimed else False
    parts = urlsplit(claimed)
    host = conn.headers.get("host", "")
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    return parts.scheme == scheme and parts.netloc.lower() == host.lower()


def safe_next(target: str | None) -> str:
    """Only local paths after login (no open redirect to ``//evil`` or ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def deny(conn: HTTPConnection, principal: Principal, permission: Permission) -> Response:
    if not principal.authenticated:
        if permission.page:
            target = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return error(
            401,
            "unauthorized",
            "missing, invalid or revoked credentials",
            headers={"WWW-Authenticate": 'Bearer realm="ioc"'},
        )
    if permission.page:
        return components(conn).pages.login(problem="forbidden", status=403)
    return error(403, "forbidden", f"role {principal.role!r} may not use this endpoint")


def guarded(name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` with the permission row ``name`` (KeyError at build time if none)."""
    permission = ENDPOINTS[name]

    async def endpoint(request: Request) -> Response:
        try:
            principal, _ = await authenticate(request)
            if not allowed(principal, permission):
                return deny(request, principal, permission)
            if (
                request.method not in SAFE_METHODS
                and principal.kind == "user"
                and same_origin(request) is not True
            ):
                return error(403, "csrf_failed", "cross-origin or origin-less write refused")
            return await handler(request, principal)
        except (psycopg.DataError, UnicodeEncodeError) as exc:
            # Text the database cannot store (a NUL, a lone surrogate) reached a query: the
            # input is invalid, not the server broken (found by the schemathesis fuzz test).
            logger.info("%s: refused unstorable input (%s)", name, type(exc).__name__)
            return error(400, "invalid_input", "text with NUL or invalid Unicode refused")
        except psycopg.OperationalError as exc:  # database down (pool timeout included)
            logger.warning("%s: database unavailable (%s)", name, type(exc).__name__)
            return error(
                503,
                "database_unavailable",
                "the database is not reachable; retry",
                headers={"Retry-After": "5"},
            )

    endpoint.__name__ = name
    endpoint.__doc__ = permission.description
    return endpoint
