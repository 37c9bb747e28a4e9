"""Observations: parsing and validation of every accepted form, with machine-readable reasons.

Pure: no I/O. The HTTP endpoint, the MQTT bridge and the Faust agents all call
:func:`parse_payload`, so a reading is judged the same way whichever path it came by.

Native form (one object, a list, or ``{"observations": [...]}``)::

    {"sensor_id": "hp-aq-hongbang", "time": "2026-11-23T07:00:00+07:00",
     "quantity": "pm25", "value": 35.2, "unit": "ug/m3",
     "event_id": "5b0c…"  (optional: derived from sensor, quantity and time when absent),
     "quality": "good"    (optional: good | suspect | estimated)}

FIWARE NGSI-LD key-values entities (``AirQualityObserved`` …) are accepted too, see
:mod:`ioc.domain.ngsi`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from ioc.domain.catalogue import Catalogue

EVENT_NAMESPACE: Final = uuid.UUID("8f1d2a0e-5c7b-4c8e-9a51-3f0f6f3b1c11")
QUALITIES: Final = frozenset({"good", "suspect", "estimated"})
_UNKNOWN_SAFETY: Final = uuid.SafeUUID.unknown  # enum member lookups are not free
_LONG_DIGITS: Final = re.compile(rb"[0-9]{19}")  # may be an integer beyond 64 bits
_NUMBER: Final = (int, float)
NATIVE_FIELDS: Final = frozenset(
    {"sensor_id", "time", "quantity", "value", "unit", "quality", "event_id"}
)


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What validation needs to know of a registered sensor."""

    kind: str
    area_id: str | None


@dataclass(frozen=True, slots=True)
class Observation:
    """A validated reading in canonical units."""

    event_id: uuid.UUID
    sensor_id: str
    time: datetime
    quantity: str
    value: float
    unit: str
    quality: str
    area_id: str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one item was refused. ``reason`` is a stable code for machines."""

    index: int
    reason: str
    field: str | None
    message: str
    item: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "reason": self.reason,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ValidationContext:
    catalogue: Catalogue
    sensors: Mapping[str, SensorInfo]
    now: datetime
    max_clock_skew: timedelta
    max_age: timedelta
    max_items: int = 100_000


class PayloadError(ValueError):
    """The payload as a whole is unusable (not JSON, wrong shape, too many items)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_NAMESPACE_BYTES: Final = EVENT_NAMESPACE.bytes
# RFC 4122 variant and version-5 bits, as uuid.UUID(bytes=..., version=5) sets them.
_V5_CLEAR: Final = ~((0xC000 << 48) | (0xF000 << 64))
_V5_SET: Final = (0x8000 << 48) | (5 << 76)


def event_id_for(sensor_id: str, quantity: str, time: datetime) -> uuid.UUID:
    """Deterministic id for items sent without one, so a resend is still a duplicate.

    Exactly ``uuid.uuid5(EVENT_NAMESPACE, "sensor|quantity|iso-time")``, spelled out because it
    runs for every reading and ``uuid5`` re-imports hashlib and re-encodes the namespace per call.
    """
    name = f"{sensor_id}|{quantity}|{time.astimezone(UTC).isoformat()}".encode()
    digest = hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()
    return _uuid(int.from_bytes(digest[:16], "big") & _V5_CLEAR | _V5_SET)


def _uuid(value: int) -> uuid.UUID:
    """``uuid.UUID(int=value)`` for a value known to fit 128 bits, without ``__init__``'s
    argument parsing (a third of the cost of :func:`event_id_for`)."""
    out = object.__new__(uuid.UUID)
    object.__setattr__(out, "int", value)
    object.__setattr__(out, "is_safe", _UNKNOWN_SAFETY)
    return out


def parse_time(raw: Any) -> datetime:
    """ISO 8601 with a UTC offset, or epoch seconds. Naive times are refused (ambiguous)."""
    if isinstance(raw, bool):
        raise ValueError("time must be an ISO 8601 string or epoch seconds")
    if isinstance(raw, _NUMBER):
        if not math.isfinite(raw):
            raise ValueError("time is not finite")
        return datetime.fromtimestamp(raw, UTC)
    if not isinstance(raw, str):
        raise ValueError("time must be an ISO 8601 string or epoch seconds")
    parsed = datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        raise ValueError("time needs a UTC offset, e.g. 2026-11-23T07:00:00+07:00")
    return parsed.astimezone(UTC)


