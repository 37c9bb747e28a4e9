"""What produced a violation: the camera configuration, the calibration and the detector, as
every evidence ``metadata.json`` records them (issue #3: "model and config versions").

A reviewer, or a court, must be able to tell which geometry, speed calibration, weights and
software judged a case months later, after the camera's file was edited and the model
replaced. Each is identified by a SHA-256:

* the camera's configuration *as it ran* (:func:`config_sha256`): the validated model as
  canonical JSON (sorted keys, no spaces), so the same settings give the same digest
  whatever the YAML's key order, comments or layout, and a rate capped to the host
  (``ioc vision run --max-detect-fps``) or geometry scaled to the stream gives another one
  (the effective rate and input size are also recorded beside it);
* the speed calibration the same way (:func:`calibration_sha256`; its short form goes into
  the speeding violation's ``measured.calibration``, stored with every speed);
* the detector's weights file by its bytes (:func:`weights_sha256`, hashed once per process),
  with the runtime, device, precision, confidence and the versions of the packages that ran it.

Example::

    camera_provenance(camera, default_imgsz=640)
    # {'id': 'vn-junction-a', 'config_sha256': '3f0c...', 'detect_fps': 5.0, 'detect_imgsz': 640,
    #  'location': {'lat': 20.86, 'lon': 106.68, 'area': '304'}, ...}
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vision.config import CameraConfig, SpeedCalibration

PACKAGES = ("haiphong-ioc", "ultralytics", "openvino", "torch", "opencv-python-headless")


def model_sha256(model: BaseModel) -> str:
    """SHA-256 of a validated model as canonical JSON."""
    data = model.model_dump(mode="json")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def config_sha256(camera: CameraConfig) -> str:
    """The camera configuration's digest (:func:`model_sha256`)."""
    return model_sha256(camera)


def calibration_sha256(calibration: SpeedCalibration) -> str:
    """The speed calibration's digest (:func:`model_sha256`)."""
    return model_sha256(calibration)


def calibration_label(calibration: SpeedCalibration) -> str:
    """The calibration as a speeding violation's ``measured.calibration`` names it."""
    return (
        f"homography of {len(calibration.image_points)} points, "
        f"sha256 {calibration_sha256(calibration)[:16]}"
    )


def calibration_record(calibration: SpeedCalibration) -> dict[str, Any]:
    """The whole calibration and its digest, for the evidence metadata."""
    return {**calibration.model_dump(mode="json"), "sha256": calibration_sha256(calibration)}


@functools.lru_cache(maxsize=8)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(path: Path) -> str | None:
    """SHA-256 of a weights file (hashed again only when its size or time changes);
    ``None`` when it cannot be read."""
    try:
        st = path.stat()
        return _file_sha256(path, st.st_size, st.st_mtime_ns) if path.is_file() else None
    except OSError:
        return None


def package_versions() -> dict[str, str]:
    """The installed versions of the packages that take part in a detection."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def detector_provenance(detector: object) -> dict[str, Any]:
    """The detector as the metadata records it: what the detector object tells (a stand-in
    without a ``spec`` or ``plan`` gives what it has), and the package versions."""
    spec = getattr(detector, "spec", None)
    plan = getattr(detector, "plan", None)
    info: dict[str, Any] = {"type": getattr(spec, "type", type(detector).__name__)}
    weights = getattr(spec, "model_path", None)
    if isinstance(weights, Path):
        info |= {"weights": weights.name, "weights_sha256": weights_sha256(weights)}
    if plan is not None:
        info |= {"runtime": plan.runtime, "device": plan.device, "half": plan.half}
    if spec is not None:
        info |= {"precision": spec.precision, "conf": spec.conf, "imgsz": spec.imgsz}
    computed = getattr(detector, "inference_precision", None)
    if isinstance(computed, str):
        info["inference_precision"] = computed
    info["packages"] = package_versions()
    return info


def camera_provenance(camera: CameraConfig, default_imgsz: int | None) -> dict[str, Any]:
    """The camera as it ran: its id and name, where it stands, its configuration's digest
    and the rate and input size its detections had."""
    return {
        "id": camera.id,
        "name": camera.name,
        "location": camera.location.model_dump(mode="json"),
        "config_sha256": config_sha256(camera),
        "detect_fps": camera.detect_fps,
        "detect_imgsz": camera.detect_imgsz or default_imgsz,
        "frame": [camera.frame.width, camera.frame.height],
    }
