"""The motion gate skips still frames, wakes on movement in the region of interest, and
forces a refresh now and then."""

from __future__ import annotations

import cv2
import numpy as np

from vision.config import CameraConfig
from vision.motion import MotionConfig, MotionGate, changed_fraction, roi_mask, small_grey


def _frame(box_x: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = (rng.integers(90, 110, (360, 640, 3))).astype(np.uint8)  # textured road
    if box_x is not None:
        img[200:240, box_x : box_x + 60] = 230  # a bright "car"
    return img


def test_still_frame_is_skipped_and_movement_detected() -> None:
    gate = MotionGate(MotionConfig(refresh_s=10.0))
    assert gate.check(_frame(100), 0.0).reason == "first"
    still = gate.check(_frame(100), 0.1)
    assert not still.detect and still.reason == "still" and still.changed < 1e-3
    moved = gate.check(_frame(130), 0.2)
    assert moved.detect and moved.reason == "motion"


def test_slow_movement_adds_up_against_the_last_detection() -> None:
    gate = MotionGate(MotionConfig(refresh_s=100.0, min_fraction=0.004))
    gate.check(_frame(100), 0.0)
    decisions = [gate.check(_frame(100 + 2 * i), 0.1 * i).detect for i in range(1, 20)]
    assert not decisions[0] and any(decisions)  # 2 px is nothing, 20+ px is movement


def test_refresh_after_a_still_spell() -> None:
    gate = MotionGate(MotionConfig(refresh_s=2.0))
    gate.check(_frame(), 0.0)
    assert not gate.check(_frame(), 1.9).detect
    assert gate.check(_frame(), 2.0).reason == "refresh"


def test_motion_outside_the_roi_is_ignored() -> None:
    cam = CameraConfig.model_validate(
        {
            "id": "c",
            "name": "c",
            "location": {"lat": 20.8, "lon": 106.7},
            "source": "x.mp4",
            "detect_fps": 5,
            "frame": {"width": 640, "height": 360},
            "no_stopping_zones": [
                {"id": "z", "polygon": [[0, 0], [200, 0], [200, 100], [0, 100]], "max_dwell_s": 5}
            ],
        }
    )
    roi = roi_mask(cam, 192, pad_px=0)
    assert roi is not None and roi.shape == (108, 192)
    gate = MotionGate(MotionConfig(refresh_s=10.0), roi=roi)
    gate.check(_frame(300), 0.0)
    assert not gate.check(_frame(400), 0.1).detect  # the "car" moves far from the zone
    a, b = small_grey(_frame(300), 192), small_grey(_frame(400), 192)
    assert changed_fraction(a, b, 24) > 0.01  # ... though the frame did change


def test_large_frames_are_halved_first_and_agree_with_one_area_resize() -> None:
    # 1920 -> 960 -> 480 by 2x area steps (OpenCV's fast path), then to 192: the grey levels
    # stay near those of one area resize, far inside the gate's 24-level threshold
    rng = np.random.default_rng(1)
    img = cv2.resize(rng.integers(0, 255, (108, 192, 3), dtype=np.uint8), (1920, 1080))
    one = cv2.resize(
        cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (192, 108), interpolation=cv2.INTER_AREA
    )
    got = small_grey(img, 192, blur=1)
    assert got.shape == (108, 192)
    diff = np.abs(got.astype(int) - one.astype(int))
    assert diff.max() <= 8 and diff.mean() < 2.0
