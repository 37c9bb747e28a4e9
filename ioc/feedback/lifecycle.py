"""The lifecycle of a citizen report as a pure state machine: events in, state + effects out.

received → routed (classifier confident) or → triage (not confident, operators decide)
→ in progress (department acknowledged) → resolved / rejected; reopen starts a new cycle;
a manual assignment or reassignment records the operator's category as a new training
label. Every transition is kept with its time and actor. Deadlines count working time from
the start of the cycle (the citizen's report, or the reopening), so a reassignment does not
give the new department a fresh clock. Nothing here reads a clock, a database or a broker:
HTTP handlers and stream agents feed events and store what comes back.

Example::

    policy = Policy.from_catalogue(load_feedback_catalogue())
    report, effects = receive("r-1", now, policy)
    report, effects = apply(report, Classified(at=now, category="flooding", confidence=0.9), policy)
    report.status, report.department        # -> (Status.ROUTED, "drainage")
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeAlias, cast

from ioc.feedback.calendar import WorkingCalendar, WorkingDuration, is_overdue
from ioc.feedback.catalogue import FeedbackCatalogue

logger = logging.getLogger(__name__)


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    ROUTED = "routed"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"


class LifecycleError(Exception):
    """A refused event; ``code`` is machine-readable: illegal_transition, unknown_category,
    same_category, out_of_order, invalid_confidence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    at: datetime
    actor: str = "system"


@dataclass(frozen=True, slots=True, kw_only=True)
class Classified(Event):
    """The classifier's answer; ``category`` None means it found nothing."""

    category: str | None
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Assigned(Event):
    """An operator routes (from triage) or reassigns the report to ``category``."""

    category: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledged(Event):
    """The department has taken the report up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoRequested(Event):
    """Staff ask the citizen for more information; the status does not change."""

    question: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved(Event):
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected(Event):
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopened(Event):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StatusChanged:
    report_id: str
    old: Status
    new: Status
    at: datetime


@dataclass(frozen=True, slots=True)
class RouteToDepartment:
    report_id: str
    department: str
    category: str


TriageReason: TypeAlias = Literal["low_confidence", "no_category", "reopened"]


@dataclass(frozen=True, slots=True)
class QueueForTriage:
    """Operators decide; ``suggested`` is the classifier's unconfident guess, if any."""

    report_id: str
    reason: TriageReason
    suggested: str | None = None


@dataclass(frozen=True, slots=True)
class SetDeadlines:
    report_id: str
    ack_due: datetime | None
    resolve_due: datetime | None


@dataclass(frozen=True, slots=True)
class RecordLabel:
    """Keep ``category`` as the label of this report's text: retraining uses it."""

    report_id: str
    category: str
    previous: str | None
    actor: str


Effect = StatusChanged | RouteToDepartment | QueueForTriage | SetDeadlines | RecordLabel


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    event: str
    old: Status
    new: Status
    actor: str


