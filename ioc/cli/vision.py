"""``ioc vision``: run the camera pipeline, check camera configs, look at one frame.

Examples::

    ioc vision check-config vision/cameras
    ioc vision analyze ../shared/data/video/vn_cctv_junction_a.mp4 --camera vn-junction-a \
        --out /tmp/junction-a                 # report.json + evidence, every frame
    ioc vision detect ../shared/data/video/us_residential_street_cam.mp4 --at 15 --out car.png
    ioc vision run --all                      # every camera in IOC_CAMERAS_DIR, to Kafka
    ioc vision run --camera vn-junction-a --no-kafka --seconds 10
    ioc vision reference --camera vn-junction-a --at 2 --out /tmp/a.png  # for view: {reference}
"""

from __future__ import annotations

import argparse
import csv
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ioc.cli import vision_reference
from ioc.settings import Settings

if TYPE_CHECKING:
    from vision.config import CameraConfig
    from vision.detector import Detector

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("vision", help="camera pipeline (detection, tracking, violations)")
    sub = p.add_subparsers(dest="vision_command", required=True)

    run = sub.add_parser("run", help="process cameras: violations, health and frames to Kafka")
    which = run.add_mutually_exclusive_group()
    which.add_argument(
        "--camera", action="append", default=[], metavar="ID", help="camera id (repeatable)"
    )
    which.add_argument("--all", action="store_true", help="every configured camera (default)")
    run.add_argument(
        "--config",
        type=Path,
        default=None,
        help="camera YAML file or folder (default IOC_CAMERAS_DIR)",
    )
    run.add_argument("--no-loop", action="store_true", help="stop at the end of file sources")
    run.add_argument(
        "--fast",
        action="store_true",
        help="files as fast as possible, no frame dropped (default: real time, "
        "dropping frames the pipeline cannot keep up with, like a live camera)",
    )
    run.add_argument(
        "--seconds", type=float, default=None, help="stop after this much stream time per camera"
    )
    run.add_argument("--no-kafka", action="store_true", help="log messages instead of sending")
    run.add_argument(
        "--max-detect-fps",
        type=rate_cap,
        default=None,
        metavar="FPS|auto",
        help="cap every camera's detections per second; 'auto': the highest cap at which "
        "the cameras fit --cpu-share of this host's cores, from one detection timed here "
        "(ioc run: IOC_VISION_RUN_DETECT_FPS)",
    )
    run.add_argument(
        "--cpu-share",
        type=cpu_share,
        default=1.0,
        metavar="SHARE",
        help="with --max-detect-fps auto: the share of this host's cores the cameras may "
        "take, 0-1 (default 1; ioc run: IOC_VISION_RUN_CPU_SHARE)",
    )
    run.add_argument(
        "--keep-input-size",
        action="store_true",
        help="with --max-detect-fps auto: keep the cameras' detector input sizes even when "
        "the cap falls below 4/s (default: 0.8 of them then, when that buys a higher rate)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="camera workers sharing the camera list (default IOC_VISION_WORKERS, 1)",
    )
    run.add_argument(
        "--worker-index",
        type=int,
        default=None,
        metavar="K",
        help="this worker's index 0..N-1: it runs the cameras a stable hash of their ids "
        "gives it (default IOC_VISION_WORKER_INDEX, 0)",
    )
    run.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="P",
        help="split this worker's cameras over P supervised processes (restarted if they "
        "die); one process uses about one core (default IOC_VISION_PROCESSES, 1)",
    )
    run.set_defaults(func=cmd_run)

    analyze = sub.add_parser(
        "analyze", help="whole pipeline offline on one video: report.json + evidence"
    )
    analyze.add_argument("video", type=Path, help="video file")
    analyze.add_argument(
        "--camera", required=True, help="camera YAML file, or a camera id of IOC_CAMERAS_DIR"
    )
    analyze.add_argument("--out", type=Path, required=True, help="output folder")
    analyze.set_defaults(func=cmd_analyze)

    check = sub.add_parser("check-config", help="validate camera YAML files")
    check.add_argument("path", type=Path, help="camera YAML file or folder")
    check.add_argument(
        "--probe",
        action="store_true",
        help="also connect to each camera and read a few seconds of its stream",
    )
    check.add_argument(
        "--seconds", type=float, default=5.0, help="how long to read each camera (--probe)"
    )
    check.set_defaults(func=cmd_check_config)

    detect = sub.add_parser("detect", help="detect on one frame of a video or image, save PNG")
    detect.add_argument("file", type=Path, help="video or image file")
    detect.add_argument("--out", type=Path, required=True, help="annotated PNG to write")
    detect.add_argument("--at", type=float, default=0.0, help="video time in seconds")
    detect.add_argument("--camera", default=None, help="draw this camera's geometry too")
    detect.add_argument("--config", type=Path, default=None, help="camera YAML file or folder")
    detect.set_defaults(func=cmd_detect)

    vision_reference.add_parser(sub)