def loads(payload: bytes | str) -> Any:
    """Parse JSON exactly as :func:`json.loads` does, with orjson (several times faster).

    orjson parses what it accepts to the same values as the standard library, except integers
    outside 64 bits, which it turns into floats: a payload with a run of 19 or more digits
    (cheap to spot) is therefore parsed by :func:`json.loads`. What orjson refuses - ``NaN``/
    ``Infinity`` literals, ``1e400``, lone surrogates, a BOM, UTF-16/32 text, nesting deeper
    than 1024 - is parsed again by :func:`json.loads`. So every payload gets the standard
    library's result and reason codes: ``NaN`` is still ``out_of_range``, a 400-digit integer
    still ``out_of_range``, a broken body still ``malformed_json``; duplicate keys: last wins.
    """
    if _LONG_DIGITS.search(payload if isinstance(payload, bytes) else payload.encode()):
        return json.loads(payload)
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def decode_items(payload: bytes | str) -> list[Any]:
    """JSON text → list of raw items (one object, a list, or an ``observations`` batch)."""
    try:
        doc = loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("malformed_json", f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # e.g. "[[[[…" nested deeper than the interpreter allows
        raise PayloadError("malformed_json", "body is nested too deeply") from exc
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        batch = doc.get("observations")
        if batch is not None:
            if not isinstance(batch, list):
                raise PayloadError("invalid_schema", "'observations' must be a list")
            return batch
        return [doc]
    raise PayloadError("invalid_schema", "expected an object, a list or {'observations': [...]}")


def validate_item(index: int, item: Any, ctx: ValidationContext) -> Observation | Rejection:
    """Judge one native item."""

    def reject(reason: str, field: str | None, message: str) -> Rejection:
        return Rejection(index, reason, field, message, item)

    if not isinstance(item, dict):
        return reject("invalid_schema", None, "each observation must be a JSON object")
    if not NATIVE_FIELDS.issuperset(item):
        unknown = sorted(item.keys() - NATIVE_FIELDS)
        return reject("invalid_schema", unknown[0], f"unknown field(s): {unknown}")
    sensor_id = item.get("sensor_id")
    if not isinstance(sensor_id, str) or not sensor_id:
        return reject("invalid_schema", "sensor_id", "sensor_id must be a non-empty string")
    sensor = ctx.sensors.get(sensor_id)
    if sensor is None:
        return reject("unknown_sensor", "sensor_id", f"sensor {sensor_id!r} is not registered")
    qkey = item.get("quantity")
    if not isinstance(qkey, str):
        return reject("invalid_schema", "quantity", "quantity must be a string")
    quantity = ctx.catalogue.get(qkey)
    if quantity is None:
        return reject("unknown_quantity", "quantity", f"quantity {qkey!r} is not in the catalogue")
    raw_value = item.get("value")
    if isinstance(raw_value, bool) or not isinstance(raw_value, _NUMBER):
        return reject("invalid_schema", "value", "value must be a number")
    try:
        finite = math.isfinite(raw_value)
    except OverflowError:  # a JSON integer with hundreds of digits
        finite = False
    if not finite:
        return reject("out_of_range", "value", "value must be finite")
    unit = item.get("unit")
    if unit is not None and not isinstance(unit, str):
        return reject("invalid_schema", "unit", "unit must be a string")
    value = quantity.to_canonical(float(raw_value), unit)
    if value is None:
        return reject(
            "unit_mismatch",
            "unit",
            f"unit {unit!r} is not accepted for {qkey}; use one of {sorted(quantity.units)}",
        )
    if not quantity.min <= value <= quantity.max:
        return reject(
            "out_of_range",
            "value",
            f"{value:g} {quantity.unit} is outside [{quantity.min:g}, {quantity.max:g}] for {qkey}",
        )
    try:
        time = parse_time(item.get("time"))
    except (ValueError, OverflowError, OSError) as exc:
        return reject("bad_timestamp", "time", str(exc))
    if time > ctx.now + ctx.max_clock_skew:
        return reject("clock_skew", "time", f"time {time.isoformat()} is in the future")
    if time < ctx.now - ctx.max_age:
        return reject(
            "too_old", "time", f"time {time.isoformat()} is older than the accepted window"
        )
    quality = item.get("quality", "good")
    if not isinstance(quality, str) or quality not in QUALITIES:
        return reject("invalid_schema", "quality", f"quality must be one of {sorted(QUALITIES)}")
    raw_id = item.get("event_id")
    if raw_id is None:
        event_id = event_id_for(sensor_id, qkey, time)
    else:
        try:
            event_id = uuid.UUID(str(raw_id))
        except ValueError:
            return reject("invalid_schema", "event_id", "event_id must be a UUID")
    return Observation(
        event_id, sensor_id, time, qkey, value, quantity.unit, quality, sensor.area_id
    )


def validate_items(
    items: list[Any], ctx: ValidationContext
) -> tuple[list[Observation], list[Rejection]]:
    """Judge a list of items; NGSI-LD entities are expanded first. Never raises per item."""
    from ioc.domain.ngsi import ngsi_to_native  # ngsi imports this module

    if len(items) > ctx.max_items:
        raise PayloadError(
            "too_many_items", f"{len(items)} items; at most {ctx.max_items} per batch"
        )
    good: list[Observation] = []
    bad: list[Rejection] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and "type" in item and "id" in item and "sensor_id" not in item:
            # NGSI-LD entity (ioc.domain.ngsi.is_ngsi, inlined: it runs for every item)
            try:
                natives = ngsi_to_native(item)
            except (ValueError, TypeError, OverflowError, OSError) as exc:
                # OverflowError/OSError: absurd epoch times or intensities in the entity.
                bad.append(Rejection(index, "invalid_schema", None, str(exc), item))
                continue
        else:
            natives = [item]
        for native in natives:
            result = validate_item(index, native, ctx)
            if isinstance(result, Observation):
                good.append(result)
            else:
                bad.append(result)
    return good, bad


def parse_payload(
    payload: bytes | str, ctx: ValidationContext
) -> tuple[list[Observation], list[Rejection]]:
    """Decode and judge a whole payload. Raises :class:`PayloadError` only for the envelope."""
    return validate_items(decode_items(payload), ctx)
