"""The live queue message: what the violations agent announces, and who may receive it."""

from __future__ import annotations

import json
from typing import Any

from review.cases import WALL0

from ioc.domain.auth import allowed_channels, channel_of
from streams.agents.violations import encode, new_violation_message, parse_violation
from vision.catalogue import load_violation_catalogue
from vision.publish import violation_message
from vision.rules.base import Violation


def _message() -> dict[str, Any]:
    from review.cases import camera

    legal = load_violation_catalogue().resolve("red_light", "motorbike")
    assert legal is not None
    v = Violation(
        rule="red_light",
        camera_id="cam-x",
        track_id=3,
        vehicle_class="motorbike",
        time=2.0,
        evidence_from=0.5,
        evidence_to=3.5,
        where="approach",
        legal=legal,
        measured={},
    )
    return violation_message(
        v, "7a0c8f7e-3a64-5f55-9c1e-6f0b3c1d2e4f", WALL0, camera("cam-x"), [], True
    )


def test_violation_new_carries_ids_and_severity_only() -> None:
    v = parse_violation(encode(_message()))
    msg = json.loads(new_violation_message(v))
    assert msg["type"] == "violation.new"
    assert msg["event"] == {
        "event_id": "7a0c8f7e-3a64-5f55-9c1e-6f0b3c1d2e4f",
        "camera_id": "cam-x",
        "camera_name": "Ngã tư cam-x",
        "rule": "red_light",
        "vehicle_class": "motorbike",
        "time": "2026-01-01T00:00:00+00:00",
        "status": "pending",
        "fine_max_vnd": 6_000_000,
        "points": 4,
    }


def test_only_police_and_admin_receive_it() -> None:
    assert channel_of("violation.new") == "violations"
    assert "violations" in allowed_channels("police") and "violations" in allowed_channels("admin")
    assert "violations" not in allowed_channels("operator")
    assert "violations" not in allowed_channels("department")
