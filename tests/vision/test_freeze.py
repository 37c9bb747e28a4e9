"""A frozen picture (vision/freeze.py): a camera whose stream goes on while its image stands
still judges and counts nothing, and what it judged on the still picture is withdrawn; real
footage never reads as frozen. And a picture that changes size under the rules keeps the
evidence of what was judged before the change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ioc.domain.alarm_sources import from_camera
from ioc.domain.alarms import Raise, Resolve
from ioc.settings import Settings
from vision.catalogue import ViolationCatalogue
from vision.config import CameraConfig
from vision.detector import prepare_ultralytics_env
from vision.freeze import FreezeChange, FreezeWatch
from vision.pipeline import CameraWorker, PipelineOptions
from vision.report import build_report
from vision.rules import Violation
from vision.source import Frame
from vision.tracks import Detections

CarAt = Callable[[float, float], Detections]  # the conftest's car_at
VIDEO = Settings().shared_dir / "data" / "video"
WALL0 = 1_767_225_600.0


def _noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(60, 200, (240, 320, 3), dtype=np.uint8)


def test_the_same_picture_for_long_enough_is_frozen_until_it_changes() -> None:
    watch = FreezeWatch(frozen_s=2.0)
    still = _noise(1)
    dithered = still.copy()
    dithered[::32, ::32] += 1  # a recorder re-encoding the same picture: one grey level
    assert watch.update(0.0, still) is None
    assert [watch.update(t, still if t < 1 else dithered) for t in (0.5, 1.0, 1.5)] == [None] * 3
    assert watch.update(2.0, still) == FreezeChange(2.0, True, 0.0)
    assert watch.frozen and watch.update(3.0, still) is None
    assert watch.update(3.2, _noise(2)) == FreezeChange(3.2, False, 0.0)
    assert not watch.frozen and watch.since_t == 3.2
    changed = _noise(2)
    changed[::16, ::16][5, 5] += 2  # two grey levels on one sampled pixel: a live picture
    assert watch.update(4.0, changed) is None and watch.since_t == 4.0
    with pytest.raises(ValueError):
        FreezeWatch(frozen_s=0)


@pytest.mark.parametrize(
    "clip",
    [
        "vn_cctv_junction_a.mp4",
        "vn_cctv_junction_b.mp4",
        "us_residential_street_cam.mp4",
        "intel_parking_lot_overhead.mp4",
    ],
)
def test_real_footage_never_reads_as_frozen(clip: str) -> None:
    # every frame of each sample clip, and every 4th (ticks); the tightest a live stream
    # comes to the tolerance is junction B's pair of frames 3 grey levels apart
    for every in (1, 4):
        watch = FreezeWatch(frozen_s=0.05)  # even a 50 ms run of one picture would count
        cap = cv2.VideoCapture(str(VIDEO / clip), cv2.CAP_FFMPEG)
        k = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if k % every == 0:
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000
                image = np.asarray(frame, dtype=np.uint8)
                assert watch.update(t, image) is None, f"{clip} frozen at {t:.2f} s"
            k += 1
        cap.release()
        assert k > 100


def _zone_camera(stop_line_camera: CameraConfig, frozen_s: float | None) -> CameraConfig:
    """The conftest's 320x240 camera with a no-stopping zone (1 s) where the car stands."""
    return CameraConfig.model_validate(
        {
            **stop_line_camera.model_dump(exclude={"stop_lines", "signal"}),
            "id": "cam-f",
            "no_stopping_zones": [
                {"id": "box", "polygon": [[100, 120], [240, 120], [240, 200], [100, 200]],
                 "max_dwell_s": 1.0}
            ],
            "stream": {"frozen_s": frozen_s},
        }
    )  # fmt: skip


def _run(worker: CameraWorker, car_at: CarAt) -> list[Violation]:
    """5 ticks a second: a live picture for 1 s (the car driving up into the zone), then
    the same picture for 3 s (the detector keeps finding the car where it was), then live
    again with the car gone. Violations are opened for evidence as the pipeline does."""
    found: list[Violation] = []
    still = _noise(99)
    for k in range(25):
        t = round(0.2 * k, 3)
        live = k <= 5 or k >= 21
        image = _noise(k) if live else still
        frame = Frame("cam-f", image, t, WALL0 + t, k)
        assert worker.offer(frame) is True
        bottom = 230.0 - 10 * k if k <= 5 else 180.0
        det = car_at(t, bottom) if k < 21 else None
        for v in worker.apply(frame, det):
            worker.recorder.open(v, f"ev-{len(found)}", WALL0 + v.time)
            found.append(v)
    return found


