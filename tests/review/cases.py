"""Review test helpers: violation cases with real evidence cut from a shared clip.

:func:`real_case` decodes the first seconds of ``vn_cctv_junction_a.mp4``, runs them through
the camera pipeline's own evidence code (``vision.evidence``: frame ring, recorder, writer)
and returns the Kafka message the pipeline would publish for it (``vision.publish``), with
the evidence files written under ``root``. Clips are H.264 (browser-playable) when an ffmpeg
with libx264 is available: :func:`h264_clips` puts the one of ``imageio-ffmpeg`` on PATH.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np

from ioc.settings import Settings
from vision import clips
from vision.catalogue import load_violation_catalogue
from vision.config import CameraConfig
from vision.detector import CLASS_NAMES, DetectorSpec
from vision.device import DevicePlan
from vision.evidence import EvidenceRecorder, FrameRing, Overlay, write_evidence
from vision.provenance import camera_provenance, detector_provenance
from vision.publish import event_id, violation_message
from vision.rules.base import Violation
from vision.signals import Light
from vision.tracks import Detections

SHARED = Path(__file__).resolve().parents[3] / "shared"
CLIP = SHARED / "data" / "video" / "vn_cctv_junction_a.mp4"
WALL0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
BOX = (430.0, 330.0, 640.0, 520.0)  # a vehicle-sized box in the 1006x720 frame


@cache
def clip_frames(seconds: float = 4.0) -> tuple[tuple[float, np.ndarray[Any, Any]], ...]:
    """(timestamp s, BGR frame) of the first ``seconds`` of the shared clip."""
    cap = cv2.VideoCapture(str(CLIP))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if t > seconds:
            break
        out.append((t, frame))
    cap.release()
    assert out, f"could not decode {CLIP}"
    return tuple(out)


def camera(camera_id: str, area: str | None = "303") -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": camera_id,
            "name": f"Ngã tư {camera_id}",
            "location": {"lat": 20.8561, "lon": 106.6822, "area": area},
            "source": str(CLIP),
            "detect_fps": 5,
            "frame": {"width": 1006, "height": 720},
        }
    )


def provenance(cam: CameraConfig) -> dict[str, Any]:
    """What the pipeline records of the camera and the detector (the shared weights, hashed)."""
    spec = DetectorSpec.from_settings(Settings())
    plan = DevicePlan("cpu", False, 1, "review test", runtime="openvino")
    detector = SimpleNamespace(spec=spec, plan=plan, inference_precision="bf16")
    return {
        "camera": camera_provenance(cam, spec.imgsz),
        "detector": detector_provenance(detector),
    }


def real_case(
    root: Path,
    camera_id: str = "cam-review",
    track: int = 7,
    rule: str = "red_light",
    vehicle: str = "car",
    area: str | None = "303",
    at: float = 2.0,
) -> dict[str, Any]:
    """Write real evidence under ``root``; returns the pipeline's violation message."""
    cam = camera(camera_id, area)
    legal = load_violation_catalogue().resolve(rule, vehicle, {"speed_kmh": 80.0})
    assert legal is not None
    v = Violation(
        rule=rule,
        camera_id=camera_id,
        track_id=track,
        vehicle_class=vehicle,
        time=at,
        evidence_from=at - 1.5,
        evidence_to=at + 1.5,
        where="approach",
        legal=legal,
        measured={"signal": "red", "red_for_s": 2.5},
    )
    ring = FrameRing(horizon_s=20.0, max_fps=10.0)
    for t, frame in clip_frames():
        det = Detections(
            t,
            np.array([BOX], float),
            np.array([0.9]),
            np.array([CLASS_NAMES.index(vehicle)]),
            CLASS_NAMES,
            np.array([track]),
        )
        ring.add(t, WALL0 + t, frame, Overlay(det, {"straight": Light.RED}))
    eid = str(event_id(camera_id, track, rule, at))
    rec = EvidenceRecorder(cam, ring)
    rec.open(v, eid, WALL0 + at, {"provenance": provenance(cam)})
    (job,) = rec.ready()
    files = write_evidence(job, root, fps=10.0)
    return violation_message(v, eid, WALL0 + at, cam, files, job.complete)


@contextlib.contextmanager
def h264_clips() -> Iterator[str]:
    """Make ``vision.clips`` write H.264 through imageio-ffmpeg's ffmpeg; yields the codec."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "ffmpeg"
        link.symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
        old = os.environ.get("PATH", "")
        os.environ["PATH"] = f"{tmp}{os.pathsep}{old}"
        clips.choose_backend.cache_clear()
        try:
            yield clips.choose_backend()
        finally:
            os.environ["PATH"] = old
            clips.choose_backend.cache_clear()
