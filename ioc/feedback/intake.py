"""A citizen's submission: validation, tracking code and token, the Kafka message (pure).

The web server (citizen page, Open311 ``POST requests``) validates a submission with
:func:`validate_submission` *before* anything is stored or sent, so a bad one is refused
with a machine-readable code and leaves nothing behind; a valid one becomes a
:class:`ReportMessage` on the ``feedback.reports`` topic, which the ``feedback`` agent
validates again (the topic is also open to other producers) and stores idempotently by
``report_id``.

Example::

    sub = validate_submission({"description": "Ngập sâu", "lat": "20.86", "long": "106.68"},
                              services=cat.categories, limits=Limits())
    msg = new_message(sub, now=datetime.now(UTC), source="web")
    msg.report_id        # -> "HP-7K3M-9QX2" (tracking code = Open311 service_request_id)
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud on the phone
CODE_PATTERN = re.compile(r"^HP-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
_PHONE = re.compile(r"^\+?[0-9 .()-]{6,20}$")


class IntakeError(ValueError):
    """A refused submission; ``code`` is machine-readable, ``field`` names the input."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of a submission (from settings)."""

    max_description: int = 4000
    max_address: int = 300
    # The city's area: a pin or photo location outside it is refused (Hai Phong + margin).
    bbox: tuple[float, float, float, float] = (19.9, 106.3, 21.2, 107.9)


class Contact(BaseModel):
    """Personal data: stored apart, never logged, never in public answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=32)
    device_id: str = Field(default="", max_length=200)

    @property
    def empty(self) -> bool:
        return not (self.first_name or self.last_name or self.email or self.phone)

    def throttle_key(self) -> str | None:
        """What identifies the person for flood control (normalised e-mail or phone)."""
        if self.email:
            return "email:" + self.email.strip().lower()
        if self.phone:
            return "phone:" + re.sub(r"\D", "", self.phone)
        return None


class MediaRef(BaseModel):
    """A stored photo (content-addressed by its SHA-256, EXIF already stripped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str = Field(pattern=r"^image/(jpeg|png|webp)$")
    bytes: int = Field(ge=1)


class ReportMessage(BaseModel):
    """One message of the ``feedback.reports`` topic (schema 1); see docs/FEEDBACK.md."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    schema_version: Literal[1] = Field(default=1, alias="schema")
    report_id: str = Field(pattern=CODE_PATTERN.pattern)
    token: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    received_at: AwareDatetime
    source: Literal["web", "open311"] = "web"
    client: str | None = Field(default=None, max_length=200)
    service_code: str | None = Field(default=None, max_length=64)
    description: str = Field(min_length=1, max_length=20_000)
    lang: Literal["vi", "en"] = "vi"
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    location_source: Literal["given", "exif", "address"] | None = None
    address: str = Field(default="", max_length=1000)
    contact: Contact = Field(default_factory=Contact)
    media: tuple[MediaRef, ...] = Field(default=(), max_length=10)

    def encode(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Submission:
    """A validated submission, before it gets its code."""

    description: str
    service_code: str | None
    lat: float | None
    lon: float | None
    location_source: Literal["given", "exif", "address"] | None
    address: str
    contact: Contact
    lang: Literal["vi", "en"]


def new_tracking_code() -> str:
    """``HP-XXXX-XXXX``: 8 symbols of a 31-letter alphabet (~40 bits), easy to read aloud."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"HP-{chars[:4]}-{chars[4:]}"


def new_token() -> str:
    return secrets.token_urlsafe(18)


def _text(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _coordinate(
    form: Mapping[str, str], names: tuple[str, ...], low: float, high: float
) -> float | None:
    raw = next((form[n].strip() for n in names if (form.get(n) or "").strip()), "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise IntakeError("invalid_location", names[0], f"{names[0]} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise IntakeError("invalid_location", names[0], f"{names[0]} is out of range")
    return value


def validate_submission(
    form: Mapping[str, str],
    *,
    services: Collection[str],
    limits: Limits,
    photo_location: tuple[float, float] | None = None,
) -> Submission:
    """Check a submission (Open311 field names); raise :class:`IntakeError` on the first
    problem. Location: ``lat``/``long`` (or ``lon``), else the photo's EXIF position, else
    ``address_string``; one of them is required. ``photo_location`` is (lat, lon)."""
    description = _text(form, "description")
    if not description:
        raise IntakeError("missing_description", "description", "description is required")
    if len(description) > limits.max_description:
        raise IntakeError(
            "description_too_long",
            "description",
            f"description exceeds {limits.max_description} characters",
        )
    code = _text(form, "service_code") or None
    if code is not None and code not in services:
        raise IntakeError("unknown_service_code", "service_code", f"unknown service_code {code!r}")
    address = _text(form, "address_string") or _text(form, "address")
    if len(address) > limits.max_address:
        raise IntakeError(
            "address_too_long", "address_string", f"address exceeds {limits.max_address} characters"
        )
    lat = _coordinate(form, ("lat",), -90.0, 90.0)
    lon = _coordinate(form, ("long", "lon"), -180.0, 180.0)
    if (lat is None) != (lon is None):
        raise IntakeError("invalid_location", "lat", "lat and long must be given together")
    source: Literal["given", "exif", "address"] | None = None
    if lat is not None and lon is not None:
        source = "given"
    elif photo_location is not None and _inside(photo_location, limits):
        lat, lon = photo_location
        source = "exif"
    elif address:
        source = "address"
    else:
        raise IntakeError(
            "missing_location", "lat", "a location is required: lat/long, a map pin or an address"
        )
    if lat is not None and lon is not None and not _inside((lat, lon), limits):
        raise IntakeError("location_outside_city", "lat", "the location is outside the city")
    contact = _contact(form)
    lang: Literal["vi", "en"] = "en" if _text(form, "lang") == "en" else "vi"
    return Submission(description, code, lat, lon, source, address, contact, lang)


def _inside(point: tuple[float, float], limits: Limits) -> bool:
    south, west, north, east = limits.bbox
    return south <= point[0] <= north and west <= point[1] <= east


def validate_reply(text: str, limit: int = 2000) -> str:
    """A citizen's answer to a question of the department."""
    text = text.strip()
    if not text:
        raise IntakeError("missing_message", "message", "message is required")
    if len(text) > limit:
        raise IntakeError("message_too_long", "message", f"message exceeds {limit} characters")
    return text


def _contact(form: Mapping[str, str]) -> Contact:
    email = _text(form, "email")
    phone = _text(form, "phone")
    if email and not _EMAIL.match(email):
        raise IntakeError("invalid_contact", "email", "email is not an e-mail address")
    if phone and not _PHONE.match(phone):
        raise IntakeError("invalid_contact", "phone", "phone is not a phone number")
    names = {n: _text(form, n)[:100] for n in ("first_name", "last_name", "device_id")}
    return Contact(email=email, phone=phone, **names)


def new_message(
    sub: Submission,
    *,
    now: datetime,
    source: Literal["web", "open311"],
    client: str | None = None,
    media: tuple[MediaRef, ...] = (),
) -> ReportMessage:
    """The topic message of a validated submission, with a fresh tracking code and token."""
    return ReportMessage(
        report_id=new_tracking_code(),
        token=new_token(),
        received_at=now,
        source=source,
        client=client,
        service_code=sub.service_code,
        description=sub.description,
        lang=sub.lang,
        lat=sub.lat,
        lon=sub.lon,
        location_source=sub.location_source,
        address=sub.address,
        contact=sub.contact,
        media=media,
    )
