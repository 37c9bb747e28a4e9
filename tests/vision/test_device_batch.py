"""The GPU path's letterbox, inference and NMS in torch (vision.device_batch), run here on
the CPU: its arithmetic must be ultralytics' and its boxes those of ``YOLO.predict`` on the
same real frames; the detector uses it when the plan says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from ioc.settings import Settings
from vision.detector import UltralyticsDetector
from vision.device_batch import DeviceBatch, Placement, canvas_size, place, to_frame

CpuDetector = Callable[..., UltralyticsDetector]  # the conftest fixture cpu_detector

SETTINGS = Settings()
VIDEO = SETTINGS.shared_dir / "data" / "video"
COCO_KEPT = [0, 1, 2, 3, 5, 7, 9]


def test_canvas_is_ultralytics_minimum_rectangle_for_one_shape_and_square_for_mixed() -> None:
    assert canvas_size([(720, 1006)], 640, 32) == (480, 640)  # 458 px high -> next 32
    assert canvas_size([(352, 640)] * 3, 640, 32) == (352, 640)
    assert canvas_size([(1080, 1920)], 960, 32) == (544, 960)
    assert canvas_size([(720, 1006), (352, 640)], 640, 32) == (640, 640)
    with pytest.raises(ValueError, match="multiple of 32"):
        canvas_size([(720, 1006)], 650, 32)
    with pytest.raises(ValueError, match="frames needed"):
        canvas_size([], 640, 32)


def test_placement_centres_the_frame_and_maps_boxes_back() -> None:
    p = place((720, 1006), (480, 640))
    assert (p.new_w, p.new_h, p.left, p.top) == (640, 458, 0, 11)
    boxes = np.array([[0, 11, 640, 469, 0.9, 2], [-5, 0, 700, 500, 0.5, 3]], np.float32)
    to_frame(boxes, p, (720, 1006))
    np.testing.assert_allclose(boxes[0, :4], [0, 0, 1006, 720], atol=1e-3)
    assert (boxes[1, :4] == [0, 0, 1006, 720]).all()  # clipped to the frame
    assert boxes[1, 4] == np.float32(0.5) and boxes[1, 5] == 3  # score and class untouched
    upscaled = place((352, 640), (640, 640))
    assert upscaled == Placement(1.0, 1.0, 640, 352, 0, 144)


def _frames(name: str, indices: list[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO / name), cv2.CAP_FFMPEG)
    out, i = [], 0
    while len(out) < len(indices):
        ok, frame = cap.read()
        assert ok, f"{name}: frame {i} did not decode"
        if i in indices:
            out.append(frame)
        i += 1
    cap.release()
    return out


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return _frames("vn_cctv_junction_a.mp4", [0, 40]) + _frames(
        "us_residential_street_cam.mp4", [360]
    )


@pytest.mark.vision
@pytest.mark.parametrize("mixed", [False, True], ids=["same-shape", "mixed-shapes"])
def test_boxes_match_ultralytics_predict(
    frames: list[np.ndarray], mixed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path))
    from ultralytics.models import YOLO

    batch_frames = frames if mixed else frames[:2]
    reference = YOLO(str(SETTINGS.model_path), task="detect").predict(
        batch_frames, imgsz=640, conf=0.25, classes=COCO_KEPT, device="cpu", verbose=False
    )
    found = DeviceBatch.load(SETTINGS.model_path, "cpu", half=False).detect(
        batch_frames, 640, 0.25, COCO_KEPT
    )
    assert len(found) == len(batch_frames)
    for ref, rows, frame in zip(reference, found, batch_frames, strict=True):
        want = ref.boxes.data.numpy()
        assert len(want) >= 5 and len(rows) == len(want)
        # each of predict's boxes has a twin of the same class within resampling noise
        gap = np.abs(want[:, None, :4] - rows[None, :, :4]).max(axis=2)
        twin = gap.argmin(axis=1)
        assert gap.min(axis=1).max() < 2.0
        assert (rows[twin, 5] == want[:, 5]).all()
        np.testing.assert_allclose(rows[twin, 4], want[:, 4], atol=0.06)
        h, w = frame.shape[:2]
        assert (rows[:, [0, 2]] <= w).all() and (rows[:, [1, 3]] <= h).all()


@pytest.mark.vision
def test_rejects_a_frame_that_is_not_bgr_uint8(frames: list[np.ndarray]) -> None:
    batch = DeviceBatch.load(SETTINGS.model_path, "cpu", half=False)
    with pytest.raises(ValueError, match="frame 1: expected uint8 BGR"):
        batch.detect([frames[0], frames[1][:, :, 0]], 640, 0.25)
    assert batch.detect([], 640, 0.25) == []


@pytest.mark.vision
def test_detector_on_device_path_agrees_with_host_path(
    frames: list[np.ndarray], tmp_path: Path, cpu_detector: CpuDetector
) -> None:
    def detector(preprocess: str) -> UltralyticsDetector:
        det = cpu_detector(tmp_path / "yolo", preprocess=preprocess)
        assert det.plan.preprocess == preprocess
        return det

    ts = [1.0, 2.0, 3.0]
    host = detector("host").detect(frames, ts)
    device = detector("device").detect(frames, ts, sizes=[640, 640, 320])
    host_small = detector("host").detect([frames[2]], [3.0], sizes=[320])
    for h, d in zip([*host[:2], host_small[0]], device, strict=True):
        assert d.t == h.t and d.names == h.names
        assert sorted(d.class_id.tolist()) == sorted(h.class_id.tolist())
        assert np.abs(np.sort(d.xyxy, axis=0) - np.sort(h.xyxy, axis=0)).max() < 2.0


def test_batched_nms_keeps_300_best_per_image_and_suppresses_within_a_class_only() -> None:
    import torch

    from vision.device_batch import batched_nms

    pred = torch.zeros((3, 4 + 3, 500))
    xs = torch.arange(500, dtype=torch.float32) * 20  # 500 disjoint 10x10 boxes in a row
    pred[0, 0], pred[0, 1], pred[0, 2:4] = xs, 5.0, 10.0
    pred[0, 4 + 1] = torch.linspace(0.2, 0.9, 500)  # class 1, rising scores
    # image 1: two identical boxes of class 0 (one survives), one of class 2 on top (kept)
    pred[1, :4, :3] = torch.tensor([[50.0] * 3, [50.0] * 3, [20.0] * 3, [20.0] * 3])
    pred[1, 4 + 0, 0], pred[1, 4 + 0, 1], pred[1, 4 + 2, 2] = 0.8, 0.7, 0.6
    rows, counts = batched_nms(pred, 0.25, None)
    assert counts.tolist() == [300, 2, 0] and rows.shape == (302, 6)
    first = rows[:300]
    assert (first[:, 4].diff() <= 0).all() and first[0, 4] == pytest.approx(0.9)
    assert first[0, :4].tolist() == pytest.approx([9975, 0, 9985, 10])  # x 9980 +- 5, y 5 +- 5
    assert sorted(rows[300:, 5].tolist()) == [0.0, 2.0] and rows[300, 4] == pytest.approx(0.8)
    only_two, per_image = batched_nms(pred, 0.25, torch.tensor([2]))
    assert per_image.tolist() == [0, 1, 0] and only_two[0, 5] == 2.0
