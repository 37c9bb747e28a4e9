"""Red-light rule on synthetic box sequences: crossings, waiting on the line, turn arrows."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from vision.catalogue import ViolationCatalogue
from vision.config import Movement, RuleTuning, StopLine
from vision.rules import RedLightRule, Violation
from vision.signals import Light, SignalHistory, SignalState

Replay = Callable[..., list[Violation]]


def history(*changes: tuple[float, Mapping[Movement, Light]]) -> SignalHistory:
    hist = SignalHistory()
    for t, lights in changes:
        hist.add(SignalState(t, dict(lights)))
    return hist


ALL_RED: dict[Movement, Light] = {"straight": Light.RED, "left": Light.RED, "right": Light.RED}
LEFT_ARROW: dict[Movement, Light] = {**ALL_RED, "left": Light.GREEN}
LINE = StopLine(id="s1", line=((100, 400), (700, 400)), direction=(0, -1))
THROUGH = [(0.0, 400, 480), (3.0, 400, 180)]  # up the image at 100 px/s, crosses y=400 at 0.8 s
LEFT_TURN = [(0.0, 400, 480), (1.0, 400, 380), (2.0, 250, 330), (3.0, 100, 320)]
RIGHT_TURN = [(0.0, 400, 480), (1.0, 400, 380), (2.0, 550, 330), (3.0, 700, 320)]


def rule(catalogue: ViolationCatalogue, hist: SignalHistory, line: StopLine = LINE) -> RedLightRule:
    return RedLightRule("cam-1", catalogue, [line], hist, RuleTuning())


def test_car_crossing_on_red_gives_one_violation(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    found = replay(rule(catalogue, history((-10, ALL_RED))), {7: ("car", THROUGH)})
    assert len(found) == 1
    v = found[0]
    assert (v.rule, v.camera_id, v.track_id, v.vehicle_class, v.where) == (
        "red_light",
        "cam-1",
        7,
        "car",
        "s1",
    )
    assert v.time == pytest.approx(0.8)
    assert (v.evidence_from, v.evidence_to) == pytest.approx((-4.2, 5.8))
    assert v.measured["signal"] == "red" and v.measured["movement"] == "any"
    assert v.measured["red_for_s"] == pytest.approx(10.8)
    assert (v.legal.article, v.legal.clause, v.legal.point) == (6, 9, "b")
    assert (v.legal.fine_min_vnd, v.legal.fine_max_vnd, v.legal.points) == (
        18_000_000,
        20_000_000,
        4,
    )


def test_motorbike_and_car_get_different_legal_references(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    found = replay(
        rule(catalogue, history((-10, ALL_RED))), {1: ("car", THROUGH), 2: ("motorbike", THROUGH)}
    )
    refs = {
        v.vehicle_class: (v.legal.article, v.legal.clause, v.legal.point, v.legal.fine_min_vnd)
        for v in found
    }
    assert refs == {"car": (6, 9, "b", 18_000_000), "motorbike": (7, 7, "c", 4_000_000)}


@pytest.mark.parametrize("rest_y", [404.0, 401.0, 398.0])
def test_waiting_at_or_on_the_line_is_not_a_violation(
    catalogue: ViolationCatalogue, replay: Replay, rest_y: float
) -> None:
    # Approaches, stops with the anchor at/on the line; the box jitters by +-3 px for 6 s,
    # which stays inside the default 6 px crossing margin.
    jitter = [(1.0 + 0.1 * i, 400 + (i % 3 - 1), rest_y + 3 * (-1) ** i) for i in range(60)]
    assert (
        replay(rule(catalogue, history((-10, ALL_RED))), {3: ("car", [(0.0, 400, 470), *jitter])})
        == []
    )


def test_vehicle_first_seen_past_the_line_is_not_reported(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    assert (
        replay(
            rule(catalogue, history((-10, ALL_RED))),
            {4: ("car", [(0.0, 400, 390), (2.0, 400, 190)])},
        )
        == []
    )


def test_crossing_on_green_then_red_is_not_a_violation(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    green = {m: Light.GREEN for m in ALL_RED}
    hist = history((-10, green), (1.5, ALL_RED))
    assert replay(rule(catalogue, hist), {5: ("car", THROUGH)}) == []


def test_light_red_for_less_than_the_grace_is_not_a_violation(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    amber = {m: Light.AMBER for m in ALL_RED}
    assert (
        replay(rule(catalogue, history((-10, amber), (0.6, ALL_RED))), {5: ("car", THROUGH)}) == []
    )
    assert (
        len(replay(rule(catalogue, history((-10, amber), (0.2, ALL_RED))), {5: ("car", THROUGH)}))
        == 1
    )


def test_unknown_signal_is_never_a_violation(catalogue: ViolationCatalogue, replay: Replay) -> None:
    assert replay(rule(catalogue, SignalHistory()), {6: ("car", THROUGH)}) == []


def test_green_left_arrow_permits_the_left_turn_only(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    found = replay(
        rule(catalogue, history((-10, LEFT_ARROW))),
        {1: ("car", LEFT_TURN), 2: ("car", THROUGH), 3: ("motorbike", RIGHT_TURN)},
    )
    by_track = {v.track_id: v.measured["movement"] for v in found}
    assert by_track == {2: "straight", 3: "right"}


def test_exit_regions_decide_the_movement(catalogue: ViolationCatalogue, replay: Replay) -> None:
    line = StopLine(
        id="s1",
        line=((100, 400), (700, 400)),
        direction=(0, -1),
        exits={
            "straight": [(300, 0), (500, 0), (500, 200), (300, 200)],
            "right": [(600, 250), (800, 250), (800, 400), (600, 380)],
        },
    )
    right_arrow = {**ALL_RED, "right": Light.GREEN}
    found = replay(
        rule(catalogue, history((-10, right_arrow)), line),
        {1: ("car", RIGHT_TURN), 2: ("car", THROUGH)},
    )
    assert [(v.track_id, v.measured["movement"]) for v in found] == [(2, "straight")]


def test_crossing_beside_the_line_does_not_count(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    short = StopLine(id="s1", line=((100, 400), (300, 400)), direction=(0, -1))
    assert replay(rule(catalogue, history((-10, ALL_RED)), short), {1: ("car", THROUGH)}) == []


def test_pedestrians_and_bicycles_are_not_reported(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    assert (
        replay(
            rule(catalogue, history((-10, ALL_RED))),
            {1: ("person", THROUGH), 2: ("bicycle", THROUGH)},
        )
        == []
    )


def test_a_crossing_in_the_lag_of_a_change_to_green_is_not_a_violation(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    # THROUGH crosses at 0.8 s. An image-read light is recorded when confirm_frames readings
    # agree: a change to green at about 0.7 s shows in the history at 0.9 s.
    green = {m: Light.GREEN for m in ALL_RED}
    hist = history((-10, ALL_RED), (0.9, green), (5.0, green))

    def lagged(settle_s: float) -> RedLightRule:
        return RedLightRule("cam-1", catalogue, [LINE], hist, RuleTuning(), settle_s)

    assert replay(lagged(0.3), {1: ("car", THROUGH)}) == []  # green 0.1 s after the crossing
    assert len(replay(lagged(0.0), {1: ("car", THROUGH)})) == 1  # without the lag allowance
    # a light that stays red past the lag still makes the violation
    still_red = history((-10, ALL_RED), (2.0, green))
    rule_ = RedLightRule("cam-1", catalogue, [LINE], still_red, RuleTuning(), 0.3)
    assert len(replay(rule_, {1: ("car", THROUGH)})) == 1
    # until the history reaches 0.3 s past the crossing, the crossing is not judged
    unread = history((-10, ALL_RED), (1.0, ALL_RED))
    waiting = RedLightRule("cam-1", catalogue, [LINE], unread, RuleTuning(), 0.3)
    assert replay(waiting, {1: ("car", THROUGH)}) == []
    unread.add(SignalState(1.2, dict(ALL_RED)))
    assert len(replay(waiting, {2: ("car", THROUGH)})) == 1
