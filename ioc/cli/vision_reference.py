"""``ioc vision reference``: take the image of a camera's view that its geometry is judged
against (``view.reference`` in its YAML; see ``vision/view.py``).

One frame of the camera's own source (a file at ``--at`` seconds, or the next frame of a
stream) is written as PNG with the vehicles and people the detector finds on it made
transparent (they are no part of the scene; the view check leaves them out as it does in
every frame), after a check that what is left holds enough texture for the view check to
work on; the command then says what to add to the camera's YAML.

Example::

    ioc vision reference --config infra/cameras --camera hp-lachtray --out lachtray.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ioc.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ref = sub.add_parser(
        "reference", help="save a camera's view as the reference its view check compares with"
    )
    ref.add_argument("--camera", required=True, help="camera id")
    ref.add_argument(
        "--config", type=Path, default=None, help="camera YAML file or folder (IOC_CAMERAS_DIR)"
    )
    ref.add_argument("--at", type=float, default=0.0, help="video time in seconds (files)")
    ref.add_argument(
        "--out", type=Path, default=None, help="PNG to write (default: <config folder>/<id>.png)"
    )
    ref.set_defaults(func=cmd_reference)


def cmd_reference(args: argparse.Namespace, settings: Settings) -> int:
    import cv2
    import numpy as np

    from vision.config import CameraConfigError, load_cameras, resolve_source
    from vision.detector import DetectorSpec, create_detector
    from vision.source import grab_frame, use_rtsp_transport
    from vision.view import ViewConfig, features, grow

    path: Path = args.config or settings.cameras_dir
    try:
        cameras = load_cameras(path)
    except CameraConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    camera = cameras.get(args.camera)
    if camera is None:
        print(f"error: unknown camera {args.camera!r}; known: {sorted(cameras)}", file=sys.stderr)
        return 2
    base = path if path.is_dir() else path.parent
    out: Path = args.out or base / f"{camera.id}.png"
    if out.suffix.lower() != ".png":
        print(
            f"error: {out}: the reference is written as PNG (it keeps transparency)",
            file=sys.stderr,
        )
        return 2
    use_rtsp_transport(settings.vision_rtsp_transport)
    frame = grab_frame(resolve_source(camera.source, settings.shared_dir, base), args.at)
    if frame is None:
        print(f"error: {camera.id}: no frame from its source", file=sys.stderr)
        return 1
    cfg = ViewConfig()
    detector = create_detector(DetectorSpec.from_settings(settings))
    boxes = detector.detect([frame], [args.at], class_maps=[camera.class_map or None])[0].xyxy
    found = len(features(frame, cfg, boxes).points)
    if found < cfg.min_reference_features:
        print(
            f"error: {camera.id}: this frame has {found} features outside the {len(boxes)} "
            f"object(s) detected, fewer than the {cfg.min_reference_features} the view check "
            "needs (too little texture: a dark, blank or bare view, or one full of traffic); "
            "try another moment (--at)",
            file=sys.stderr,
        )
        return 1
    rgba = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA), dtype=np.uint8)
    for x1, y1, x2, y2 in np.round(grow(boxes, cfg.box_pad)).astype(np.int64):
        rgba[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2), 3] = 0
    h, w = frame.shape[:2]
    if (w, h) != (camera.frame.width, camera.frame.height):
        print(
            f"note: {camera.id}: the source is {w}x{h}, the geometry was drawn on "
            f"{camera.frame.width}x{camera.frame.height}; the reference is scaled when loaded"
        )
    if not cv2.imwrite(str(out), rgba):
        print(f"error: cannot write {out}", file=sys.stderr)
        return 1
    where = out.resolve()
    if where.is_relative_to(base.resolve()):  # relative to the YAML, as the config reads it
        where = where.relative_to(base.resolve())
    print(f"{out}: {w}x{h}, {found} features, {len(boxes)} detected object(s) left out")
    print(f"add to {camera.id}'s YAML: view: {{reference: {where}}}")
    return 0
