"""What one detection costs on this host, per camera (the measuring half of
:mod:`vision.sizing`).

Each distinct (frame size, input size) among the cameras is detected on a synthetic frame:
``WARMUP`` calls first (the first call of a new input shape compiles the model for it, which
the cameras would pay on their first frames anyway), then ``ROUNDS`` calls timed in CPU
seconds of this process (``time.process_time``: every detector thread counted, which is what
a core budget spends). A YOLO network's cost does not depend on what the picture shows;
only the suppression of overlapping boxes does, and it is small.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Sequence

import numpy as np

from vision.config import CameraConfig
from vision.detector import Detector
from vision.sizing import CameraLoad

logger = logging.getLogger(__name__)

WARMUP = 2
ROUNDS = 5


def host_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def detection_cpu_s(detector: Detector, width: int, height: int, imgsz: int | None) -> float:
    """Median CPU seconds of one detection of a ``width`` x ``height`` frame at input
    ``imgsz`` (``None``: the detector's own)."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    for i in range(WARMUP):
        detector.detect([frame], [float(i)], [imgsz])
    spent = []
    for i in range(ROUNDS):
        start = time.process_time()
        detector.detect([frame], [float(WARMUP + i)], [imgsz])
        spent.append(time.process_time() - start)
    return statistics.median(spent)


def measure_loads(detector: Detector, cameras: Sequence[CameraConfig]) -> list[CameraLoad]:
    """Each camera's :class:`CameraLoad` on this host, one measurement per distinct frame
    and input size."""
    cost: dict[tuple[int, int, int | None], float] = {}
    loads = []
    for cam in cameras:
        key = (cam.frame.width, cam.frame.height, cam.detect_imgsz)
        if key not in cost:
            cost[key] = detection_cpu_s(detector, *key)
            logger.info(
                "one detection of a %dx%d frame at input %s: %.1f ms of CPU",
                key[0],
                key[1],
                key[2] or "default",
                cost[key] * 1000,
            )
        loads.append(
            CameraLoad(cam.id, cam.detect_fps, cost[key], cam.frame.width * cam.frame.height)
        )
    return loads
