"""Submission validation, tracking codes and the topic message (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ioc.feedback.intake import (
    CODE_PATTERN,
    IntakeError,
    Limits,
    ReportMessage,
    new_message,
    new_tracking_code,
    validate_submission,
)

SERVICES = {"flooding", "noise"}
LIMITS = Limits(max_description=100)


def check(form: dict[str, str], photo: tuple[float, float] | None = None):  # type: ignore[no-untyped-def]
    return validate_submission(form, services=SERVICES, limits=LIMITS, photo_location=photo)


def test_codes_are_readable_and_unique() -> None:
    codes = {new_tracking_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE_PATTERN.match(c) for c in codes)
    assert not any(ch in c[3:] for c in codes for ch in "01OIL")


def test_given_location_wins_over_photo_and_address() -> None:
    sub = check(
        {"description": " Ngập ", "lat": "20.85", "long": "106.68", "address_string": "x"},
        (20.9, 106.7),
    )
    assert (sub.description, sub.lat, sub.lon, sub.location_source) == (
        "Ngập",
        20.85,
        106.68,
        "given",
    )


def test_photo_location_then_address() -> None:
    assert check({"description": "a"}, (20.9, 106.7)).location_source == "exif"
    sub = check({"description": "a", "address_string": "12 Tô Hiệu"})
    assert (sub.location_source, sub.lat, sub.address) == ("address", None, "12 Tô Hiệu")


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"lat": "20.8", "long": "106.6"}, "missing_description"),
        ({"description": "   ", "lat": "20.8", "long": "106.6"}, "missing_description"),
        ({"description": "a"}, "missing_location"),
        ({"description": "x" * 101, "lat": "20.8", "long": "106.6"}, "description_too_long"),
        (
            {"description": "a", "service_code": "fire", "lat": "20.8", "long": "106.6"},
            "unknown_service_code",
        ),
        ({"description": "a", "lat": "north", "long": "106.6"}, "invalid_location"),
        ({"description": "a", "lat": "20.8"}, "invalid_location"),
        ({"description": "a", "lat": "nan", "long": "106.6"}, "invalid_location"),
        ({"description": "a", "lat": "48.85", "long": "2.35"}, "location_outside_city"),
        ({"description": "a", "address_string": "x" * 301}, "address_too_long"),
        ({"description": "a", "address_string": "x", "email": "not-an-email"}, "invalid_contact"),
        ({"description": "a", "address_string": "x", "phone": "call me"}, "invalid_contact"),
    ],
)
def test_refusals_are_machine_readable(form: dict[str, str], code: str) -> None:
    with pytest.raises(IntakeError) as err:
        check(form)
    assert err.value.code == code


def test_message_round_trip_and_contact_key() -> None:
    sub = check(
        {
            "description": "Karaoke",
            "service_code": "noise",
            "address_string": "x",
            "email": "Lan@Example.VN",
            "lang": "en",
        }
    )
    msg = new_message(sub, now=datetime(2025, 1, 6, 8, tzinfo=UTC), source="web")
    again = ReportMessage.model_validate_json(msg.encode())
    assert again == msg and again.lang == "en" and again.service_code == "noise"
    assert sub.contact.throttle_key() == "email:lan@example.vn"
    assert (
        check(
            {"description": "a", "address_string": "x", "phone": "0912 345 678"}
        ).contact.throttle_key()
        == "phone:0912345678"
    )
