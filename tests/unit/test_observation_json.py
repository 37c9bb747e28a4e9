"""The fast JSON reading of payloads (orjson) gives exactly the standard library's values and
therefore the same reason codes, also where orjson alone would differ."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ioc.domain.catalogue import load_catalogue
from ioc.domain.observation import (
    EVENT_NAMESPACE,
    SensorInfo,
    ValidationContext,
    event_id_for,
    loads,
    parse_payload,
)

CTX = ValidationContext(
    catalogue=load_catalogue(),
    sensors={"hp-aq-1": SensorInfo("air_quality", "303")},
    now=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
    max_clock_skew=timedelta(minutes=5),
    max_age=timedelta(days=30),
)
BASE = '"sensor_id":"hp-aq-1","quantity":"pm25","unit":"ug/m3","time":"2026-11-23T13:55:00+07:00"'

PAYLOADS = [
    b'{"a":1,"a":2}',  # duplicate keys: the last wins
    b'{"v": 1e400}',  # orjson refuses, json gives inf
    b'{"v": NaN}',
    b'{"v": -Infinity}',
    b'{"v": 12345678901234567890123}',  # orjson would give a float
    b'{"v": -9223372036854775809}',
    b'{"v": 18446744073709551615}',
    b'{"v": 9223372036854775807}',
    b'{"v": 1.0000000000000001, "w": 5e-324, "x": -0.0}',
    b'{"s":"\\ud800"}',  # lone surrogate
    b'\xef\xbb\xbf{"a":1}',  # BOM
    '{"a":"\u00e9"}'.encode("utf-16"),
    b"[" * 1500 + b"]" * 1500,  # deeper than orjson's limit
    b'{"s":"\\u0000"}',
    b'  [1, {"a" : [true, null]} ]\n',
    '{"a": "\u1ea1"}',  # str input
    b'{"a":1',
    b"\xff{}",
    b"",
]


def outcome(fn: Any, payload: bytes | str) -> Any:
    try:
        value = fn(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return ("error", isinstance(exc, ValueError))  # decode_items: malformed_json
    return (type(value), repr(value))


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_loads_is_json_loads(payload: bytes | str) -> None:
    assert outcome(loads, payload) == outcome(json.loads, payload)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("NaN", "out_of_range"),
        ("Infinity", "out_of_range"),
        ("1e400", "out_of_range"),
        ("1" * 400, "out_of_range"),
        ("-9223372036854775809", "out_of_range"),
        ('"12"', "invalid_schema"),
        ("true", "invalid_schema"),
    ],
)
def test_reason_codes_of_odd_numbers_are_kept(value: str, reason: str) -> None:
    good, bad = parse_payload(f'{{{BASE},"value":{value}}}'.encode(), CTX)
    assert not good and [r.reason for r in bad] == [reason]


def test_a_huge_integer_is_kept_exactly_in_the_dead_letter_item() -> None:
    digits = "9" * 30
    _, bad = parse_payload(f'{{{BASE},"value":{digits}}}'.encode(), CTX)
    assert bad[0].item["value"] == int(digits)


def test_event_ids_are_still_uuid5() -> None:
    time = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    derived = event_id_for("hp-aq-1", "pm25", time)
    expected = uuid.uuid5(EVENT_NAMESPACE, f"hp-aq-1|pm25|{time.isoformat()}")
    assert derived == expected and hash(derived) == hash(expected)
    assert str(derived) == str(expected) and derived.version == 5
    assert derived.is_safe == expected.is_safe
