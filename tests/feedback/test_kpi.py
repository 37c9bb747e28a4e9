"""Overdue detection and on-time rates with frozen time across a weekend and a holiday."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from ioc.feedback.catalogue import load_feedback_catalogue
from ioc.feedback.intake import ReportMessage
from ioc.feedback.kpi import ALL, DeadlineRow, department_kpis, newly_overdue
from ioc.feedback.lifecycle import Acknowledged, InfoRequested, Policy, Resolved, Status, apply
from ioc.feedback.routing import first_route

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = Policy.from_catalogue(load_feedback_catalogue())


def t(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def msg(at: datetime, code: str | None = "flooding") -> ReportMessage:
    return ReportMessage(
        report_id="HP-2345-6789",
        token="t" * 20,
        received_at=at,
        service_code=code,
        description="Ngập",
        lat=20.85,
        lon=106.68,
    )


def row(report, overdue_ack: bool = False, overdue_resolve: bool = False) -> DeadlineRow:  # type: ignore[no-untyped-def]
    return DeadlineRow(
        report.report_id,
        report.department,
        report.category,
        report.status.value,
        report.ack_due,
        report.resolve_due,
        report.closed_at,
        overdue_ack,
        overdue_resolve,
    )


def test_friday_afternoon_report_is_due_after_the_weekend() -> None:
    # Friday 24 April 2026 16:00, flooding = urgent: ack 4 h, resolve 1 working day.
    report, _ = first_route(msg(t(4, 24, 16)), None, POLICY)
    assert report.status is Status.ROUTED and report.department == "drainage"
    assert report.ack_due == t(4, 28, 10, 30)  # 1 h Fri, Mon 27/4 is a holiday, 3 h Tue
    r = row(report)
    assert newly_overdue([r], t(4, 26, 12)) == []  # Sunday: nothing is late
    assert newly_overdue([r], t(4, 28, 10, 29)) == []
    assert newly_overdue([r], t(4, 28, 10, 31)) == [(r, ("ack",))]
    assert newly_overdue([replace(r, overdue_ack=True)], t(4, 28, 10, 31)) == []  # alert once


def test_resolution_deadline_skips_the_30_april_and_1_may_holidays() -> None:
    report, _ = first_route(msg(t(4, 29, 15)), None, POLICY)  # Wed 29/4 15:00
    assert report.resolve_due == t(5, 4, 15)  # 30/4, 1/5 holidays, weekend: Monday 4 May
    acked, _ = apply(report, Acknowledged(at=t(4, 29, 16)), POLICY)
    assert newly_overdue([row(acked)], t(5, 3, 20)) == []
    assert newly_overdue([row(acked)], t(5, 4, 15, 1))[0][1] == ("resolve",)


def test_kpis_per_department_and_overall() -> None:
    on_time, _ = first_route(msg(t(6, 1, 8)), None, POLICY)
    on_time, _ = apply(on_time, Resolved(at=t(6, 1, 10), note="xong"), POLICY)
    late, _ = first_route(msg(t(6, 1, 8)), None, POLICY)
    late, _ = apply(late, Resolved(at=t(6, 5, 10), note="xong"), POLICY)
    still_open, _ = first_route(msg(t(6, 1, 8), "noise"), None, POLICY)
    rows = [row(on_time), row(late), row(still_open)]
    kpis = department_kpis(rows, t(6, 30, 9))
    drainage = kpis["drainage"]
    assert (drainage.resolved, drainage.resolved_on_time, drainage.on_time_rate) == (2, 1, 0.5)
    other = kpis[still_open.department or ""]
    assert (other.open, other.overdue, other.on_time_rate) == (1, 1, None)
    assert (kpis[ALL].open, kpis[ALL].resolved) == (1, 2)


def test_triage_when_unsure_and_info_requests_keep_the_status() -> None:
    report, _ = first_route(msg(t(6, 1, 8), None), ("noise", 0.2), POLICY)
    assert report.status is Status.TRIAGE and report.department is None
    asked, _ = apply(report, InfoRequested(at=t(6, 1, 9), question="Ở đâu?"), POLICY)
    assert asked.status is Status.TRIAGE and asked.history[-1].event == "inforequested"
    routed, _ = first_route(msg(t(6, 1, 8), None), ("noise", 0.9), POLICY)
    assert routed.status is Status.ROUTED and routed.history[-1].actor == "classifier"
