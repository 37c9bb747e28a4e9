"""Sidewalk and restricted-zone driving, with classes the zone allows."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vision.catalogue import ViolationCatalogue
from vision.config import RestrictedZone, RuleTuning
from vision.rules import RestrictedZoneRule, Violation

Replay = Callable[..., list[Violation]]

SIDEWALK = RestrictedZone(
    id="walk",
    kind="sidewalk",
    polygon=[(800, 100), (1000, 100), (1000, 700), (800, 700)],
    allowed_classes=["bicycle"],
)
PLAZA = RestrictedZone(
    id="plaza", kind="restricted", polygon=[(0, 0), (300, 0), (300, 200), (0, 200)]
)


@pytest.fixture
def rule(catalogue: ViolationCatalogue) -> RestrictedZoneRule:
    return RestrictedZoneRule("cam-1", catalogue, [SIDEWALK, PLAZA], RuleTuning())


def test_motorbike_riding_on_the_sidewalk(rule: RestrictedZoneRule, replay: Replay) -> None:
    found = replay(rule, {1: ("motorbike", [(0.0, 900, 650), (3.0, 900, 200)])})
    assert [(v.rule, v.where) for v in found] == [("sidewalk_driving", "walk")]
    assert (found[0].legal.article, found[0].legal.clause, found[0].legal.point) == (7, 7, "a")


def test_car_on_the_sidewalk_has_its_own_reference(
    rule: RestrictedZoneRule, replay: Replay
) -> None:
    (v,) = replay(rule, {2: ("car", [(0.0, 900, 650), (3.0, 900, 200)])})
    assert (v.legal.article, v.legal.clause, v.legal.point, v.legal.points) == (6, 6, "d", 4)


def test_restricted_area_uses_its_key(rule: RestrictedZoneRule, replay: Replay) -> None:
    (v,) = replay(rule, {3: ("car", [(0.0, 20, 100), (3.0, 280, 100)])})
    assert (v.rule, v.legal.clause, v.legal.point) == ("restricted_zone", 5, "i")


def test_allowed_class_standing_vehicle_and_pedestrian_are_fine(
    rule: RestrictedZoneRule, replay: Replay
) -> None:
    tracks = {
        4: ("bicycle", [(0.0, 900, 650), (3.0, 900, 200)]),
        5: ("motorbike", [(0.1 * i, 900 + i % 2, 400) for i in range(40)]),
        6: ("person", [(0.0, 900, 650), (3.0, 900, 200)]),
    }
    assert replay(rule, tracks) == []


def test_grazing_the_kerb_briefly_is_fine(rule: RestrictedZoneRule, replay: Replay) -> None:
    wp = [(0.0, 700, 650), (1.0, 700, 550), (1.5, 820, 520), (2.0, 700, 490), (4.0, 700, 300)]
    assert replay(rule, {7: ("motorbike", wp)}) == []
