"""Stream time of a live camera's frames, and where that time breaks (pure).

A live frame used to be stamped with the wall clock when it was decoded. That is wrong
whenever frames do not arrive at the pace they were filmed: FFmpeg hands over a second or
two of buffered frames at once when a connection opens, and after a network stall the
delayed frames come in a burst. Stamped on arrival, a burst squeezes seconds of motion into
milliseconds and the next frames stretch the stall over a few centimetres: speeds computed
across it come out several times too high (false speeding fines), dwell times too long.

:class:`StreamClock` therefore stamps each frame with its own presentation timestamp (PTS:
RTP timestamps of an RTSP camera, the PTS of an MPEG-TS/FLV/HLS stream) plus an offset onto
the wall clock, so frames keep the spacing they were filmed with however they arrive. The
offset is set by the first frame of a connection (so ``t`` is when that frame arrived) and
then follows the frames' delay at most ``drift`` seconds per second of stream (camera and
server clocks drift apart by far less): a spacing is never off by more than that share.

It reports a **break** (the frame does not continue the last one) when

* the PTS jumps forward by more than ``max_gap_s`` (frames lost: a hole in the footage) or
  goes back (the camera restarted its stream);
* the frame's time would be more than ``max_delay_s`` from its arrival, either way (the
  mapping no longer holds: the PTS runs at another rate than the wall clock, or the stream
  fell that far behind);
* the stream's timestamps stop (``pts_lost``): a frame comes without one, or the same PTS
  comes with more than ``MAX_REPEATS`` frames in a row (OpenCV reads a frame without a
  timestamp as 0). Stamped by their PTS, such frames would be 1 ms apart however far
  their vehicles moved. They are timed by their arrival instead (``Stamp.kind`` ``wall``,
  on which no speed is judged) until the PTS moves on, which anchors the mapping again;
* without PTS (``use_pts`` false: MJPEG over HTTP, whose "timestamps" are a frame counter
  times an assumed rate), when ``max_gap_s`` passes between two frames' arrivals. Such a
  stream has no timing of its own, so a burst after a stall cannot be told apart from motion:
  prefer RTSP for cameras whose speeds matter.

The camera pipeline starts its tracks, dwell times and evidence ring over at a break
(:class:`vision.source.Frame` ``segment``), as it does after a reconnection.

Example::

    clock = StreamClock(use_pts=True, max_gap_s=1.0, max_delay_s=10.0)
    clock.stamp(wall=100.00, pts=0.00)   # Stamp(t=100.0, brk=None): the first frame anchors
    clock.stamp(wall=100.01, pts=0.05)   # a burst: t about 100.05 (its PTS), not 100.01
    clock.stamp(wall=103.00, pts=2.50)   # Stamp(t≈102.5, brk='gap'): 2.45 s of frames lost
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ClockMode = Literal["auto", "pts", "wall"]
ClockKind = Literal["file", "pts", "wall"]  # where a frame's time came from
Break = Literal["gap", "pts_reset", "delay", "pts_lost"]

EPS = 1e-3  # the smallest step between two frames' times: time strictly increases
MAX_REPEATS = 2  # frames in a row that may repeat the PTS before it (RTSP's first two share 0)


@dataclass(frozen=True, slots=True)
class Stamp:
    """A frame's stream time ``t`` (seconds on the wall clock's scale); when the frame
    does not continue the one before it, why (``brk``); where ``t`` came from (``kind``:
    the frame's PTS, or its arrival)."""

    t: float
    brk: Break | None = None
    kind: Literal["pts", "wall"] = "pts"


class StreamClock:
    """Stamps one connection's frames; :meth:`reset` when the connection is opened again."""

    def __init__(
        self,
        *,
        use_pts: bool,
        max_gap_s: float,
        max_delay_s: float,
        drift: float = 1e-3,
    ) -> None:
        if max_gap_s <= 0 or max_delay_s <= 0 or drift < 0:
            raise ValueError("max_gap_s and max_delay_s must be > 0, drift >= 0")
        self.use_pts = use_pts
        self.max_gap_s, self.max_delay_s, self.drift = max_gap_s, max_delay_s, drift
        self._offset: float | None = None  # t - pts
        self._last_pts = 0.0
        self._last_wall: float | None = None
        self._last_t = -math.inf
        self._repeats = 0  # frames in a row whose PTS was the one before theirs
        self._stuck: float | None = None  # a PTS that stopped moving: frames timed by arrival
        self.breaks = 0  # breaks reported so far (all connections)

    def reset(self) -> None:
        """A new connection: the next frame anchors the mapping again. No break is
        reported for it (the reconnection is one already); time still only increases."""
        self._offset, self._last_wall, self._stuck, self._repeats = None, None, None, 0

    def stamp(self, wall: float, pts: float | None) -> Stamp:
        """The stream time of a frame decoded at ``wall`` with presentation timestamp
        ``pts`` (seconds; ``None``, negative or not finite when the stream has none)."""
        last = self._last_t  # time strictly increases, across connections too
        brk: Break | None = None
        has_pts = self.use_pts and pts is not None and math.isfinite(pts) and pts >= 0
        if has_pts and pts == self._stuck:
            has_pts = False  # still stuck
        elif has_pts and self._offset is not None and pts == self._last_pts:
            self._repeats += 1
            if self._repeats > MAX_REPEATS:
                has_pts, self._stuck = False, pts
        if not has_pts or pts is None:
            if self.use_pts and self._offset is not None:
                brk = "pts_lost"  # PTS-timed in this connection until now
            elif self._last_wall is not None and wall - self._last_wall > self.max_gap_s:
                brk = "gap"
            t = _after(wall, last)
            self._offset = None  # should the PTS move on, it anchors again
            self._finish(t, wall, brk)
            return Stamp(t, brk, "wall")
        self._stuck = None
        if self._offset is None:
            t = _after(wall, last)
            self._offset, self._last_pts, self._repeats = t - pts, pts, 0
        else:
            step = pts - self._last_pts
            if step != 0:
                self._repeats = 0
            if step < 0:
                brk = "pts_reset"
            else:  # a gap keeps the mapping: the time after a hole is still the PTS's
                # (a repeated PTS, as RTSP's first two frames have, is no break: the time
                # steps on by EPS)
                brk = "gap" if step > self.max_gap_s else None
                most = self.drift * step
                self._offset += min(most, max(-most, wall - pts - self._offset))
                if abs(wall - (pts + self._offset)) > self.max_delay_s:
                    brk = "delay"
            if brk in ("pts_reset", "delay"):
                self._offset = _after(wall, last) - pts
            t = _after(pts + self._offset, last)
            self._last_pts = pts
        self._finish(t, wall, brk)
        return Stamp(t, brk)

    def _finish(self, t: float, wall: float, brk: Break | None) -> None:
        """Counts the break, if any, and keeps the frame as the last one."""
        if brk is not None:
            self.breaks += 1
        self._last_t, self._last_wall = t, wall


def _after(t: float, last: float) -> float:
    """``t``, or just after ``last`` when ``t`` is not later (repeated or zero timestamps)."""
    return t if t > last else last + EPS


def uses_pts(mode: ClockMode, kind: str, fourcc: str) -> bool:
    """Whether a stream's PTS is its timing: ``pts``/``wall`` as configured; ``auto``: yes
    for RTSP (RTP timestamps) and for an HTTP stream of a real container (MPEG-TS, FLV,
    HLS); no for MJPEG over HTTP (``fourcc`` ``MJPG``: OpenCV counts frames at an assumed
    rate) or when the codec is not known."""
    if mode != "auto":
        return mode == "pts"
    if kind == "rtsp":
        return True
    code = fourcc.strip("\x00 ").upper()
    return bool(code) and code not in {"MJPG", "MJPEG", "JPEG"}


def fourcc_text(value: float) -> str:
    """OpenCV's ``CAP_PROP_FOURCC`` (a float) as its four characters ('' when unknown)."""
    try:
        code = int(value)
    except (TypeError, ValueError, OverflowError):
        return ""
    if code <= 0:
        return ""
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00")
