"""Citizens' photos: type from magic bytes, EXIF position, EXIF stripped (pure: bytes in/out).

A photo is accepted only when its first bytes say JPEG, PNG or WebP *and* Pillow can decode
it; the declared ``Content-Type`` is not trusted (a claim that disagrees with the bytes is
refused as ``media_type_mismatch``). The GPS position in its EXIF, if any, is read first (the
caller may use it as the report's location), then the image is re-encoded without any
metadata, so what is stored never carries the phone's position, model or owner.

Example::

    photo = inspect_photo(raw, declared="image/jpeg", max_bytes=5_000_000)
    photo.location         # -> (20.8561, 106.6822) or None
    clean = photo.stripped  # bytes to store; photo.sha256 names the file
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
)
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_GPS_IFD = 0x8825
MAX_PIXELS = 40_000_000


class MediaError(ValueError):
    """A refused photo: ``status`` is the HTTP status (413, 415), ``code`` machine-readable."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Photo:
    content_type: str
    stripped: bytes
    sha256: str
    location: tuple[float, float] | None
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image type the bytes themselves announce (``None``: not a supported image)."""
    for magic, offset, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if kind == "image/webp" and data[:4] != b"RIFF":
                continue
            return kind
    return None


def inspect_photo(data: bytes, *, declared: str | None, max_bytes: int) -> Photo:
    """Check, locate and strip one photo; raises :class:`MediaError`."""
    if len(data) > max_bytes:
        raise MediaError(413, "media_too_large", f"a photo may have at most {max_bytes} bytes")
    kind = sniff(data)
    if kind is None:
        raise MediaError(415, "unsupported_media_type", "not a JPEG, PNG or WebP image")
    claimed = (declared or "").split(";")[0].strip().lower()
    if (
        claimed
        and claimed not in ("application/octet-stream", kind)
        and not (claimed == "image/jpg" and kind == "image/jpeg")
    ):
        raise MediaError(415, "media_type_mismatch", f"declared {claimed} but the bytes are {kind}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise MediaError(413, "media_too_large", "the photo has too many pixels")
            location = gps_location(img.getexif())
            img.load()
            clean = _reencode(img, kind)
            width, height = img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, MediaError):
            raise
        raise MediaError(415, "unsupported_media_type", "the image cannot be decoded") from None
    return Photo(kind, clean, hashlib.sha256(clean).hexdigest(), location, width, height)


def _reencode(img: Image.Image, kind: str) -> bytes:
    """The pixels only: no EXIF, no XMP, no ICC comments (orientation applied first)."""
    from PIL import ImageOps

    upright = ImageOps.exif_transpose(img) or img
    if kind == "image/jpeg" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    plain = Image.new(upright.mode, upright.size)
    plain.paste(upright)
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": 88} if kind == "image/jpeg" else {}
    plain.save(out, format=_FORMATS[kind], **options)
    return out.getvalue()


def _ratio(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        return float(Fraction(int(value[0]), int(value[1]) or 1))
    return float(value)


def _degrees(dms: Any, ref: Any) -> float:
    d, m, s = (_ratio(v) for v in dms)
    value = d + m / 60.0 + s / 3600.0
    return -value if str(ref).upper() in ("S", "W") else value


def gps_location(exif: Image.Exif) -> tuple[float, float] | None:
    """(lat, lon) from an EXIF GPS block, ``None`` if absent or nonsense."""
    try:
        gps = exif.get_ifd(_GPS_IFD)
    except (KeyError, ValueError, TypeError):
        return None
    try:
        lat = _degrees(gps[2], gps.get(1, "N"))
        lon = _degrees(gps[4], gps.get(3, "E"))
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lat, 6), round(lon, 6)


def jpeg_with_gps(lat: float, lon: float, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG carrying an EXIF GPS position (tests, demos)."""

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        d = int(value)
        m = int((value - d) * 60)
        s = round(((value - d) * 60 - m) * 60, 4)
        return float(d), float(m), s

    img = Image.new("RGB", size, (40, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: must not survive stripping
    gps = exif.get_ifd(_GPS_IFD)
    gps[1] = "N" if lat >= 0 else "S"
    gps[2] = dms(lat)
    gps[3] = "E" if lon >= 0 else "W"
    gps[4] = dms(lon)
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()
