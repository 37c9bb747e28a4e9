"""A camera's ``class_map``: extra COCO classes read as a vehicle class on that camera only,
with overlapping boxes of the renamed class suppressed again; on the real top-down parking
clip, the car the COCO model calls "cell phone" is detected as a car."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from ioc.settings import Settings
from vision.config import load_cameras
from vision.detector import COCO_TO_CLASS, UltralyticsDetector, from_rows
from vision.tracks import Detections

CpuDetector = Callable[..., UltralyticsDetector]
NAMES = {0: "person", 2: "car", 5: "bus", 28: "suitcase", 67: "cell phone"}


def _rows(*boxes: tuple[float, float, float, float, float, int]) -> np.ndarray:
    return np.array(boxes, dtype=np.float64).reshape(-1, 6)


def _classes(d: Detections) -> list[str]:
    return [d.names[int(c)] for c in d.class_id]


def test_without_a_map_only_the_pipelines_classes_are_kept() -> None:
    rows = _rows((0, 0, 100, 100, 0.9, 67), (200, 0, 300, 100, 0.8, 5))
    d = from_rows(rows, NAMES, 1.5)
    assert _classes(d) == ["bus"] and d.t == 1.5
    assert "cell phone" not in COCO_TO_CLASS


def test_mapped_classes_become_the_vehicle_class_and_a_vehicle_is_kept_once() -> None:
    rows = _rows(
        (0, 0, 100, 200, 0.92, 67),  # a car seen from above, called "cell phone"
        (2, 4, 100, 198, 0.30, 2),  # the same car, also found as "car": suppressed
        (300, 0, 400, 200, 0.50, 5),  # another car, called "bus"
        (600, 0, 700, 100, 0.70, 0),  # a person, not mapped: kept as a person
    )
    d = from_rows(rows, NAMES, 0.0, {"cell phone": "car", "bus": "car"})
    assert _classes(d) == ["car", "car", "person"]
    np.testing.assert_allclose(d.xyxy[0], [0, 0, 100, 200])  # the higher confidence wins
    np.testing.assert_allclose(d.conf, [0.92, 0.50, 0.70])


def test_a_four_wheeler_found_as_two_classes_is_kept_once() -> None:
    # COCO's NMS is per class: the US street's white pickup came back as a "truck" and a
    # "car" box of the same spot, and the second box started or stole a track
    names = {**NAMES, 3: "motorcycle", 7: "truck"}
    rows = _rows(
        (300, 200, 420, 280, 0.52, 7),  # the pickup as a truck
        (301, 201, 420, 281, 0.41, 2),  # ... and as a car: suppressed
        (330, 150, 360, 210, 0.60, 3),  # a motorbike beside it, overlapping: kept
        (300, 300, 420, 380, 0.45, 5),  # a bus elsewhere: kept
    )
    d = from_rows(rows, names, 0.0)
    assert _classes(d) == ["truck", "motorbike", "bus"]
    np.testing.assert_allclose(d.conf, [0.52, 0.60, 0.45])


def test_boxes_of_the_mapped_class_that_do_not_overlap_are_all_kept() -> None:
    rows = _rows((0, 0, 100, 100, 0.9, 67), (150, 0, 250, 100, 0.4, 2), (0, 300, 90, 400, 0.2, 28))
    d = from_rows(rows, NAMES, 0.0, {"cell phone": "car", "suitcase": "car"})
    assert _classes(d) == ["car", "car", "car"]


@pytest.mark.vision
def test_the_parking_camera_sees_the_top_down_car(
    tmp_path: Path, cpu_detector: CpuDetector
) -> None:
    settings = Settings()
    camera = load_cameras(settings.cameras_dir)["parking-lot-aisle"]
    assert camera.class_map.get("cell phone") == "car"
    cap = cv2.VideoCapture(
        str(settings.shared_dir / "data" / "video" / camera.source.split("/")[-1])
    )
    cap.set(cv2.CAP_PROP_POS_FRAMES, 84)  # a white hatchback mid-aisle, seen from above
    ok, image = cap.read()
    cap.release()
    assert ok
    frame = np.asarray(image, dtype=np.uint8)
    det = cpu_detector(tmp_path / "yolo", runtime="torch")
    plain, mapped = det.detect([frame, frame], [0.0, 0.0], class_maps=[None, camera.class_map])
    big = [i for i, b in enumerate(mapped.xyxy) if (b[3] - b[1]) > 150]
    assert [_classes(mapped)[i] for i in big] == ["car"]
    assert mapped.conf[big[0]] > 0.5
    plain_cars = [b for b, c in zip(plain.xyxy, _classes(plain), strict=True) if c == "car"]
    assert not any((b[3] - b[1]) > 150 for b in plain_cars)  # unmapped, the model sees no car
