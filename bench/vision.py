"""Benchmark of the camera pipeline (issue #3), CPU or GPU, on the real sample clips.

In one run, over the same clip, the same weights and the same image size:

* **pipeline** - ``vision.pipeline`` as deployed: ticks at the camera's ``detect_fps``, motion
  gate, rider fusion, ByteTrack, fragments merged into vehicles, line counts;
* **baseline** - plain ``YOLO(weights).track(clip, stream=True, imgsz=...)`` (ultralytics'
  ByteTrack on every frame), its tracks counted on the same lines the same way (a track
  counts once per line per net direction, class = its most frequent class). The baseline
  runs the weights as given (PyTorch); when the pipeline runs on OpenVINO (the default on a
  CPU with the ``openvino`` package, ``--runtime``) the baseline is *also* run on the same
  OpenVINO export (``baseline_same_runtime``), so the gain of the pipeline's design is shown
  apart from the gain of the runtime.

Both are reported with decoded frames handled per wall second, detector calls per decoded
frame, CPU seconds per video second, unique vehicle tracks per class, and line counts with
their error against the hand counts (``tests/vision/hand_counts.yaml``).

Then **capacity**: N copies of the camera, looping in real time (frames dropped when the
pipeline falls behind, as with a live camera) at ``--capacity-fps`` detections/s, for N in
``--capacity``; a count is *sustained* when every camera keeps >= 95 % of its tick rate per
wall second, its video advances >= 95 % as fast as the wall clock (decoding keeps up) and its
last lag is < 1 s (a tick runs the detector unless the motion gate saw a still scene, so
``detector_frames_per_s_mean`` is reported beside it). With ``--capacity-processes P`` the N
cameras are split over P spawned processes, as ``ioc vision run --processes P`` deploys them
(each loads its own detector with cores/P threads; they start together after a barrier and
their rows are summed: sustained only if every camera of every process keeps up). The
**violation latency** is from the captured frame of the event to the ``camera_violation``
notice being handed to the publisher, over the *sustained* capacity runs (a run that falls
behind hands its frames to the rules later and later). The shared clips hold almost no real
violation, so after the capacity runs come *latency runs* (``--latency-probe``, on by
default): the largest sustained count again, its first camera the same clip and camera with
its lanes' directions reversed, so every vehicle driving its lane is a wrong-way violation
(its evidence is written too, as in service; at that rate the writing costs CPU, so the count
steps down until a latency run is sustained). The capacity verdict comes from the plain runs.
Each capacity row also counts the violations of the cameras as configured (``violations``, by
rule, the probe left out): on clips without real violations these are false alarms, and each
is logged (``[false alarm]``) with the track its evidence recorded.
And ``counts``: the line crossings those cameras counted over every pass they looped through,
against the hand counts (``crossed_by_s`` in ``tests/vision/hand_counts.yaml`` says how many of
a pass cut short by the end of the run were due): ``counted_share`` is counted / expected, so
1.0 is every vehicle once; it falls when a camera ticks too rarely to follow its vehicles.

``--precision int8`` runs the pipeline on the int8 export (``vision/int8_export.py``; the
baselines stay as they are); ``--repeat 0`` runs only the capacity part.

Progress goes to stderr; the last stdout line is ONE JSON object with the figures.

Example::

    .venv/bin/python bench/vision.py                               # ~8 minutes on 2 cores
    .venv/bin/python bench/vision.py --capacity 2,4,6,8,10 --capacity-seconds 30
    .venv/bin/python bench/vision.py --runtime torch          # the PyTorch CPU path
    .venv/bin/python bench/vision.py --repeat 0 --capacity 4,8 --capacity-processes 2
    .venv/bin/python bench/vision.py --precision int8 --capacity-processes 2
    .venv/bin/python bench/vision.py --repeat 0 --capacity 4 --no-latency-probe
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name (vision.py)
# would hide the ``vision`` package: take the folder off before importing it.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import queue
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal

import yaml

from ioc.settings import Settings
from vision.catalogue import load_violation_catalogue
from vision.clips import ClipEncoding
from vision.config import CameraConfig, load_cameras, resolve_source
from vision.detector import DetectorSpec, UltralyticsDetector, create_detector
from vision.geometry import DirectedLine
from vision.hand_counts import count_error
from vision.pipeline import Pipeline, PipelineOptions
from vision.publish import MemoryPublisher, Message
from vision.source import CameraSource, Grabber, capture_opener
from vision.tracks import VEHICLE_CLASSES

HAND = Path(__file__).resolve().parents[1] / "tests" / "vision" / "hand_counts.yaml"
COCO_TO_OURS = {
    "car": "car",
    "motorcycle": "motorbike",
    "bus": "bus",
    "truck": "truck",
    "bicycle": "bicycle",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class TimedPublisher(MemoryPublisher):
    """Keeps messages, when each violation notice was handed over (for the violation
    latency), and the violation messages (with their evidence, sent once it is written)."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[float] = []
        self.violations: list[Message] = []

    def send(
        self, topic: str, value: Message, key: str | None = None, urgent: bool = False
    ) -> None:
        if value.get("type") == "camera_violation":
            from datetime import datetime

            event = datetime.fromisoformat(str(value["time"])).timestamp()
            self.latencies.append(time.time() - event)
        elif "evidence" in value and "rule" in value:  # vision.publish.violation_message
            self.violations.append(value)
        super().send(topic, value, key, urgent)


