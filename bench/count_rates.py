"""Line counts against the hand counts at lower detection rates than the cameras' own.

Not a test. A camera pipeline that falls behind (more cameras than the cores can detect at
their rates) or is configured at fewer detections per second sees each vehicle at fewer
points: ByteTrack loses more of them, more fragments have to be bridged, and a vehicle first
seen past a line is not counted. This runs the whole pipeline offline (``ioc vision
analyze``'s path, every tick kept) on each hand-counted clip (``tests/vision/hand_counts.yaml``)
at each rate of ``--rates`` (0 = the camera's own ``detect_fps``, the reference the tests hold
to 5 %) and reports the count error per clip and rate, summed over the clips per rate.

Offline, ticks fall at the same stream times on every run; live cameras tick at a phase that
depends on when their frames arrive, which ``bench/vision.py``'s capacity rows measure
(``counts``: crossings of looping copies against the hand counts per pass).

The last line on stdout is one JSON object with the figures.

Examples::

    .venv/bin/python bench/count_rates.py                          # ~2.5 minutes on 2 cores
    .venv/bin/python bench/count_rates.py --rates 5,3 --clips vn-junction-a
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and its neighbour vision.py
# would hide the ``vision`` package: take the folder off before importing it.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import importlib.util
import json
import logging
import os
import platform
import tempfile
import time
from typing import Any

import yaml

from ioc.settings import Settings
from vision.config import load_cameras
from vision.detector import DetectorSpec, UltralyticsDetector, create_detector
from vision.hand_counts import count_error

HERE = Path(__file__).resolve().parent
HAND = HERE.parent / "tests" / "vision" / "hand_counts.yaml"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_vision() -> Any:
    """bench/vision.py as a module: its offline pipeline run is reused as it is."""
    spec = importlib.util.spec_from_file_location("bench_vision", HERE / "vision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--rates", default="0,5,4,3,2.5,2", help="detections/s to try (0 = the camera's own)"
    )
    parser.add_argument(
        "--clips", default="", help="camera ids, comma separated (default: every hand-counted)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    if not rates or any(r < 0 or r > 60 for r in rates):
        raise SystemExit("--rates: detections per second between 0 (own) and 60")
    settings = Settings(
        vision_device="cpu", home=Path(tempfile.gettempdir()) / "ioc-bench-count-rates"
    )
    cameras = load_cameras(settings.cameras_dir)
    hand = yaml.safe_load(HAND.read_text(encoding="utf-8"))["clips"]
    wanted = {c.strip() for c in args.clips.split(",") if c.strip()}
    unknown = wanted - {spec["camera"] for spec in hand.values()}
    if unknown:
        raise SystemExit(f"--clips: no hand counts for {sorted(unknown)}")
    det = create_detector(DetectorSpec.from_settings(settings))
    if not isinstance(det, UltralyticsDetector):
        raise SystemExit("the benchmark needs the ultralytics detector")
    bv = bench_vision()
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for clip, spec in sorted(hand.items()):
        if wanted and spec["camera"] not in wanted:
            continue
        own = cameras[spec["camera"]]
        for rate in rates:
            camera = own if rate == 0 else own.model_copy(update={"detect_fps": rate})
            run = bv.run_pipeline(settings, det, camera)
            err, total = count_error(run["line_counts"], spec["lines"])
            row = {
                "clip": clip,
                "detect_fps": camera.detect_fps,
                "own_rate": rate == 0,
                "error": err,
                "vehicles": total,
                "detector_frames": run["detector_frames"],
                "line_counts": run["line_counts"],
            }
            rows.append(row)
            log(f"[counts] {json.dumps(row)}")
    per_rate: dict[str, dict[str, Any]] = {}
    for rate in rates:
        mine = [
            r
            for r in rows
            if (r["own_rate"] if rate == 0 else not r["own_rate"] and r["detect_fps"] == rate)
        ]
        err, total = sum(r["error"] for r in mine), sum(r["vehicles"] for r in mine)
        per_rate["own" if rate == 0 else f"{rate:g}"] = {
            "error": err,
            "vehicles": total,
            "error_share": round(err / max(1, total), 3),
        }
    print(
        json.dumps(
            {
                "benchmark": "count_rates",
                "runtime": det.plan.runtime,
                "inference_precision": det.inference_precision,
                "per_rate": per_rate,
                "rows": rows,
                "wall_s": round(time.perf_counter() - t0, 1),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
