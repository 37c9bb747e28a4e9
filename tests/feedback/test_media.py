"""Photos: type from magic bytes, size, EXIF position read then stripped (pure)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ioc.feedback.media import MediaError, inspect_photo, jpeg_with_gps, sniff


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


def test_exif_position_is_read_then_everything_stripped() -> None:
    raw = jpeg_with_gps(20.8561, -106.6822)
    assert Image.open(io.BytesIO(raw)).getexif()  # the input does carry EXIF
    photo = inspect_photo(raw, declared="image/jpeg", max_bytes=100_000)
    assert photo.location == pytest.approx((20.8561, -106.6822), abs=1e-4)
    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (64, 48)
    assert not Image.open(io.BytesIO(photo.stripped)).getexif()
    assert b"PhoneMaker" not in photo.stripped


def test_png_without_exif_has_no_location() -> None:
    photo = inspect_photo(_png(), declared=None, max_bytes=100_000)
    assert photo.location is None and photo.content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "declared", "status", "code"),
    [
        (b"%PDF-1.7 ...", "image/jpeg", 415, "unsupported_media_type"),
        (b"\xff\xd8\xff\xe0 truncated", "image/jpeg", 415, "unsupported_media_type"),
        (None, "image/jpeg", 415, "media_type_mismatch"),  # PNG bytes claiming JPEG
        (b"\x00" * 2000, None, 413, "media_too_large"),
    ],
)
def test_refusals(data: bytes | None, declared: str | None, status: int, code: str) -> None:
    with pytest.raises(MediaError) as err:
        inspect_photo(_png() if data is None else data, declared=declared, max_bytes=1500)
    assert (err.value.status, err.value.code) == (status, code)


def test_sniff() -> None:
    assert sniff(_png()) == "image/png"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"GIF89a") is None
