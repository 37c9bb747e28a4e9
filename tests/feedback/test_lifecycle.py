"""The report lifecycle: legal paths, refusals with codes, deadlines, overdue, labels."""

from __future__ import annotations

from datetime import datetime

import pytest

from ioc.feedback.catalogue import load_feedback_catalogue
from ioc.feedback.lifecycle import (
    Acknowledged,
    Assigned,
    Classified,
    LifecycleError,
    Policy,
    QueueForTriage,
    RecordLabel,
    Rejected,
    Reopened,
    Report,
    Resolved,
    RouteToDepartment,
    SetDeadlines,
    Status,
    StatusChanged,
    apply,
    closed_on_time,
    overdue,
    receive,
)

POLICY = Policy.from_catalogue(load_feedback_catalogue(), min_confidence=0.5)
TZ = POLICY.calendar.tz


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=TZ)  # 2 June 2025 is a Monday


def new(day: int = 2, hour: int = 8) -> Report:
    report, effects = receive("r-1", at(day, hour), POLICY)
    assert report.status is Status.RECEIVED and effects == []
    return report


def test_confident_classification_routes_with_deadlines() -> None:
    report, effects = apply(
        new(), Classified(at=at(2, 8), category="flooding", confidence=0.9), POLICY
    )
    assert report.status is Status.ROUTED and report.department == "drainage"
    # flooding is urgent: ack 4 working hours, resolve 1 working day, from 08:00 Monday.
    assert report.ack_due == at(2, 14) and report.resolve_due == at(3, 8)
    assert effects == [
        StatusChanged("r-1", Status.RECEIVED, Status.ROUTED, at(2, 8)),
        RouteToDepartment("r-1", "drainage", "flooding"),
        SetDeadlines("r-1", at(2, 14), at(3, 8)),
    ]


def test_low_confidence_goes_to_triage_not_to_a_guess() -> None:
    report, effects = apply(
        new(), Classified(at=at(2, 8), category="noise", confidence=0.3), POLICY
    )
    assert report.status is Status.TRIAGE and report.department is None
    assert report.category is None and report.ack_due == at(2, 14)  # triage: 4 working hours
    assert QueueForTriage("r-1", "low_confidence", "noise") in effects


def test_unknown_or_missing_category_goes_to_triage() -> None:
    for category in (None, "ufo-sighting"):
        report, effects = apply(
            new(), Classified(at=at(2, 8), category=category, confidence=0.99), POLICY
        )
        assert report.status is Status.TRIAGE
        assert QueueForTriage("r-1", "no_category", None) in effects


def test_operator_assignment_from_triage_records_a_label() -> None:
    report, _ = apply(new(), Classified(at=at(2, 8), category=None, confidence=0.0), POLICY)
    report, effects = apply(report, Assigned(at=at(2, 9), category="noise", actor="op-7"), POLICY)
    assert report.status is Status.ROUTED and report.department == "police"
    assert RecordLabel("r-1", "noise", None, "op-7") in effects


def test_reassignment_keeps_the_citizens_clock_and_records_a_label() -> None:
    report, _ = apply(new(), Classified(at=at(2, 8), category="noise", confidence=0.8), POLICY)
    report, _ = apply(report, Acknowledged(at=at(2, 9), actor="police"), POLICY)
    report, effects = apply(report, Assigned(at=at(3, 10), category="flooding", actor="op"), POLICY)
    assert report.status is Status.ROUTED and report.department == "drainage"
    assert report.acknowledged_at is None  # the new department must acknowledge
    assert report.ack_due == at(2, 14)  # from the report, so already overdue: honest
    assert RecordLabel("r-1", "flooding", "noise", "op") in effects
    assert overdue(report, at(3, 10)) == ("ack", "resolve")


def test_full_path_and_history() -> None:
    report = new()
    for event in (
        Classified(at=at(2, 8), category="streetlight-out", confidence=0.7),
        Acknowledged(at=at(2, 9), actor="lighting"),
        Resolved(at=at(4, 10), actor="lighting", note="bulb replaced"),
    ):
        report, _ = apply(report, event, POLICY)
    assert report.status is Status.RESOLVED and report.closed_at == at(4, 10)
    assert [(t.event, t.old, t.new, t.at) for t in report.history] == [
        ("classified", Status.RECEIVED, Status.ROUTED, at(2, 8)),
        ("acknowledged", Status.ROUTED, Status.IN_PROGRESS, at(2, 9)),
        ("resolved", Status.IN_PROGRESS, Status.RESOLVED, at(4, 10)),
    ]
    assert closed_on_time(report) is True


def test_reopen_starts_a_new_cycle() -> None:
    report, _ = apply(new(), Classified(at=at(2, 8), category="flooding", confidence=0.9), POLICY)
    report, _ = apply(report, Resolved(at=at(2, 10)), POLICY)
    report, effects = apply(report, Reopened(at=at(5, 8), actor="citizen"), POLICY)
    assert report.status is Status.ROUTED and report.reopen_count == 1
    assert report.closed_at is None and report.ack_due == at(5, 14)
    assert StatusChanged("r-1", Status.RESOLVED, Status.ROUTED, at(5, 8)) in effects


def test_rejected_report_without_category_reopens_into_triage() -> None:
    report, _ = apply(new(), Rejected(at=at(2, 9), actor="op", reason="spam"), POLICY)
    report, effects = apply(report, Reopened(at=at(2, 10)), POLICY)
    assert report.status is Status.TRIAGE
    assert QueueForTriage("r-1", "reopened", None) in effects
    assert closed_on_time(report) is None


@pytest.mark.parametrize(
    ("events", "code"),
    [
        ([Acknowledged(at=at(2, 9))], "illegal_transition"),
        ([Reopened(at=at(2, 9))], "illegal_transition"),
        (
            [
                Classified(at=at(2, 8), category="flooding", confidence=0.9),
                Classified(at=at(2, 9), category="noise", confidence=0.9),
            ],
            "illegal_transition",
        ),
        ([Rejected(at=at(2, 9)), Resolved(at=at(2, 10))], "illegal_transition"),
        ([Assigned(at=at(2, 9), category="nope")], "unknown_category"),
        (
            [Assigned(at=at(2, 9), category="noise"), Assigned(at=at(2, 10), category="noise")],
            "same_category",
        ),
        ([Classified(at=at(2, 7), category="noise", confidence=0.9)], "out_of_order"),
        ([Classified(at=at(2, 9), category="noise", confidence=1.5)], "invalid_confidence"),
    ],
)
def test_forbidden_events_raise_a_coded_error(events: list[object], code: str) -> None:
    report = new()
    with pytest.raises(LifecycleError) as info:
        for event in events:
            report, _ = apply(report, event, POLICY)  # type: ignore[arg-type]
    assert info.value.code == code


def test_overdue_detection() -> None:
    report, _ = apply(new(), Classified(at=at(2, 8), category="noise", confidence=0.9), POLICY)
    # noise is "normal": ack 8h (Tue 08:30), resolve 5 working days (Mon 9 June 08:00).
    assert overdue(report, at(3, 8)) == ()
    assert overdue(report, at(3, 9)) == ("ack",)
    report, _ = apply(report, Acknowledged(at=at(3, 9)), POLICY)
    assert overdue(report, at(3, 9)) == ()
    assert overdue(report, at(9, 8, 1)) == ("resolve",)
    report, _ = apply(report, Resolved(at=at(10, 8)), POLICY)
    assert overdue(report, at(20, 8)) == () and closed_on_time(report) is False


def test_receive_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        receive("r-2", datetime(2025, 6, 2, 8), POLICY)
