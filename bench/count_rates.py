"""Line counts against the hand counts at lower detection rates than the cameras' own.

Not a test. A camera pipeline that falls behind (more cameras than the cores can detect at
their rates) or is configured at fewer detections per second sees each vehicle at fewer
points: ByteTrack loses more of them, more fragments have to be bridged, and a vehicle first
seen past a line is not counted. This runs the whole pipeline offline (``ioc vision
analyze``'s path, every tick kept) on each hand-counted clip (``tests/vision/hand_counts.yaml``)
at each rate of ``--rates`` (0 = the camera's own ``detect_fps``, the reference the tests hold
to 5 %) and reports the count error per clip and rate, summed over the clips per rate. ``--scales`` also
varies the detector's input size (fractions of each camera's own): a host short of CPU can
give a camera fewer detections a second or smaller ones, and the rows say which counts better
for the same CPU (``detect_ms``, the detector's time per call, beside each).

Offline, ticks fall at the same stream times on every run; live cameras tick at a phase that
depends on when their frames arrive: a loaded camera passes over a due tick when a newer
frame is already queued and detects that one instead. ``--defer P --seeds N`` runs each clip
and rate N times with due ticks passed over at random with probability P per frame, seeded
0..N-1 (``DeferredTicks`` in ``bench/vision.py``; seed 0 always runs undeferred, as the fixed
phases above), and reports the error per seed, its mean and how many runs counted exactly:
a count that holds only at one phase is luck. ``bench/vision.py``'s capacity rows measure the
same live (``counts``: crossings of looping copies against the hand counts per pass).

The last line on stdout is one JSON object with the figures.

Examples::

    .venv/bin/python bench/count_rates.py                          # ~2.5 minutes on 2 cores
    .venv/bin/python bench/count_rates.py --rates 5,3 --clips vn-junction-a
    .venv/bin/python bench/count_rates.py --rates 0,5,4,3 --defer 0.3 --seeds 10  # ~8 min
    .venv/bin/python bench/count_rates.py --rates 5,4,3,2 --scales 1,0.8,0.65   # ~2 min
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
import itertools
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
from vision.sizing import scaled_imgsz

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


def rate_figures(rows: list[dict[str, Any]], seeds: range) -> dict[str, Any]:
    """One rate's runs: the error summed over the clips per seed, its mean over the seeds
    (``error``; one seed: that run's error), and how many clip runs counted exactly."""
    by_seed = [sum(r["error"] for r in rows if r["seed"] == s) for s in seeds]
    total = sum(r["vehicles"] for r in rows if r["seed"] == seeds[0])
    mean = sum(by_seed) / len(by_seed)
    return {
        "error": round(mean, 2),
        "error_by_seed": by_seed,
        "vehicles": total,
        "error_share": round(mean / max(1, total), 3),
        "runs_exact": sum(1 for r in rows if r["error"] == 0),
        "runs": len(rows),
    }


def rate_key(rate: float, scale: float, n_scales: int) -> str:
    """``per_rate``'s key: the rate (``own``), with ``@scale`` when several were tried."""
    key = "own" if rate == 0 else f"{rate:g}"
    return key if n_scales == 1 else f"{key}@{scale:g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--rates", default="0,5,4,3,2.5,2", help="detections/s to try (0 = the camera's own)"
    )
    parser.add_argument(
        "--clips", default="", help="camera ids, comma separated (default: every hand-counted)"
    )
    parser.add_argument(
        "--defer",
        type=float,
        default=0.0,
        help="probability per frame that a due tick is passed over, as under live load "
        "(0: the fixed phases of an offline run)",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="runs per clip and rate with --defer (seeds 0..N-1)"
    )
    parser.add_argument(
        "--scales",
        default="1",
        help="detector input sizes to try, as fractions of each camera's own (1 = its "
        "detect_imgsz or IOC_DETECTOR_IMGSZ; sizes rounded to a multiple of 32)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    if not rates or any(r < 0 or r > 60 for r in rates):
        raise SystemExit("--rates: detections per second between 0 (own) and 60")
    if not 0.0 <= args.defer < 1.0:
        raise SystemExit("--defer: a probability, at least 0 and below 1")
    if not 1 <= args.seeds <= 1000:
        raise SystemExit("--seeds: between 1 and 1000")
    seeds = range(args.seeds if args.defer > 0 else 1)
    scales = [float(x) for x in args.scales.split(",") if x.strip()]
    if not scales or any(not 0.1 <= x <= 2.0 for x in scales):
        raise SystemExit("--scales: fractions of the cameras' input sizes, 0.1 to 2")
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
        own_imgsz = own.detect_imgsz or settings.detector_imgsz
        for rate, scale in itertools.product(rates, scales):
            update: dict[str, Any] = {"detect_imgsz": scaled_imgsz(own_imgsz, scale)}
            if rate > 0:
                update["detect_fps"] = rate
            camera = own.model_copy(update=update)
            for seed in seeds:
                defer = args.defer if seed > 0 else 0.0
                run = bv.run_pipeline(settings, det, camera, defer=defer, seed=seed)
                err, total = count_error(run["line_counts"], spec["lines"])
                row = {
                    "clip": clip,
                    "detect_fps": camera.detect_fps,
                    "own_rate": rate == 0,
                    "scale": scale,
                    "imgsz": camera.detect_imgsz,
                    "seed": seed,
                    "defer": defer,
                    "error": err,
                    "vehicles": total,
                    "detector_frames": run["detector_frames"],
                    "detect_ms": round(
                        1000 * run["detector_s"] / max(1, run["detector_frames"]), 1
                    ),
                    "line_counts": run["line_counts"],
                }
                rows.append(row)
                log(f"[counts] {json.dumps(row)}")
    per_rate = {
        rate_key(rate, scale, len(scales)): rate_figures(
            [
                r
                for r in rows
                if r["scale"] == scale
                and (r["own_rate"] if rate == 0 else not r["own_rate"] and r["detect_fps"] == rate)
            ],
            seeds,
        )
        for rate, scale in itertools.product(rates, scales)
    }
    print(
        json.dumps(
            {
                "benchmark": "count_rates",
                "runtime": det.plan.runtime,
                "inference_precision": det.inference_precision,
                "defer": args.defer,
                "seeds": len(seeds),
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
