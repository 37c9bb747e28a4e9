"""The violation catalogue the rules resolve legal references from (infra/data/violations.yaml)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from vision.catalogue import CatalogueError, ViolationCatalogue, load_violation_catalogue

SHIPPED = Path(__file__).resolve().parents[2] / "infra" / "data" / "violations.yaml"
RULE_KEYS = {
    "red_light",
    "wrong_way",
    "wrong_lane",
    "illegal_stop",
    "stop_on_crosswalk",
    "speeding",
    "sidewalk_driving",
    "restricted_zone",
}


def test_shipped_catalogue_covers_every_rule_for_both_categories(
    catalogue: ViolationCatalogue,
) -> None:
    assert set(catalogue.data.violations) == RULE_KEYS
    for key in RULE_KEYS - {"speeding"}:
        assert catalogue.resolve(key, "car") is not None
        assert catalogue.resolve(key, "motorbike") is not None
        assert catalogue[key].names.vi and catalogue[key].evidence.after_s > 0


def test_red_light_references_per_category(catalogue: ViolationCatalogue) -> None:
    car, moto = catalogue.resolve("red_light", "car"), catalogue.resolve("red_light", "motorbike")
    assert car is not None and moto is not None
    assert car.citation == "Điểm b khoản 9 Điều 6 Nghị định 168/2024/NĐ-CP"
    assert moto.citation == "Điểm c khoản 7 Điều 7 Nghị định 168/2024/NĐ-CP"
    assert catalogue.resolve("red_light", "truck") == car  # trucks and buses are Art. 6
    assert catalogue.resolve("red_light", "bicycle") is None
    assert catalogue.resolve("red_light", "person") is None


@pytest.mark.parametrize(
    ("cls", "over", "expected"),
    [
        ("motorbike", 4.9, None),
        ("motorbike", 5.0, (2, "b")),
        ("motorbike", 9.99, (2, "b")),
        ("motorbike", 10.0, (4, "a")),
        ("motorbike", 20.0, (4, "a")),
        ("motorbike", 20.1, (8, "a")),
        ("car", 5.0, (3, "a")),
        ("car", 20.0, (5, "đ")),
        ("car", 35.0, (6, "a")),
        ("car", 35.1, (7, "a")),
    ],
)
def test_speeding_bands_follow_the_decree_wording(
    catalogue: ViolationCatalogue, cls: str, over: float, expected: tuple[int, str] | None
) -> None:
    ref = catalogue.resolve("speeding", cls, {"overspeed_kmh": over})
    assert (None if ref is None else (ref.clause, ref.point)) == expected


def _broken(tmp_path: Path, mutate: Any) -> str:
    doc = copy.deepcopy(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))
    mutate(doc)
    path = tmp_path / "violations.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_violation_catalogue(path)
    return str(info.value)


def test_unknown_key_is_refused_naming_the_field(tmp_path: Path) -> None:
    msg = _broken(tmp_path, lambda d: d["violations"]["red_light"].update(colour="red"))
    assert "violations.red_light.colour" in msg and "violations.yaml" in msg


def test_fine_range_must_be_ordered(tmp_path: Path) -> None:
    def swap(d: Any) -> None:
        d["violations"]["wrong_way"]["references"][0]["fine_vnd"] = [6000000, 4000000]

    assert "fine_vnd must be [min, max]" in _broken(tmp_path, swap)


def test_overlapping_bands_are_refused(tmp_path: Path) -> None:
    def overlap(d: Any) -> None:
        d["violations"]["speeding"]["references"][1]["band"]["min"] = 8

    assert "overlaps" in _broken(tmp_path, overlap)


def test_reference_to_an_unknown_category_is_refused(tmp_path: Path) -> None:
    def tractor(d: Any) -> None:
        d["violations"]["wrong_lane"]["references"][0]["category"] = "tractor"

    assert "unknown category 'tractor'" in _broken(tmp_path, tractor)
