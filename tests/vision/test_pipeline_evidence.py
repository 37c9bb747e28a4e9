"""Evidence: the pre/post window comes from frame timestamps, clips play at a constant rate,
and every file's SHA-256 in the metadata matches the file."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.annotate import draw
from vision.catalogue import ViolationCatalogue
from vision.config import CameraConfig
from vision.detector import CLASS_NAMES
from vision.evidence import (
    EvidenceRecorder,
    FrameRing,
    Overlay,
    caption,
    nearest,
    resample,
    write_evidence,
)
from vision.rules.base import Violation
from vision.signals import Light
from vision.tracks import Detections

CAM = CameraConfig.model_validate(
    {
        "id": "cam-e",
        "name": "E",
        "location": {"lat": 20.8, "lon": 106.7},
        "source": "x.mp4",
        "detect_fps": 5,
        "frame": {"width": 320, "height": 240},
        "lanes": [
            {
                "id": "l",
                "polygon": [[0, 100], [320, 100], [320, 240], [0, 240]],
                "flow": [[10, 200], [300, 200]],
            }
        ],
    }
)
WALL0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _violation(catalogue: ViolationCatalogue, t: float, before: float, after: float) -> Violation:
    legal = catalogue.resolve("wrong_way", "car")
    assert legal is not None
    return Violation(
        rule="wrong_way",
        camera_id="cam-e",
        track_id=7,
        vehicle_class="car",
        time=t,
        evidence_from=t - before,
        evidence_to=t + after,
        where="l",
        legal=legal,
        measured={"moved_px": 80.0},
    )


def _fill(ring: FrameRing, ts: list[float]) -> None:
    for t in ts:
        img = np.full((240, 320, 3), 60, np.uint8)
        x = int(20 + 40 * t)
        img[150:190, x : x + 50] = (40, 40, 220)
        det = Detections(
            t,
            np.array([[x, 150, x + 50, 190]], float),
            np.array([0.9]),
            np.array([CLASS_NAMES.index("car")]),
            CLASS_NAMES,
            np.array([7]),
        )
        ring.add(t, WALL0 + t, img, Overlay(det, {"straight": Light.RED}))


def test_pure_window_helpers() -> None:
    assert resample([0.0, 0.3], fps=10, t0=0.0, t1=0.4) == [0, 0, 0, 1, 1]
    assert resample([0.5, 1.0], fps=2, t0=0.0, t1=1.0) == [0, 1]
    assert nearest([0.0, 1.0, 2.0], 1.4) == 1 and nearest([0.0, 1.0], 9.0) == 1


def test_ring_keeps_its_horizon_at_most_max_fps() -> None:
    ring = FrameRing(horizon_s=2.0, max_fps=10.0)
    _fill(ring, [i / 30 for i in range(150)])  # 5 s at 30 fps
    kept = ring.window(-1, 99)
    assert 19 <= len(kept) <= 21 and kept[-1].t - kept[0].t <= 2.0
    assert min(b.t - a.t for a, b in itertools.pairwise(kept)) >= 0.1 - 1e-6


def test_ring_says_which_frames_it_would_store() -> None:
    ring = FrameRing(horizon_s=2.0, max_fps=10.0)
    assert ring.due(0.0)  # empty: any frame
    image = np.zeros((8, 8, 3), np.uint8)
    for t in [0.0, 0.04, 0.08, 0.1, 0.13, 0.2, 0.31]:
        due = ring.due(t)
        assert ring.add(t, WALL0 + t, image, Overlay()) is due
    assert [f.t for f in ring.window(-1, 99)] == [0.0, 0.1, 0.2, 0.31]
    assert not ring.due(0.4) and ring.due(0.41)


def test_evidence_never_spans_a_break_in_the_stream(catalogue: ViolationCatalogue) -> None:
    ring = FrameRing(horizon_s=20.0, max_fps=10.0)
    rec = EvidenceRecorder(CAM, ring)
    _fill(ring, [round(0.1 * k, 3) for k in range(30)])  # 0.0 .. 2.9 s
    rec.open(_violation(catalogue, 2.5, 1.0, 1.5), "ev-before", WALL0 + 2.5)  # asks to 4.0
    assert rec.ready() == []
    ring.mark_break(3.0)  # e.g. the camera reconnected: 3.0 s on is another picture
    _fill(ring, [round(0.1 * k, 3) for k in range(30, 36)])  # 3.0 .. 3.5 s
    (job,) = rec.ready()  # its footage ended at the break: written now, marked incomplete
    assert not job.complete
    assert (job.frames[0].t, job.frames[-1].t) == pytest.approx((1.5, 2.9))
    rec.open(_violation(catalogue, 3.2, 1.0, 0.3), "ev-after", WALL0 + 3.2)  # 2.2 .. 3.5 s
    (job,) = rec.ready()
    assert not job.complete
    assert (job.frames[0].t, job.frames[-1].t) == pytest.approx((3.0, 3.5))
    rec.open(_violation(catalogue, 3.4, 0.25, 0.1), "ev-inside", WALL0 + 3.4)  # 3.15 .. 3.5 s
    (job,) = rec.ready()
    assert job.complete and job.frames[0].t == pytest.approx(3.1)  # on screen at 3.15 s


def test_recorder_waits_for_the_post_window(catalogue: ViolationCatalogue) -> None:
    ring = FrameRing(horizon_s=20.0, max_fps=10.0)
    rec = EvidenceRecorder(CAM, ring)
    vfr = [0.0, 0.03, 0.13, 0.2, 0.37, 0.4]  # a variable frame rate, like the sample clips
    ts = sorted({round(s + k * 0.4, 3) for k in range(12) for s in vfr})
    _fill(ring, [t for t in ts if t <= 3.0])
    rec.open(_violation(catalogue, 2.0, 1.0, 1.5), "ev-1", WALL0 + 2.0)
    assert rec.ready() == [] and rec.pending == 1  # the ring has not reached 3.5 s yet
    _fill(ring, [t for t in ts if 3.0 < t <= 4.0])
    (job,) = rec.ready()
    assert job.complete and rec.pending == 0
    assert 0.85 < job.frames[0].t <= 1.0 and 3.3 <= job.frames[-1].t <= 3.5


def test_written_evidence_has_correct_hashes_and_window(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    ring = FrameRing(horizon_s=20.0, max_fps=10.0)
    _fill(ring, [round(i * 0.1, 3) for i in range(41)])  # 0..4 s
    rec = EvidenceRecorder(CAM, ring)
    rec.open(_violation(catalogue, 2.0, 1.0, 1.0), "ev-2", WALL0 + 2.0, {"site": "test"})
    (job,) = rec.ready()
    files = write_evidence(job, tmp_path, fps=10.0)
    kinds = {f.kind for f in files}
    assert kinds == {
        "clip_raw",
        "clip_annotated",
        "key_frame_before",
        "key_frame_event",
        "key_frame_after",
        "vehicle_crop",
        "metadata",
    }
    for f in files:
        path = tmp_path / f.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
        assert path.stat().st_size == f.bytes
        assert f.path.startswith("cam-e/2026-01-01/ev-2/")
    meta = json.loads((tmp_path / files[-1].path).read_text(encoding="utf-8"))
    assert {m["path"]: m["sha256"] for m in meta["files"]} == {
        f.path: f.sha256 for f in files if f.kind != "metadata"
    }
    assert meta["window"]["first_frame_s"] == 1.0 and meta["window"]["last_frame_s"] == 3.0
    assert meta["time"] == "2026-01-01T00:00:02.000+00:00" and meta["site"] == "test"
    if meta["video"]["writer"] == "ffmpeg-libx264":  # how the clips were encoded
        assert meta["video"]["x264"] == {"preset": "ultrafast", "crf": 23}
    track = meta["track"]  # the car's box in every frame of the window, as the rule saw it
    assert len(track) == 21 and track[0] == {"t": 1.0, "class": "car", "box": [60, 150, 110, 190]}
    assert track[-1]["box"] == [140, 150, 190, 190]
    cap = cv2.VideoCapture(str(tmp_path / next(f.path for f in files if f.kind == "clip_raw")))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 21  # 2 s at a constant 10 fps, first and last included
    crop = cv2.imread(str(tmp_path / next(f.path for f in files if f.kind == "vehicle_crop")))
    assert crop is not None and 40 <= crop.shape[0] <= 60 and 50 <= crop.shape[1] <= 70


def test_the_evidence_caption_says_where_and_a_speed(catalogue: ViolationCatalogue) -> None:
    v = _violation(catalogue, 2.0, 1.0, 1.0)
    assert caption(v, CAM, WALL0 + 2.0).splitlines() == [
        "cam-e 2026-01-01T00:00:02.000+00:00 wrong_way",
        "20.80000, 106.70000 l",
    ]
    fast = dataclasses.replace(v, measured={"speed_kmh": 52.24, "limit_kmh": 40.0})
    assert caption(fast, CAM, WALL0).splitlines()[1] == "20.80000, 106.70000 l 52.2 km/h (limit 40)"
    # both lines are stamped on the annotated frames, one under the other
    frame = np.zeros((120, 400, 3), np.uint8)
    img = draw(frame, None, caption=caption(fast, CAM, WALL0))
    assert img[4:20].any() and img[24:40].any() and not img[44:].any()


def test_the_ring_gives_back_the_picture_and_counts_its_memory() -> None:
    rng = np.random.default_rng(7)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (9, 9), 3)
    ring = FrameRing(horizon_s=1.0, max_fps=10.0)
    for k in range(30):  # 3 s: the ring keeps the last 1 s
        ring.add(k / 10, WALL0 + k / 10, picture, Overlay())
    kept = ring.window(-1, 99)
    assert len(kept) == 11 and ring.nbytes == sum(len(f.jpeg) for f in kept)
    assert ring.nbytes < 11 * 320 * 240 // 2  # compressed
    back = kept[-1].image()
    assert back.shape == picture.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - picture.astype(int)).mean() < 3.0