def cpu_s() -> float:
    """This process's CPU seconds and those of its finished children (the evidence encoder)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def bench_options(
    settings: Settings, det: UltralyticsDetector, evidence: Path, skip_unused: bool = True
) -> PipelineOptions:
    """Pipeline options of every run: evidence in a temporary folder, at the settings' rate;
    ``skip_unused=False`` converts every decoded frame (``--no-skip-unused``, the A/B of
    :mod:`vision.cadence`'s frame filter)."""
    return PipelineOptions(
        evidence_root=evidence,
        device=det.plan.device,
        evidence_fps=settings.vision_evidence_fps,
        clip_encoding=ClipEncoding.from_settings(settings),
        skip_unused=skip_unused,
    )


class DeferredTicks(Grabber):
    """A clip read offline (every frame kept, none dropped) whose due ticks are passed over
    at random, as a loaded live camera's are when a newer frame is already queued behind the
    one taken (:attr:`Grabber.newer_waiting`): true with probability ``defer`` per frame,
    from a generator seeded with ``seed``. The tick then falls on the next frame the pipeline
    takes, so one clip is seen at the tick phases a live run meets, reproducibly."""

    def __init__(self, source: CameraSource, defer: float, seed: int) -> None:
        super().__init__(source, size=4, drop_oldest=False)
        self.defer = defer
        self._rng = random.Random(seed)

    @property
    def newer_waiting(self) -> bool:
        return self._rng.random() < self.defer


def run_pipeline(
    settings: Settings,
    det: UltralyticsDetector,
    camera: CameraConfig,
    defer: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """The whole pipeline offline over ``camera``'s clip; ``defer`` > 0 passes over due
    ticks at random (:class:`DeferredTicks`, seeded by ``seed``)."""
    src = resolve_source(camera.source, settings.shared_dir)
    opener = capture_opener(settings.vision_decode_threads)
    source = CameraSource(camera.id, src, opener=opener)
    feeds = {
        camera.id: DeferredTicks(source, defer, seed)
        if defer > 0
        else Grabber(source, size=4, drop_oldest=False)
    }
    calls0, infer0 = det.calls, det.inference_s
    with tempfile.TemporaryDirectory() as tmp:
        opts = bench_options(settings, det, Path(tmp))
        pipe = Pipeline.build(
            [camera], load_violation_catalogue(), feeds, det, MemoryPublisher(), opts
        )
        c0, w0 = cpu_s(), time.perf_counter()
        st = pipe.run()[camera.id]
        wall, cpu = time.perf_counter() - w0, cpu_s() - c0
    w = pipe.workers[camera.id]
    video_s = (st.last_t or 0.0) - (st.first_t or 0.0)
    return {
        "frames": st.frames,
        "video_s": round(video_s, 3),
        "detector_frames": st.detections,
        "detector_calls_per_frame": round((det.calls - calls0) / max(1, st.frames), 3),
        "frames_per_s": round(st.frames / wall, 2),
        "detector_s": round(det.inference_s - infer0, 2),
        "wall_s": round(wall, 2),
        "cpu_s_per_video_s": round(cpu / max(1e-9, video_s), 2),
        "unique_vehicles": dict(sorted(w.counter.unique.items())),
        "line_counts": w.counter.report(),
    }


def run_baseline(
    settings: Settings,
    camera: CameraConfig,
    imgsz: int,
    video_s: float,
    threads: int,
    weights: Path | None = None,
) -> dict[str, Any]:
    import torch
    from ultralytics.models import YOLO

    from vision.detector import limit_openvino_threads

    src = resolve_source(camera.source, settings.shared_dir)
    weights = weights or settings.model_path
    model = YOLO(str(weights), task="detect")
    lines = {c.id: DirectedLine.of(c.line[0], c.line[1], c.direction) for c in camera.count_lines}
    margin, end = camera.counting.line_margin_px, camera.counting.line_end_px
    classes: dict[int, dict[str, int]] = {}
    sides: dict[tuple[int, str], int] = {}
    net: dict[tuple[int, str], int] = {}
    frames = 0
    c0, w0 = cpu_s(), time.perf_counter()
    for r in model.track(
        source=src, stream=True, imgsz=imgsz, device="cpu", verbose=False, persist=True
    ):
        frames += 1
        if frames == 1 and threads > 0:  # ultralytics sets its own count on its first frame
            torch.set_num_threads(threads)
            if weights.is_dir():  # an OpenVINO export: same thread count as the pipeline's
                limit_openvino_threads(model, weights, threads)
        b = r.boxes
        if b is None or b.id is None:
            continue
        for (x1, _, x2, y2), cid, tid in zip(
            b.xyxy.tolist(), b.cls.tolist(), b.id.tolist(), strict=True
        ):
            name = COCO_TO_OURS.get(r.names[int(cid)])
            if name is None:
                continue
            tid = int(tid)
            votes = classes.setdefault(tid, {})
            votes[name] = votes.get(name, 0) + 1
            anchor = ((x1 + x2) / 2, y2)
            for lid, line in lines.items():
                sd = line.signed_distance(anchor)
                side = 1 if sd > margin else -1 if sd < -margin else 0
                prev = sides.get((tid, lid), 0)
                if side:
                    sides[(tid, lid)] = side
                if (
                    prev
                    and side
                    and side != prev
                    and -end <= line.along(anchor) <= line.length + end
                ):
                    net[(tid, lid)] = net.get((tid, lid), 0) + side
    wall, cpu = time.perf_counter() - w0, cpu_s() - c0
    unique: dict[str, int] = {}
    for votes in classes.values():
        top = max(votes.items(), key=lambda kv: kv[1])[0]
        unique[top] = unique.get(top, 0) + 1
    found: dict[str, dict[str, dict[str, int]]] = {}
    for (tid, lid), n in net.items():
        if n == 0:
            continue
        cls = max(classes[tid].items(), key=lambda kv: kv[1])[0]
        d = found.setdefault(lid, {}).setdefault("forward" if n > 0 else "backward", {})
        d[cls] = d.get(cls, 0) + 1
    return {
        "frames": frames,
        "detector_calls_per_frame": 1.0,
        "frames_per_s": round(frames / wall, 2),
        "wall_s": round(wall, 2),
        "cpu_s_per_video_s": round(cpu / video_s, 2),
        "unique_vehicles": dict(sorted(unique.items())),
        "line_counts": found,
    }


@cache
def pass_counts(clip: Path) -> tuple[tuple[float, ...], float] | None:
    """The hand counts' ``crossed_by_s`` of a looping clip (when each counted vehicle is over
    its line) and the seconds of one pass, or ``None`` when the clip has none. A looping
    source starts its next pass one frame (0.04 s) after the last frame's time
    (:meth:`vision.source.CameraSource._lost`). Decodes the clip once per process."""
    spec = yaml.safe_load(HAND.read_text(encoding="utf-8"))["clips"].get(clip.name)
    if spec is None or "crossed_by_s" not in spec:
        return None
    src = CameraSource("period", str(clip))
    last = 0.0
    while (t := src.grab()) is not None:
        last = t
    src.close()
    return tuple(float(x) for x in spec["crossed_by_s"]), last + 0.04


def expected_crossings(streamed_s: float, period: float, crossed_by: Sequence[float]) -> int:
    """Crossings a looping copy should have counted after ``streamed_s`` of stream time: every
    crossing of each whole pass, and those of the last pass that were over by its end."""
    full, rest = divmod(streamed_s, period)
    return int(full) * len(crossed_by) + sum(1 for c in crossed_by if c <= rest)


def count_figures(crossings: int, expected: int, passes: float) -> dict[str, Any]:
    """Line crossings counted by looping copies of a clip against its hand counts."""
    return {
        "crossings": crossings,
        "expected": expected,
        "passes": round(passes, 2),
        "counted_share": round(crossings / expected, 3) if expected > 0 else None,
    }


def run_capacity(
    settings: Settings,
    det: UltralyticsDetector,
    camera: CameraConfig,
    n: int,
    fps: float,
    seconds: float,
    publisher: TimedPublisher,
    probe: CameraConfig | None = None,
    skip_unused: bool = True,
) -> dict[str, Any]:
    """``n`` real-time looping copies of ``camera`` for ``seconds``; with ``probe`` (same
    clip, see :func:`wrong_way_probe`) the first copy is the probe."""
    src = resolve_source(camera.source, settings.shared_dir)
    cams = [
        (probe if i == 0 and probe is not None else camera).model_copy(
            update={"id": f"{camera.id}-{i}", "detect_fps": fps}
        )
        for i in range(n)
    ]
    hand = pass_counts(Path(src))
    opener = capture_opener(settings.vision_decode_threads)
    feeds = {
        c.id: Grabber(
            CameraSource(c.id, src, loop=True, opener=opener), realtime=True, drop_oldest=True
        )
        for c in cams
    }
    calls0 = det.calls
    with tempfile.TemporaryDirectory() as tmp:
        opts = bench_options(settings, det, Path(tmp), skip_unused)
        pipe = Pipeline.build(cams, load_violation_catalogue(), feeds, det, publisher, opts)
        stop = threading.Event()
        at_stop: list[float] = []

        def finish() -> None:  # measured when the run stops, not after the evidence flush
            # and how far the evidence writer is behind: jobs queued, violations out so far
            at_stop[:] = [
                time.perf_counter(),
                cpu_s(),
                pipe.writer.backlog,
                len(publisher.violations),
            ]
            stop.set()

        timer = threading.Timer(seconds, finish)
        c0, w0 = cpu_s(), time.perf_counter()
        timer.start()
        stats = pipe.run(stop)
        drain = time.perf_counter() - at_stop[0]  # the rest of the evidence, written now
        wall, cpu = at_stop[0] - w0, at_stop[1] - c0
        # the sample clips hold (almost) no real violation: what the cameras as configured
        # (not the probe) report is mostly false alarms, logged with their tracks
        probe_id = cams[0].id if probe is not None else None
        alarms = [m for m in publisher.violations if m["camera_id"] != probe_id]
        for msg in alarms:
            log_false_alarm(Path(tmp), msg)
    # per wall second until the stop; a camera keeps up when its stream time advanced as fast
    # as the wall clock (decoding is part of the load: a starved grabber falls behind)
    rates = [s.ticks / wall for s in stats.values()]
    detected = [s.detections / wall for s in stats.values()]
    keep_up = [((s.last_t or 0.0) - (s.first_t or 0.0)) / wall for s in stats.values()]
    lags = [w.lag_s or 0.0 for w in pipe.workers.values()]
    dropped = sum(g.dropped for g in feeds.values())
    ok = min(rates) >= 0.95 * fps and min(keep_up) >= 0.95 and max(lags) < 1.0
    rules = Counter(str(m["rule"]) for m in alarms)
    # the line counts of the cameras as configured, over every pass they looped through
    counted = [w for cid, w in pipe.workers.items() if cid != probe_id]
    crossings = sum(
        n
        for w in counted
        for dirs in w.counter.report().values()
        for by in dirs.values()
        for n in by.values()
    )
    streamed = [(w.stats.last_t or 0.0) - (w.stats.first_t or 0.0) for w in counted]
    out = {
        "cameras": n,
        "ticks_per_s_min": round(min(rates), 2),
        "detector_frames_per_s_mean": round(sum(detected) / len(detected), 2),
        "stream_s_per_wall_s_min": round(min(keep_up), 3),
        "detector_calls": det.calls - calls0,
        "lag_s_max": round(max(lags), 3),
        "dropped_frames": dropped,
        "cpu_cores_used": round(cpu / wall, 2),
        "cpu_cores_per_camera": round(cpu / wall / n, 3),
        "violations": dict(sorted(rules.items())),
        "sustained": ok,
        "evidence": {
            "backlog_at_stop": int(at_stop[2]),
            "published_by_stop": int(at_stop[3]),
            "published": len(publisher.violations),
            "drain_s": round(drain, 1),
            "without_clips": pipe.writer.dropped,
        },
    }
    if hand is not None and counted:  # a latency run of the probe alone counts nothing
        crossed_by, period = hand
        expected = sum(expected_crossings(s, period, crossed_by) for s in streamed)
        out["counts"] = count_figures(crossings, expected, sum(streamed) / period)
    log(f"[capacity] {json.dumps(out)}")
    return out


def log_false_alarm(evidence_root: Path, msg: Message) -> None:
    """A violation on a sample clip, with the track its evidence recorded, to stderr."""
    evidence = msg.get("evidence")
    files = evidence.get("files") if isinstance(evidence, dict) else None
    meta_path = next(
        (f["path"] for f in files or [] if isinstance(f, dict) and f.get("kind") == "metadata"),
        None,
    )
    track: Any = None
    if meta_path is not None:
        meta = json.loads((evidence_root / str(meta_path)).read_text(encoding="utf-8"))
        points = meta.get("track", [])  # the ring repeats a tick's boxes until the next tick
        track = [
            [p["t"], p["class"], p["box"]]
            for i, p in enumerate(points)
            if i == 0 or p["box"] != points[i - 1]["box"]
        ]
    log(
        "[false alarm] "
        + json.dumps(
            {
                k: msg.get(k)
                for k in (
                    "camera_id",
                    "rule",
                    "where",
                    "stream_time_s",
                    "measured",
                    "vehicle_class",
                )
            }
            | {"track": track}
        )
    )


def capacity_over_processes(
    target: Callable[..., None],
    total: int,
    procs: int,
    child_args: Callable[[int, int], tuple[Any, ...]],
    seconds: float,
) -> dict[str, Any]:
    """``total`` cameras split over ``procs`` spawned processes, each running
    ``target(index, cameras, *child_args(index, cameras), barrier, results)``: the child loads
    its detector, waits on ``barrier`` (so every process measures the same wall interval) and
    puts ``(index, run_capacity row + "latencies")`` or ``(index, {"error": ...})`` on
    ``results``. The rows are summed: sustained only when every camera of every process is."""
    ctx = mp.get_context("spawn")  # CUDA and OpenVINO cannot be forked safely
    procs = max(1, min(procs, total))
    share = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=target, args=(i, n, *child_args(i, n), barrier, results), daemon=True)
        for i, n in enumerate(share)
    ]
    for p in workers:
        p.start()
    rows: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + seconds + 400
    while len(rows) < procs and time.monotonic() < deadline:
        try:
            i, row = results.get(timeout=5)
            rows[i] = row
        except queue.Empty:  # check the children are alive
            if not any(p.is_alive() for p in workers) and results.empty():
                break
    for p in workers:
        p.join(timeout=30)
        if p.is_alive():
            p.terminate()
    errors = [r["error"] for r in rows.values() if "error" in r]
    ok_rows = [r for r in rows.values() if "error" not in r]
    lat = sorted(x for r in ok_rows for x in r.pop("latencies"))
    out: dict[str, Any] = {
        "cameras": total,
        "processes": procs,
        "reported": len(ok_rows),
        "sustained": len(ok_rows) == procs and all(r["sustained"] for r in ok_rows),
    }
    if ok_rows:
        out |= {
            "ticks_per_s_min": min(r["ticks_per_s_min"] for r in ok_rows),
            "stream_s_per_wall_s_min": min(r["stream_s_per_wall_s_min"] for r in ok_rows),
            "lag_s_max": max(r["lag_s_max"] for r in ok_rows),
            "detector_frames_per_s": round(
                sum(r["detector_frames_per_s_mean"] * r["cameras"] for r in ok_rows), 1
            ),
            "cpu_cores_used": round(sum(r["cpu_cores_used"] for r in ok_rows), 2),
            "inference_precision": ok_rows[0].get("inference_precision"),
            "cpu_cores_per_camera": round(sum(r["cpu_cores_used"] for r in ok_rows) / total, 3),
            "dropped_frames": sum(r["dropped_frames"] for r in ok_rows),
            "violations": dict(
                sorted(sum((Counter(r["violations"]) for r in ok_rows), Counter()).items())
            ),
            "latencies": lat,
            "evidence": [r["evidence"] for r in ok_rows if "evidence" in r],  # per process
            "per_process": ok_rows,
        }
        counts = [r["counts"] for r in ok_rows if "counts" in r]
        if counts:
            out["counts"] = count_figures(
                sum(c["crossings"] for c in counts),
                sum(c["expected"] for c in counts),
                sum(c["passes"] for c in counts),
            )
    if errors:
        out["errors"] = errors[:3]
    return out


