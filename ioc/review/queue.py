"""Review queue filters: validated from a query string, pure.

Example::

    parse_filters({"status": "pending", "order": "severe", "camera": "cam-1"})
    # -> QueueFilter(status=("pending",), camera="cam-1", order="severe", ...)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, cast

from ioc.review.workflow import STATUSES, Status, WorkflowError

Order = Literal["newest", "oldest", "severe"]
MAX_LIMIT: Final = 500
DEFAULT_STATUS: Final[tuple[Status, ...]] = ("pending", "reopened")
_ID: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: tuple[Status, ...] = DEFAULT_STATUS
    camera: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order: Order = "newest"
    limit: int = 100


def _time(raw: str, key: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise WorkflowError(f"bad_{key}", f"{key}: an ISO 8601 date or time") from None
    if value.tzinfo is None:
        raise WorkflowError(f"bad_{key}", f"{key}: needs a UTC offset, e.g. +07:00")
    return value


def parse_filters(query: Mapping[str, str]) -> QueueFilter:
    """Validate queue filters (unknown statuses, malformed ids, naive times are refused)."""
    status: tuple[Status, ...] = DEFAULT_STATUS
    if raw := query.get("status"):
        wanted = tuple(s for s in raw.split(",") if s)
        bad = [s for s in wanted if s not in STATUSES]
        if bad or not wanted:
            raise WorkflowError("bad_status", f"status: any of {list(STATUSES)}")
        status = tuple(s for s in STATUSES if s in wanted)
    for key in ("camera", "rule"):
        if (v := query.get(key)) and not _ID.match(v):
            raise WorkflowError(f"bad_{key}", f"{key}: letters, digits, _ . : - only")
    order = query.get("order") or "newest"
    if order not in ("newest", "oldest", "severe"):
        raise WorkflowError("bad_order", "order: newest, oldest or severe")
    try:
        limit = int(query.get("limit") or 100)
    except ValueError:
        raise WorkflowError("bad_limit", "limit: an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise WorkflowError("bad_limit", f"limit: 1..{MAX_LIMIT}")
    return QueueFilter(
        status=status,
        camera=query.get("camera") or None,
        rule=query.get("rule") or None,
        since=_time(s, "since") if (s := query.get("since")) else None,
        until=_time(u, "until") if (u := query.get("until")) else None,
        order=cast(Order, order),
        limit=limit,
    )
