"""Drawing for operators and evidence: boxes with track ids, lanes, zones, stop lines, signals.

One function, :func:`draw`, used for the dashboard's low-rate frames, the annotated evidence
clip and ``ioc vision detect``. It draws on a copy (the raw frame stays evidence) with plain
OpenCV and ASCII labels: no font files, nothing downloaded.

Example::

    img = draw(frame_bgr, camera, detections, lights={"straight": Light.RED},
               highlight={7}, caption="12.40 s")
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.config import CameraConfig, Movement
from vision.geometry import Point
from vision.signals import Light
from vision.tracks import Detections

logger = logging.getLogger(__name__)

Colour = tuple[int, int, int]  # BGR
LIGHT_COLOURS: dict[Light, Colour] = {
    Light.RED: (40, 40, 230),
    Light.AMBER: (0, 190, 255),
    Light.GREEN: (60, 200, 60),
    Light.OFF: (120, 120, 120),
    Light.UNKNOWN: (200, 200, 200),
}
CLASS_COLOURS: dict[str, Colour] = {
    "car": (255, 160, 40),
    "motorbike": (255, 80, 200),
    "bus": (200, 120, 0),
    "truck": (160, 90, 30),
    "bicycle": (120, 220, 120),
    "person": (60, 220, 255),
    "traffic_light": (180, 180, 180),
}
LANE, NO_STOP, RESTRICTED, HIGHLIGHT = (230, 200, 80), (0, 220, 255), (80, 80, 255), (0, 0, 255)


def _pts(points: Sequence[Point]) -> NDArray[np.int32]:
    return np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)


def _label(
    img: NDArray[np.uint8], text: str, org: tuple[int, int], colour: Colour, scale: float = 0.45
) -> None:
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = org[0], max(h + base, org[1])
    cv2.rectangle(img, (x, y - h - base), (x + w + 2, y + 1), colour, -1)
    cv2.putText(
        img, text, (x + 1, y - base + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
    )


def draw_scene(
    img: NDArray[np.uint8], camera: CameraConfig, lights: Mapping[Movement, Light]
) -> None:
    """Lanes (with flow arrows), zones, stop lines and signal heads, in place."""
    for lane in camera.lanes:
        cv2.polylines(img, [_pts(lane.polygon)], True, LANE, 1, cv2.LINE_AA)
        flow = lane.flow
        cv2.polylines(img, [_pts(flow)], False, LANE, 1, cv2.LINE_AA)
        a, b = flow[-2], flow[-1]
        cv2.arrowedLine(
            img,
            (round(a[0]), round(a[1])),
            (round(b[0]), round(b[1])),
            LANE,
            2,
            cv2.LINE_AA,
            tipLength=0.15,
        )
    for z in camera.no_stopping_zones:
        cv2.polylines(img, [_pts(z.polygon)], True, NO_STOP, 1, cv2.LINE_AA)
    for r in camera.restricted_zones:
        cv2.polylines(img, [_pts(r.polygon)], True, RESTRICTED, 1, cv2.LINE_AA)
    straight = lights.get("straight", Light.UNKNOWN)
    for s in camera.stop_lines:
        (x1, y1), (x2, y2) = s.line
        cv2.line(
            img,
            (round(x1), round(y1)),
            (round(x2), round(y2)),
            LIGHT_COLOURS[straight],
            3,
            cv2.LINE_AA,
        )
    if camera.signal is not None:
        for head in camera.signal.heads:
            state = lights.get(head.movements[0], Light.UNKNOWN)
            x1, y1, x2, y2 = head.box
            cv2.rectangle(img, (x1, y1), (x2, y2), LIGHT_COLOURS[state], 2)


def draw_boxes(
    img: NDArray[np.uint8], detections: Detections, highlight: Collection[int] = ()
) -> None:
    """Detection boxes with ``#track class conf``; highlighted tracks thick and red."""
    ids = detections.track_id
    for i in range(len(detections)):
        x1, y1, x2, y2 = (round(float(v)) for v in detections.xyxy[i])
        name = detections.names[int(detections.class_id[i])]
        tid = int(ids[i]) if ids is not None else -1
        hot = tid >= 0 and tid in highlight
        colour = HIGHLIGHT if hot else CLASS_COLOURS.get(name, (255, 255, 255))
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, 3 if hot else 1)
        prefix = f"#{tid} " if tid >= 0 else ""
        _label(img, f"{prefix}{name} {float(detections.conf[i]):.2f}", (x1, y1 - 2), colour)


def draw(
    frame: NDArray[np.uint8],
    camera: CameraConfig | None,
    detections: Detections | None = None,
    lights: Mapping[Movement, Light] | None = None,
    highlight: Collection[int] = (),
    caption: str | None = None,
) -> NDArray[np.uint8]:
    """Annotated copy of a BGR frame (scene geometry only when ``camera`` is given);
    ``caption``'s lines are stamped at the top left, one under the other."""
    img = frame.copy()
    if camera is not None:
        draw_scene(img, camera, lights or {})
    if detections is not None:
        draw_boxes(img, detections, highlight)
    for i, line in enumerate((caption or "").splitlines()):
        _label(img, line, (4, 18 + 20 * i), (255, 255, 255), 0.5)
    return img
