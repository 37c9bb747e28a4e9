"""Security headers on every HTTP response, and rate limits for machines (pure ASGI, so
streaming and websockets pass).

The CSP allows scripts, styles and connections from this origin only: no inline scripts,
no CDN, no framing. ``connect-src 'self'`` covers the same-origin ``ws:``/``wss:`` socket.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.responses import error
from dashboard.throttle import TokenBuckets
from ioc.domain.auth import api_key_prefix
from ioc.settings import Settings

logger = logging.getLogger(__name__)

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in present)
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


INGEST_PATHS: Final = ("/api/v1/observations",)
_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class RateLimit:
    """429 + ``Retry-After`` for machines that send too fast (pure ASGI, before routing).

    Two token buckets: every request that presents an API key spends one of that key's
    (``api_key_rate_per_s``/``api_key_burst``; keyed by the key's public prefix, or a hash of
    a malformed key, never the secret itself), and every write to an ingest path spends one of
    the client address's (``ingest_address_rate_per_s``/``ingest_address_burst``), whatever
    its credentials - so neither a key shared by many sensors nor many keys from one address
    can flood the broker. The address is the ASGI client (behind a proxy, run uvicorn with
    ``--proxy-headers --forwarded-allow-ips`` so that it is the real one). State is per
    process; the login throttle (:mod:`dashboard.throttle`) covers passwords.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        ingest_paths: tuple[str, ...] = INGEST_PATHS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        now = clock or time.monotonic
        self.app = app
        self._paths = ingest_paths
        self._per_key = TokenBuckets(settings.api_key_rate_per_s, settings.api_key_burst, clock=now)
        self._per_address = TokenBuckets(
            settings.ingest_address_rate_per_s, settings.ingest_address_burst, clock=now
        )

    def _wait(self, scope: Scope) -> tuple[str, int] | None:
        headers = Headers(scope=scope)
        auth_scheme, _, value = headers.get("authorization", "").partition(" ")
        key = value.strip() if auth_scheme.lower() == "bearer" else ""
        key = key or headers.get("x-api-key", "").strip()
        if key:
            prefix = api_key_prefix(key) or hashlib.sha256(key.encode()).hexdigest()[:16]
            if (wait := self._per_key.take(f"key:{prefix}")) is not None:
                return "api_key", wait
        if scope["method"] not in _SAFE and scope["path"] in self._paths:
            client = scope.get("client")
            address = client[0] if client else "unknown"
            if (wait := self._per_address.take(f"ip:{address}")) is not None:
                return "address", wait
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (limited := self._wait(scope)) is None:
            await self.app(scope, receive, send)
            return
        per, wait = limited
        logger.info("rate limited per %s on %s (retry in %d s)", per, scope["path"], wait)
        answer = error(
            429,
            "rate_limited",
            f"too many requests per {per.replace('_', ' ')}; retry in {wait} s",
            headers={"Retry-After": str(wait)},
            limit=per,
        )
        await answer(scope, receive, send)
