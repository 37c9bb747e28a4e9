"""Shared helpers of the vision tests: the shipped catalogue, a frame-by-frame replay of
synthetic tracks through a rule (no video anywhere), a CPU detector on the real weights, and
a small stop-line camera with a synthetic car for tests through a real ``CameraWorker``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import groupby, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ioc.settings import Settings
from vision.catalogue import ViolationCatalogue, load_violation_catalogue
from vision.config import CameraConfig
from vision.detector import CLASS_NAMES, DetectorSpec, UltralyticsDetector, create_detector
from vision.rules import Rule, Violation
from vision.tracks import Detections, TrackBook, TrackPoint

Waypoints = Sequence[tuple[float, float, float]]  # (t, x, y) of the anchor (bottom centre)
Replay = Callable[..., list[Violation]]
CarAt = Callable[[float, float], Detections]  # (t, bottom y) -> one car's detection


@pytest.fixture(scope="session")
def catalogue() -> ViolationCatalogue:
    return load_violation_catalogue()


def _cpu_detector(
    config_dir: Path,
    *,
    runtime: str = "torch",
    preprocess: str = "auto",
    threads: int = 1,
    cache_dir: Path = Path(".ioc/models"),
    precision: str = "fp32",
    calibration: tuple[Path, ...] = (),
    int8_max_drop: float | None = None,
) -> UltralyticsDetector:
    """The ultralytics detector on the shared YOLOv8n weights, on the CPU, 640 px, conf 0.25
    (int8: plain quantisation unless ``int8_max_drop`` is given; accuracy control takes
    minutes)."""
    det = create_detector(
        DetectorSpec(
            type="ultralytics",
            model_path=Settings().model_path,
            conf=0.25,
            imgsz=640,
            device="cpu",
            torch_threads=threads,
            config_dir=config_dir,
            cpu_runtime=runtime,
            cache_dir=cache_dir,
            preprocess=preprocess,
            precision=precision,
            calibration=calibration,
            int8_max_drop=int8_max_drop,
        )
    )
    assert isinstance(det, UltralyticsDetector)
    return det


CpuDetector = Callable[..., UltralyticsDetector]


@pytest.fixture(scope="session")
def cpu_detector() -> CpuDetector:
    """``cpu_detector(config_dir, runtime=, preprocess=, threads=, cache_dir=, precision=,
    calibration=, int8_max_drop=)``."""
    return _cpu_detector


def path(waypoints: Waypoints, fps: float | None = 10.0) -> list[tuple[float, float, float]]:
    """Anchor positions sampled at ``fps`` along straight legs between waypoints
    (``fps=None``: the waypoints themselves are the frames, e.g. a variable frame rate)."""
    if fps is None:
        return list(waypoints)
    out: list[tuple[float, float, float]] = []
    for (t0, x0, y0), (t1, x1, y1) in pairwise(waypoints):
        n = max(1, round((t1 - t0) * fps))
        out += [
            (t0 + (t1 - t0) * i / n, x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n)
            for i in range(n)
        ]
    return [*out, waypoints[-1]]


def replay_tracks(
    rule: Rule,
    tracks: Mapping[int, tuple[str, Waypoints]],
    fps: float | None = 10.0,
    horizon_s: float = 60.0,
) -> list[Violation]:
    """Feed the tracks frame by frame, as the pipeline does, and collect every violation.
    Each box is 30x30 px with its bottom centre on the waypoint path."""
    events = sorted(
        (round(t, 6), tid, x, y) for tid, (_, wp) in tracks.items() for t, x, y in path(wp, fps)
    )
    book, out = TrackBook(horizon_s=horizon_s, max_gap_s=1.0), []
    for t, group in groupby(events, key=lambda e: e[0]):
        pts = [
            TrackPoint(t, tid, tracks[tid][0], (x - 15, y - 30, x + 15, y), 0.9)
            for _, tid, x, y in group
        ]
        out += rule.evaluate(book.update(pts, t), t)
    return out


@pytest.fixture
def replay() -> Replay:
    return replay_tracks


@pytest.fixture(scope="session")
def stop_line_camera() -> CameraConfig:
    """A 320x240 camera: one stop line across y=150, traffic up the image, and one signal
    head read from the image at (280-310, 10-60) for all three movements."""
    return CameraConfig.model_validate(
        {
            "id": "cam-b",
            "name": "B",
            "location": {"lat": 20.8, "lon": 106.7},
            "source": "x.mp4",
            "detect_fps": 10,
            "frame": {"width": 320, "height": 240},
            "stop_lines": [{"id": "s", "line": [[40, 150], [300, 150]], "direction": [0, -1]}],
            "signal": {
                "source": "image",
                "confirm_frames": 3,
                "heads": [
                    {
                        "kind": "ball",
                        "box": [280, 10, 310, 60],
                        "movements": ["straight", "left", "right"],
                    }
                ],
            },
        }
    )


def _car_at(t: float, bottom: float) -> Detections:
    return Detections(
        t,
        np.array([[140.0, bottom - 40, 200.0, bottom]]),
        np.array([0.9]),
        np.array([CLASS_NAMES.index("car")]),
        CLASS_NAMES,
    )


@pytest.fixture(scope="session")
def car_at() -> CarAt:
    """``car_at(t, bottom)``: one car, 60x40 px, x 140-200, its bottom at ``bottom``."""
    return _car_at


def _mjpeg_part(grey: int) -> bytes:
    """One part of a ``multipart/x-mixed-replace`` MJPEG stream: a 64x48 JPEG of ``grey``."""
    import cv2

    _ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), grey, np.uint8))
    data = buf.tobytes()
    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data + b"\r\n"


@pytest.fixture(scope="session")
def mjpeg_part() -> Callable[[int], bytes]:
    """``mjpeg_part(grey)``: the bytes of one frame of an MJPEG-over-HTTP test server."""
    return _mjpeg_part


def _health_of(camera: CameraConfig, **fields: Any) -> dict[str, Any]:
    from vision.publish import health_message

    args: dict[str, Any] = {
        "now_wall": 1_767_225_600.0,
        "connected": True,
        "decoded_fps": 10.0,
        "processed_fps": 10.0,
        "detector_fps": 10.0,
        "lag_s": 0.1,
        "last_frame_wall": 1_767_225_600.0,
        "reconnects": 0,
        "dropped": 0,
        "error": None,
        "device": "cpu",
    }
    return health_message(camera, **{**args, **fields})


@pytest.fixture(scope="session")
def health_of() -> Callable[..., dict[str, Any]]:
    """``health_of(camera, **fields)``: a healthy camera's health message, ``fields`` changed."""
    return _health_of
