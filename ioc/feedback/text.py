"""Normalisation of citizen-written Vietnamese (and English) text before classification.

Citizens type with and without diacritics, in NFD or NFC, with old-style tone placement
("hoà", "thuỷ") and with chat abbreviations ("ko", "dc", "tp", "hp"). The classifier must
see one spelling per word, so every text passes :func:`normalize` (diacritics kept) and
:func:`fold` (diacritics removed, "đ" → "d"); the model learns from both views, so a report
typed without diacritics still matches one typed with them.

Phone numbers, e-mail addresses and URLs are replaced by placeholder tokens: they carry no
topic, and masking them keeps personal data out of models and of anything logged.

Example::

    normalize("TP HP ngập, ko đi dc!")  # -> "thành phố hải phòng ngập, không đi được!"
    fold("đường ngập")                  # -> "duong ngap"
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

logger = logging.getLogger(__name__)

#: Whole-token abbreviations and chat spellings → full Vietnamese words. Only unambiguous
#: tokens are listed ("k" alone means "không" in chat; "50k" is a different token).
ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {
        "ko": "không",
        "k": "không",
        "kh": "không",
        "hok": "không",
        "kô": "không",
        "hk": "không",
        "khong": "không",
        "dc": "được",
        "đc": "được",
        "duoc": "được",
        "tp": "thành phố",
        "hp": "hải phòng",
        "hcm": "hồ chí minh",
        "hn": "hà nội",
        "ubnd": "ủy ban nhân dân",
        "csgt": "cảnh sát giao thông",
        "tnmt": "tài nguyên môi trường",
        "gtvt": "giao thông vận tải",
        "pccc": "phòng cháy chữa cháy",
        "atgt": "an toàn giao thông",
        "vsmt": "vệ sinh môi trường",
        "kcn": "khu công nghiệp",
        "bv": "bệnh viện",
        "ng": "người",
        "ngta": "người ta",
        "mn": "mọi người",
        "mng": "mọi người",
        "nc": "nước",
        "đg": "đường",
        "dg": "đường",
        "đt": "điện thoại",
        "sdt": "số điện thoại",
        "cx": "cũng",
        "cg": "cũng",
        "j": "gì",
        "ntn": "như thế nào",
        "bn": "bao nhiêu",
        "trc": "trước",
        "bt": "bình thường",
        "qá": "quá",
        "wa": "quá",
        "lm": "làm",
        "nhìu": "nhiều",
        "bh": "bao giờ",
        "bjo": "bao giờ",
        "xl": "xin lỗi",
        "oto": "ô tô",
        "ôtô": "ô tô",
        "xm": "xe máy",
        "hs": "học sinh",
        "sv": "sinh viên",
        "gv": "giáo viên",
    }
)

_PLACEHOLDERS = (
    (re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE), " urltoken "),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), " emailtoken "),
    (re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)"), " phonetoken "),
)
_TOKEN = re.compile(r"\w+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_TONE_MARKS = {"a": "àáảãạ", "e": "èéẻẽẹ", "y": "ỳýỷỹỵ", "o": "òóỏõọ", "u": "ùúủũụ"}
_TONE_INDEX = {ch: (base, i) for base, chars in _TONE_MARKS.items() for i, ch in enumerate(chars)}
# Old-style tone placement on the second vowel of an open "oa", "oe", "uy" → new style on the
# first: "hoà" → "hòa", "khoẻ" → "khỏe", "thuỷ" → "thủy" (never "quý": "u" belongs to "qu").
_OLD_TONE = re.compile(r"(?<!q)(o[àáảãạèéẻẽẹ]|u[ỳýỷỹỵ])(?!\w)")


def _move_tone(match: re.Match[str]) -> str:
    pair = match.group(1)
    first, toned = pair[0], pair[1]
    base, tone = _TONE_INDEX[toned]
    return _TONE_MARKS[first][tone] + base


def mask_personal(text: str) -> str:
    """Replace URLs, e-mail addresses and phone numbers by placeholder tokens.

    Example: ``mask_personal("gọi 0912 345 678")`` → ``"gọi  phonetoken "``.
    """
    for pattern, token in _PLACEHOLDERS:
        text = pattern.sub(token, text)
    return text


def _expand(match: re.Match[str]) -> str:
    word = match.group(0)
    return ABBREVIATIONS.get(word, word)


def normalize(text: str) -> str:
    """NFC, lower case, new-style tone placement, masked personal data, expanded abbreviations.

    Idempotent: ``normalize(normalize(t)) == normalize(t)``.
    """
    text = unicodedata.normalize("NFC", text).lower()
    text = mask_personal(text)
    text = _OLD_TONE.sub(_move_tone, text)
    text = _TOKEN.sub(_expand, text)
    return _SPACES.sub(" ", text).strip()


def fold(text: str) -> str:
    """Remove Vietnamese diacritics ("đ" → "d"), keeping everything else.

    Example: ``fold("Thủy Nguyên")`` → ``"Thuy Nguyen"``.
    """
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    )


def folded_view(text: str) -> str:
    """The diacritic-free view the classifier also learns from: ``fold(normalize(text))``,
    with folded abbreviations expanded again (a folded "khong" stays "khong")."""
    return fold(normalize(text))
