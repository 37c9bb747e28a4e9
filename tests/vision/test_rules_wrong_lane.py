"""Wrong lane: a vehicle class the lane does not allow, driving in it for a while."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vision.catalogue import ViolationCatalogue
from vision.config import Lane, RuleTuning
from vision.rules import Violation, WrongLaneRule

Replay = Callable[..., list[Violation]]

CAR_LANE = Lane(
    id="cars",
    polygon=[(0, 100), (300, 100), (300, 700), (0, 700)],
    flow=[(150, 690), (150, 110)],
    allowed_classes=["car", "bus", "truck"],
)
MIXED = Lane(
    id="mixed",
    polygon=[(300, 100), (600, 100), (600, 700), (300, 700)],
    flow=[(450, 690), (450, 110)],
)


@pytest.fixture
def rule(catalogue: ViolationCatalogue) -> WrongLaneRule:
    return WrongLaneRule("cam-1", catalogue, [CAR_LANE, MIXED], RuleTuning())


def test_motorbike_in_a_car_lane_is_reported_once(rule: WrongLaneRule, replay: Replay) -> None:
    found = replay(rule, {1: ("motorbike", [(0.0, 150, 650), (4.0, 150, 250)])})
    assert [(v.rule, v.where, v.track_id) for v in found] == [("wrong_lane", "cars", 1)]
    v = found[0]
    assert v.time == pytest.approx(1.0)
    assert (v.legal.article, v.legal.clause, v.legal.point, v.legal.points) == (7, 3, "d", 0)
    assert (v.legal.fine_min_vnd, v.legal.fine_max_vnd) == (600_000, 800_000)


def test_allowed_classes_are_not_reported(rule: WrongLaneRule, replay: Replay) -> None:
    tracks = {
        2: ("car", [(0.0, 150, 650), (4.0, 150, 250)]),
        3: ("motorbike", [(0.0, 450, 650), (4.0, 450, 250)]),
    }
    assert replay(rule, tracks) == []


def test_a_brief_cut_through_the_lane_is_not_reported(rule: WrongLaneRule, replay: Replay) -> None:
    # In the mixed lane, 0.6 s over the car lane's edge, back again.
    wp = [(0.0, 450, 650), (1.0, 450, 560), (1.3, 280, 530), (1.6, 450, 500), (4.0, 450, 250)]
    assert replay(rule, {4: ("motorbike", wp)}) == []


def test_a_standing_motorbike_is_not_driving_in_the_lane(
    rule: WrongLaneRule, replay: Replay
) -> None:
    wp = [(0.1 * i, 150 + i % 2, 400) for i in range(40)]
    assert replay(rule, {5: ("motorbike", wp)}) == []
