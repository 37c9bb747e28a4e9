"""Message builders: stable event ids (a restart never duplicates), JSON-safe payloads."""

from __future__ import annotations

import base64
import json

import numpy as np

from vision.catalogue import ViolationCatalogue
from vision.config import CameraConfig
from vision.evidence import EvidenceFile
from vision.publish import (
    event_id,
    flow_observation,
    frame_message,
    violation_message,
)
from vision.rules.base import Violation

CAM = CameraConfig.model_validate(
    {
        "id": "cam-1",
        "name": "Cam",
        "location": {"lat": 20.8, "lon": 106.7, "area": "304"},
        "source": "x.mp4",
        "detect_fps": 5,
        "frame": {"width": 640, "height": 360},
    }
)


def test_event_id_is_stable_and_distinct() -> None:
    a = event_id("cam-1", 7, "red_light", 12.3456)
    assert a == event_id("cam-1", 7, "red_light", 12.3456 + 1e-5)  # rounded to the ms
    assert a != event_id("cam-1", 8, "red_light", 12.3456)
    assert a != event_id("cam-1", 7, "wrong_way", 12.3456)
    assert a.version == 5


def test_violation_message(catalogue: ViolationCatalogue) -> None:
    legal = catalogue.resolve("red_light", "car")
    assert legal is not None
    v = Violation(
        rule="red_light",
        camera_id="cam-1",
        track_id=7,
        vehicle_class="car",
        time=12.3456,
        evidence_from=7.3,
        evidence_to=17.3,
        where="line",
        legal=legal,
        measured={"signal": "red"},
    )
    files = [EvidenceFile("cam-1/2026-01-01/x/clip_raw.mp4", "clip_raw", "ab" * 32, 10)]
    msg = violation_message(v, "e1", 1_767_225_600.0, CAM, files, True)
    assert json.loads(json.dumps(msg)) == msg
    assert msg["legal"]["citation"].startswith("Điểm b khoản 9 Điều 6")
    assert msg["time"] == "2026-01-01T00:00:00.000+00:00"
    assert msg["evidence"] == {
        "complete": True,
        "files": [{"path": files[0].path, "kind": "clip_raw", "sha256": "ab" * 32, "bytes": 10}],
    }
    assert msg["status"] == "pending" and msg["camera"]["area_id"] == "304"


def test_frame_message_is_a_small_jpeg() -> None:
    msg = frame_message("cam-1", np.zeros((720, 1280, 3), np.uint8), 0.0)
    assert (msg["width"], msg["height"]) == (640, 360)
    assert base64.b64decode(msg["jpeg_b64"])[:2] == b"\xff\xd8"


def test_flow_observation_is_vehicles_per_hour() -> None:
    obs = flow_observation("cam-cam-1", 120.0, {"car": 1})
    assert obs["value"] == 60.0 and obs["unit"] == "veh/h" and obs["quantity"] == "traffic_flow"
    assert obs["time"] == "1970-01-01T00:03:00.000+00:00"
