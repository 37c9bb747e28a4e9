"""Signal state per movement: lamp colours from synthetic numpy crops, heads, feed, hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from vision.config import MOVEMENTS, Movement, SignalConfig, SignalHead
from vision.signals import (
    Debouncer,
    Light,
    SignalHistory,
    SignalReader,
    SignalState,
    classify_lamp,
    combine_heads,
    state_from_feed,
)

DARK = (35, 35, 40)


def head_image(lamp: tuple[int, int, int] | None, h: int = 60, w: int = 24) -> np.ndarray:
    """A dark signal head with one lit disc of colour ``lamp`` (None: all dark)."""
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:] = DARK
    if lamp is not None:
        yy, xx = np.mgrid[0:h, 0:w]
        img[(yy - 10) ** 2 + (xx - w // 2) ** 2 <= 8**2] = lamp
    return img


@pytest.mark.parametrize(
    ("lamp", "expected"),
    [
        ((235, 30, 40), Light.RED),
        ((255, 40, 120), Light.RED),  # pinkish LED red
        ((250, 170, 20), Light.AMBER),
        ((40, 220, 90), Light.GREEN),
        ((120, 255, 220), Light.GREEN),  # cyan-looking LED green on CCTV
        ((250, 250, 245), Light.OFF),  # washed-out white: no colour
        ((60, 20, 20), Light.OFF),  # dark red housing: too dim
        (None, Light.OFF),
    ],
)
def test_classify_lamp(lamp: tuple[int, int, int] | None, expected: Light) -> None:
    assert classify_lamp(head_image(lamp)) == expected


def test_classify_lamp_refuses_non_rgb_input() -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        classify_lamp(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        classify_lamp(np.zeros((10, 10, 3), dtype=np.float32))


BALL = SignalHead(kind="ball", box=(0, 0, 24, 60), movements=["straight", "left", "right"])
LEFT_ARROW = SignalHead(kind="arrow", box=(30, 0, 54, 30), movements=["left"])


def test_red_ball_with_green_left_arrow_permits_only_the_left_turn() -> None:
    lights = combine_heads([(BALL, Light.RED), (LEFT_ARROW, Light.GREEN)])
    assert lights == {"straight": Light.RED, "left": Light.GREEN, "right": Light.RED}


def test_dark_arrow_falls_back_to_the_ball() -> None:
    lights = combine_heads([(BALL, Light.RED), (LEFT_ARROW, Light.OFF)])
    assert lights["left"] == Light.RED


def test_an_arrow_not_yet_read_leaves_its_movement_unknown() -> None:
    # a green arrow not yet confirmed may permit the turn: the red ball does not decide it
    lights = combine_heads([(BALL, Light.RED), (LEFT_ARROW, Light.UNKNOWN)])
    assert lights == {"straight": Light.RED, "left": Light.UNKNOWN, "right": Light.RED}


def test_movement_without_a_head_is_unknown_and_all_dark_is_off() -> None:
    straight_only = SignalHead(kind="ball", box=(0, 0, 24, 60), movements=["straight"])
    lights = combine_heads([(straight_only, Light.OFF)])
    assert lights == {"straight": Light.OFF, "left": Light.UNKNOWN, "right": Light.UNKNOWN}


def test_feed_message_with_default_and_override() -> None:
    state = state_from_feed({"all": "RED", "left": "green"}, t=3.0)
    assert (state.light("straight"), state.light("left"), state.light("right")) == (
        Light.RED,
        Light.GREEN,
        Light.RED,
    )
    assert state_from_feed({"straight": "yellow"}, 0).light("straight") == Light.AMBER


@pytest.mark.parametrize(
    ("msg", "fragment"), [({"straight": "blue"}, "blue"), ({"u_turn": "red"}, "u_turn")]
)
def test_feed_message_errors_name_the_culprit(msg: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        state_from_feed(msg, 0)


def test_debouncer_ignores_a_one_frame_flicker() -> None:
    deb = Debouncer(confirm=3, keys=MOVEMENTS)
    red: dict[Movement, Light] = {"straight": Light.RED}
    states = [deb.update(red)["straight"] for _ in range(3)]
    assert states == [Light.UNKNOWN, Light.UNKNOWN, Light.RED]
    assert deb.update({"straight": Light.GREEN})["straight"] == Light.RED  # flicker
    assert deb.update(red)["straight"] == Light.RED
    changed = [deb.update({"straight": Light.GREEN})["straight"] for _ in range(3)]
    assert changed == [Light.RED, Light.RED, Light.GREEN]


def test_a_lamp_goes_dark_only_after_the_longer_dark_confirmation() -> None:
    deb = Debouncer(confirm=2, dark_confirm=5, keys=MOVEMENTS)
    red: dict[Movement, Light] = {"straight": Light.RED}
    off: dict[Movement, Light] = {"straight": Light.OFF}
    deb.update(red)
    deb.update(red)
    flicker = [deb.update(off)["straight"] for _ in range(4)]  # LED/recording dropout
    assert flicker == [Light.RED] * 4
    deb.update(red)
    assert [deb.update(off)["straight"] for _ in range(5)] == [Light.RED] * 4 + [Light.OFF]


def test_reader_crops_heads_from_a_full_frame_and_debounces() -> None:
    frame = np.zeros((100, 100, 3), dtype=np.uint8)
    frame[:] = (90, 90, 90)
    frame[10:70, 10:34] = head_image((235, 30, 40))
    frame[10:40, 50:74] = head_image((40, 220, 90), h=30)
    cfg = SignalConfig(
        source="image",
        confirm_frames=2,
        heads=[
            SignalHead(kind="ball", box=(10, 10, 34, 70), movements=["straight", "left"]),
            SignalHead(kind="arrow", box=(50, 10, 74, 40), movements=["left"]),
        ],
    )
    reader = SignalReader(cfg)
    first = reader.read(frame, 0.0)
    second = reader.read(frame, 0.1)
    assert first.light("straight") == Light.UNKNOWN
    assert (second.light("straight"), second.light("left"), second.light("right")) == (
        Light.RED,
        Light.GREEN,
        Light.UNKNOWN,
    )
    bgr = SignalReader(cfg)
    for t in (0.0, 0.1):
        state = bgr.read(np.ascontiguousarray(frame[..., ::-1]), t, bgr=True)
    assert state.light("straight") == Light.RED
    reader.reset()  # a break in the stream: confirmed again before it counts
    assert [reader.read(frame, t).light("straight") for t in (0.2, 0.3)] == [
        Light.UNKNOWN,
        Light.RED,
    ]


def _junction(arrow: tuple[int, int, int] | None) -> np.ndarray:
    """A red ball for every movement and a right-turn arrow (``None``: dark)."""
    frame = np.full((100, 100, 3), 90, np.uint8)
    frame[10:70, 10:34] = head_image((235, 30, 40))
    frame[10:40, 50:74] = head_image(arrow, h=30)
    return frame


ARROW_JUNCTION = SignalConfig(
    source="image",
    confirm_frames=3,
    dark_frames=8,
    heads=[
        SignalHead(kind="ball", box=(10, 10, 34, 70), movements=["straight", "left", "right"]),
        SignalHead(kind="arrow", box=(50, 10, 74, 40), movements=["right"]),
    ],
)


def test_a_flickering_green_arrow_keeps_its_turn_green() -> None:
    green, dark = _junction((40, 220, 90)), _junction(None)
    reader = SignalReader(ARROW_JUNCTION)
    # the LED flicker of a CCTV recording: the arrow reads dark 1-3 readings at a time
    seq = [green] * 3 + [dark, dark, green, dark, dark, dark, green, green, dark, dark, green]
    right = [reader.read(f, 0.1 * i).light("right") for i, f in enumerate(seq)]
    assert right[:2] == [Light.UNKNOWN] * 2  # before the arrow is confirmed: not red
    assert right[2:] == [Light.GREEN] * (len(seq) - 2)
    # a real end of the arrow phase: dark for dark_frames readings, then the ball decides
    after = [reader.read(dark, 2.0 + 0.1 * i).light("right") for i in range(8)]
    assert after == [Light.GREEN] * 7 + [Light.RED]


def test_reader_is_for_image_heads_only() -> None:
    with pytest.raises(ValueError, match="feed"):
        SignalReader(SignalConfig(source="feed", feed_topic="signals.j1"))


def test_history_answers_light_at_time_and_how_long_it_was_steady() -> None:
    hist = SignalHistory()
    for t, light in ((0.0, Light.GREEN), (1.0, Light.AMBER), (4.0, Light.RED), (5.0, Light.RED)):
        hist.add(SignalState(t, {"straight": light}))
    hist.add(SignalState(4.5, {"straight": Light.GREEN}))  # out of order: ignored
    assert hist.light_at(-1.0, "straight") == Light.UNKNOWN
    assert hist.light_at(3.9, "straight") == Light.AMBER
    assert hist.light_at(6.0, "straight") == Light.RED
    assert hist.steady_since(6.0, "straight") == 4.0
    assert hist.light_at(6.0, "left") == Light.UNKNOWN
    hist.clear()
    assert hist.light_at(6.0, "straight") == Light.UNKNOWN
    assert hist.steady_since(6.0, "straight") is None
