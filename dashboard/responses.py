"""HTTP helpers: one machine-readable error shape, JSON encoding, bounded body reads.

Example::

    error(413, "body_too_large", "body exceeds 1048576 bytes")
    # -> 413 {"error": "body_too_large", "message": "body exceeds 1048576 bytes"}
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(doc: Any) -> str:
    """Compact JSON that also encodes datetimes (ISO 8601) and UUIDs."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=_default)


class JSON(JSONResponse):
    """A JSON response that knows datetimes and is never cached."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return JSON(
        content, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )


def error(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """``{"error": code, "message": text, ...extra}`` with the given status."""
    return json_response({"error": code, "message": message, **extra}, status, headers)


class BodyTooLarge(Exception):
    """The request body exceeded its limit (raised while reading, not from Content-Length)."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes as they arrive.

    A declared ``Content-Length`` over the limit is refused at once; a lying or absent one
    (chunked uploads) is caught while streaming, so memory use stays bounded either way.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
