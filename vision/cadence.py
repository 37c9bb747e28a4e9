"""Which decoded frames a camera uses, decided from their stream times alone (pure).

A camera *ticks* ``detect_fps`` times a second (:class:`TickClock`) and keeps at most
``evidence_fps`` frames a second in its evidence ring (:class:`Spacing`). Both are decided
from a frame's stream time and the frames taken before it, so the camera's grabber thread can
run its own copy (:func:`frame_filter`) and pass over the frames neither would take before
their BGR conversion, while the pipeline decides again, with the same rules, on what arrives.

After a break in the stream (``Frame.segment``: a looping file wrapped, a camera
reconnected) the first frame ticks (:meth:`TickClock.restart`): nothing is known about the new
picture, and the ticks start over from it as from the first frame of a stream.

Example::

    clock = TickClock(0.2)
    [clock.take(t) for t in (0.0, 0.1, 0.2, 0.25, 0.4)]  # [True, False, True, False, True]
"""

from __future__ import annotations

from collections.abc import Callable

EPS = 1e-6  # stream times within this of a due time count as due


class TickClock:
    """Ticks every ``period`` seconds of stream time: a frame at or after the due time is a
    tick, and the next one is due a period after the previous due time (a period after the
    frame when the stream jumped ahead), so ticks keep their rate on a jittery stream."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.next_t: float | None = None

    def take(self, t: float) -> bool:
        if self.next_t is not None and t < self.next_t - EPS:
            return False
        nxt = (self.next_t if self.next_t is not None else t) + self.period
        self.next_t = nxt if nxt > t else t + self.period
        return True

    def restart(self) -> None:
        """The next frame ticks, and the ticks go on from it (a break in the stream)."""
        self.next_t = None


class Spacing:
    """Takes a frame unless it comes sooner than ``interval`` after the last one taken."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_t = float("-inf")

    def due(self, t: float) -> bool:
        return t >= self.next_t

    def take(self, t: float) -> bool:
        if not self.due(t):
            return False
        self.next_t = t + self.interval - EPS
        return True


def frame_filter(period: float, evidence_fps: float) -> Callable[[float, int], bool]:
    """A stateful ``want(t, segment)`` for a camera's grabber: whether the frame at ``t``
    (times in order; ``segment`` counts the breaks before it) is a tick or a ring frame, as
    the pipeline will decide on the frames it gets."""
    ticks, ring = TickClock(period), Spacing(1.0 / evidence_fps)
    last = 0  # the segment of the previous frame

    def want(t: float, segment: int) -> bool:
        nonlocal last
        if segment != last:
            last = segment
            ticks.restart()
        tick = ticks.take(t)
        kept = ring.take(t)  # a tick frame goes into the ring too
        return tick or kept

    return want
