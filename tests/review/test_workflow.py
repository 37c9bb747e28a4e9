"""The review state machine: every allowed transition, every refused one, input validation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ioc.review.queue import parse_filters
from ioc.review.workflow import (
    ACTIONS,
    ALLOWED_FROM,
    STATUSES,
    Appeal,
    CaseState,
    Confirm,
    IssueNotice,
    Reclassify,
    Reject,
    Reopen,
    Uphold,
    WorkflowError,
    apply,
    available,
    normalise_plate,
    parse_action,
)

RULES = {"red_light", "wrong_way", "speeding"}
PENDING = CaseState(status="pending", version=0, rule="red_light")


def test_confirm_then_notice_then_appeal_then_uphold() -> None:
    t = apply(PENDING, Confirm("15A12345", "car"))
    assert (t.from_status, t.to_status, t.state.version) == ("pending", "confirmed", 1)
    assert t.state.plate == "15A12345" and t.detail == {"vehicle_type": "car"}
    assert "plate" not in t.detail  # the plate never goes into transition/audit details
    t = apply(t.state, IssueNotice())
    assert t.to_status == "notice_issued" and t.state.notice_issued
    t = apply(t.state, Appeal("owner disputes"))
    assert t.to_status == "appealed" and t.detail == {"note": "owner disputes"}
    t = apply(t.state, Uphold())
    assert t.to_status == "notice_issued" and t.state.version == 4


def test_appeal_reopen_then_reject() -> None:
    s = apply(PENDING, Confirm("15A12345", "car")).state
    s = apply(s, Appeal()).state
    assert apply(s, Uphold()).to_status == "confirmed"  # no notice was issued yet
    s = apply(s, Reopen()).state
    assert s.status == "reopened" and available("reopened") == ["confirm", "reject", "reclassify"]
    t = apply(s, Reject("signal_fault"))
    assert t.to_status == "rejected" and t.state.reject_reason == "signal_fault"
    assert apply(t.state, Reopen()).to_status == "reopened"


def test_reclassify_keeps_the_case_open_and_changes_the_rule() -> None:
    t = apply(PENDING, Reclassify("wrong_way"))
    assert t.to_status == "pending" and t.state.rule == "wrong_way"
    assert t.detail == {"from_rule": "red_light", "to_rule": "wrong_way"}
    with pytest.raises(WorkflowError) as err:
        apply(t.state, Reclassify("wrong_way"))
    assert err.value.code == "same_rule"


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", ACTIONS)
def test_every_refused_transition_is_refused(status: str, name: str) -> None:
    actions = {
        "confirm": Confirm("15A12345", "car"),
        "reject": Reject("other", "x"),
        "reclassify": Reclassify("wrong_way"),
        "issue_notice": IssueNotice(),
        "appeal": Appeal(),
        "reopen": Reopen(),
        "uphold": Uphold(),
    }
    state = replace(PENDING, status=status)  # type: ignore[arg-type]
    if status in ALLOWED_FROM[name]:
        assert apply(state, actions[name]).state.version == 1  # type: ignore[arg-type]
    else:
        with pytest.raises(WorkflowError) as err:
            apply(state, actions[name])  # type: ignore[arg-type]
        assert err.value.code == "bad_transition"


@pytest.mark.parametrize(
    ("raw", "plate"),
    [("15A-123.45", "15A12345"), (" 29ld 123.45", "29LD12345"), ("15-B1 234.56", "15B123456")],
)
def test_plates_are_normalised(raw: str, plate: str) -> None:
    assert normalise_plate(raw) == plate


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "confirm", "vehicle_type": "car"}, "plate_required"),
        ({"action": "confirm", "plate": "15A-123.45"}, "vehicle_type_required"),
        ({"action": "confirm", "plate": "hello", "vehicle_type": "car"}, "bad_plate"),
        ({"action": "confirm", "plate": "15A12345", "vehicle_type": "tank"}, "bad_vehicle_type"),
        ({"action": "reject"}, "bad_reason"),
        ({"action": "reject", "reason": "bored"}, "bad_reason"),
        ({"action": "reject", "reason": "other"}, "note_required"),
        ({"action": "reclassify", "rule": "jaywalking"}, "bad_rule"),
        ({"action": "delete"}, "bad_action"),
        ({"action": "reject", "reason": "other", "note": 5}, "bad_note"),
        ({"action": "reject", "reason": "other", "note": "x" * 1001}, "bad_note"),
    ],
)
def test_bad_decisions_have_machine_readable_codes(body: dict[str, object], code: str) -> None:
    with pytest.raises(WorkflowError) as err:
        parse_action(body, RULES)
    assert err.value.code == code


def test_parse_action_builds_actions() -> None:
    assert parse_action(
        {"action": "confirm", "plate": "15a-123.45", "vehicle_type": "motorbike"}, RULES
    ) == Confirm("15A12345", "motorbike")
    assert parse_action({"action": "reject", "reason": "emergency_vehicle"}, RULES) == Reject(
        "emergency_vehicle"
    )
    assert parse_action({"action": "appeal", "note": " n "}, RULES) == Appeal("n")


def test_queue_filters() -> None:
    f = parse_filters({})
    assert f.status == ("pending", "reopened") and f.order == "newest" and f.limit == 100
    f = parse_filters({"status": "rejected,confirmed", "order": "severe", "camera": "cam-1"})
    assert f.status == ("confirmed", "rejected") and f.camera == "cam-1"
    for bad, code in [
        ({"status": "lost"}, "bad_status"),
        ({"order": "random"}, "bad_order"),
        ({"limit": "0"}, "bad_limit"),
        ({"camera": "x' OR 1=1"}, "bad_camera"),
        ({"since": "2026-01-01T00:00:00"}, "bad_since"),
    ]:
        with pytest.raises(WorkflowError) as err:
            parse_filters(bad)
        assert err.value.code == code
