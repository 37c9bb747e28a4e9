"""Validation of observations: every reason code, unit conversion, ids, and hostile input
that must be refused rather than crash the stream (huge numbers, deep nesting, wrong types)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ioc.domain.catalogue import load_catalogue
from ioc.domain.observation import (
    Observation,
    PayloadError,
    Rejection,
    SensorInfo,
    ValidationContext,
    event_id_for,
    parse_payload,
    parse_time,
)
from streams.judge import judge_message

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
CTX = ValidationContext(
    catalogue=load_catalogue(),
    sensors={"hp-aq-1": SensorInfo("air_quality", "303"), "hp-x": SensorInfo("misc", None)},
    now=NOW,
    max_clock_skew=timedelta(minutes=5),
    max_age=timedelta(days=30),
    max_items=10,
)


def item(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sensor_id": "hp-aq-1",
        "quantity": "pm25",
        "value": 35.2,
        "unit": "ug/m3",
        "time": "2026-11-23T13:55:00+07:00",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def judge(payload: Any) -> tuple[list[Observation], list[Rejection]]:
    return parse_payload(json.dumps(payload), CTX)


def reason(payload_item: Any) -> str:
    good, bad = judge([payload_item])
    assert not good and len(bad) == 1, (good, bad)
    return bad[0].reason


def test_a_valid_reading_is_normalised_to_utc_and_canonical_units() -> None:
    good, bad = judge(item(value=0.0352, unit="mg/m3"))
    assert bad == []
    [obs] = good
    assert obs.time == datetime(2026, 11, 23, 6, 55, tzinfo=UTC)
    assert obs.value == pytest.approx(35.2) and obs.unit == "ug/m3"
    assert obs.area_id == "303" and obs.quality == "good"
    assert obs.event_id == event_id_for("hp-aq-1", "pm25", obs.time)


def test_kelvin_has_an_offset_and_missing_unit_means_canonical() -> None:
    [obs] = judge(item(quantity="temperature", value=300.15, unit="K"))[0]
    assert obs.value == pytest.approx(27.0)
    [obs] = judge(item(unit=None))[0]
    assert obs.value == 35.2


def test_epoch_seconds_and_z_suffix_are_accepted() -> None:
    epoch = NOW.timestamp() - 60
    assert judge(item(time=epoch))[0][0].time == NOW - timedelta(seconds=60)
    assert parse_time("2026-11-23T06:00:00Z") == datetime(2026, 11, 23, 6, tzinfo=UTC)


def test_an_explicit_event_id_is_kept_and_the_derived_one_is_stable() -> None:
    eid = uuid.uuid4()
    assert judge(item(event_id=str(eid)))[0][0].event_id == eid
    first, second = judge([item(), item()])[0]
    assert first.event_id == second.event_id


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sensor_id": "hp-unknown"}, "unknown_sensor"),
        ({"quantity": "radon"}, "unknown_quantity"),
        ({"unit": "ppm"}, "unit_mismatch"),
        ({"value": -1}, "out_of_range"),
        ({"value": 1001}, "out_of_range"),
        ({"time": "yesterday"}, "bad_timestamp"),
        ({"time": "2026-11-23T07:00:00"}, "bad_timestamp"),  # naive: ambiguous
        ({"time": True}, "bad_timestamp"),
        ({"time": 1e20}, "bad_timestamp"),
        ({"time": "2026-11-23T07:06:00+00:00"}, "clock_skew"),
        ({"time": "2026-10-01T00:00:00+00:00"}, "too_old"),
        ({"sensor_id": ""}, "invalid_schema"),
        ({"quantity": 5}, "invalid_schema"),
        ({"value": "35"}, "invalid_schema"),
        ({"value": True}, "invalid_schema"),
        ({"unit": 3}, "invalid_schema"),
        ({"quality": "great"}, "invalid_schema"),
        ({"quality": []}, "invalid_schema"),
        ({"event_id": "not-a-uuid"}, "invalid_schema"),
        ({"colour": "red"}, "invalid_schema"),
    ],
)
def test_every_item_reason_code(changes: dict[str, Any], expected: str) -> None:
    assert reason(item(**changes)) == expected


def test_non_finite_and_absurdly_large_values_are_out_of_range() -> None:
    for number in ("NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400):
        raw = json.dumps(item(value=0)).replace('"value": 0', f'"value": {number}')
        _good, bad = parse_payload(raw, CTX)
        assert [b.reason for b in bad] == ["out_of_range"], number


def test_an_item_that_is_not_an_object_is_invalid_schema() -> None:
    assert reason(42) == "invalid_schema"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe\x00", "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (b"42", "invalid_schema"),
        (b'{"observations": {"a": 1}}', "invalid_schema"),
        (json.dumps([item()] * 11).encode(), "too_many_items"),
    ],
)
def test_whole_payload_reason_codes(payload: bytes, expected: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(payload, CTX)
    assert caught.value.reason == expected


def test_the_three_envelopes_are_equivalent() -> None:
    one = judge(item())[0]
    assert judge([item()])[0] == one
    assert judge({"observations": [item()]})[0] == one


def test_valid_and_invalid_items_of_one_batch_are_judged_separately() -> None:
    good, bad = judge([item(), item(value=-5), item(sensor_id="nope")])
    assert len(good) == 1
    assert [(b.index, b.reason) for b in bad] == [(1, "out_of_range"), (2, "unknown_sensor")]
    assert bad[0].as_dict()["field"] == "value"


def test_a_sensor_without_area_is_valid() -> None:
    [obs] = judge(item(sensor_id="hp-x"))[0]
    assert obs.area_id is None


def test_judge_message_dead_letters_items_and_whole_messages_with_stable_keys() -> None:
    payload = json.dumps({"source_id": 1, "observations": [item(), item(value=-1)]})
    judged = judge_message("t", 2, 7, payload.encode(), [("ioc-source", b"http")], CTX)
    assert len(judged.observations) == 1
    [letter] = judged.dead_letters
    assert (letter.dedup_key, letter.source, letter.reason) == ("t:2:7:1", "http", "out_of_range")
    assert json.loads(letter.payload)["value"] == -1
    broken = judge_message("t", 0, 3, b"\x00oops", None, CTX)
    [letter] = broken.dead_letters
    assert (letter.dedup_key, letter.source) == ("t:0:3:*", "kafka")
    assert letter.reason == "malformed_json"
    assert letter.payload == "\x00oops"  # kept as sent; the sink replaces NUL when storing


def test_derived_event_ids_are_uuid5_of_sensor_quantity_and_utc_time() -> None:
    from ioc.domain.observation import EVENT_NAMESPACE

    local = datetime(2026, 11, 23, 14, 0, 0, 123456, tzinfo=UTC).astimezone(
        timezone(timedelta(hours=7))
    )
    expected = uuid.uuid5(EVENT_NAMESPACE, "hp-aq-1|pm25|2026-11-23T14:00:00.123456+00:00")
    assert event_id_for("hp-aq-1", "pm25", local) == expected


def test_observations_messages_carry_every_reading_once_grouped_by_sensor_partition() -> None:
    from streams.records import MAX_READINGS_PER_MESSAGE, observations_messages, reading_doc
    from streams.topics import partition_for

    good, _ = judge(
        [
            item(sensor_id=s, time=(NOW - timedelta(seconds=i)).isoformat())
            for i, s in enumerate(["hp-aq-1", "hp-x"] * 5)
        ]
    )
    good += judge(item(sensor_id="hp-aq-1", value=1e-5))[0]
    messages = observations_messages(good * 200, partitions=4)
    decoded = [(p, r) for p, body in messages for r in json.loads(body)["readings"]]
    assert all(
        len(json.loads(body)["readings"]) <= MAX_READINGS_PER_MESSAGE for _, body in messages
    )
    assert sorted(json.dumps(r, sort_keys=True) for _, r in decoded) == sorted(
        json.dumps(reading_doc(o), sort_keys=True) for o in good * 200
    )
    assert all(p == partition_for(r["sensor_id"], 4) for p, r in decoded)
