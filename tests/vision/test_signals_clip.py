"""The signal reader on the real junction-A clip: its LEDs flicker in the recording (the green
right-turn arrow reads dark for 1-6 frames at a time, the red ball for 1-2), and at 5 readings
a second, whatever their phase, the right turn must never read red: the arrow is lit over
the whole clip, and dark in single frames and spells of up to 6 (frames 128-133, 6.40-6.63 s,
looked at: dark between lit frames 127 and 134), which no real phase does. Before the lamps are confirmed the
movements read unknown, on which no rule acts."""

from __future__ import annotations

import bisect

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from ioc.settings import Settings
from vision.config import load_cameras, resolve_source
from vision.signals import Light, SignalReader

SETTINGS = Settings()


@pytest.fixture(scope="module")
def frames() -> list[tuple[float, NDArray[np.uint8]]]:
    cam = load_cameras(SETTINGS.cameras_dir)["vn-junction-a"]
    cap = cv2.VideoCapture(resolve_source(cam.source, SETTINGS.shared_dir))
    out: list[tuple[float, NDArray[np.uint8]]] = []
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            out.append((cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, np.asarray(image, np.uint8)))
    finally:
        cap.release()
    assert len(out) == 142
    return out


@pytest.mark.parametrize("phase", [0.0, 0.033, 0.067, 0.1, 0.133, 0.167])
def test_the_flickering_arrow_of_junction_a_never_reads_red(
    frames: list[tuple[float, NDArray[np.uint8]]], phase: float
) -> None:
    cam = load_cameras(SETTINGS.cameras_dir)["vn-junction-a"]
    assert cam.signal is not None
    reader = SignalReader(cam.signal)
    times = [t for t, _ in frames]
    states = []
    t = phase
    while t <= times[-1]:
        _, image = frames[bisect.bisect_right(times, t + 1e-6) - 1]  # on screen at t
        states.append(reader.read(image, t, bgr=True))
        t += 0.2
    right = [s.light("right") for s in states]
    straight = [s.light("straight") for s in states]
    assert Light.RED not in right
    # unknown until 3 green readings in a row (up to 2 s with this flicker), green after
    first = right.index(Light.GREEN)
    assert first <= 10 and set(right[first:]) == {Light.GREEN}
    first = straight.index(Light.RED)
    assert first <= 3 and set(straight[first:]) == {Light.RED}  # the ball: red throughout
