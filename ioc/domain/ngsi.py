"""FIWARE Smart Data Models (NGSI-LD key-values) → native observations.

Supported entity types and the attributes read (canonical quantity ← attribute):

- ``AirQualityObserved``: pm25, pm10, no2, so2, co, o3 (µg/m³), temperature (°C),
  relativeHumidity (0–1), precipitation (mm), windSpeed (m/s).
- ``WeatherObserved``: temperature, relativeHumidity (0–1), atmosphericPressure (hPa),
  precipitation (mm), windSpeed (m/s).
- ``NoiseLevelObserved``: LAeq (dB(A)).
- ``TrafficFlowObserved``: intensity (vehicles over dateObservedFrom…To, turned into an
  hourly rate), occupancy (0–1), averageVehicleSpeed (km/h).

The sensor is ``refDevice``'s last URN segment (``urn:ngsi-ld:Device:hp-aq-01`` →
``hp-aq-01``), else the entity id's. The time is ``dateObserved`` or ``dateObservedTo``.
"""

from __future__ import annotations

from typing import Any, Final

from ioc.domain.observation import parse_time

_AIR: Final = {
    "pm25": ("pm25", "ug/m3"),
    "pm10": ("pm10", "ug/m3"),
    "no2": ("no2", "ug/m3"),
    "so2": ("so2", "ug/m3"),
    "co": ("co", "ug/m3"),
    "o3": ("o3", "ug/m3"),
}
_WEATHER: Final = {
    "temperature": ("temperature", "degC"),
    "relativeHumidity": ("humidity", "ratio"),
    "atmosphericPressure": ("pressure", "hPa"),
    "precipitation": ("rainfall", "mm"),
    "windSpeed": ("wind_speed", "m/s"),
}
MAPPINGS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "AirQualityObserved": {
        **_AIR,
        **{k: v for k, v in _WEATHER.items() if k != "atmosphericPressure"},
    },
    "WeatherObserved": _WEATHER,
    "NoiseLevelObserved": {"LAeq": ("noise", "dBA")},
    "TrafficFlowObserved": {
        "occupancy": ("traffic_occupancy", "ratio"),
        "averageVehicleSpeed": ("traffic_speed", "km/h"),
    },
}


def is_ngsi(item: Any) -> bool:
    """An NGSI-LD entity has ``id`` and ``type`` and no native ``sensor_id``."""
    return isinstance(item, dict) and "type" in item and "id" in item and "sensor_id" not in item


def _last_segment(urn: Any) -> str | None:
    if isinstance(urn, list) and urn:
        urn = urn[0]
    if isinstance(urn, dict):  # NGSI-LD normalised Relationship
        urn = urn.get("object")
    if isinstance(urn, str) and urn:
        return urn.rsplit(":", 1)[-1]
    return None


def ngsi_to_native(entity: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand one entity into native items; raises ``ValueError`` with the reason."""
    etype = entity.get("type")
    mapping = MAPPINGS.get(etype) if isinstance(etype, str) else None
    if mapping is None:
        raise ValueError(f"NGSI-LD type {etype!r} is not supported; use one of {sorted(MAPPINGS)}")
    sensor_id = _last_segment(entity.get("refDevice")) or _last_segment(entity.get("id"))
    if not sensor_id:
        raise ValueError("entity has no usable id or refDevice")
    time = entity.get("dateObserved") or entity.get("dateObservedTo")
    if time is None:
        raise ValueError("entity has no dateObserved / dateObservedTo")
    out = [
        {
            "sensor_id": sensor_id,
            "time": time,
            "quantity": quantity,
            "value": entity[attr],
            "unit": unit,
        }
        for attr, (quantity, unit) in mapping.items()
        if attr in entity
    ]
    if etype == "TrafficFlowObserved" and "intensity" in entity:
        out.append(_traffic_rate(entity, sensor_id))
    if not out:
        raise ValueError(f"{etype} entity carries none of {sorted(mapping)}")
    return out


def _traffic_rate(entity: dict[str, Any], sensor_id: str) -> dict[str, Any]:
    """``intensity`` counts vehicles over the observation period; store vehicles per hour."""
    start, end = entity.get("dateObservedFrom"), entity.get("dateObservedTo")
    intensity = entity["intensity"]
    if start is None or end is None:
        raise ValueError("TrafficFlowObserved.intensity needs dateObservedFrom and dateObservedTo")
    seconds = (parse_time(end) - parse_time(start)).total_seconds()
    if seconds <= 0:
        raise ValueError("dateObservedTo must be after dateObservedFrom")
    if isinstance(intensity, bool) or not isinstance(intensity, int | float):
        raise ValueError("intensity must be a number")
    return {
        "sensor_id": sensor_id,
        "time": end,
        "quantity": "traffic_flow",
        "value": intensity * 3600.0 / seconds,
        "unit": "veh/h",
    }
