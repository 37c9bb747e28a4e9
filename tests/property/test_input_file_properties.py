"""Properties of the other parsers of external input: camera configs (``vision/config.py``),
replay rows of the real data sets (``ioc/replay/rows.py``), Open311 / citizen submissions
(``ioc/feedback/intake.py``) and the MQTT bridge's topic/payload mapping
(``ioc/mqtt_bridge.py``). Only the documented error may escape; valid input round-trips."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile import json_values
from hypothesis import given
from hypothesis import strategies as st

from ioc.mqtt_bridge import as_bytes, kafka_headers
from ioc.replay import rows
from streams.judge import source_of
from vision.config import CameraConfigError, parse_camera

CAMERAS = sorted((Path(__file__).resolve().parents[2] / "vision" / "cameras").glob("*.yaml"))
SHIPPED = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in CAMERAS]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    for step in path[:-1]:
        doc = doc[step]
    if delete and isinstance(doc, dict):
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


@pytest.mark.parametrize("raw", SHIPPED, ids=[p.stem for p in CAMERAS])
def test_shipped_camera_configs_round_trip(raw: dict[str, Any]) -> None:
    config = parse_camera(raw, Path("x.yaml"))
    again = parse_camera(config.model_dump(mode="json", exclude_unset=True), Path("x.yaml"))
    assert again == config


@given(st.data())
def test_mutated_camera_configs_are_valid_or_refused_with_named_fields(data: st.DataObject) -> None:
    raw = copy.deepcopy(data.draw(st.sampled_from(SHIPPED)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(raw)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        _set(raw, path, data.draw(json_values(6)), data.draw(st.booleans()))
    try:
        parse_camera(raw, Path("cams.yaml"))
    except CameraConfigError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)
        assert "cams.yaml" in str(exc)


@given(json_values())
def test_any_document_is_a_camera_or_a_camera_config_error(doc: Any) -> None:
    try:
        parse_camera(doc, Path("cams.yaml"))
    except CameraConfigError as exc:
        assert exc.problems


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=24)
NUMBERISH = st.one_of(
    TEXT,
    st.sampled_from(["", "NA", "-999", "nan", "inf", "1e400", " 12.5 ", "0"]),
    st.floats(allow_nan=True).map(str),
)
PARSERS = {
    "hanoi": (rows.parse_hanoi_row, ["Date (LT)", "Raw Conc.", "QC Name"]),
    "beijing": (
        rows.parse_beijing_air_row,
        ["year", "month", "day", "hour", "PM2.5", "PM10", "SO2", "NO2", "CO", "O3"],
    ),
    "beijing-weather": (
        rows.parse_beijing_weather_row,
        ["year", "month", "day", "hour", "TEMP", "PRES", "DEWP", "RAIN", "WSPM"],
    ),
    "i94": (rows.parse_i94_row, ["date_time", "traffic_volume"]),
    "fremont": (rows.parse_fremont_row, ["Date", "Fremont Bridge Total"]),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.data())
def test_replay_rows_parse_or_raise_value_error(name: str, data: st.DataObject) -> None:
    parse, columns = PARSERS[name]
    row = {c: data.draw(NUMBERISH) for c in columns if data.draw(st.integers(0, 9)) > 0}
    try:
        parsed = parse(row)
    except (ValueError, KeyError):  # a malformed or incomplete data row: skipped and counted
        return
    assert parsed.data_time.utcoffset() is not None
    for sample in parsed.samples:
        assert math.isfinite(sample.value)


@given(
    st.integers(2000, 2030),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(1, 12),
    st.sampled_from(["AM", "PM"]),
    st.floats(0, 900, allow_nan=False),
)
def test_hanoi_rows_round_trip(
    year: int, month: int, day: int, hour: int, half: str, value: float
) -> None:
    row = {
        "Date (LT)": f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:00 {half}",
        "Raw Conc.": repr(value),
        "QC Name": "Valid",
    }
    parsed = rows.parse_hanoi_row(row)
    local = parsed.data_time.astimezone(rows.HANOI_TZ)
    assert (local.year, local.month, local.day) == (year, month, day)
    assert local.hour == hour % 12 + (12 if half == "PM" else 0)
    assert [(s.quantity, s.value) for s in parsed.samples] == [("pm25", value)]


@given(
    st.text(max_size=80),
    st.one_of(st.binary(max_size=50), st.text(max_size=50), st.none(), st.integers()),
)
def test_mqtt_topic_and_payload_mapping(topic: str, payload: Any) -> None:
    headers = kafka_headers(topic)
    assert source_of(headers) == "mqtt"
    assert dict(headers)["ioc-mqtt-topic"].decode() == topic  # the topic survives unchanged
    body = as_bytes(payload)
    assert isinstance(body, bytes)
    if isinstance(payload, bytes):
        assert body == payload


try:
    from ioc.feedback.intake import IntakeError, Limits, validate_submission
except ImportError:  # the feedback intake is not there yet
    validate_submission = None  # type: ignore[assignment]

INTAKE_CODES = frozenset(
    {
        "missing_description",
        "description_too_long",
        "unknown_service_code",
        "invalid_location",
        "missing_location",
        "location_outside_city",
        "invalid_contact",
        "address_too_long",
    }
)
FORM_FIELDS = [
    "description",
    "service_code",
    "lat",
    "long",
    "lon",
    "address_string",
    "email",
    "phone",
    "first_name",
    "last_name",
    "device_id",
    "media_url",
]


@pytest.mark.skipif(validate_submission is None, reason="no Open311 intake yet")
@given(st.dictionaries(st.sampled_from(FORM_FIELDS), TEXT | NUMBERISH, max_size=8))
def test_open311_submissions_are_accepted_or_refused_with_a_code(form: dict[str, str]) -> None:
    try:
        sub = validate_submission(form, services={"flooding", "lighting"}, limits=Limits())
    except IntakeError as exc:
        assert exc.code in INTAKE_CODES, exc.code
        assert exc.field in FORM_FIELDS
        return
    assert sub is not None


@pytest.mark.skipif(validate_submission is None, reason="no Open311 intake yet")
@given(
    st.text(min_size=1, max_size=200).filter(lambda s: s.strip() != ""),
    st.floats(20.7, 20.95),
    st.floats(106.5, 106.8),
)
def test_open311_valid_submission_round_trips(description: str, lat: float, lon: float) -> None:
    form = {
        "description": description,
        "lat": repr(lat),
        "long": repr(lon),
        "service_code": "flooding",
    }
    sub = validate_submission(form, services={"flooding"}, limits=Limits())
    assert (sub.lat, sub.lon) == pytest.approx((lat, lon))
