"""Dashboard messages → alarm signals (pure), incl. the violation-surge detector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ioc.domain.alarm_sources import SurgeDetector, signal_of
from ioc.domain.alarms import Raise, Resolve

T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def alert(kind: str, level: str = "bad", severity: int = 3) -> dict[str, object]:
    return {
        "type": "alert",
        "event": {
            "kind": kind,
            "alert_id": "a1",
            "sensor_id": "hp-aq-lechan",
            "area_id": "305",
            "quantity": "pm25",
            "level": level,
            "severity": severity,
            "value": 95.0,
            "peak": 95.0,
            "time": T0.isoformat(),
            "raised_at": T0.isoformat(),
        },
    }


def test_sensor_alerts_map_to_raise_and_resolve_with_stable_ids() -> None:
    surges = SurgeDetector(600, 3)
    raised = signal_of(alert("raised"), surges)
    assert isinstance(raised, Raise) and raised.source_ref == "hp-aq-lechan/pm25"
    assert raised.severity == 3 and raised.area_id == "305"
    assert signal_of(alert("raised"), surges) == raised  # same message, same event id
    cleared = signal_of(alert("cleared"), surges)
    assert isinstance(cleared, Resolve) and cleared.source_ref == raised.source_ref
    assert signal_of({"type": "alert", "event": {"kind": "raised"}}, surges) is None


def test_camera_health() -> None:
    surges = SurgeDetector(600, 3)
    base = {"type": "camera", "camera_id": "cam-1", "time": T0.isoformat(), "name": "Cau Rao"}
    offline = signal_of({**base, "connected": False}, surges)
    assert isinstance(offline, Raise) and offline.severity == 4
    err = signal_of({**base, "connected": True, "error": "decode"}, surges)
    assert isinstance(err, Raise) and err.severity == 3
    assert isinstance(signal_of({**base, "connected": True, "error": None}, surges), Resolve)
    assert signal_of({**base, "time": "yesterday"}, surges) is None


def test_violation_surge_raises_at_count_and_resolves_below_half() -> None:
    surges = SurgeDetector(window_s=60, count=4)

    def violation(seconds: float) -> Raise | Resolve | None:
        t = T0 + timedelta(seconds=seconds)
        return signal_of(
            {"type": "camera_violation", "camera_id": "c", "time": t.isoformat()}, surges
        )

    assert [violation(s) for s in (0, 1, 2)] == [None, None, None]
    fourth = violation(3)
    assert isinstance(fourth, Raise) and fourth.source_kind == "violation_surge"
    assert isinstance(violation(200), Resolve)  # the window holds one: below half
    assert violation(201) is None


def test_a_withdrawn_violation_leaves_the_surge_window() -> None:
    surges = SurgeDetector(window_s=60, count=4)

    def message(kind: str, seconds: float, eid: str) -> Raise | Resolve | None:
        t = T0 + timedelta(seconds=seconds)
        doc = {"type": kind, "camera_id": "c", "time": t.isoformat(), "event_id": eid}
        return signal_of(doc, surges)

    assert [message("camera_violation", s, f"e{s}") for s in (0, 1, 2)] == [None, None, None]
    # the third is taken back (its camera's view had moved): the fourth makes three, no surge
    assert message("camera_violation_withdrawn", 3, "e2") is None
    assert message("camera_violation_withdrawn", 3, "e-unknown") is None
    assert message("camera_violation", 4, "e4") is None
    surge = message("camera_violation", 5, "e5")
    assert isinstance(surge, Raise) and surge.detail["violations"] == 4
    # taking back three of the four brings the window below half: the surge ends
    assert message("camera_violation_withdrawn", 6, "e0") is None
    assert message("camera_violation_withdrawn", 6, "e1") is None
    assert isinstance(message("camera_violation_withdrawn", 7, "e4"), Resolve)


def test_feedback_overdue_and_resolution() -> None:
    surges = SurgeDetector(600, 3)
    overdue = signal_of(
        {
            "type": "feedback.overdue",
            "report_id": "r-9",
            "time": T0.isoformat(),
            "category": "lighting",
        },
        surges,
    )
    assert isinstance(overdue, Raise) and overdue.source_ref == "r-9"
    done = signal_of(
        {
            "type": "feedback.updated",
            "report_id": "r-9",
            "status": "resolved",
            "time": T0.isoformat(),
        },
        surges,
    )
    assert isinstance(done, Resolve) and done.source_kind == "feedback_overdue"
    assert signal_of({"type": "readings", "items": []}, surges) is None
