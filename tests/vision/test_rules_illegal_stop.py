"""Illegal stopping: standing in a no-stopping zone longer vs shorter than its limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vision.catalogue import ViolationCatalogue
from vision.config import NoStoppingZone, RuleTuning
from vision.rules import IllegalStopRule, Violation

Replay = Callable[..., list[Violation]]

ZONE = NoStoppingZone(
    id="kerb", polygon=[(0, 300), (400, 300), (400, 500), (0, 500)], max_dwell_s=10
)
CROSSWALK = NoStoppingZone(
    id="zebra",
    polygon=[(500, 300), (900, 300), (900, 360), (500, 360)],
    max_dwell_s=3,
    violation="stop_on_crosswalk",
)


@pytest.fixture
def rule(catalogue: ViolationCatalogue) -> IllegalStopRule:
    return IllegalStopRule("cam-1", catalogue, [ZONE, CROSSWALK], RuleTuning())


def stop_at(x: float, y: float, arrive: float, leave: float) -> list[tuple[float, float, float]]:
    """Drive in from below, stand at (x, y) with +-2 px jitter, then stay until ``leave``."""
    stand = [
        (arrive + 0.5 * i, x + (i % 2) * 2, y - (i % 3))
        for i in range(int((leave - arrive) * 2) + 1)
    ]
    return [(0.0, x, 690), *stand]


def test_standing_longer_than_the_limit_is_reported_once(
    rule: IllegalStopRule, replay: Replay
) -> None:
    found = replay(rule, {1: ("car", stop_at(200, 400, arrive=2.0, leave=14.0))})
    assert len(found) == 1
    v = found[0]
    assert (v.rule, v.where) == ("illegal_stop", "kerb")
    assert v.time == pytest.approx(12.0)  # stopped at 2.0 s + 10 s allowed
    assert v.measured["stopped_since"] == pytest.approx(2.0)
    assert (v.legal.article, v.legal.clause, v.legal.point) == (6, 3, "e")


def test_standing_shorter_than_the_limit_is_fine(rule: IllegalStopRule, replay: Replay) -> None:
    assert replay(rule, {2: ("car", stop_at(200, 400, arrive=2.0, leave=10.0))}) == []


def test_driving_through_the_zone_is_fine(rule: IllegalStopRule, replay: Replay) -> None:
    assert replay(rule, {3: ("car", [(0.0, 200, 690), (30.0, 200, 310)])}) == []


def test_standstill_outlives_a_short_track_history(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    rule = IllegalStopRule("cam-1", catalogue, [ZONE], RuleTuning())
    found = replay(
        rule, {4: ("motorbike", stop_at(100, 350, arrive=1.0, leave=13.0))}, horizon_s=4.0
    )
    assert [round(v.time, 1) for v in found] == [11.0]
    assert (found[0].legal.article, found[0].legal.clause, found[0].legal.point) == (7, 2, "e")


def test_zone_violation_key_picks_the_crosswalk_reference(
    rule: IllegalStopRule, replay: Replay
) -> None:
    (v,) = replay(rule, {5: ("car", stop_at(700, 340, arrive=1.0, leave=6.0))})
    assert (v.rule, v.where, v.legal.clause, v.legal.point) == (
        "stop_on_crosswalk",
        "zebra",
        2,
        "đ",
    )


def test_unknown_zone_violation_key_is_refused(catalogue: ViolationCatalogue) -> None:
    bad = NoStoppingZone(
        id="z", polygon=[(0, 0), (9, 0), (9, 9)], max_dwell_s=1, violation="double_parking"
    )
    with pytest.raises(ValueError, match="double_parking"):
        IllegalStopRule("cam-1", catalogue, [bad], RuleTuning())
