"""Decoding cost per camera: passing over the frames nobody uses, against converting them all.

Not a test. Runs ``--cameras`` copies of a clip as looping real-time cameras (``CameraSource``
+ ``Grabber``, as ``ioc vision run`` reads them) for ``--seconds``, with a consumer that takes
every queued frame, twice per round and alternated over ``--rounds`` (these machines are
shared and noisy):

- **filtered**: the grabbers run the cadence the camera pipeline installs
  (:func:`vision.cadence.frame_filter`: ticks at ``--detect-fps``, evidence ring at
  ``--evidence-fps``) and pass over the other frames before their YUV-to-BGR conversion;
- **baseline**: every decoded frame is converted (the pipeline before session 14).

It reports the CPU cores each camera's decoding takes in both, and how many frames were decoded
and converted. ``--scale WxH`` first re-encodes the clip to that size (H.264, with the ffmpeg of
the ``imageio-ffmpeg`` wheel) at ``--scale-fps``, e.g. ``--scale 1920x1080`` for a typical
street camera. The last line on stdout is one JSON object with the figures.

Examples::

    .venv/bin/python bench/decode.py
    .venv/bin/python bench/decode.py --scale 1920x1080 --cameras 4 --rounds 3
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
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

from ioc.settings import Settings
from vision.cadence import frame_filter
from vision.source import CameraSource, Grabber, capture_opener

CLIP = "vn_cctv_junction_a.mp4"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def rescale(src: Path, size: str, fps: float, out: Path) -> Path:
    """``src`` re-encoded to ``size`` (``WxH``) at ``fps``, H.264 (libx264, ``veryfast``)."""
    import imageio_ffmpeg  # type: ignore[import-untyped]

    w, _, h = size.partition("x")
    if not (w.isdigit() and h.isdigit()):
        raise SystemExit(f"error: --scale must be WIDTHxHEIGHT, got {size!r}")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src)]
    cmd += ["-vf", f"scale={w}:{h}", "-r", str(fps), "-c:v", "libx264", "-preset", "veryfast"]
    cmd += ["-pix_fmt", "yuv420p", str(out)]
    log(f"re-encoding {src.name} to {w}x{h} at {fps:g} frames/s ...")
    subprocess.run(cmd, check=True)
    return out


def run_once(clip: str, args: argparse.Namespace, filtered: bool) -> dict[str, Any]:
    """``args.cameras`` real-time looping cameras for ``args.seconds``; CPU and frame counts."""
    opener = capture_opener(Settings().vision_decode_threads)
    feeds = [
        Grabber(
            CameraSource(f"cam-{i}", clip, loop=True, opener=opener),
            realtime=True,
            drop_oldest=True,
        )
        for i in range(args.cameras)
    ]
    if filtered:
        for g in feeds:
            g.want = frame_filter(1.0 / args.detect_fps, args.evidence_fps)
    decoded = converted = 0
    stop = threading.Event()
    cpu0, wall0 = cpu_s(), time.monotonic()
    for g in feeds:
        g.start()
    while time.monotonic() - wall0 < args.seconds:
        got = False
        for g in feeds:
            frame = g.get()
            if frame is not None:
                got = True
                converted += 1
                decoded += 1 + frame.skipped
        if not got:
            stop.wait(0.002)
    cpu, wall = cpu_s() - cpu0, time.monotonic() - wall0
    for g in feeds:
        g.stop()
    dropped = sum(g.dropped for g in feeds)
    return {
        "filtered": filtered,
        "cpu_cores_per_camera": round(cpu / wall / args.cameras, 4),
        "decoded_frames_per_s_per_camera": round(decoded / wall / args.cameras, 2),
        "converted_share": round(converted / max(1, decoded), 3),
        "dropped_frames": dropped,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clip", type=Path, default=None, help=f"video (default: shared {CLIP})")
    p.add_argument("--cameras", type=int, default=2)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--detect-fps", type=float, default=5.0)
    p.add_argument("--evidence-fps", type=float, default=Settings().vision_evidence_fps)
    p.add_argument("--scale", default=None, help="re-encode the clip first, e.g. 1920x1080")
    p.add_argument("--scale-fps", type=float, default=25.0)
    args = p.parse_args()
    if args.cameras < 1 or args.seconds <= 0 or args.rounds < 1 or args.detect_fps <= 0:
        p.error("--cameras, --seconds, --rounds and --detect-fps must be positive")
    clip = args.clip or Settings().shared_dir / "data" / "video" / CLIP
    if not clip.is_file():
        print(f"error: no such clip: {clip}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        if args.scale:
            clip = rescale(clip, args.scale, args.scale_fps, Path(tmp) / "scaled.mp4")
        rows: list[dict[str, Any]] = []
        for r in range(args.rounds):
            for filtered in (r % 2 == 0, r % 2 == 1):  # alternate which goes first
                row = run_once(str(clip), args, filtered)
                log(f"[round {r + 1}] {json.dumps(row)}")
                rows.append(row)

    def median(filtered: bool, key: str) -> float:
        return round(statistics.median(float(x[key]) for x in rows if x["filtered"] == filtered), 4)

    f_cpu, b_cpu = median(True, "cpu_cores_per_camera"), median(False, "cpu_cores_per_camera")
    out = {
        "benchmark": "decode",
        "clip": clip.name if not args.scale else f"{(args.clip or Path(CLIP)).name}@{args.scale}",
        "host": platform.processor() or platform.machine(),
        "cameras": args.cameras,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "detect_fps": args.detect_fps,
        "evidence_fps": args.evidence_fps,
        "decoded_frames_per_s_per_camera": median(True, "decoded_frames_per_s_per_camera"),
        "converted_share_filtered": median(True, "converted_share"),
        "cpu_cores_per_camera_filtered": f_cpu,
        "cpu_cores_per_camera_baseline": b_cpu,
        "cpu_saved_share": round(1.0 - f_cpu / b_cpu, 3) if b_cpu > 0 else None,
        "runs": rows,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