def capacity_child(
    index: int,
    cameras: int,
    settings: Settings,
    camera: dict[str, Any],
    fps: float,
    seconds: float,
    barrier: Any,
    results: Any,
    warm: Callable[[UltralyticsDetector, CameraConfig, Settings], None],
    extra: Callable[[], dict[str, Any]] = dict,
    probe: dict[str, Any] | None = None,
    skip_unused: bool = True,
) -> None:
    """The body of one process of :func:`capacity_over_processes`: load the detector, warm
    it up (``warm``), wait for the others, run :func:`run_capacity` (its first camera
    ``probe`` when given) and put its row (with the violation latencies, the plan, the
    inference precision and ``extra()``) or the error on ``results``."""
    try:
        cam = CameraConfig.model_validate(camera)
        probe_cam = None if probe is None else CameraConfig.model_validate(probe)
        det = create_detector(DetectorSpec.from_settings(settings), cameras=cameras)
        if not isinstance(det, UltralyticsDetector):
            raise RuntimeError("the benchmark needs the ultralytics detector")
        warm(det, cam, settings)
        publisher = TimedPublisher()
        barrier.wait(timeout=300)
        row = run_capacity(
            settings, det, cam, cameras, fps, seconds, publisher, probe_cam, skip_unused
        )
        row |= {
            "latencies": publisher.latencies,
            "plan": det.plan.reason,
            "inference_precision": det.inference_precision,
            **extra(),
        }
        results.put((index, row))
    except BaseException as exc:  # the parent reports it; a silent child would hang it
        results.put((index, {"error": f"{type(exc).__name__}: {exc}"[:500]}))
        raise


