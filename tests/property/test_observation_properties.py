"""Properties of the observation parsers (native JSON and NGSI-LD key-values), on hostile
and on valid generated input: nothing but the documented error escapes, every refusal has a
stable, documented reason code, valid readings round-trip, and the verdict does not depend
on batching or on being judged twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hostile import json_values
from hypothesis import given
from hypothesis import strategies as st

from ioc.domain.catalogue import load_catalogue
from ioc.domain.ngsi import ngsi_to_native
from ioc.domain.observation import (
    Observation,
    PayloadError,
    SensorInfo,
    ValidationContext,
    decode_items,
    event_id_for,
    parse_payload,
    validate_items,
)
from streams.judge import judge_message

ITEM_REASONS = frozenset(
    {
        "invalid_schema",
        "unknown_sensor",
        "unknown_quantity",
        "out_of_range",
        "unit_mismatch",
        "bad_timestamp",
        "clock_skew",
        "too_old",
    }
)
PAYLOAD_REASONS = frozenset({"malformed_json", "invalid_schema", "too_many_items"})
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()
SENSORS = {"hp-aq-1": SensorInfo("air_quality", "303"), "hp-wx-1": SensorInfo("weather", None)}
CTX = ValidationContext(
    catalogue=CATALOGUE,
    sensors=SENSORS,
    now=NOW,
    max_clock_skew=timedelta(minutes=5),
    max_age=timedelta(days=30),
    max_items=50,
)
# Quantities with a native unit, and a value inside their valid range.
QUANTITIES = sorted(
    (key, q.unit, q.min, q.max)
    for key in ("pm25", "pm10", "no2", "temperature", "wind_speed", "noise")
    if (q := CATALOGUE.get(key)) is not None
)


def judge(payload: bytes | str) -> tuple[list[Observation], list[Any]]:
    try:
        return parse_payload(payload, CTX)
    except PayloadError as exc:
        assert exc.reason in PAYLOAD_REASONS
        raise


@st.composite
def valid_items(draw: st.DrawFn) -> dict[str, Any]:
    key, unit, low, high = draw(st.sampled_from(QUANTITIES))
    offset = draw(st.integers(min_value=-12, max_value=14))
    when = NOW - timedelta(seconds=draw(st.integers(min_value=0, max_value=29 * 86400)))
    item: dict[str, Any] = {
        "sensor_id": draw(st.sampled_from(sorted(SENSORS))),
        "quantity": key,
        "value": draw(st.floats(min_value=low, max_value=high, allow_nan=False)),
        "unit": unit,
        "time": when.astimezone(timezone(timedelta(hours=offset))).isoformat(),
    }
    if draw(st.booleans()):
        item["event_id"] = str(draw(st.uuids()))
    if draw(st.booleans()):
        item["quality"] = draw(st.sampled_from(["good", "suspect", "estimated"]))
    return item


@given(st.binary(max_size=300))
def test_any_bytes_decode_to_items_or_a_payload_error(payload: bytes) -> None:
    try:
        items = decode_items(payload)
    except PayloadError as exc:
        assert exc.reason in PAYLOAD_REASONS
        return
    assert isinstance(items, list)


@given(json_values())
def test_any_json_is_judged_without_raising_anything_undocumented(doc: Any) -> None:
    payload = json.dumps(doc)
    try:
        good, bad = judge(payload)
    except PayloadError:
        return
    items = decode_items(payload)
    for rejection in bad:
        assert rejection.reason in ITEM_REASONS, rejection
        assert 0 <= rejection.index < len(items)
        assert json.dumps(rejection.as_dict(), default=str)  # the API can always answer it
    assert all(isinstance(o, Observation) for o in good)


@given(
    valid_items(),
    st.sampled_from(
        sorted({"sensor_id", "quantity", "value", "unit", "time", "event_id", "quality", "extra"})
    ),
    json_values(4),
)
def test_one_bad_field_is_refused_with_a_documented_reason(
    item: dict[str, Any], field: str, junk: Any
) -> None:
    item[field] = junk
    good, bad = judge(json.dumps(item))
    assert len(good) + len(bad) == 1
    if bad:
        assert bad[0].reason in ITEM_REASONS
        assert (
            bad[0].field in (field, None)
            or field == "extra"
            or bad[0].reason
            in (
                "out_of_range",
                "unit_mismatch",
            )
        )


@given(valid_items())
def test_valid_readings_round_trip(item: dict[str, Any]) -> None:
    (obs,), bad = judge(json.dumps(item))
    assert bad == []
    assert obs.sensor_id == item["sensor_id"] and obs.quantity == item["quantity"]
    assert obs.time == datetime.fromisoformat(item["time"]).astimezone(UTC)
    assert obs.value == item["value"] and obs.unit == item["unit"]
    assert obs.quality == item.get("quality", "good")
    assert obs.area_id == SENSORS[item["sensor_id"]].area_id
    expected_id = item.get("event_id") or event_id_for(
        item["sensor_id"], item["quantity"], obs.time
    )
    assert obs.event_id == uuid.UUID(str(expected_id))
    # What the stream stores can be sent again and is judged the same (idempotent resend).
    again = {**item, "time": obs.time.isoformat(), "event_id": str(obs.event_id)}
    assert judge(json.dumps(again))[0] == [obs]


@given(st.lists(valid_items() | json_values(4), max_size=12))
def test_verdict_does_not_depend_on_batching_or_repetition(items: list[Any]) -> None:
    batch = json.dumps({"observations": items})
    good, bad = judge(batch)
    assert (good, [(r.index, r.reason) for r in bad]) == (
        lambda g, b: (g, [(r.index, r.reason) for r in b])
    )(*judge(batch))
    one_by_one: list[Observation] = []
    for single in items:
        try:
            one_by_one += validate_items([single], CTX)[0]
        except PayloadError:
            pass
    assert good == one_by_one


@given(st.binary(max_size=200), st.text(max_size=30))
def test_the_stream_judge_never_raises_and_keeps_everything(value: bytes, topic: str) -> None:
    """MQTT / Kafka messages: whatever arrives becomes readings or dead letters with reasons."""
    headers = [("ioc-source", b"mqtt"), ("ioc-mqtt-topic", topic.encode())]
    judged = judge_message("ioc.observations.raw", 0, 7, value, headers, CTX)
    for dead in judged.dead_letters:
        assert dead.reason in ITEM_REASONS | PAYLOAD_REASONS, dead
        assert dead.source == "mqtt"
    assert judged.observations or judged.dead_letters or decode_items(value) == []


NGSI_TYPES = ["AirQualityObserved", "WeatherObserved", "NoiseLevelObserved", "TrafficFlowObserved"]
NGSI_ATTRS = [
    "pm25",
    "pm10",
    "no2",
    "temperature",
    "relativeHumidity",
    "windSpeed",
    "LAeq",
    "intensity",
    "occupancy",
    "averageVehicleSpeed",
    "atmosphericPressure",
]


@st.composite
def ngsi_entities(draw: st.DrawFn) -> dict[str, Any]:
    etype = draw(st.sampled_from(NGSI_TYPES))
    sensor = draw(st.sampled_from([*sorted(SENSORS), "unknown"]))
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:{etype}:{sensor}:1", "type": etype}
    if draw(st.booleans()):
        entity["refDevice"] = draw(st.sampled_from([f"urn:ngsi-ld:Device:{sensor}", sensor, 7, ""]))
    when = NOW - timedelta(minutes=draw(st.integers(min_value=-10, max_value=60)))
    for name in draw(
        st.sets(st.sampled_from(["dateObserved", "dateObservedFrom", "dateObservedTo"]))
    ):
        entity[name] = draw(
            st.sampled_from(
                [when.isoformat(), (when - timedelta(minutes=15)).isoformat(), "yesterday", 0]
            )
        )
    for attr in draw(st.sets(st.sampled_from(NGSI_ATTRS), max_size=4)):
        entity[attr] = draw(st.floats(min_value=-10, max_value=500) | json_values(3))
    return entity


@given(ngsi_entities())
def test_ngsi_entities_are_judged_without_raising(entity: dict[str, Any]) -> None:
    good, bad = judge(json.dumps(entity))
    for rejection in bad:
        assert rejection.reason in ITEM_REASONS
        assert rejection.index == 0
    for obs in good:
        assert obs.sensor_id in SENSORS


@given(
    st.sampled_from(["pm25", "pm10", "no2"]), st.floats(min_value=0, max_value=900, allow_nan=False)
)
def test_ngsi_air_quality_round_trips_to_the_native_form(attr: str, value: float) -> None:
    entity = {
        "id": "urn:ngsi-ld:AirQualityObserved:hp-aq-1:x",
        "type": "AirQualityObserved",
        "refDevice": "urn:ngsi-ld:Device:hp-aq-1",
        "dateObserved": NOW.isoformat(),
        attr: value,
    }
    (native,) = ngsi_to_native(entity)
    assert (native["sensor_id"], native["quantity"], native["value"]) == ("hp-aq-1", attr, value)
    from_ngsi, bad_ngsi = judge(json.dumps(entity))
    from_native, bad_native = judge(json.dumps(native))
    assert [(r.reason) for r in bad_ngsi] == [(r.reason) for r in bad_native]
    assert [(o.sensor_id, o.quantity, o.value, o.time) for o in from_ngsi] == [
        (o.sensor_id, o.quantity, o.value, o.time) for o in from_native
    ]
