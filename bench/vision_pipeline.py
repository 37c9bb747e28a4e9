"""Benchmark: the camera pipeline with motion gating and tracker carrying vs the detector on
every frame, on the real sample clips (``shared/data/video``, through ``vision/cameras``).

Both runs decode every frame of the first ``--seconds`` of each clip (files read as fast as
possible, nothing dropped), with all cameras in one pipeline so a GPU batches their frames:

* ``gated``: the pipeline as deployed - a tick at each camera's ``detect_fps``, the detector
  only when the motion gate saw movement, ByteTrack carrying objects over still ticks.
* ``every_frame``: the brute-force baseline - detector + tracker + rules on every frame.

``frames_per_s`` is decoded video frames handled per wall second (higher is better). Progress
goes to stderr; the last stdout line is ONE JSON object with the figures. Evidence is written
to a temporary folder and deleted.

Example::

    .venv/bin/python bench/vision_pipeline.py                      # CPU here, ~2 minutes on 2 cores
    .venv/bin/python bench/vision_pipeline.py --device auto --seconds 10    # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ioc.settings import Settings
from vision.catalogue import load_violation_catalogue
from vision.config import load_cameras, resolve_source
from vision.detector import DetectorSpec, UltralyticsDetector, create_detector
from vision.pipeline import Pipeline, PipelineOptions
from vision.publish import MemoryPublisher
from vision.source import CameraSource, Grabber


def run_mode(
    name: str,
    settings: Settings,
    detector: UltralyticsDetector,
    cameras: list[Any],
    seconds: float,
    every_frame: bool,
) -> dict[str, Any]:
    feeds = {
        c.id: Grabber(
            CameraSource(c.id, resolve_source(c.source, settings.shared_dir)),
            size=4,
            drop_oldest=False,
        )
        for c in cameras
    }
    calls0, infer0 = detector.calls, detector.inference_s
    with tempfile.TemporaryDirectory() as tmp:
        opts = PipelineOptions(
            evidence_root=Path(tmp),
            gate=not every_frame,
            every_frame=every_frame,
            device=detector.plan.device,
        )
        pipe = Pipeline.build(
            cameras, load_violation_catalogue(), feeds, detector, MemoryPublisher(), opts
        )
        start = time.perf_counter()
        stats = pipe.run(until_s=seconds)
        wall = time.perf_counter() - start
    frames = sum(s.frames for s in stats.values())
    out = {
        "frames": frames,
        "ticks": sum(s.ticks for s in stats.values()),
        "detector_frames": sum(s.detections for s in stats.values()),
        "detector_calls": detector.calls - calls0,
        "detector_s": round(detector.inference_s - infer0, 2),
        "wall_s": round(wall, 2),
        "frames_per_s": round(frames / wall, 2),
        "violations": sum(s.violations for s in stats.values()),
        "per_camera": {
            cid: {"frames": s.frames, "ticks": s.ticks, "detector_frames": s.detections}
            for cid, s in stats.items()
        },
    }
    print(f"[{name}] {json.dumps(out)}", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--seconds", type=float, default=4.0, help="stream seconds per clip")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--camera", action="append", default=[], help="camera id (repeatable)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings(
        vision_device=args.device,
        vision_torch_threads=args.threads,
        home=Path(tempfile.gettempdir()) / "ioc-bench-vision",
    )
    all_cameras = load_cameras(settings.cameras_dir)
    cameras = [all_cameras[c] for c in args.camera] if args.camera else list(all_cameras.values())
    det = create_detector(DetectorSpec.from_settings(settings), cameras=len(cameras))
    assert isinstance(det, UltralyticsDetector)
    first = resolve_source(cameras[0].source, settings.shared_dir)
    warm = CameraSource("warm", first).read()
    if warm is not None:  # the first inference sets up the predictor (seconds): not measured
        det.detect([warm.image], [0.0])
    gated = run_mode("gated", settings, det, cameras, args.seconds, every_frame=False)
    brute = run_mode("every_frame", settings, det, cameras, args.seconds, every_frame=True)
    result = {
        "benchmark": "vision_pipeline",
        "device": det.plan.device,
        "half": det.plan.half,
        "batch": det.plan.batch,
        "torch_threads": args.threads,
        "seconds_per_clip": args.seconds,
        "cameras": [c.id for c in cameras],
        "model": settings.model_path.name,
        "python": platform.python_version(),
        "gated": {k: v for k, v in gated.items() if k != "per_camera"},
        "every_frame": {k: v for k, v in brute.items() if k != "per_camera"},
        "speedup": round(gated["frames_per_s"] / brute["frames_per_s"], 2),
        "gate_skipped_ticks": round(1 - gated["detector_frames"] / max(1, gated["ticks"]), 3),
        "detector_frames_ratio": round(
            gated["detector_frames"] / max(1, brute["detector_frames"]), 3
        ),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