def _number_in(text: str, high: float, otherwise: str) -> float:
    """``text`` as a number above 0 and at most ``high``, else an argparse error saying the
    text ``is {otherwise}``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is {otherwise}") from None
    if not 0 < value <= high:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 (excluded) and {high:g}")
    return value


def rate_cap(text: str) -> float | str:
    """``--max-detect-fps``: detections/s (above 0, at most 60) or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    return _number_in(text, 60, "neither a number nor 'auto'")


def cpu_share(text: str) -> float:
    """``--cpu-share``: a share of the host's cores, above 0 and at most 1."""
    return _number_in(text, 1, "not a number")


def _capped(chosen: list[CameraConfig], fps: float) -> list[CameraConfig]:
    """The cameras with their detections/s at most ``fps`` (a lower own rate is kept)."""
    return [c.model_copy(update={"detect_fps": min(c.detect_fps, fps)}) for c in chosen]


def _auto_cap(
    detector: Detector,
    chosen: list[CameraConfig],
    share: float,
    default_imgsz: int,
    keep_input_size: bool = False,
) -> list[CameraConfig]:
    """``--max-detect-fps auto``: one detection timed per camera size on this host, and the
    cameras capped at the highest rate at which they fit ``share`` of its cores
    (:mod:`vision.sizing`); below ``RATE_FLOOR`` at their own input sizes, the cameras the
    cap holds back detect ``SMALLER`` of theirs when that buys a higher rate (not with
    ``keep_input_size``). Said on stdout, since it decides what the cameras can see."""
    from vision.sizing import RATE_FLOOR, SMALLER, prefer_smaller, scaled_imgsz, size_rate
    from vision.sizing_probe import host_cores, measure_loads

    cores = host_cores()
    loads = measure_loads(detector, chosen)
    cap = size_rate(loads, share * cores)
    sized, own_cap = chosen, cap
    if not keep_input_size and cap.fps < RATE_FLOOR:
        smaller = [  # a camera whose own rate fits already keeps its picture
            c.model_copy(
                update={"detect_imgsz": scaled_imgsz(c.detect_imgsz or default_imgsz, SMALLER)}
            )
            if c.detect_fps > cap.fps
            else c
            for c in chosen
        ]
        smaller_loads = measure_loads(detector, smaller)
        smaller_cap = size_rate(smaller_loads, share * cores)
        if prefer_smaller(cap, smaller_cap):
            sized, loads, cap = smaller, smaller_loads, smaller_cap
    costs = ", ".join(f"{load.camera_id} {load.detect_s * 1000:.0f} ms" for load in loads)
    print(
        f"vision: detections/s capped at {cap.fps:g} per camera for {len(chosen)} camera(s) "
        f"in {cap.cores:.2f} of {cores} cores (they need {cap.needed:.2f} there; one "
        f"detection's CPU: {costs})",
        flush=True,
    )
    if sized is not chosen:
        sizes = ", ".join(
            f"{c.id} {c.detect_imgsz} px" for c, o in zip(sized, chosen, strict=True) if c is not o
        )
        print(
            f"vision: detector input {SMALLER:g} of the cameras' own ({sizes}): at their own "
            f"sizes the cap would be {own_cap.fps:g}/s, and below {RATE_FLOOR:g}/s fewer "
            "detections count worse than smaller ones (--keep-input-size: never)",
            flush=True,
        )
    if not cap.fits:
        logger.warning(
            "vision: even %g detections/s per camera needs %.2f cores, more than the %.2f "
            "given (--cpu-share, IOC_VISION_RUN_CPU_SHARE): the cameras will fall behind; "
            "run fewer cameras here or give them more of the host",
            cap.fps,
            cap.needed,
            cap.cores,
        )
    return _capped(sized, cap.fps)


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    from vision.config import CameraConfigError, load_cameras, resolve_reference, resolve_source
    from vision.source import source_kind

    try:
        cameras = load_cameras(args.path)
    except CameraConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    base = args.path if args.path.is_dir() else args.path.parent
    for cam in cameras.values():
        src = resolve_source(cam.source, settings.shared_dir, base)
        kind = source_kind(src)
        missing = " (file missing)" if kind == "file" and not Path(src).is_file() else ""
        view = _view_status(cam.view.enabled, resolve_reference(cam, settings.shared_dir, base))
        print(
            f"ok  {cam.id}: {kind} source{missing}, detect {cam.detect_fps:g} fps, "
            f"{len(cam.stop_lines)} stop line(s), {len(cam.lanes)} lane(s), {view}"
        )
    if not cameras:
        print("error: no camera configs found", file=sys.stderr)
        return 1
    if args.probe:
        return _probe_all(cameras, args.seconds, settings, base)
    return 0


