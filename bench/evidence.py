"""The CPU one violation's evidence costs, per x264 preset of its clips.

Not a test. Fills a camera's evidence ring with 12 s of junction A (1006x720, as
``ioc vision run`` stores it: JPEG at ``IOC_VISION_EVIDENCE_FPS``, the tracked car drawn from
a box that moves across the picture), then writes the evidence of a wrong-way violation in
its middle (the catalogue's window, 5 s before and 5 s after: two clips of ~100 frames, key
frames, crop, metadata) with each of ``--presets`` (``PRESET`` or ``PRESET:CRF``; the CRF
defaults to ``--crf``) in turn, alternated over ``--rounds`` (these machines are shared and
noisy). For each preset: the CPU seconds of this process (decoding
the ring, drawing) and of the ``ffmpeg`` encoder, the wall time, the clips' size and the raw
clip's PSNR against the frames it was made from. The first of ``--presets`` is the baseline
(``veryfast``: the preset up to session 21). The last line on stdout is one JSON object with the figures.

Example::

    .venv/bin/python bench/evidence.py --rounds 3
    .venv/bin/python bench/evidence.py --presets veryfast,ultrafast,ultrafast:26,ultrafast:28
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and its neighbour vision.py
# would hide the ``vision`` package: take the folder off before importing it.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ioc.settings import Settings
from vision.catalogue import load_violation_catalogue
from vision.clips import ClipEncoding, choose_backend
from vision.config import CameraConfig, load_cameras
from vision.detector import CLASS_NAMES
from vision.evidence import EvidenceJob, EvidenceRecorder, FrameRing, Overlay, write_evidence
from vision.rules.base import Violation
from vision.tracks import Detections

CLIP = "vn_cctv_junction_a.mp4"
CAMERA = "vn-junction-a"
WALL0 = 1_767_225_600.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def clip_frames(path: Path) -> list[NDArray[np.uint8]]:
    cap = cv2.VideoCapture(str(path))
    frames: list[NDArray[np.uint8]] = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(np.asarray(frame, dtype=np.uint8))
    cap.release()
    if not frames:
        raise SystemExit(f"cannot read {path}")
    return frames


def build_job(
    camera: CameraConfig, frames: list[NDArray[np.uint8]], fps: float
) -> tuple[EvidenceJob, list[NDArray[np.uint8]]]:
    """The evidence job of a wrong-way car at 6 s, over a ring of 12 s of the clip (looped),
    and the ring's frames as stored (for the PSNR)."""
    legal = load_violation_catalogue().resolve("wrong_way", "car")
    assert legal is not None
    ring = FrameRing(horizon_s=30.0, max_fps=fps)
    stored: list[NDArray[np.uint8]] = []
    h, w = frames[0].shape[:2]
    n = int(12 * fps)
    for k in range(n):
        t = k / fps
        image = frames[k % len(frames)]
        x = 50 + (w - 250) * k / n
        det = Detections(
            t,
            np.array([[x, h * 0.55, x + 160, h * 0.55 + 110]], float),
            np.array([0.9]),
            np.array([CLASS_NAMES.index("car")]),
            CLASS_NAMES,
            np.array([7]),
        )
        ring.add(t, WALL0 + t, image, Overlay(det, {}))
        stored.append(image)
    violation = Violation(
        rule="wrong_way",
        camera_id=camera.id,
        track_id=7,
        vehicle_class="car",
        time=6.0,
        evidence_from=1.0,
        evidence_to=11.0,
        where=camera.lanes[0].id if camera.lanes else "lane",
        legal=legal,
        measured={},
    )
    rec = EvidenceRecorder(camera, ring)
    rec.open(violation, "bench", WALL0 + 6.0)
    (job,) = rec.ready()
    return job, stored


def cpu_now() -> tuple[float, float]:
    """This process's CPU seconds and those of its finished children (the encoders)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def psnr(path: Path, stored: list[NDArray[np.uint8]], job: EvidenceJob, fps: float) -> float:
    """Mean PSNR of the raw clip's frames against the camera's frames shown at their times
    (the ring's JPEG included)."""
    cap = cv2.VideoCapture(str(path))
    first = round(job.frames[0].t * fps)
    values = []
    k = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        ref = stored[min(first + k, len(stored) - 1)]
        values.append(cv2.PSNR(frame[: ref.shape[0], : ref.shape[1]], ref))
        k += 1
    cap.release()
    return float(np.mean(values)) if values else 0.0


def measure(
    job: EvidenceJob, stored: list[NDArray[np.uint8]], encoding: ClipEncoding, fps: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ioc-bench-evidence-") as tmp:
        root = Path(tmp)
        own0, kids0 = cpu_now()
        t0 = time.perf_counter()
        files = write_evidence(job, root, fps, encoding)
        wall = time.perf_counter() - t0
        own1, kids1 = cpu_now()
        clips = [f for f in files if f.kind.startswith("clip_")]
        raw = next(f for f in clips if f.kind == "clip_raw")
        return {
            "cpu_s": own1 - own0 + kids1 - kids0,
            "encoder_cpu_s": kids1 - kids0,
            "wall_s": wall,
            "clips_mb": sum(f.bytes for f in clips) / 1e6,
            "raw_psnr_db": psnr(root / raw.path, stored, job, fps),
        }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--presets", default="veryfast,superfast,ultrafast", help="PRESET[:CRF],...")
    p.add_argument("--crf", type=int, default=Settings().vision_clip_crf)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    settings = Settings()
    variants: dict[str, ClipEncoding] = {}
    for item in args.presets.split(","):
        preset, _, crf = item.strip().partition(":")
        variants[item.strip()] = ClipEncoding(preset, int(crf or args.crf))  # type: ignore[arg-type]
    fps = settings.vision_evidence_fps
    camera = load_cameras(settings.cameras_dir)[CAMERA]
    frames = clip_frames(settings.shared_dir / "data" / "video" / CLIP)
    job, stored = build_job(camera, frames, fps)
    log(f"evidence of {len(job.frames)} ring frames, writer {choose_backend()}")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, encoding in variants.items():
            row = measure(job, stored, encoding, fps)
            runs[name].append(row)
            log(f"round {r + 1} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    out: dict[str, Any] = {
        "benchmark": "evidence",
        "clip": CLIP,
        "frame": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "ring_frames": len(job.frames),
        "evidence_fps": fps,
        "writer": choose_backend(),
        "rounds": args.rounds,
        "encodings": {
            name: {k: round(statistics.median(x[k] for x in rows), 3) for k in rows[0]}
            for name, rows in runs.items()
        },
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    first = next(iter(runs))  # the baseline: the first of --presets
    base = statistics.median(x["cpu_s"] for x in runs[first])
    out["cpu_vs_" + first] = {
        name: round(statistics.median(x["cpu_s"] for x in rows) / base, 3)
        for name, rows in runs.items()
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