def _warm_on_first_frame(
    det: UltralyticsDetector, camera: CameraConfig, settings: Settings
) -> None:
    """The first inference sets up the predictor (seconds): done before measuring."""
    frame = CameraSource("warm", resolve_source(camera.source, settings.shared_dir)).read()
    if frame is not None:
        det.detect([frame.image], [0.0])


def _capacity_proc(
    index: int,
    cameras: int,
    runtime: Literal["auto", "torch", "openvino"],
    precision: Literal["fp32", "int8"],
    threads: int,
    camera: dict[str, Any],
    probe: dict[str, Any] | None,
    fps: float,
    seconds: float,
    home: str,
    skip_unused: bool,
    barrier: Any,
    results: Any,
) -> None:
    """One CPU process of :func:`capacity_over_processes` (``--capacity-processes``); the
    first process's first camera is the latency ``probe`` when there is one."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings(
        vision_device="cpu",
        vision_cpu_runtime=runtime,
        vision_cpu_precision=precision,
        vision_torch_threads=threads,
        home=Path(home),
    )
    capacity_child(
        index,
        cameras,
        settings,
        camera,
        fps,
        seconds,
        barrier,
        results,
        _warm_on_first_frame,
        probe=probe,
        skip_unused=skip_unused,
    )


def _accuracy(pipe: dict[str, Any], base: dict[str, Any], hand: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"hand": hand}
    for name, r in (("pipeline", pipe), ("baseline", base)):
        err, total = count_error(r["line_counts"], hand)
        out[name] = {
            "line_counts": r["line_counts"],
            "error": round(err / max(1, total), 3),
            "unique_vehicles": r["unique_vehicles"],
        }
    return out


def compare(
    args: argparse.Namespace,
    settings: Settings,
    det: UltralyticsDetector,
    cameras: dict[str, CameraConfig],
    camera: CameraConfig,
) -> dict[str, Any]:
    """Pipeline vs baseline(s) on the camera's clip, then the counts on the other clips."""
    clip = Path(resolve_source(camera.source, settings.shared_dir)).name
    hand_all = yaml.safe_load(HAND.read_text(encoding="utf-8"))["clips"]
    hand = hand_all[clip]["lines"]
    pipes: list[dict[str, Any]] = []
    bases: list[dict[str, Any]] = []
    same: list[dict[str, Any]] = []  # the baseline on the pipeline's runtime (OpenVINO)
    exported = det.weights if det.weights.is_dir() else None
    for i in range(args.repeat):  # alternated, best of N: other work on the machine varies
        log(f"pipeline ({det.plan.runtime}), pass {i + 1}/{args.repeat} ...")
        pipes.append(run_pipeline(settings, det, camera))
        log(f"[pipeline] {json.dumps(pipes[-1])}")
        video_s = pipes[-1]["video_s"]
        log(f"baseline YOLO.track(stream=True) on torch, pass {i + 1}/{args.repeat} ...")
        bases.append(run_baseline(settings, camera, det.spec.imgsz, video_s, args.threads))
        log(f"[baseline] {json.dumps(bases[-1])}")
        if exported is not None:
            log(f"baseline YOLO.track(stream=True) on {det.plan.runtime}, pass {i + 1} ...")
            same.append(
                run_baseline(
                    settings, camera, det.spec.imgsz, video_s, args.threads, weights=exported
                )
            )
            log(f"[baseline_same_runtime] {json.dumps(same[-1])}")
    pipe = max(pipes, key=lambda r: r["frames_per_s"])
    base = max(bases, key=lambda r: r["frames_per_s"])
    pipe["frames_per_s_all"] = [r["frames_per_s"] for r in pipes]
    base["frames_per_s_all"] = [r["frames_per_s"] for r in bases]
    base_same = max(same, key=lambda r: r["frames_per_s"]) if same else None
    if base_same is not None:
        base_same["frames_per_s_all"] = [r["frames_per_s"] for r in same]
    for r in (pipe, base) if base_same is None else (pipe, base, base_same):
        err, total = count_error(r["line_counts"], hand)
        r["line_count_error"] = round(err / max(1, total), 3)
    accuracy: dict[str, Any] = {clip: _accuracy(pipe, base, hand)}
    for other, spec in sorted(hand_all.items()):
        if other == clip or not args.accuracy_clips:
            continue
        log(f"accuracy on {other} ...")
        cam = cameras[spec["camera"]]
        p = run_pipeline(settings, det, cam)
        size = cam.detect_imgsz or det.spec.imgsz  # the camera's own input size, for both
        b = run_baseline(settings, cam, size, p["video_s"], args.threads)
        accuracy[other] = {**_accuracy(p, b, spec["lines"]), "imgsz": size}
        log(f"[accuracy] {other} {json.dumps(accuracy[other])}")
    return {
        "hand_counts": hand,
        "pipeline": pipe,
        "baseline": base,
        "speedup": round(pipe["frames_per_s"] / base["frames_per_s"], 2),
        "speedup_median": round(
            statistics.median(pipe["frames_per_s_all"])
            / statistics.median(base["frames_per_s_all"]),
            2,
        ),
        "baseline_same_runtime": base_same,
        "speedup_same_runtime": None
        if base_same is None
        else round(pipe["frames_per_s"] / base_same["frames_per_s"], 2),
        "accuracy": accuracy,
    }