def _probe_all(
    cameras: Mapping[str, CameraConfig], seconds: float, settings: Settings, base: Path
) -> int:
    """``check-config --probe``: each camera's stream for ``seconds``; 1 if one gave none."""
    from vision.config import resolve_source
    from vision.probe import probe
    from vision.source import Backoff, CameraSource, capture_opener, use_rtsp_transport

    if seconds <= 0:
        print("error: --seconds must be > 0", file=sys.stderr)
        return 2
    use_rtsp_transport(settings.vision_rtsp_transport)
    opener = capture_opener(settings.vision_decode_threads)
    failed = 0
    for cam in cameras.values():
        src = CameraSource(
            cam.id,
            resolve_source(cam.source, settings.shared_dir, base),
            opener=opener,
            timing=cam.stream,
            backoff=Backoff(0.5, 2.0, 2.0),
        )
        report = probe(src, cam, seconds)
        failed += not report.ok
        print(report.line(), file=sys.stdout if report.ok else sys.stderr)
    return 1 if failed else 0


def _view_status(enabled: bool, reference: Path | None) -> str:
    """What ``check-config`` says of a camera's view check."""
    if not enabled:
        return "view check off"
    if reference is None:
        return "view learned from the stream"
    return f"view reference {reference}" + ("" if reference.is_file() else " (file missing)")


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    """Every frame of ``video`` through the pipeline (no frame dropped, no Kafka); writes
    ``OUT/report.json`` and the evidence under ``OUT/evidence``; progress on stderr."""
    import json
    import time

    import cv2

    from vision.catalogue import load_violation_catalogue
    from vision.clips import ClipEncoding
    from vision.config import CameraConfigError, load_cameras, resolve_references
    from vision.detector import DetectorSpec, create_detector
    from vision.pipeline import Pipeline, PipelineOptions
    from vision.publish import MemoryPublisher
    from vision.report import build_report
    from vision.source import CameraSource, Grabber, capture_opener

    if not args.video.is_file():
        print(f"error: video not found: {args.video}", file=sys.stderr)
        return 1
    try:
        path = Path(args.camera)
        cams = load_cameras(path if path.suffix in {".yaml", ".yml"} else settings.cameras_dir)
    except CameraConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    camera = next(iter(cams.values())) if len(cams) == 1 else cams.get(args.camera)
    if camera is None:
        print(f"error: unknown camera {args.camera!r}; known: {sorted(cams)}", file=sys.stderr)
        return 2
    cap = cv2.VideoCapture(str(args.video), cv2.CAP_FFMPEG)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    cap.release()
    if total <= 0:
        print(f"error: {camera.id}: cannot read video {args.video}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    detector = create_detector(DetectorSpec.from_settings(settings))
    opener = capture_opener(settings.vision_decode_threads)
    feeds = {
        camera.id: Grabber(
            CameraSource(camera.id, str(args.video), opener=opener, timing=camera.stream),
            size=4,
            drop_oldest=False,
        )
    }
    publisher = MemoryPublisher()
    base = path.parent if path.suffix in {".yaml", ".yml"} else settings.cameras_dir
    opts = PipelineOptions(
        evidence_root=args.out / "evidence",
        device=detector.plan.device,
        evidence_fps=settings.vision_evidence_fps,
        clip_encoding=ClipEncoding.from_settings(settings),
        view_references=resolve_references([camera], settings.shared_dir, base),
    )
    pipe = Pipeline.build([camera], load_violation_catalogue(), feeds, detector, publisher, opts)
    worker = pipe.workers[camera.id]
    done = threading.Event()

    def progress() -> None:
        while not done.wait(1.0):
            n = worker.stats.frames
            bar = "#" * (30 * n // total)
            print(f"\r{camera.id} [{bar:<30}] {n}/{total} frames", end="", file=sys.stderr)

    shown = threading.Thread(target=progress, daemon=True)
    shown.start()
    start = time.monotonic()
    try:
        stats = pipe.run()[camera.id]
    finally:
        done.set()
        shown.join()
    print(f"\r{camera.id} [{'#' * 30}] {stats.frames}/{total} frames", file=sys.stderr)
    report = build_report(
        str(args.video), camera, stats, worker.counter, publisher.messages, opts.topic_violations
    )
    report["wall_seconds"] = round(time.monotonic() - start, 2)
    report["evidence_root"] = str(opts.evidence_root)
    (args.out / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    print(
        f"{stats.frames} frames, {len(report['violations'])} violation(s), "
        f"crossings {report['line_crossings']} -> {args.out / 'report.json'}"
    )
    return 0


def cmd_detect(args: argparse.Namespace, settings: Settings) -> int:
    import cv2
    import numpy as np

    from vision.annotate import draw
    from vision.config import load_cameras
    from vision.detector import DetectorSpec, create_detector
    from vision.source import grab_frame, use_rtsp_transport

    image = (
        cv2.imread(str(args.file))
        if args.file.suffix.lower() in {".jpg", ".jpeg", ".png"}
        else None
    )
    if image is None:
        use_rtsp_transport(settings.vision_rtsp_transport)
        image = grab_frame(str(args.file), args.at)
        if image is None:
            print(f"error: cannot read a frame of {args.file} at {args.at} s", file=sys.stderr)
            return 1
    frame = np.asarray(image, dtype=np.uint8)
    camera = None
    if args.camera:
        camera = load_cameras(args.config or settings.cameras_dir).get(args.camera)
        if camera is None:
            print(f"error: unknown camera {args.camera!r}", file=sys.stderr)
            return 2
    detector = create_detector(DetectorSpec.from_settings(settings))
    maps = [camera.class_map or None] if camera is not None else None
    dets = detector.detect([frame], [args.at], class_maps=maps)[0]
    counts: dict[str, int] = {}
    for c in dets.class_id:
        counts[dets.names[int(c)]] = counts.get(dets.names[int(c)], 0) + 1
    cv2.imwrite(str(args.out), draw(frame, camera, dets, caption=f"{args.file.name} {args.at:g}s"))
    print(f"{len(dets)} object(s) {counts} -> {args.out}")
    return 0


def _count_sensors(settings: Settings, camera_ids: list[str]) -> dict[str, str]:
    """Cameras with a registered ``cam-<id>`` sensor get their counts sent as observations."""
    try:
        with settings.sensors_file.open(encoding="utf-8") as f:
            ids = {row.get("id", "") for row in csv.DictReader(f)}
    except OSError:
        return {}
    return {c: f"cam-{c}" for c in camera_ids if f"cam-{c}" in ids}


def _ensure_topics(bootstrap: str, settings: Settings) -> None:
    """Create the topics this process writes (the embedded broker does not auto-create)."""
    import asyncio

    from ioc.services.broker import create_topics

    names = [
        settings.topic(n) for n in ("violations", "dashboard", "observations.raw", "traffic.flow")
    ]
    asyncio.run(create_topics(bootstrap, names, settings.topic_partitions))


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from vision.catalogue import load_violation_catalogue
    from vision.clips import ClipEncoding
    from vision.config import (
        CameraConfigError,
        load_cameras,
        resolve_references,
        resolve_source,
    )
    from vision.detector import DetectorSpec, create_detector
    from vision.pipeline import Pipeline, PipelineOptions
    from vision.publish import KafkaPublisher, LogPublisher, Publisher
    from vision.sharding import ShardError, mine
    from vision.source import CameraSource, Grabber, capture_opener, use_rtsp_transport

    use_rtsp_transport(settings.vision_rtsp_transport)  # before any camera (or process) opens

    path = args.config or settings.cameras_dir
    try:
        cameras = load_cameras(path)
    except CameraConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    unknown = sorted(set(args.camera) - set(cameras))
    if unknown:
        print(f"error: unknown camera(s) {unknown}; known: {sorted(cameras)}", file=sys.stderr)
        return 2
    chosen = [cameras[c] for c in args.camera] if args.camera else list(cameras.values())
    processes = getattr(args, "processes", None) or settings.vision_processes
    if processes > 1:
        from ioc.cli.vision_processes import supervise

        return supervise(args, settings, processes)
    workers = getattr(args, "workers", None) or settings.vision_workers
    index = getattr(args, "worker_index", None)
    index = settings.vision_worker_index if index is None else index
    try:
        ours = set(mine([c.id for c in chosen], index, workers))
    except ShardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if workers > 1:
        logger.info(
            "vision worker %d of %d: cameras %s of %d", index, workers, sorted(ours), len(chosen)
        )
        if not ours:
            print(f"worker {index} of {workers}: no camera hashes to this worker")
            return 0
    chosen = [c for c in chosen if c.id in ours]
    cap = getattr(args, "max_detect_fps", None)
    if isinstance(cap, float):
        chosen = _capped(chosen, cap)
    if not chosen:
        print("error: no cameras configured", file=sys.stderr)
        return 1
    publisher: Publisher
    bootstrap: str | None = None
    if args.no_kafka:
        publisher = LogPublisher()
    else:
        from ioc.services.manager import kafka_bootstrap
        from ioc.services.ports import ServiceError

        try:
            bootstrap = kafka_bootstrap(settings)
            _ensure_topics(bootstrap, settings)
            publisher = KafkaPublisher(bootstrap)
        except ServiceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    detector = create_detector(DetectorSpec.from_settings(settings), cameras=len(chosen))
    if cap == "auto":
        chosen = _auto_cap(
            detector,
            chosen,
            getattr(args, "cpu_share", 1.0),
            settings.detector_imgsz,
            getattr(args, "keep_input_size", False),
        )
    base = path if path.is_dir() else path.parent
    opener = capture_opener(settings.vision_decode_threads)
    feeds = {
        c.id: Grabber(
            CameraSource(
                c.id,
                resolve_source(c.source, settings.shared_dir, base),
                loop=not args.no_loop,
                opener=opener,
                timing=c.stream,
            ),
            realtime=not args.fast,
            drop_oldest=not args.fast,
        )
        for c in chosen
    }
    opts = PipelineOptions(
        topic_violations=settings.topic("violations"),
        topic_dashboard=settings.topic("dashboard"),
        topic_observations=settings.topic("observations.raw"),
        topic_flow=settings.topic("traffic.flow"),
        evidence_root=settings.evidence_dir or settings.home / "evidence",
        evidence_fps=settings.vision_evidence_fps,
        clip_encoding=ClipEncoding.from_settings(settings),
        frame_interval_s=settings.camera_frame_interval_s,
        device=detector.plan.device,
        count_sensors=_count_sensors(settings, [c.id for c in chosen]),
        view_references=resolve_references(chosen, settings.shared_dir, base),
    )
    pipe = Pipeline.build(chosen, load_violation_catalogue(), feeds, detector, publisher, opts)
    feed_topics = [
        c.signal.feed_topic
        for c in chosen
        if c.signal is not None and c.signal.source == "feed" and c.signal.feed_topic
    ]
    inbox = None
    if feed_topics and bootstrap is not None:
        from vision.feed_consumer import FeedConsumer

        inbox = FeedConsumer(bootstrap, feed_topics)
        pipe.signal_inbox = inbox
    elif feed_topics:
        logger.warning("signal feeds %s need Kafka (not with --no-kafka)", feed_topics)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logger.info("vision: %d camera(s) on %s", len(chosen), detector.plan.device)
    try:
        stats = pipe.run(stop, until_s=args.seconds)
    finally:
        publisher.close()
        if inbox is not None:
            inbox.close()
    for cid, st in stats.items():
        print(
            f"{cid}: {st.frames} frames, {st.ticks} processed, {st.detections} detected, "
            f"{st.violations} violation(s)"
            + (f", {st.withdrawn} withdrawn (view moved or picture frozen)" if st.withdrawn else "")
        )
    return 0