@dataclass(frozen=True, slots=True)
class Report:
    report_id: str
    status: Status
    received_at: datetime
    cycle_start: datetime
    category: str | None = None
    department: str | None = None
    confidence: float | None = None
    ack_due: datetime | None = None
    resolve_due: datetime | None = None
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    history: tuple[Transition, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Policy:
    """What the machine needs from the catalogue: categories, deadlines, calendar, threshold."""

    catalogue: FeedbackCatalogue
    calendar: WorkingCalendar
    min_confidence: float

    @classmethod
    def from_catalogue(
        cls, catalogue: FeedbackCatalogue, min_confidence: float | None = None
    ) -> Policy:
        threshold = catalogue.triage.min_confidence if min_confidence is None else min_confidence
        return cls(catalogue, catalogue.calendar.build(), threshold)


def receive(report_id: str, at: datetime, policy: Policy) -> tuple[Report, list[Effect]]:
    """A new report; it waits for the classifier (or an operator) in ``received``."""
    policy.calendar.add_minutes(at, 0)  # refuses naive datetimes early
    return Report(report_id, Status.RECEIVED, at, at), []


def apply(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    """Apply one event; raises :class:`LifecycleError` for anything the lifecycle forbids."""
    allowed, handler = _RULES[type(event)]
    if report.status not in allowed:
        name = type(event).__name__
        raise LifecycleError("illegal_transition", f"{name} is not allowed in {report.status}")
    last = report.history[-1].at if report.history else report.received_at
    if event.at < last:
        raise LifecycleError("out_of_order", f"event at {event.at} precedes {last}")
    new, effects = handler(report, event, policy)
    step = Transition(
        event.at, type(event).__name__.lower(), report.status, new.status, event.actor
    )
    new = replace(new, history=(*report.history, step))
    if new.status != report.status:
        effects.insert(0, StatusChanged(report.report_id, report.status, new.status, event.at))
    return new, effects


def _classified(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    event = cast(Classified, event)
    if not 0.0 <= event.confidence <= 1.0:
        raise LifecycleError("invalid_confidence", f"confidence {event.confidence} not in [0, 1]")
    report = replace(report, confidence=event.confidence)
    if event.category is None or event.category not in policy.catalogue.categories:
        return _to_triage(report, "no_category", None, policy)
    if event.confidence < policy.min_confidence:
        return _to_triage(report, "low_confidence", event.category, policy)
    return _route(report, event.category, policy)


def _assigned(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    event = cast(Assigned, event)
    if event.category not in policy.catalogue.categories:
        raise LifecycleError("unknown_category", f"no category {event.category!r}")
    if event.category == report.category and report.status != Status.TRIAGE:
        raise LifecycleError("same_category", f"report is already in {event.category!r}")
    routed, effects = _route(replace(report, confidence=None), event.category, policy)
    return routed, [
        *effects,
        RecordLabel(routed.report_id, event.category, report.category, event.actor),
    ]


def _acknowledged(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    return replace(report, status=Status.IN_PROGRESS, acknowledged_at=event.at), []


def _info_requested(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    return report, []


def _resolved(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    acked = report.acknowledged_at or event.at
    return replace(report, status=Status.RESOLVED, acknowledged_at=acked, closed_at=event.at), []


def _rejected(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    return replace(report, status=Status.REJECTED, closed_at=event.at), []


def _reopened(report: Report, event: Event, policy: Policy) -> tuple[Report, list[Effect]]:
    report = replace(
        report,
        cycle_start=event.at,
        closed_at=None,
        acknowledged_at=None,
        reopen_count=report.reopen_count + 1,
    )
    if report.category is None:
        return _to_triage(report, "reopened", None, policy)
    return _route(report, report.category, policy)


_Handler = Callable[[Report, Event, Policy], tuple[Report, list[Effect]]]
_OPEN = frozenset({Status.RECEIVED, Status.TRIAGE, Status.ROUTED, Status.IN_PROGRESS})
#: event type -> (states it is allowed in, handler): the whole transition table.
_RULES: dict[type[Event], tuple[frozenset[Status], _Handler]] = {
    Classified: (frozenset({Status.RECEIVED}), _classified),
    Assigned: (_OPEN, _assigned),
    Acknowledged: (frozenset({Status.ROUTED}), _acknowledged),
    InfoRequested: (
        frozenset({Status.TRIAGE, Status.ROUTED, Status.IN_PROGRESS}),
        _info_requested,
    ),
    Resolved: (frozenset({Status.ROUTED, Status.IN_PROGRESS}), _resolved),
    Rejected: (_OPEN, _rejected),
    Reopened: (frozenset({Status.RESOLVED, Status.REJECTED}), _reopened),
}


def _route(report: Report, category: str, policy: Policy) -> tuple[Report, list[Effect]]:
    department = policy.catalogue.categories[category].department
    ack, resolve = policy.catalogue.deadlines(category)
    ack_due = policy.calendar.add(report.cycle_start, ack)
    resolve_due = policy.calendar.add(report.cycle_start, resolve)
    routed = replace(
        report,
        status=Status.ROUTED,
        category=category,
        department=department,
        ack_due=ack_due,
        resolve_due=resolve_due,
        acknowledged_at=None,
    )
    return routed, [
        RouteToDepartment(report.report_id, department, category),
        SetDeadlines(report.report_id, ack_due, resolve_due),
    ]


def _to_triage(
    report: Report, reason: TriageReason, suggested: str | None, policy: Policy
) -> tuple[Report, list[Effect]]:
    ack = WorkingDuration.parse(policy.catalogue.triage.ack)
    ack_due = policy.calendar.add(report.cycle_start, ack)
    triaged = replace(
        report, status=Status.TRIAGE, department=None, ack_due=ack_due, resolve_due=None
    )
    return triaged, [
        QueueForTriage(report.report_id, reason, suggested),
        SetDeadlines(report.report_id, ack_due, None),
    ]


def overdue(report: Report, now: datetime) -> tuple[Literal["ack", "resolve"], ...]:
    """Deadlines an open report has missed at ``now``, e.g. ``("ack", "resolve")``."""
    missed: list[Literal["ack", "resolve"]] = []
    if report.status in (Status.TRIAGE, Status.ROUTED) and is_overdue(report.ack_due, now):
        missed.append("ack")
    if report.status in (Status.ROUTED, Status.IN_PROGRESS) and is_overdue(report.resolve_due, now):
        missed.append("resolve")
    return tuple(missed)


def closed_on_time(report: Report) -> bool | None:
    """For a resolved report: was it resolved by its deadline? None while open or rejected."""
    if report.status != Status.RESOLVED or report.closed_at is None or report.resolve_due is None:
        return None
    return report.closed_at <= report.resolve_due
