"""Overdue detection and on-time rates per department (pure: rows in, figures out).

The deadline timer feeds open and recently closed reports in; what comes back says which
reports have *newly* missed a deadline (to alert operators once) and the live figures the
operations wall shows: open, overdue and on-time rate per department and overall.

Example::

    newly = newly_overdue(rows, now)       # -> [(row, ("ack",)), ...]
    kpi = department_kpis(rows, now)       # -> {"drainage": Kpi(open=3, overdue=1, ...), ...}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from ioc.feedback.calendar import is_overdue

OPEN = frozenset({"received", "triage", "routed", "in_progress"})
ALL = "_all"


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """What the timer needs of one report."""

    report_id: str
    department: str | None
    service_code: str | None
    status: str
    ack_due: datetime | None
    resolve_due: datetime | None
    closed_at: datetime | None
    overdue_ack: bool
    overdue_resolve: bool


@dataclass(frozen=True, slots=True)
class Kpi:
    open: int = 0
    overdue: int = 0
    resolved: int = 0
    resolved_on_time: int = 0

    @property
    def on_time_rate(self) -> float | None:
        """Share of resolved reports resolved by their deadline (``None``: none resolved)."""
        return None if self.resolved == 0 else self.resolved_on_time / self.resolved

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "on_time_rate": self.on_time_rate}


def missed(row: DeadlineRow, now: datetime) -> tuple[Literal["ack", "resolve"], ...]:
    """Deadlines an open report has missed at ``now``."""
    out: list[Literal["ack", "resolve"]] = []
    if row.status in ("received", "triage", "routed") and is_overdue(row.ack_due, now):
        out.append("ack")
    if row.status in ("routed", "in_progress") and is_overdue(row.resolve_due, now):
        out.append("resolve")
    return tuple(out)


def newly_overdue(
    rows: Iterable[DeadlineRow], now: datetime
) -> list[tuple[DeadlineRow, tuple[Literal["ack", "resolve"], ...]]]:
    """Reports with a deadline missed at ``now`` that is not flagged yet."""
    out = []
    for row in rows:
        new = tuple(
            k
            for k in missed(row, now)
            if not (row.overdue_ack if k == "ack" else row.overdue_resolve)
        )
        if new:
            out.append((row, new))
    return out


def department_kpis(rows: Sequence[DeadlineRow], now: datetime) -> dict[str, Kpi]:
    """Open / overdue / resolved / resolved on time per department, and ``"_all"``."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        for key in (row.department or "triage", ALL):
            c = counts.setdefault(key, [0, 0, 0, 0])
            if row.status in OPEN:
                c[0] += 1
                c[1] += 1 if missed(row, now) else 0
            elif row.status == "resolved":
                c[2] += 1
                on_time = (
                    row.closed_at is not None
                    and row.resolve_due is not None
                    and row.closed_at <= row.resolve_due
                )
                c[3] += 1 if on_time else 0
    return {k: Kpi(*v) for k, v in sorted(counts.items())}