def capacity_runner(
    args: argparse.Namespace,
    settings: Settings,
    det: UltralyticsDetector,
    camera: CameraConfig,
) -> Callable[[int, CameraConfig | None], dict[str, Any]]:
    """``run(n, probe)``: one capacity row of ``n`` cameras (the first one ``probe`` when
    given), in this process or over ``--capacity-processes`` spawned ones (each loads its
    own detector); the row keeps its violation ``latencies``."""
    procs = max(1, args.capacity_processes)
    if procs > 1:
        threads = args.capacity_threads or max(1, (os.cpu_count() or 1) // procs)
        doc, home = camera.model_dump(mode="json"), str(settings.home)

        def spawned(n: int, probe: CameraConfig | None) -> dict[str, Any]:
            log(f"capacity: {n} cameras over {min(n, procs)} processes, {threads} thread(s) each")
            probe_doc = None if probe is None else probe.model_dump(mode="json")
            row = capacity_over_processes(
                _capacity_proc,
                n,
                procs,
                lambda i, _n: (
                    args.runtime,
                    args.precision,
                    threads,
                    doc,
                    probe_doc if i == 0 else None,
                    args.capacity_fps,
                    args.capacity_seconds,
                    home,
                    args.skip_unused,
                ),
                args.capacity_seconds,
            )
            row.pop("per_process", None)  # summed above; each process's row is in the log
            row["detector_threads_per_process"] = threads
            log(f"[capacity] {json.dumps(row)}")
            return row

        return spawned
    cap_det = det
    if args.capacity_threads != args.threads:
        deployed = settings.model_copy(update={"vision_torch_threads": args.capacity_threads})
        made = create_detector(DetectorSpec.from_settings(deployed))
        if not isinstance(made, UltralyticsDetector):
            raise SystemExit("the benchmark needs the ultralytics detector")
        cap_det = made
        _warm_on_first_frame(cap_det, camera, settings)

    def here(n: int, probe: CameraConfig | None) -> dict[str, Any]:
        publisher = TimedPublisher()
        fps, seconds = args.capacity_fps, args.capacity_seconds
        row = run_capacity(
            settings, cap_det, camera, n, fps, seconds, publisher, probe, args.skip_unused
        )
        return row | {"latencies": publisher.latencies}

    return here


def capacity_runs(
    args: argparse.Namespace,
    settings: Settings,
    det: UltralyticsDetector,
    camera: CameraConfig,
    probe: CameraConfig | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The capacity rows, one per camera count of ``--capacity`` (the camera as configured),
    then, when ``probe`` is given (``--latency-probe``), the latency rows: the largest
    sustained count again with its first camera ``probe``, one camera fewer each time until
    a run is sustained (the probe's many violations write evidence, which costs CPU of its
    own)."""
    run = capacity_runner(args, settings, det, camera)
    rows = [run(int(x), None) for x in args.capacity.split(",") if x.strip()]
    probes: list[dict[str, Any]] = []
    if probe is not None and rows:
        n = max(
            (r["cameras"] for r in rows if r["sustained"]), default=min(r["cameras"] for r in rows)
        )
        while n >= 1:
            log(f"latency probe: {n} cameras, the first with its lanes reversed")
            probes.append(run(n, probe) | {"probe": True})
            if probes[-1]["sustained"]:
                break
            n -= 1
    return rows, probes


def wrong_way_probe(camera: CameraConfig) -> CameraConfig:
    """``camera`` with every lane's flow drawn backwards: each vehicle that drives its lane
    the right way becomes a wrong-way violation. The shared clips hold (almost) no real
    violation, so without it a capacity run has no notice to time; the probe is the same
    clip, detector load and rules, and only its lane directions are reversed."""
    if not camera.lanes:
        raise SystemExit(f"{camera.id}: --latency-probe needs a camera with lanes")
    lanes = [lane.model_copy(update={"flow": lane.flow[::-1]}) for lane in camera.lanes]
    return camera.model_copy(update={"lanes": lanes, "name": f"{camera.name} (latency probe)"})


def latency(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The violation notices' latency over the *sustained* capacity runs (in a run that falls
    behind, frames reach the rules later and later, so its latency measures the backlog);
    each row keeps only its number of notices."""
    lat = [x for r in rows if r["sustained"] for x in r["latencies"]]
    for r in rows:
        r["violation_notices"] = len(r.pop("latencies"))
    return latency_figures(lat)


def latency_figures(latencies: list[float]) -> dict[str, Any]:
    """p95, median and number of violation-notice latencies (seconds)."""
    lat = sorted(latencies)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None
    return {
        "violation_latency_s_p95": None if p95 is None else round(p95, 3),
        "violation_latency_samples": len(lat),
        "violation_latency_s_median": round(statistics.median(lat), 3) if lat else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--camera", default="vn-junction-a", help="camera id (needs hand counts)")
    parser.add_argument("--threads", type=int, default=1, help="detector CPU threads")
    parser.add_argument(
        "--runtime",
        choices=("auto", "torch", "openvino"),
        default="auto",
        help="the pipeline's CPU runtime (auto: OpenVINO when installed)",
    )
    parser.add_argument(
        "--precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="the pipeline's OpenVINO precision (int8: vision/int8_export.py); the baselines "
        "stay as they are",
    )
    parser.add_argument("--capacity", default="2,4,6,8", help="camera counts to try, or ''")
    parser.add_argument("--capacity-fps", type=float, default=5.0, help="detections/s per camera")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument(
        "--capacity-threads",
        type=int,
        default=0,
        help="detector CPU threads for the capacity runs (0: the runtime's default, every "
        "core, as `ioc vision run` deploys)",
    )
    parser.add_argument(
        "--capacity-processes",
        type=int,
        default=1,
        help="split each capacity run's cameras over P processes, as `ioc vision run "
        "--processes P` deploys them (each with --capacity-threads, or cores/P, detector threads)",
    )
    parser.add_argument(
        "--latency-probe",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the capacity runs, time the violation notices on runs whose first camera "
        "is a wrong-way probe (its lanes' directions reversed, so violations happen)",
    )
    parser.add_argument(
        "--skip-unused",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="capacity runs: grabbers pass over the frames neither a detector tick nor the "
        "evidence ring takes, before their BGR conversion, as deployed (--no-skip-unused: "
        "convert every decoded frame, the A/B baseline)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="pipeline/baseline passes (0: only the capacity runs and the latency)",
    )
    parser.add_argument(
        "--no-accuracy-clips",
        dest="accuracy_clips",
        action="store_false",
        help="skip the counts on the other hand-counted clips",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings(
        vision_device="cpu",
        vision_torch_threads=args.threads,
        vision_cpu_runtime=args.runtime,
        vision_cpu_precision=args.precision,
        home=Path(tempfile.gettempdir()) / "ioc-bench-vision",
    )
    cameras = load_cameras(settings.cameras_dir)
    camera = cameras[args.camera]
    # built first, so a camera without lanes fails before the long runs, not after them
    probe = wrong_way_probe(camera) if args.latency_probe and args.capacity.strip() else None
    clip = Path(resolve_source(camera.source, settings.shared_dir)).name
    det = create_detector(DetectorSpec.from_settings(settings))
    if not isinstance(det, UltralyticsDetector):
        raise SystemExit("the benchmark needs the ultralytics detector")
    load_before = os.getloadavg()
    _warm_on_first_frame(det, camera, settings)
    result: dict[str, Any] = {
        "benchmark": "vision",
        "clip": clip,
        "device": det.plan.device,
        "gpu": "none lent to this session" if det.plan.device == "cpu" else det.plan.device,
        "runtime": det.plan.runtime,
        "precision": args.precision if det.plan.runtime == "openvino" else "fp32",
        "plan": det.plan.reason,
        "inference_precision": det.inference_precision,
        "detector_threads": args.threads,
        "imgsz": det.spec.imgsz,
        "model": settings.model_path.name,
    }
    if args.repeat > 0:
        result |= compare(args, settings, det, cameras, camera)
    capacity, probes = capacity_runs(args, settings, det, camera, probe)
    sustained = max((c["cameras"] for c in capacity if c["sustained"]), default=0)
    result |= latency(capacity + probes) | {
        "capacity_fps_per_camera": args.capacity_fps,
        "capacity_detector_threads": args.capacity_threads,
        "capacity_processes": max(1, args.capacity_processes),
        "evidence_fps": settings.vision_evidence_fps,
        "clip_encoding": {"preset": settings.vision_clip_preset, "crf": settings.vision_clip_crf},
        "capacity_skip_unused": args.skip_unused,
        "capacity": capacity,
        "latency_runs": probes,
        "cameras_sustained": sustained,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "vehicle_classes": list(VEHICLE_CLASSES),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
