"""Frames from several cameras go into one detector call (one GPU forward pass), and the
motion gate keeps still frames away from the detector. A fake detector stands in for the GPU
so this runs anywhere; the frames are real (two sample clips, one second each)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ioc.settings import Settings
from vision.catalogue import ViolationCatalogue
from vision.config import load_cameras, resolve_source
from vision.detector import empty_detections, prepare_ultralytics_env
from vision.device import DevicePlan, plan_device
from vision.pipeline import CameraStats, Pipeline, PipelineOptions
from vision.publish import MemoryPublisher
from vision.source import CameraSource, Frame, Grabber, open_capture
from vision.tracks import Detections

SETTINGS = Settings()


class FakeGpuDetector:
    """Records each call's batch; takes ``delay_s`` per call like a GPU forward; detects
    nothing."""

    def __init__(self, cameras: int, delay_s: float = 0.02) -> None:
        self.plan: DevicePlan = plan_device(
            "auto", cuda_devices=1, model_suffix=".pt", cameras=cameras, max_batch=8
        )
        self.delay_s = delay_s
        self.batches: list[list[float]] = []
        self.sizes: list[list[int | None]] = []

    def detect(
        self,
        frames: Sequence[NDArray[np.uint8]],
        ts: Sequence[float],
        sizes: Sequence[int | None] | None = None,
        class_maps: Sequence[Mapping[str, str] | None] | None = None,
    ) -> list[Detections]:
        assert len(frames) <= self.plan.batch
        assert sizes is not None and len(sizes) == len(frames)
        time.sleep(self.delay_s)
        self.batches.append(list(ts))
        self.sizes.append(list(sizes))
        return [empty_detections(t) for t in ts]


def _run(
    tmp_path: Path, catalogue: ViolationCatalogue, ids: list[str], gate: bool
) -> tuple[FakeGpuDetector, dict[str, CameraStats], MemoryPublisher]:
    prepare_ultralytics_env(tmp_path / "yolo")
    cams = load_cameras(SETTINGS.cameras_dir)
    chosen = [cams[i] for i in ids]
    feeds = {
        c.id: Grabber(
            CameraSource(c.id, resolve_source(c.source, SETTINGS.shared_dir)), drop_oldest=False
        )
        for c in chosen
    }
    det = FakeGpuDetector(len(chosen))
    pub = MemoryPublisher()
    opts = PipelineOptions(evidence_root=tmp_path, device=det.plan.device, gate=gate)
    stats = Pipeline.build(chosen, catalogue, feeds, det, pub, opts).run(until_s=1.0, max_wall_s=60)
    return det, stats, pub


def test_cameras_share_detector_batches(tmp_path: Path, catalogue: ViolationCatalogue) -> None:
    det, stats, pub = _run(tmp_path, catalogue, ["parking-lot-aisle", "vn-junction-a"], False)
    assert (det.plan.device, det.plan.half, det.plan.batch) == ("cuda:0", True, 2)
    pairs = sum(len(b) == 2 for b in det.batches)
    assert pairs >= 2  # one call, frames of both cameras
    assert sum(len(b) for b in det.batches) == sum(s.detections for s in stats.values())
    assert {s for b in det.sizes for s in b} == {None}  # neither camera sets detect_imgsz
    assert all(h["device"] == "cuda:0" for h in pub.of(PipelineOptions().topic_dashboard, "camera"))


def test_each_camera_asks_for_its_own_input_size(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    det, stats, _ = _run(tmp_path, catalogue, ["vn-junction-a", "vn-junction-b"], False)
    sizes = [s for batch in det.sizes for s in batch]
    assert stats["vn-junction-b"].detections > 0 and stats["vn-junction-a"].detections > 0
    # junction B's YAML asks for 960 px, junction A leaves the detector's default
    assert sizes.count(960) == stats["vn-junction-b"].detections
    assert sizes.count(None) == stats["vn-junction-a"].detections


def test_still_frames_skip_the_detector(tmp_path: Path, catalogue: ViolationCatalogue) -> None:
    _, stats, _ = _run(tmp_path, catalogue, ["parking-lot-aisle"], True)
    parking = stats["parking-lot-aisle"]  # the empty aisle of the first second
    assert parking.ticks >= 5 and parking.detections <= 2


class _CountingCapture:
    """A real capture that counts its BGR conversions (``retrieve``)."""

    def __init__(self, cap: Any) -> None:
        self.cap, self.converted = cap, 0

    def isOpened(self) -> bool:
        return bool(self.cap.isOpened())

    def grab(self) -> bool:
        return bool(self.cap.grab())

    def retrieve(self) -> tuple[bool, Any]:
        self.converted += 1
        return self.cap.retrieve()  # type: ignore[no-any-return]

    def get(self, prop: int) -> float:
        return float(self.cap.get(prop))

    def release(self) -> None:
        self.cap.release()


def test_frames_nobody_uses_are_not_converted(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    """Junction A (142 frames, ~20/s) at 5 ticks/s and a 10-frames/s ring: passing over the
    frames neither wants changes nothing the pipeline does, and converts about half as many."""
    prepare_ultralytics_env(tmp_path / "yolo")
    cam = load_cameras(SETTINGS.cameras_dir)["vn-junction-a"]
    url = resolve_source(cam.source, SETTINGS.shared_dir)
    seen = {}
    for skip in (False, True):
        caps: list[_CountingCapture] = []

        def opener(u: str, caps: list[_CountingCapture] = caps) -> _CountingCapture:
            caps.append(_CountingCapture(open_capture(u)))
            return caps[-1]

        feeds = {cam.id: Grabber(CameraSource(cam.id, url, opener=opener), drop_oldest=False)}
        det = FakeGpuDetector(1, delay_s=0.0)
        opts = PipelineOptions(
            evidence_root=tmp_path / str(skip), device="cpu", gate=False, skip_unused=skip
        )
        pipe = Pipeline.build([cam], catalogue, feeds, det, MemoryPublisher(), opts)
        stats = pipe.run(max_wall_s=60)[cam.id]
        ring = [f.t for f in pipe.workers[cam.id].ring.window(-1, 1e9)]
        seen[skip] = (stats.frames, stats.ticks, det.batches, ring)
        converted = sum(c.converted for c in caps)
        if skip:
            assert converted <= 0.6 * stats.frames
        else:
            assert converted == stats.frames == 142
    assert seen[True] == seen[False]
    assert seen[True][1] >= 30 and len(seen[True][3]) >= 60


def _ticks_on_queued_frames(
    tmp_path: Path, catalogue: ViolationCatalogue, live: bool
) -> list[list[float]]:
    """Junction A at 5 ticks/s, its grabber not started: frames are queued by hand, first
    one at 0.0 s, then two (0.25 and 0.35 s, both past the tick due at 0.2 s) at once, as
    when the loop was busy while they arrived; returns the stream times the detector got."""
    prepare_ultralytics_env(tmp_path / "yolo")
    cam = load_cameras(SETTINGS.cameras_dir)["vn-junction-a"].model_copy(update={"detect_fps": 5})
    src = CameraSource(cam.id, resolve_source(cam.source, SETTINGS.shared_dir))
    first = src.read()
    assert first is not None
    feed = Grabber(src, size=4, drop_oldest=live)
    det = FakeGpuDetector(1, delay_s=0.0)
    opts = PipelineOptions(evidence_root=tmp_path, device=det.plan.device, gate=False)
    pipe = Pipeline.build([cam], catalogue, {cam.id: feed}, det, MemoryPublisher(), opts)
    for batch in ([0.0], [0.25, 0.35]):
        for t in batch:
            feed._put(Frame(cam.id, first.image, t, time.time(), 1))
        pipe.step({cam.id})
    pipe.step({cam.id})
    return det.batches


def test_a_live_camera_detects_its_newest_queued_frame(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    # live: the stale 0.25 s frame goes to the evidence ring only, the tick takes 0.35 s
    assert _ticks_on_queued_frames(tmp_path / "live", catalogue, live=True) == [[0.0], [0.35]]
    # a file analysed offline keeps every tick where the clock puts it (0.35 s is too soon)
    assert _ticks_on_queued_frames(tmp_path / "file", catalogue, live=False) == [[0.0], [0.25]]
