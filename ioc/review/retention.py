"""Which evidence may be purged: the retention rule, pure.

Unconfirmed evidence (rejected cases, and cases still pending) is purged after
``unconfirmed_days``; evidence of a case that was ever confirmed is kept at least the
one-year limitation period (Decree 168/2024 evidence life, DOMAIN.md) - ``confirmed_days``
may be longer, never shorter. Cases under appeal or reopened are never purged.

Example::

    purge_due("rejected", decided_at, captured_at, now, policy)   # -> True after 30 days
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

LIMITATION_DAYS: Final = 366  # one year, leap years included


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    unconfirmed_days: int
    confirmed_days: int = LIMITATION_DAYS

    def __post_init__(self) -> None:
        if self.unconfirmed_days < 1:
            raise ValueError("unconfirmed_days must be >= 1")
        if self.confirmed_days < LIMITATION_DAYS:
            raise ValueError(f"confirmed evidence is kept >= {LIMITATION_DAYS} days")


def purge_due(
    status: str,
    captured_at: datetime,
    decided_at: datetime | None,
    now: datetime,
    policy: RetentionPolicy,
) -> bool:
    """May the evidence of a case in ``status`` be purged at ``now``?"""
    if status in ("confirmed", "notice_issued"):
        return now - captured_at >= timedelta(days=policy.confirmed_days)
    if status in ("rejected", "pending"):
        since = decided_at or captured_at
        return now - max(since, captured_at) >= timedelta(days=policy.unconfirmed_days)
    return False  # appealed, reopened: under review
