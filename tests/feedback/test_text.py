"""Normalisation: one spelling per word, whatever the keyboard or the Unicode form."""

from __future__ import annotations

import unicodedata

import pytest

from ioc.feedback.text import fold, folded_view, mask_personal, normalize


def test_nfd_and_nfc_input_give_the_same_text() -> None:
    text = "Đường Lạch Tray ngập"
    assert normalize(unicodedata.normalize("NFD", text)) == normalize(text)
    assert normalize(text) == "đường lạch tray ngập"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("TP HP ko có nc", "thành phố hải phòng không có nước"),
        ("đi ko dc, k ai xử lý", "đi không được, không ai xử lý"),
        ("UBND phường cx ko trả lời", "ủy ban nhân dân phường cũng không trả lời"),
        ("giá 50k", "giá 50k"),  # "k" inside a token is not "không"
    ],
)
def test_abbreviations_expand_whole_tokens_only(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hoà", "hòa"),
        ("Thuỷ Nguyên", "thủy nguyên"),
        ("khoẻ", "khỏe"),
        ("quý", "quý"),
        ("hoàng", "hoàng"),
    ],
)
def test_old_tone_placement_becomes_new_style(old: str, new: str) -> None:
    assert normalize(old) == new


def test_english_is_left_alone_apart_from_case() -> None:
    assert normalize("A Street Light is OUT") == "a street light is out"


def test_personal_data_is_masked() -> None:
    text = mask_personal("gọi 0912 345 678 hoặc +84912345678, mail an.nguyen@example.vn")
    assert "912" not in text and "example" not in text
    assert text.count("phonetoken") == 2 and "emailtoken" in text
    assert "phonetoken" in normalize("liên hệ 0225.3842.123")


def test_fold_removes_diacritics_and_d_bar() -> None:
    assert fold("Đường ngập sâu") == "Duong ngap sau"
    assert folded_view("Đường ở TP HP") == "duong o thanh pho hai phong"


@pytest.mark.parametrize("text", ["Hoà bình ở TP HP", "ko dc", "", "   ", "Ô nhiễm!!"])
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
