"""What the evidence metadata records of the camera configuration, the calibration and the
detector (:mod:`vision.provenance`)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from vision.config import CameraConfig, SpeedCalibration
from vision.device import DevicePlan
from vision.provenance import (
    calibration_label,
    calibration_record,
    calibration_sha256,
    camera_provenance,
    config_sha256,
    detector_provenance,
    weights_sha256,
)

CAMERA_YAML = """
id: cam-p
name: Cam P
location: {lat: 20.86, lon: 106.68, area: "303"}
source: x.mp4
detect_fps: 5
frame: {width: 640, height: 360}
count_lines:
  - id: approach
    line: [[10, 200], [600, 200]]
    direction: [0, 1]
"""


def _camera(text: str = CAMERA_YAML) -> CameraConfig:
    return CameraConfig.model_validate(yaml.safe_load(text))


def test_the_config_digest_depends_on_the_settings_not_on_the_yaml_layout() -> None:
    cam = _camera()
    reordered = "\n".join(reversed(CAMERA_YAML.strip().splitlines()[:6]))
    reordered += "\n" + "\n".join(CAMERA_YAML.strip().splitlines()[6:]) + "\n# a comment\n"
    assert config_sha256(_camera(reordered)) == config_sha256(cam)
    moved = _camera(CAMERA_YAML.replace("[600, 200]", "[600, 210]"))
    capped = cam.model_copy(update={"detect_fps": 3.0})
    digests = {config_sha256(cam), config_sha256(moved), config_sha256(capped)}
    assert len(digests) == 3 and all(len(d) == 64 for d in digests)


def test_the_camera_as_it_ran() -> None:
    cam = _camera().model_copy(update={"detect_fps": 3.5})
    rec = camera_provenance(cam, default_imgsz=640)
    assert rec == {
        "id": "cam-p",
        "name": "Cam P",
        "location": {"lat": 20.86, "lon": 106.68, "area": "303"},
        "config_sha256": config_sha256(cam),
        "detect_fps": 3.5,
        "detect_imgsz": 640,
        "frame": [640, 360],
    }
    own = cam.model_copy(update={"detect_imgsz": 512})
    assert camera_provenance(own, default_imgsz=640)["detect_imgsz"] == 512


def test_the_calibration_is_named_by_its_digest() -> None:
    cal = SpeedCalibration(
        image_points=((0, 0), (100, 0), (100, 60), (0, 60)),
        ground_points_m=((0, 0), (10, 0), (10, 6), (0, 6)),
        limit_kmh=50,
    )
    other = cal.model_copy(update={"limit_kmh": 40})
    assert calibration_sha256(cal) != calibration_sha256(other)
    assert (
        calibration_label(cal) == f"homography of 4 points, sha256 {calibration_sha256(cal)[:16]}"
    )
    rec = calibration_record(cal)
    assert rec["limit_kmh"] == 50 and rec["sha256"] == calibration_sha256(cal)
    assert rec["image_points"] == [[0, 0], [100, 0], [100, 60], [0, 60]]


def test_weights_are_hashed_by_their_bytes(tmp_path: Path) -> None:
    w = tmp_path / "w.pt"
    w.write_bytes(b"weights v1")
    assert weights_sha256(w) == hashlib.sha256(b"weights v1").hexdigest()
    w.write_bytes(b"weights v2, replaced")  # another size: hashed again
    assert weights_sha256(w) == hashlib.sha256(b"weights v2, replaced").hexdigest()
    assert weights_sha256(tmp_path / "missing.pt") is None


class _Spec:
    type, precision, conf, imgsz = "ultralytics", "fp32", 0.1, 640

    def __init__(self, path: Path) -> None:
        self.model_path = path


class _Detector:
    def __init__(self, path: Path) -> None:
        self.spec = _Spec(path)
        self.plan = DevicePlan("cpu", False, 1, "test", runtime="openvino")
        self.inference_precision = "bf16"


def test_the_detector_as_it_ran(tmp_path: Path) -> None:
    w = tmp_path / "yolo.pt"
    w.write_bytes(b"\x00" * 1000)
    info: dict[str, Any] = detector_provenance(_Detector(w))
    assert info["weights"] == "yolo.pt"
    assert info["weights_sha256"] == hashlib.sha256(b"\x00" * 1000).hexdigest()
    assert (info["runtime"], info["device"], info["half"]) == ("openvino", "cpu", False)
    assert (info["precision"], info["inference_precision"], info["conf"]) == ("fp32", "bf16", 0.1)
    assert "ultralytics" in info["packages"] and "haiphong-ioc" in info["packages"]
    bare = detector_provenance(object())  # a stand-in says what it is, nothing more
    assert bare["type"] == "object" and "weights" not in bare and "packages" in bare