@pytest.mark.parametrize("frozen_s", [None, 2.0])
def test_a_car_on_a_frozen_picture_is_not_fined_for_stopping(
    catalogue: ViolationCatalogue,
    stop_line_camera: CameraConfig,
    car_at: CarAt,
    tmp_path: Path,
    frozen_s: float | None,
) -> None:
    prepare_ultralytics_env(tmp_path / "yolo")
    camera = _zone_camera(stop_line_camera, frozen_s)
    worker = CameraWorker(camera, catalogue, PipelineOptions(gate=False))
    found = _run(worker, car_at)
    # the car stands in the zone from 1.0 s: on the frozen picture its dwell passes 1 s
    assert [v.rule for v in found] == ["illegal_stop"]
    if frozen_s is None:  # the control: nothing tells the frozen picture from a parked car
        assert worker.recorder.pending == 1 and worker.stats.freezes == []
        return
    # frozen from 1.2 s (its first unchanged frame), found at 3.2 s: the violation judged on
    # it is withdrawn, its wall notice to be taken back; live again at 4.2 s
    assert worker.stats.freezes == [(1.2, 3.2)] and worker.freeze is not None
    assert not worker.freeze.frozen and worker.stats.withdrawn == 1
    assert worker.recorder.pending == 0
    assert [(v.rule, reason) for v, _, _, reason in worker.retracted] == [
        ("illegal_stop", "stream_frozen")
    ]
    report = build_report("clip.mp4", camera, worker.stats, worker.counter, [], "v")
    assert report["frozen"] == [{"since_s": 1.2, "found_s": 3.2}]


def test_a_frozen_camera_raises_an_alarm(
    stop_line_camera: CameraConfig, health_of: Callable[..., dict[str, Any]]
) -> None:
    msg = health_of(stop_line_camera, frozen=True)
    assert msg["frozen"] is True
    raised = from_camera(msg)
    assert isinstance(raised, Raise) and raised.detail["fault"] == "stream_frozen"
    assert raised.severity == 3 and "frozen" in raised.title
    assert isinstance(from_camera({**msg, "frozen": False}), Resolve)


def test_violations_waiting_for_evidence_survive_a_change_of_frame_size(
    catalogue: ViolationCatalogue, stop_line_camera: CameraConfig, car_at: CarAt, tmp_path: Path
) -> None:
    """A car stops in the zone and is fined; before the clip's after-window has passed, the
    camera comes back at twice the size (reconfigured, it restarted its stream: a new
    segment). The geometry is scaled, and the violation's evidence is written, cut there."""
    prepare_ultralytics_env(tmp_path / "yolo")
    camera = _zone_camera(stop_line_camera, None)
    worker = CameraWorker(camera, catalogue, PipelineOptions(gate=False))
    jobs = []
    found: list[Violation] = []
    for k in range(20):
        t = round(0.2 * k, 3)
        larger = k >= 15  # 640x480, after a reconnection, from 3.0 s
        image = cv2.resize(_noise(k), (640, 480)) if larger else _noise(k)
        frame = Frame("cam-f", image, t, WALL0 + t, k, segment=int(larger))
        assert worker.offer(frame) is True
        bottom = 230.0 - 10 * k if k <= 5 else 180.0
        det = None if larger else car_at(t, bottom)
        for v in worker.apply(frame, det):
            worker.recorder.open(v, f"ev-{len(found)}", WALL0 + v.time)
            found.append(v)
        jobs += worker.evidence_ready(t)
    assert [v.rule for v in found] == ["illegal_stop"]
    assert worker.camera.frame.width == 640  # the zone now on the larger picture
    (job,) = jobs  # without the fix, the reconfigured worker dropped it
    assert not job.complete and job.frames[-1].t < 3.0
    assert {f.image().shape for f in job.frames} == {(240, 320, 3)}
    assert worker.evidence_ready(flush=True) == []
