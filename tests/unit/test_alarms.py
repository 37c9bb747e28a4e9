"""The unified alarm lifecycle (pure): active/cleared x unacknowledged/acknowledged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ioc.domain.alarms import (
    Acknowledge,
    Alarm,
    AlarmError,
    Assign,
    Clear,
    Comment,
    Raise,
    Resolve,
    alarm_message,
    apply,
)

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def up(minutes: float, severity: int = 3, ref: str = "cam-1") -> Raise:
    return Raise(
        event_id=uuid.uuid4(),
        time=at(minutes),
        source_kind="camera_fault",
        source_ref=ref,
        severity=severity,
        title=f"camera offline sev {severity}",
    )


def down(minutes: float, ref: str = "cam-1") -> Resolve:
    return Resolve(
        event_id=uuid.uuid4(), time=at(minutes), source_kind="camera_fault", source_ref=ref
    )


def ack(minutes: float, who: str = "an") -> Acknowledge:
    return Acknowledge(event_id=uuid.uuid4(), time=at(minutes), actor=who)


def raised() -> Alarm:
    alarm, events = apply(None, up(0))
    assert alarm is not None and [e.kind for e in events] == ["raised"]
    return alarm


def test_raise_creates_an_active_unacknowledged_alarm() -> None:
    alarm = raised()
    assert alarm.state == "active_unacked" and alarm.version == 1 and alarm.open
    assert alarm_message(alarm, apply(None, up(0))[1][0])["type"] == "alarm.raised"


def test_repeated_raise_at_the_same_severity_is_not_an_event() -> None:
    alarm = raised()
    again, events = apply(alarm, up(1))
    assert events == [] and again == alarm


def test_ack_then_source_clears_closes_the_alarm() -> None:
    alarm, events = apply(raised(), ack(1))
    assert alarm is not None and alarm.state == "active_acked" and alarm.acked_by == "an"
    alarm, events = apply(alarm, down(2))
    assert alarm is not None and [e.kind for e in events] == ["cleared", "closed"]
    assert alarm.state == "closed" and alarm.closed_at == at(2)
    assert len({e.event_id for e in events}) == 2


def test_cleared_alarm_stays_open_until_acknowledged() -> None:
    alarm, events = apply(raised(), down(1))
    assert alarm is not None and alarm.state == "cleared_unacked" and alarm.open
    alarm, events = apply(alarm, ack(2))
    assert alarm is not None and [e.kind for e in events] == ["acknowledged", "closed"]
    assert alarm.state == "closed"


def test_reraise_before_the_ack_reactivates_the_same_alarm() -> None:
    first = raised()
    cleared, _ = apply(first, down(1))
    again, events = apply(cleared, up(2, severity=4))
    assert again is not None and again.id == first.id and again.state == "active_unacked"
    assert [e.kind for e in events] == ["reactivated"] and again.severity == 4


def test_escalation_after_ack_needs_a_new_ack_but_deescalation_does_not() -> None:
    acked, _ = apply(raised(), ack(1))
    assert acked is not None
    lower, events = apply(acked, up(2, severity=2))
    assert lower is not None and lower.acknowledged and [e.kind for e in events] == ["updated"]
    higher, events = apply(lower, up(3, severity=5))
    assert higher is not None and not higher.acknowledged and higher.acked_by is None
    assert higher.version == lower.version + 1


def test_closed_alarm_is_followed_by_a_new_one_for_the_same_source() -> None:
    acked, _ = apply(raised(), ack(1))
    closed, _ = apply(acked, down(2))
    fresh, events = apply(closed, up(3))
    assert fresh is not None and closed is not None and fresh.id != closed.id
    assert [e.kind for e in events] == ["raised"]


def test_stale_signals_change_nothing() -> None:
    alarm, _ = apply(raised(), up(5, severity=4))
    assert alarm is not None
    assert apply(alarm, down(1)) == (alarm, [])
    assert apply(alarm, up(2, severity=2)) == (alarm, [])
    assert apply(None, down(1)) == (None, [])


@pytest.mark.parametrize(
    ("prepare", "action", "code"),
    [
        ([ack(1)], ack(2), "already_acknowledged"),
        ([down(1)], Clear(event_id=uuid.uuid4(), time=at(2), actor="an"), "already_cleared"),
        (
            [ack(1), down(2)],
            Comment(event_id=uuid.uuid4(), time=at(3), actor="an", text="x"),
            "alarm_closed",
        ),
        ([], Comment(event_id=uuid.uuid4(), time=at(1), actor="an", text="   "), "empty_comment"),
        (
            [],
            Comment(event_id=uuid.uuid4(), time=at(1), actor="an", text="x" * 1001),
            "comment_too_long",
        ),
    ],
)
def test_refused_actions_have_machine_readable_codes(
    prepare: list[Acknowledge | Resolve], action: Acknowledge | Clear | Comment, code: str
) -> None:
    alarm: Alarm | None = raised()
    for step in prepare:
        alarm, _ = apply(alarm, step)
    with pytest.raises(AlarmError) as caught:
        apply(alarm, action)
    assert caught.value.code == code


def test_assign_comment_and_manual_clear() -> None:
    alarm: Alarm | None = raised()
    alarm, events = apply(
        alarm, Assign(event_id=uuid.uuid4(), time=at(1), actor="an", assignee=" binh ")
    )
    assert alarm is not None and alarm.assignee == "binh" and events[0].text == "binh"
    same, events = apply(
        alarm, Assign(event_id=uuid.uuid4(), time=at(2), actor="an", assignee="binh")
    )
    assert events == [] and same == alarm
    alarm, events = apply(
        alarm, Comment(event_id=uuid.uuid4(), time=at(3), actor="an", text="on it")
    )
    assert alarm is not None and events[0].kind == "commented" and events[0].text == "on it"
    alarm, events = apply(alarm, Clear(event_id=uuid.uuid4(), time=at(4), actor="an"))
    assert alarm is not None and alarm.state == "cleared_unacked" and events[0].actor == "an"


def test_action_on_no_alarm_is_not_found() -> None:
    with pytest.raises(AlarmError) as caught:
        apply(None, ack(1))
    assert caught.value.code == "not_found"


def test_invalid_severity_is_refused() -> None:
    with pytest.raises(AlarmError):
        apply(None, up(0, severity=9))


def test_signals_are_ordered_by_source_time_not_by_operator_actions() -> None:
    """Replayed (past) data: an operator acts 'now', the source clears at an older time."""
    alarm, _ = apply(raised(), Acknowledge(event_id=uuid.uuid4(), time=at(600), actor="an"))
    assert alarm is not None and alarm.updated_at == at(600)
    closed, events = apply(alarm, down(5))
    assert closed is not None and closed.state == "closed"
    assert [e.kind for e in events] == ["cleared", "closed"]
