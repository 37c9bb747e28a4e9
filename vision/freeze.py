"""A frozen picture: the stream goes on, the image does not (pure over numpy arrays).

A recorder or restreamer that repeats a camera's last frame, or a stuck decoder, keeps a healthy
stream: frames arrive at the usual rate, so neither a read time-out nor a reconnection
tells. Every rule that measures time on the picture is then fooled: a car that stood on the
crosswalk when the picture froze "stays" there past its maximum dwell and is fined for
stopping, and the red-light rule judges a frozen scene against live lamps. A live camera
never sends the same picture twice: sensor noise and compression change some pixels of
every frame (the four sample clips, screen recordings included, have no two consecutive
frames within 3 grey levels of each other on a 1-in-16 sample of pixels).

:class:`FreezeWatch` compares each tick's frame, on every ``STEP``-th pixel of every
``STEP``-th row, with the first frame of the current run of unchanged pictures; within
``TOLERANCE`` grey levels everywhere for ``frozen_s`` seconds of stream time, the picture is
frozen, and it is live again at the first frame that differs. The camera pipeline then
judges and counts nothing and withdraws what it judged on the frozen picture.

Caught: a picture repeated as the same encoded frame (a restreamer duplicating the last frame
while its source stalls, a recorder holding it, a stuck decoder). Mostly not caught: a sensor
frozen behind an encoder that keeps running (its keyframes re-quantise the picture by a few
grey levels), and a recorder that stamps a running clock onto a frozen picture (no mask: the
clock is part of many cameras' picture). docs/VISION.md has the measurements.

Example::

    watch = FreezeWatch(frozen_s=2.0)
    watch.update(10.0, frame)      # None: the first picture
    watch.update(12.1, frame)      # FreezeChange(t=12.1, frozen=True, since_t=10.0)
    watch.update(12.3, other)      # FreezeChange(t=12.3, frozen=False, since_t=10.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

STEP = 16  # every 16th pixel of every 16th row: 2,835 of a 1006x720 frame's pixels
TOLERANCE = 1  # grey levels: a recorder's re-encoding of the same picture may dither by one


@dataclass(frozen=True, slots=True)
class FreezeChange:
    """The picture froze (``frozen``) or moved again at stream time ``t``; ``since_t``: the
    first frame of the unchanged run (what was judged after it rested on a still picture)."""

    t: float
    frozen: bool
    since_t: float


class FreezeWatch:
    def __init__(self, frozen_s: float) -> None:
        if frozen_s <= 0:
            raise ValueError("frozen_s must be > 0")
        self.frozen_s = frozen_s
        self.frozen = False
        self.since_t: float | None = None  # first frame of the current unchanged run
        self._first: NDArray[np.int16] | None = None  # its sample

    def update(self, t: float, image: NDArray[np.uint8]) -> FreezeChange | None:
        """Take the frame of stream time ``t``; the change of state it makes, if any."""
        sample = np.asarray(image[::STEP, ::STEP], dtype=np.int16)
        first = self._first
        if (
            first is None
            or self.since_t is None
            or first.shape != sample.shape
            or int(np.abs(sample - first).max()) > TOLERANCE
        ):
            was, since = self.frozen, self.since_t
            self._first, self.since_t, self.frozen = sample, t, False
            return FreezeChange(t, False, since) if was and since is not None else None
        if not self.frozen and t - self.since_t >= self.frozen_s:
            self.frozen = True
            return FreezeChange(t, True, self.since_t)
        return None
