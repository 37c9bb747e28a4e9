"""FIWARE NGSI-LD key-values entities → native observations, for the four supported types."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ioc.domain.catalogue import load_catalogue
from ioc.domain.ngsi import is_ngsi, ngsi_to_native
from ioc.domain.observation import SensorInfo, ValidationContext, parse_payload

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
CTX = ValidationContext(
    load_catalogue(),
    {"hp-1": SensorInfo("any", "303")},
    NOW,
    timedelta(minutes=5),
    timedelta(days=30),
)
WHEN = "2026-11-23T06:00:00Z"


def values(entity: dict[str, Any]) -> dict[str, tuple[float, str]]:
    good, bad = parse_payload(json.dumps(entity), CTX)
    assert bad == []
    return {o.quantity: (round(o.value, 6), o.unit) for o in good}


def test_air_quality_observed() -> None:
    entity = {
        "id": "urn:ngsi-ld:AirQualityObserved:hp-1:x",
        "type": "AirQualityObserved",
        "refDevice": "urn:ngsi-ld:Device:hp-1",
        "dateObserved": WHEN,
        "pm25": 35.2,
        "pm10": 50,
        "no2": 20,
        "so2": 5,
        "co": 400,
        "o3": 60,
        "temperature": 28.5,
        "relativeHumidity": 0.81,
        "windSpeed": 3.2,
        "precipitation": 1.5,
        "address": {"addressLocality": "Hai Phong"},
    }
    assert values(entity) == {
        "pm25": (35.2, "ug/m3"),
        "pm10": (50.0, "ug/m3"),
        "no2": (20.0, "ug/m3"),
        "so2": (5.0, "ug/m3"),
        "co": (400.0, "ug/m3"),
        "o3": (60.0, "ug/m3"),
        "temperature": (28.5, "degC"),
        "humidity": (81.0, "%"),
        "wind_speed": (3.2, "m/s"),
        "rainfall": (1.5, "mm"),
    }


def test_weather_observed_reads_pressure_too() -> None:
    entity = {
        "id": "urn:ngsi-ld:WeatherObserved:hp-1",
        "type": "WeatherObserved",
        "dateObserved": WHEN,
        "temperature": 30,
        "relativeHumidity": 0.5,
        "atmosphericPressure": 1008.5,
        "precipitation": 0,
        "windSpeed": 10,
    }
    assert values(entity) == {
        "temperature": (30.0, "degC"),
        "humidity": (50.0, "%"),
        "pressure": (1008.5, "hPa"),
        "rainfall": (0.0, "mm"),
        "wind_speed": (10.0, "m/s"),
    }


def test_noise_level_observed() -> None:
    entity = {
        "id": "urn:ngsi-ld:NoiseLevelObserved:hp-1",
        "type": "NoiseLevelObserved",
        "dateObservedFrom": "2026-11-23T05:45:00Z",
        "dateObservedTo": WHEN,
        "LAeq": 67.3,
    }
    good, _ = parse_payload(json.dumps(entity), CTX)
    assert [(o.quantity, o.value, o.unit, o.time) for o in good] == [
        ("noise", 67.3, "dBA", datetime(2026, 11, 23, 6, tzinfo=UTC))
    ]


def test_traffic_flow_intensity_becomes_an_hourly_rate() -> None:
    entity = {
        "id": "urn:ngsi-ld:TrafficFlowObserved:hp-1",
        "type": "TrafficFlowObserved",
        "refDevice": ["urn:ngsi-ld:Device:hp-1"],
        "dateObservedFrom": "2026-11-23T05:45:00Z",
        "dateObservedTo": WHEN,
        "intensity": 300,
        "occupancy": 0.25,
        "averageVehicleSpeed": 32.5,
    }
    assert values(entity) == {
        "traffic_flow": (1200.0, "veh/h"),
        "traffic_occupancy": (25.0, "%"),
        "traffic_speed": (32.5, "km/h"),
    }


def test_sensor_comes_from_ref_device_else_from_the_entity_id() -> None:
    base = {"type": "NoiseLevelObserved", "dateObserved": WHEN, "LAeq": 50}
    assert ngsi_to_native({**base, "id": "urn:ngsi-ld:Noise:hp-1"})[0]["sensor_id"] == "hp-1"
    assert (
        ngsi_to_native({**base, "id": "urn:x:y", "refDevice": {"object": "urn:d:hp-9"}})[0][
            "sensor_id"
        ]
        == "hp-9"
    )


def test_detection_needs_id_and_type_and_no_native_sensor_id() -> None:
    assert is_ngsi({"id": "a", "type": "WeatherObserved"})
    assert not is_ngsi({"id": "a", "type": "x", "sensor_id": "s"})
    assert not is_ngsi([1])


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        ({"id": "a", "type": "ParkingSpot", "dateObserved": WHEN}, "not supported"),
        ({"id": "a", "type": "NoiseLevelObserved", "LAeq": 50}, "dateObserved"),
        ({"id": "a", "type": "NoiseLevelObserved", "dateObserved": WHEN}, "carries none"),
        (
            {"id": "a", "type": "TrafficFlowObserved", "dateObservedTo": WHEN, "intensity": 5},
            "dateObservedFrom",
        ),
        (
            {
                "id": "a",
                "type": "TrafficFlowObserved",
                "dateObservedFrom": WHEN,
                "dateObservedTo": WHEN,
                "intensity": 5,
            },
            "after",
        ),
    ],
)
def test_unusable_entities_are_refused_with_a_reason(entity: dict[str, Any], message: str) -> None:
    good, bad = parse_payload(json.dumps(entity), CTX)
    assert good == [] and [b.reason for b in bad] == ["invalid_schema"]
    assert message in bad[0].message


def test_each_reading_of_an_entity_is_judged_on_its_own() -> None:
    entity = {
        "id": "urn:ngsi-ld:AirQualityObserved:hp-1",
        "type": "AirQualityObserved",
        "dateObserved": WHEN,
        "pm25": -3,
        "pm10": 40,
    }
    good, bad = parse_payload(json.dumps(entity), CTX)
    assert [o.quantity for o in good] == ["pm10"]
    assert [(b.index, b.reason, b.field) for b in bad] == [(0, "out_of_range", "value")]
