"""How many detections a second each camera can have on this host (pure arithmetic).

``ioc vision run --max-detect-fps auto`` (and ``ioc run``, whose default it is) measures what
one detection costs here, at each camera's input size, in CPU seconds of the process (every
detector thread counted), and gives every camera the same cap: the highest rate, in steps of
``STEP``, at which the cameras fit ``cores`` (a share of the host's). A camera whose own
``detect_fps`` is lower keeps it. One detection on one core takes from about 22 ms to about
95 ms at 640 px on the 2-core VMs measured (``docs/BENCHMARKS.md``), so a fixed cap is too
low on one host and starves the database and web server on another.

What a camera costs per second at rate ``r``: ``r x (detection + PER_TICK_S)`` plus its
stream's decoding and evidence frames, ``DECODE_CORES_720P`` scaled by its frame area: for a
20 fps 1006x720 stream ``bench/decode.py`` measured 0.087-0.096 cores of decoding, and its 10
evidence JPEGs a second take 1.8 ms each, about 0.105 cores in all, 0.12 scaled to 1280x720.
Scaled by area, a 1080p stream comes out at 0.27 (measured: 0.16-0.19 for decoding 25 fps):
the sizing errs on the safe side there.

Below ``RATE_FLOOR`` detections/s the cameras count worse for every step down, more than
they lose by detecting smaller pictures: ``bench/count_rates.py --scales`` (session 24, 4
clips, 22 vehicles, 6 tick phases each) found 0.8 of the input size at the rate the same CPU
buys better in every pair below 4/s: 640 px at 2 / 2.5 / 3 per s missed 8.3 / 5.3 / 3.2
vehicles on average, 512 px at 2.5 / 3 / 4 per s 4.7 / 2.8 / 2.3 (0.65 of the size was worse
than 0.8 at every rate). So when the cap at the cameras' own input sizes falls below the
floor, ``ioc vision run`` also times ``SMALLER`` of them and takes that when it buys a higher
cap (:func:`prefer_smaller`).

Example::

    loads = [CameraLoad("a", own_fps=10, detect_s=0.022, pixels=1006 * 720)]
    size_rate(loads, cores=1.0).fps   # 10.0: one camera fits at its own rate
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PER_TICK_S = 0.004  # a tick beyond the detector call: tracking, rules, motion gate, ring
DECODE_CORES_720P = 0.12  # decoding a 20 fps 1280x720 stream and its evidence JPEGs
PIXELS_720P = 1280 * 720
STEP = 0.5  # caps are multiples of this (detections/s)
MIN_FPS = 1.0  # below this a camera follows nothing; the cap does not go lower
RATE_FLOOR = 4.0  # below this cap, smaller input sizes count better than fewer detections
SMALLER = 0.8  # the input size tried then, as a fraction of each camera's own


@dataclass(frozen=True, slots=True)
class CameraLoad:
    """One camera as the sizing sees it: its own rate, the CPU seconds of one detection at
    its input size on this host, and its frame area in pixels."""

    camera_id: str
    own_fps: float
    detect_s: float
    pixels: int

    def stream_cores(self) -> float:
        """Cores its stream takes whatever its rate: decoding and evidence frames."""
        return DECODE_CORES_720P * self.pixels / PIXELS_720P

    def cores(self, fps: float) -> float:
        """Cores it takes at ``fps`` detections/s (its own rate at most)."""
        return min(fps, self.own_fps) * (self.detect_s + PER_TICK_S) + self.stream_cores()


@dataclass(frozen=True, slots=True)
class RateCap:
    """The cap chosen: ``fps`` for every camera (each keeps its own rate when lower),
    ``cores`` the budget, ``needed`` what the cameras take at the cap; ``fits`` is False
    when even ``MIN_FPS`` exceeds the budget (the cap is then ``MIN_FPS`` anyway)."""

    fps: float
    cores: float
    needed: float
    fits: bool


def size_rate(loads: Sequence[CameraLoad], cores: float) -> RateCap:
    """The highest cap, a multiple of ``STEP`` between ``MIN_FPS`` and the highest own rate,
    at which the cameras of ``loads`` take at most ``cores``."""
    if not loads:
        raise ValueError("no cameras to size")
    if not cores > 0:
        raise ValueError(f"the budget must be above 0 cores, got {cores}")
    for load in loads:
        if not (load.own_fps > 0 and load.detect_s >= 0 and load.pixels > 0):
            raise ValueError(f"camera {load.camera_id}: rate, detection time or size invalid")
    top = max(MIN_FPS, max(load.own_fps for load in loads))
    steps = math.ceil(top / STEP) - 1  # the multiples of STEP below top
    candidates = [top, *(k * STEP for k in range(steps, 0, -1) if k * STEP >= MIN_FPS)]
    for fps in candidates:
        needed = sum(load.cores(fps) for load in loads)
        if needed <= cores:
            return RateCap(fps, cores, round(needed, 3), True)
    needed = sum(load.cores(MIN_FPS) for load in loads)
    return RateCap(MIN_FPS, cores, round(needed, 3), False)


def scaled_imgsz(imgsz: int, scale: float) -> int:
    """``imgsz`` x ``scale`` to the nearest multiple of 32, at least 64 (the detector's
    input sizes are multiples of its stride, 32)."""
    return max(64, 32 * round(imgsz * scale / 32))


def prefer_smaller(own: RateCap, smaller: RateCap) -> bool:
    """Whether the cap at ``SMALLER`` input sizes (``smaller``) should replace the cap at
    the cameras' own (``own``): only below ``RATE_FLOOR``, and only for a higher rate."""
    return own.fps < RATE_FLOOR and smaller.fps > own.fps
