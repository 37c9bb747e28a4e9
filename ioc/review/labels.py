"""A YOLO-format detection dataset from officers' decisions (the learning loop).

For each decided case, the frame at the violation instant is taken from the raw clip and
the reviewed vehicle's box is found by locating the stored vehicle crop in that frame
(normalised cross-correlation; the crop was cut from the same frame with a 15 % margin, so
the box is the match shrunk by that margin). One box per image: the vehicle the officer
decided on; other vehicles in the frame are not labelled. The officer's decision, reason and
vehicle type go to ``decisions.csv``.

Layout::

    DIR/data.yaml                       class names (YOLO / ultralytics)
    DIR/images/{confirmed,rejected}/<event_id>.jpg
    DIR/labels/{confirmed,rejected}/<event_id>.txt   "<class> <cx> <cy> <w> <h>" (0..1)
    DIR/decisions.csv

Example::

    box, score = locate(frame, crop)             # (x1, y1, x2, y2) in pixels
    yolo_line(CLASSES.index("car"), box, 1006, 720)   # -> "0 0.512000 0.433000 ..."
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

CLASSES: Final = ("car", "motorbike", "bus", "truck")
CROP_MARGIN: Final = 0.15  # vision.evidence._crop grows the box by this much on each side
MIN_SCORE: Final = 0.5

Box = tuple[float, float, float, float]


def locate(
    frame: NDArray[np.uint8], crop: NDArray[np.uint8], margin: float = CROP_MARGIN
) -> tuple[Box, float]:
    """The vehicle box in ``frame`` (pixels) and the match score (1.0: identical pixels)."""
    if crop.shape[0] > frame.shape[0] or crop.shape[1] > frame.shape[1]:
        raise ValueError("crop larger than the frame")
    g_frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    g_crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    result = cv2.matchTemplate(g_frame, g_crop, cv2.TM_CCOEFF_NORMED)
    _, score, _, (x, y) = cv2.minMaxLoc(result)
    h, w = crop.shape[:2]
    # crop = box grown by `margin` of the box size on each side: w = bw * (1 + 2 margin)
    bw, bh = w / (1 + 2 * margin), h / (1 + 2 * margin)
    dx, dy = (w - bw) / 2, (h - bh) / 2
    return (x + dx, y + dy, x + dx + bw, y + dy + bh), float(score)


def yolo_line(cls: int, box: Box, width: int, height: int) -> str:
    """One YOLO label line: class, centre and size normalised to 0..1 (clipped to the frame)."""
    x1, y1 = max(0.0, box[0]), max(0.0, box[1])
    x2, y2 = min(float(width), box[2]), min(float(height), box[3])
    if x2 <= x1 or y2 <= y1:
        raise ValueError("box outside the frame")
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    return f"{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"


def class_of(vehicle: str) -> int | None:
    return CLASSES.index(vehicle) if vehicle in CLASSES else None


def event_frame_index(
    event_s: float, first_frame_s: float, from_s: float, fps: float, frames: int
) -> int:
    """Index in the constant-rate clip of the frame shown at the violation instant
    (the clip starts at ``max(first frame, window start)``, as vision.evidence writes it)."""
    t0 = max(first_frame_s, from_s)
    return min(max(0, round((event_s - t0) * fps)), max(0, frames - 1))


def data_yaml() -> str:
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASSES))
    return (
        "# Written by `ioc review export-labels`: officers' decisions as a detection dataset.\n"
        "path: .\ntrain: images/confirmed\nval: images/confirmed\n"
        f"names:\n{names}\n"
    )
