"""Unified alarms: one lifecycle for every source, as a pure state machine (no I/O).

Sources (sensor threshold alerts, camera faults, violation surges, overdue citizen feedback)
send *signals* - :class:`Raise` (raise or update) and :class:`Resolve` - and operators send
*actions* - :class:`Acknowledge`, :class:`Assign`, :class:`Comment`, :class:`Clear`.
:func:`apply` takes the open alarm of that source (or ``None``) and returns the new alarm and
the events to store and publish. State follows ISA-18.2's two axes::

    active/unacknowledged --ack--> active/acknowledged --source clears--> closed
           |                              |
       source clears                  re-raised at a higher severity: unacknowledged again
           v
    cleared/unacknowledged --ack--> closed          (re-raised before the ack: reactivated)

An alarm is *open* until it is both cleared and acknowledged; the database keeps one open
alarm per source. Operator mistakes are refused with a machine-readable code
(:class:`AlarmError`). Every event carries a deterministic id so that a replayed signal or a
retried request is a no-op in storage.

Example::

    alarm, events = apply(None, Raise(eid, t, "camera_fault", "cam-1", 4, "Camera offline"))
    alarm, events = apply(alarm, Acknowledge(eid2, t2, actor="an"))
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Literal

SourceKind = Literal["sensor_alert", "camera_fault", "violation_surge", "feedback_overdue"]
SOURCE_KINDS: Final[tuple[SourceKind, ...]] = (
    "sensor_alert",
    "camera_fault",
    "violation_surge",
    "feedback_overdue",
)
EventKind = Literal[
    "raised",
    "updated",
    "reactivated",
    "cleared",
    "acknowledged",
    "assigned",
    "commented",
    "closed",
]
EVENT_KINDS: Final[tuple[EventKind, ...]] = (
    "raised",
    "updated",
    "reactivated",
    "cleared",
    "acknowledged",
    "assigned",
    "commented",
    "closed",
)
ALARM_NAMESPACE: Final = uuid.UUID("6f1d0c7e-5b7a-4f3e-9a0d-2c4b8e1f7a55")
SYSTEM: Final = "system"
MAX_COMMENT: Final = 1000
MAX_ASSIGNEE: Final = 64
MAX_TITLE: Final = 200


class AlarmError(ValueError):
    """A refused action; ``code`` is machine-readable (``already_acknowledged`` …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    id: uuid.UUID
    source_kind: SourceKind
    source_ref: str
    severity: int
    active: bool
    acknowledged: bool
    title: str
    raised_at: datetime
    updated_at: datetime
    version: int
    area_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    assignee: str | None = None
    cleared_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    closed_at: datetime | None = None
    source_time: datetime | None = None  # time of the last source signal applied

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def state(self) -> str:
        """``active_unacked`` | ``active_acked`` | ``cleared_unacked`` | ``closed``."""
        if self.closed_at is not None:
            return "closed"
        return f"{'active' if self.active else 'cleared'}_{'acked' if self.acknowledged else 'unacked'}"


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    event_id: uuid.UUID
    alarm_id: uuid.UUID
    kind: EventKind
    time: datetime
    actor: str
    severity: int
    text: str | None = None


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Raise:
    """The source is abnormal (new, still, or at another severity)."""

    event_id: uuid.UUID
    time: datetime
    source_kind: SourceKind
    source_ref: str
    severity: int
    title: str
    area_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve:
    """The source is back to normal."""

    event_id: uuid.UUID
    time: datetime
    source_kind: SourceKind
    source_ref: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledge:
    event_id: uuid.UUID
    time: datetime
    actor: str
    text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Assign:
    event_id: uuid.UUID
    time: datetime
    actor: str
    assignee: str | None  # None: unassign


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    event_id: uuid.UUID
    time: datetime
    actor: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Clear:
    """An operator declares the condition over (e.g. a camera that was decommissioned)."""

    event_id: uuid.UUID
    time: datetime
    actor: str
    text: str | None = None


Signal = Raise | Resolve
Action = Acknowledge | Assign | Comment | Clear
Input = Signal | Action


def derived_id(*parts: object) -> uuid.UUID:
    """Deterministic event id from its parts (same input, same id: idempotent writes)."""
    return uuid.uuid5(ALARM_NAMESPACE, "|".join(str(p) for p in parts))


def _event(
    alarm: Alarm, kind: EventKind, inp: Input, actor: str, text: str | None = None, n: int = 0
) -> AlarmEvent:
    eid = inp.event_id if n == 0 else derived_id(inp.event_id, kind)
    return AlarmEvent(eid, alarm.id, kind, inp.time, actor, alarm.severity, text)


def _bump(alarm: Alarm, time: datetime, **changes: Any) -> Alarm:
    return replace(
        alarm, updated_at=max(time, alarm.updated_at), version=alarm.version + 1, **changes
    )


def _maybe_close(alarm: Alarm, inp: Input, actor: str, events: list[AlarmEvent]) -> Alarm:
    if not alarm.active and alarm.acknowledged and alarm.closed_at is None:
        alarm = replace(alarm, closed_at=inp.time)
        events.append(_event(alarm, "closed", inp, actor, n=len(events)))
    return alarm


def _clean_text(text: str | None, limit: int, code: str) -> str | None:
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned:
        return None
    if len(cleaned) > limit:
        raise AlarmError(code, f"at most {limit} characters")
    return cleaned


def apply(alarm: Alarm | None, inp: Input) -> tuple[Alarm | None, list[AlarmEvent]]:
    """The alarm after ``inp`` and the events it caused (empty: nothing changed).

    ``alarm`` must be the source's *open* alarm (signals) or the addressed alarm (actions).
    Raises :class:`AlarmError` for an action that is not possible in the current state.
    """
    if isinstance(inp, Raise):
        return _raise(alarm, inp)
    if isinstance(inp, Resolve):
        return _resolve(alarm, inp)
    if alarm is None:
        raise AlarmError("not_found", "no such alarm")
    if alarm.closed_at is not None:
        raise AlarmError("alarm_closed", "the alarm is closed")
    events: list[AlarmEvent] = []
    if isinstance(inp, Acknowledge):
        if alarm.acknowledged:
            raise AlarmError("already_acknowledged", "the alarm is already acknowledged")
        text = _clean_text(inp.text, MAX_COMMENT, "comment_too_long")
        alarm = _bump(alarm, inp.time, acknowledged=True, acked_at=inp.time, acked_by=inp.actor)
        events.append(_event(alarm, "acknowledged", inp, inp.actor, text))
        return _maybe_close(alarm, inp, inp.actor, events), events
    if isinstance(inp, Assign):
        assignee = _clean_text(inp.assignee, MAX_ASSIGNEE, "assignee_too_long")
        if assignee == alarm.assignee:
            return alarm, []
        alarm = _bump(alarm, inp.time, assignee=assignee)
        events.append(_event(alarm, "assigned", inp, inp.actor, assignee))
        return alarm, events
    if isinstance(inp, Comment):
        text = _clean_text(inp.text, MAX_COMMENT, "comment_too_long")
        if text is None:
            raise AlarmError("empty_comment", "a comment needs some text")
        alarm = _bump(alarm, inp.time)
        events.append(_event(alarm, "commented", inp, inp.actor, text))
        return alarm, events
    # Clear
    if not alarm.active:
        raise AlarmError("already_cleared", "the alarm is already cleared")
    text = _clean_text(inp.text, MAX_COMMENT, "comment_too_long")
    alarm = _bump(alarm, inp.time, active=False, cleared_at=inp.time)
    events.append(_event(alarm, "cleared", inp, inp.actor, text))
    return _maybe_close(alarm, inp, inp.actor, events), events


def _raise(alarm: Alarm | None, inp: Raise) -> tuple[Alarm | None, list[AlarmEvent]]:
    if not 1 <= inp.severity <= 5:
        raise AlarmError("invalid_severity", "severity is 1 (info) … 5 (critical)")
    title = inp.title.strip()[:MAX_TITLE] or inp.source_ref
    if alarm is None or alarm.closed_at is not None:
        new = Alarm(
            id=derived_id("alarm", inp.event_id),
            source_kind=inp.source_kind,
            source_ref=inp.source_ref,
            severity=inp.severity,
            active=True,
            acknowledged=False,
            title=title,
            area_id=inp.area_id,
            detail=dict(inp.detail),
            raised_at=inp.time,
            updated_at=inp.time,
            version=1,
            source_time=inp.time,
        )
        return new, [_event(new, "raised", inp, SYSTEM)]
    if inp.time < _source_time(alarm) and alarm.active:
        return alarm, []  # an older signal than what the alarm already reflects
    if not alarm.active:
        woke = _bump(
            alarm,
            inp.time,
            active=True,
            cleared_at=None,
            source_time=inp.time,
            severity=inp.severity,
            title=title,
            detail=dict(inp.detail),
        )
        return woke, [_event(woke, "reactivated", inp, SYSTEM)]
    if inp.severity == alarm.severity and title == alarm.title:
        return alarm, []  # still abnormal, nothing new: no storm of updates
    escalated = inp.severity > alarm.severity
    updated = _bump(
        alarm,
        inp.time,
        severity=inp.severity,
        title=title,
        detail=dict(inp.detail),
        source_time=inp.time,
        # worse than what was acknowledged: an operator must look again
        acknowledged=alarm.acknowledged and not escalated,
        acked_at=alarm.acked_at if not escalated else None,
        acked_by=alarm.acked_by if not escalated else None,
    )
    return updated, [_event(updated, "updated", inp, SYSTEM)]


def _source_time(alarm: Alarm) -> datetime:
    """Signals are ordered by their own (source) time, never by operators' wall-clock time:
    a replay of past data must still clear an alarm that an operator touched just now."""
    return alarm.source_time or alarm.raised_at


def _resolve(alarm: Alarm | None, inp: Resolve) -> tuple[Alarm | None, list[AlarmEvent]]:
    if alarm is None or alarm.closed_at is not None or not alarm.active:
        return alarm, []
    if inp.time < _source_time(alarm):
        return alarm, []
    cleared = _bump(alarm, inp.time, active=False, cleared_at=inp.time, source_time=inp.time)
    events = [_event(cleared, "cleared", inp, SYSTEM)]
    return _maybe_close(cleared, inp, SYSTEM, events), events


def alarm_doc(alarm: Alarm) -> dict[str, Any]:
    """The JSON form of an alarm (HTTP answers, websocket messages, snapshots)."""
    return {
        "id": str(alarm.id),
        "source_kind": alarm.source_kind,
        "source_ref": alarm.source_ref,
        "severity": alarm.severity,
        "state": alarm.state,
        "active": alarm.active,
        "acknowledged": alarm.acknowledged,
        "title": alarm.title,
        "area_id": alarm.area_id,
        "detail": alarm.detail,
        "assignee": alarm.assignee,
        "raised_at": alarm.raised_at.isoformat(),
        "updated_at": alarm.updated_at.isoformat(),
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
        "acked_at": alarm.acked_at.isoformat() if alarm.acked_at else None,
        "acked_by": alarm.acked_by,
        "closed_at": alarm.closed_at.isoformat() if alarm.closed_at else None,
        "version": alarm.version,
    }


def event_doc(event: AlarmEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "kind": event.kind,
        "time": event.time.isoformat(),
        "actor": event.actor,
        "severity": event.severity,
        "text": event.text,
    }


def alarm_message(alarm: Alarm, event: AlarmEvent) -> dict[str, Any]:
    """Dashboard message ``alarm.<kind>``: the event and the alarm as it is after it."""
    return {"type": f"alarm.{event.kind}", "event": event_doc(event), "alarm": alarm_doc(alarm)}
