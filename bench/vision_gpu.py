"""GPU benchmark of the detector and the camera pipeline (issue #3); needs a CUDA device.

In one run, same weights (``IOC_MODEL_PATH``), fp16:

1. **images/s at batch ``--batch`` (32)**, 640 px input, each figure the mean over
   ``--iters`` batches after warm-up, timed with ``torch.cuda.synchronize``:

   * ``network``: the fused network alone on a ready fp16 tensor on the GPU, on the 640x640
     square and on the 384x640 canvas a 16:9 frame gets; eager, then replayed as a CUDA graph;
   * ``detector``: :class:`vision.device_batch.DeviceBatch` as the pipeline runs it on a GPU:
     BGR frames in host memory -> boxes in host memory (upload, letterbox, network, NMS,
     download), for 640x360 frames (640 px images) and for 1920x1080 frames (1080p cameras);
   * ``baseline``: ultralytics' ``YOLO.predict(frames, half=True)`` on the same frames
     (letterbox with OpenCV on the host, a ``Results`` per frame).

2. **concurrent 1080p streams**: for each total in ``--streams``, that many cameras spread
   over ``--procs`` processes (as ``ioc vision run --workers N`` deploys them), every camera
   the 1080p clip looping in real time at ``--fps`` detections/s through the whole pipeline
   (decode, motion gate, GPU detection batched across the process's cameras, ByteTrack,
   rules, evidence ring). A total is *sustained* when every camera of every process keeps up
   (``bench/vision.py``'s definition: ticks >= 95 % of the rate, stream time >= 95 % of wall
   time, lag < 1 s).

The 1080p clip is ``vn_cctv_junction_a.mp4`` (1006x720) scaled to 1920x1080 with the ffmpeg
of ``imageio-ffmpeg`` (timestamps kept), its camera geometry scaled with it
(``CameraConfig.scaled``); ``--clip`` takes another file. Progress goes to stderr, partial
results to ``--partial`` after each stage; the last stdout line is ONE JSON object.

Example (on a GPU machine)::

    .venv/bin/python bench/vision_gpu.py                      # about 3 minutes
    .venv/bin/python bench/vision_gpu.py --streams 8,16 --seconds 10
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # bench/vision.py would hide the ``vision`` package

import argparse
import importlib.util
import json
import logging
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import cache, partial
from typing import Any

import cv2
import numpy as np

from ioc.settings import Settings
from vision.config import CameraConfig, load_cameras, resolve_source
from vision.detector import COCO_TO_CLASS, prepare_ultralytics_env
from vision.device_batch import DeviceBatch

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@cache
def _bench_vision() -> Any:
    """bench/vision.py as a module, loaded once (its capacity runs are reused as they are)."""
    spec = importlib.util.spec_from_file_location("bench_vision", HERE / "vision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_1080p(src: str, out: Path) -> Path:
    import imageio_ffmpeg

    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", src, "-an",
        "-vf", "scale=1920:1080:flags=bicubic", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "23", "-pix_fmt", "yuv420p", "-fps_mode", "passthrough", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def read_frames(path: str, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    out: list[np.ndarray] = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            if not out:
                raise SystemExit(f"{path}: no frame decodes")
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        out.append(frame)
    cap.release()
    return out


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], iters: int, warm: int = 3) -> float:
    """Seconds per call, mean over ``iters`` after ``warm`` calls, GPU work included."""
    for _ in range(warm):
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - start) / iters


def network_rates(batch: DeviceBatch, n: int, iters: int) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {}
    for h, w in ((640, 640), (384, 640)):
        x = torch.rand((n, 3, h, w), device=batch.device, dtype=batch.dtype)
        with torch.inference_mode():
            eager = timed(partial(batch.backend, x), iters)
        row: dict[str, Any] = {"eager_img_s": round(n / eager)}
        if batch.device.type != "cuda":
            out[f"{h}x{w}"] = row
            continue
        try:  # the same forward, captured once and replayed (no per-kernel launch cost)
            static = x.clone()
            stream = torch.cuda.Stream()  # type: ignore[no-untyped-call]
            stream.wait_stream(torch.cuda.current_stream())
            with torch.inference_mode(), torch.cuda.stream(stream):
                for _ in range(3):
                    batch.backend(static)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.inference_mode(), torch.cuda.graph(graph):
                batch.backend(static)
            row["cuda_graph_img_s"] = round(n / timed(graph.replay, iters))
        except Exception as exc:  # reported, not fatal: the eager figure stands
            row["cuda_graph_error"] = f"{type(exc).__name__}: {exc}"[:300]
        out[f"{h}x{w}"] = row
        log(f"[network {h}x{w}] {row}")
    return out


def detector_rates(
    batch: DeviceBatch, settings: Settings, frames: dict[str, list[np.ndarray]], iters: int
) -> dict[str, Any]:
    from ultralytics.models import YOLO

    model = YOLO(str(settings.model_path), task="detect")
    classes = sorted(i for i, name in model.names.items() if name in COCO_TO_CLASS)
    conf, imgsz, device = settings.detector_conf, 640, str(batch.device)
    half = batch.device.type == "cuda"
    out: dict[str, Any] = {}
    for label, fs in frames.items():
        ours = timed(partial(batch.detect, fs, imgsz, conf, classes), iters)
        predict = partial(
            model.predict,
            fs,
            imgsz=imgsz,
            conf=conf,
            classes=classes,
            quantize=16 if half else None,
            device=device,
            verbose=False,
        )
        base = timed(predict, max(3, iters // 4), warm=2)
        boxes = sum(len(r) for r in batch.detect(fs, imgsz, conf, classes))
        row = {
            "frames": f"{fs[0].shape[1]}x{fs[0].shape[0]}",
            "detector_img_s": round(len(fs) / ours),
            "baseline_predict_img_s": round(len(fs) / base),
            "speedup": round(base / ours, 2),
            "boxes_per_batch": boxes,
        }
        out[label] = row
        log(f"[detector {label}] {row}")
    return out


def _stream_proc(
    index: int,
    cameras: int,
    device: str,
    clip: str,
    camera: dict[str, Any],
    fps: float,
    seconds: float,
    home: str,
    barrier: Any,
    results: Any,
) -> None:
    import torch

    settings = Settings(
        vision_device=device, vision_cpu_runtime="torch", home=Path(home) / f"proc{index}"
    )

    def warm(det: Any, _camera: CameraConfig, _settings: Settings) -> None:  # a full batch
        n = min(cameras, det.plan.batch)
        det.detect(read_frames(clip, 1) * n, [0.0] * n)

    def gpu_memory() -> dict[str, Any]:
        used = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0
        return {"gpu_mem_mb": round(used / 2**20)}

    _bench_vision().capacity_child(
        index, cameras, settings, camera, fps, seconds, barrier, results, warm, gpu_memory
    )


def streams_run(
    total: int,
    procs: int,
    device: str,
    clip: str,
    camera: CameraConfig,
    fps: float,
    seconds: float,
) -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="ioc-bench-gpu-")
    doc = camera.model_copy(update={"source": clip, "detect_fps": fps}).model_dump(mode="json")
    out: dict[str, Any] = _bench_vision().capacity_over_processes(
        _stream_proc,
        total,
        procs,
        lambda _i, _n: (device, clip, doc, fps, seconds, home),
        seconds,
    )
    lat = out.pop("latencies", [])
    rows = out.pop("per_process", [])
    if rows:
        out |= {
            "gpu_mem_mb_per_proc_max": max(r["gpu_mem_mb"] for r in rows),
            "plan": rows[0]["plan"],
            **_bench_vision().latency_figures(lat),
        }
    log(f"[streams {total}] {json.dumps(out)}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--camera", default="vn-junction-a")
    parser.add_argument("--clip", default="", help="1080p clip (default: made from the camera's)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--streams", default="16,32,48", help="camera totals to try, or ''")
    parser.add_argument("--procs", type=int, default=0, help="0: CPU cores - 2")
    parser.add_argument("--fps", type=float, default=5.0, help="detections/s per camera")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--partial", default="", help="write the figures here after each stage")
    parser.add_argument(
        "--device", default="cuda:0", help="cuda:N; cpu only to try the script on a small run"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark measures the GPU path (bench/vision.py "
                         "measures the CPU)")  # fmt: skip
    on_gpu = args.device.startswith("cuda")
    settings = Settings(
        vision_device=args.device if on_gpu else "cpu",
        home=Path(tempfile.gettempdir()) / "ioc-bench-gpu",
    )
    prepare_ultralytics_env(settings.home / "ultralytics")
    torch.backends.cudnn.benchmark = True
    camera = load_cameras(settings.cameras_dir)[args.camera]
    clip = args.clip or str(
        make_1080p(
            resolve_source(camera.source, settings.shared_dir),
            Path(tempfile.mkdtemp()) / "clip_1080p.mp4",
        )
    )
    result: dict[str, Any] = {
        "benchmark": "vision_gpu",
        "gpu": torch.cuda.get_device_name(0) if on_gpu else "none (a CPU trial run)",
        "torch": torch.__version__,
        "model": settings.model_path.name,
        "batch": args.batch,
        "imgsz": 640,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }

    def save() -> None:
        if args.partial:
            Path(args.partial).write_text(json.dumps(result) + "\n", encoding="utf-8")

    batch = DeviceBatch.load(settings.model_path, args.device, half=on_gpu)
    log(f"network alone, batch {args.batch} ...")
    result["network"] = network_rates(batch, args.batch, args.iters)
    save()
    hd = read_frames(clip, args.batch)
    small = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in hd]
    log("detector (frames in host memory -> boxes) vs YOLO.predict ...")
    result["detector"] = detector_rates(
        batch, settings, {"640px": small, "1080p": hd}, max(8, args.iters // 2)
    )
    save()
    del batch
    if on_gpu:
        torch.cuda.empty_cache()
    big = camera.scaled(1920, 1080)
    procs = args.procs or max(1, (os.cpu_count() or 4) - 2)
    result["streams_fps_per_camera"] = args.fps
    result["streams"] = []
    for total in [int(x) for x in args.streams.split(",") if x.strip()]:
        log(f"{total} concurrent 1080p streams over up to {procs} processes ...")
        result["streams"].append(
            streams_run(total, procs, args.device, clip, big, args.fps, args.seconds)
        )
        save()
    sustained = [s["cameras"] for s in result["streams"] if s["sustained"]]
    result["streams_1080p_sustained"] = max(sustained, default=0)
    net = result["network"]["640x640"]
    result["network_640_img_s"] = max(net["eager_img_s"], net.get("cuda_graph_img_s", 0))
    result["detector_640px_img_s"] = result["detector"]["640px"]["detector_img_s"]
    result["goal_img_s"] = 5000
    save()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
