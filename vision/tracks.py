"""Frame-level value types of the camera pipeline: detections, track points, track histories.

One value type per level, validated once where it enters: the detector adapter builds a
:class:`Detections` (numpy arrays), the tracker turns tracked rows into :class:`TrackPoint`,
and :class:`TrackBook` keeps each object's recent :class:`Track`. Rules only read tracks.

Time is always each point's own timestamp in seconds (stream clock), never a frame count:
the sample CCTV clips have a variable frame rate and repeated frames, so ``frames / fps``
would give wrong speeds and dwell times.

The reference point of a box is its bottom centre, where a vehicle meets the road; it is
the point the scene geometry (lines, lanes, zones, calibration) is compared with.

Example::

    book = TrackBook(horizon_s=60)
    tracks = book.update(detections.points(), t=detections.t)
    velocity_px(tracks[7], window_s=1.0)     # -> (vx, vy) pixels per second, or None
"""

from __future__ import annotations

import logging
import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from vision.geometry import Homography, Point

logger = logging.getLogger(__name__)

VehicleClass = Literal["car", "motorbike", "bus", "truck", "bicycle"]
VEHICLE_CLASSES: tuple[VehicleClass, ...] = get_args(VehicleClass)
OBJECT_CLASSES: tuple[str, ...] = (*VEHICLE_CLASSES, "person")


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One tracked box at one instant: ``bbox`` is ``(x1, y1, x2, y2)`` in pixels."""

    t: float
    track_id: int
    cls: str
    bbox: tuple[float, float, float, float]
    conf: float
    tentative: bool = False  # the first box of a track ByteTrack has not confirmed (yet)
    # the box of an earlier detector frame held over a tick without detection: where the
    # vehicle was then, not where it is at ``t`` (speeds are measured without such points)
    carried: bool = False

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.bbox
        if not all(math.isfinite(v) for v in (*self.bbox, self.t, self.conf)):
            raise ValueError(f"track {self.track_id}: non-finite time, box or confidence")
        if x2 < x1 or y2 < y1:
            raise ValueError(f"track {self.track_id}: box {self.bbox} is not x1<=x2, y1<=y2")

    @property
    def anchor(self) -> Point:
        """Bottom centre of the box (the ground contact point nearest the camera)."""
        return ((self.bbox[0] + self.bbox[2]) / 2.0, self.bbox[3])

    @property
    def top(self) -> Point:
        """Top centre of the box (its far end, for a vehicle seen from above and behind)."""
        return ((self.bbox[0] + self.bbox[2]) / 2.0, self.bbox[1])


@dataclass(frozen=True, eq=False)
class Detections:
    """All boxes of one frame as arrays; shapes and values are checked on construction.

    ``class_id`` indexes ``names`` (canonical classes such as ``"motorbike"``), and
    ``track_id`` is -1 for rows the tracker has not (yet) assigned.
    """

    t: float
    xyxy: NDArray[np.float64]
    conf: NDArray[np.float64]
    class_id: NDArray[np.int64]
    names: tuple[str, ...]
    track_id: NDArray[np.int64] | None = None
    tentative: NDArray[np.bool_] | None = None
    carried: bool = False  # the boxes of an earlier detector frame, held at ``t``

    def __post_init__(self) -> None:
        n = self.xyxy.shape[0] if self.xyxy.ndim == 2 else -1
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        for name, arr in (
            ("conf", self.conf),
            ("class_id", self.class_id),
            ("track_id", self.track_id),
            ("tentative", self.tentative),
        ):
            if arr is not None and arr.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        if not (np.isfinite(self.xyxy).all() and np.isfinite(self.conf).all()):
            raise ValueError("boxes and confidences must be finite")
        if n and (
            (self.xyxy[:, 2] < self.xyxy[:, 0]).any() or (self.xyxy[:, 3] < self.xyxy[:, 1]).any()
        ):
            raise ValueError("every box must have x1 <= x2 and y1 <= y2")
        if n and ((self.conf < 0).any() or (self.conf > 1).any()):
            raise ValueError("confidences must lie in [0, 1]")
        if n and ((self.class_id < 0).any() or (self.class_id >= len(self.names)).any()):
            raise ValueError(f"class ids must index names (0..{len(self.names) - 1})")

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def points(self) -> list[TrackPoint]:
        """Track points of the rows that carry a track id."""
        if self.track_id is None:
            return []
        tentative = (
            self.tentative if self.tentative is not None else np.zeros(len(self.conf), dtype=bool)
        )
        return [
            TrackPoint(
                self.t,
                int(tid),
                self.names[int(c)],
                (float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                float(s),
                bool(new),
                self.carried,
            )
            for b, s, c, tid, new in zip(
                self.xyxy, self.conf, self.class_id, self.track_id, tentative, strict=True
            )
            if tid >= 0
        ]


class Track:
    """Recent history of one object, oldest first, at most ``horizon_s`` seconds long."""

    def __init__(self, track_id: int, horizon_s: float = 60.0) -> None:
        self.track_id = track_id
        self.horizon_s = horizon_s
        self.points: deque[TrackPoint] = deque()
        self._classes: Counter[str] = Counter()  # class votes of ``points``, kept by add()

    def add(self, p: TrackPoint) -> None:
        """Append ``p``; a point not later than the last one is ignored (replays, dupes)."""
        if p.track_id != self.track_id:
            raise ValueError(f"point of track {p.track_id} added to track {self.track_id}")
        if self.points and p.t <= self.points[-1].t:
            logger.debug("track %s: ignoring out-of-order point at %s", self.track_id, p.t)
            return
        self.points.append(p)
        self._classes[p.cls] += 1
        while self.points and self.points[0].t < p.t - self.horizon_s:
            gone = self.points.popleft().cls
            self._classes[gone] -= 1
            if not self._classes[gone]:
                del self._classes[gone]

    @property
    def last(self) -> TrackPoint:
        return self.points[-1]

    @property
    def cls(self) -> str:
        """Most frequent class over the history (a detector flips car/truck now and then)."""
        counts = self._classes  # kept by add(): rules read this for every track every tick
        top = max(counts.values())
        return next(p.cls for p in reversed(self.points) if counts[p.cls] == top)

    def window(self, duration_s: float, observed: bool = False) -> list[TrackPoint] | None:
        """Points covering the last ``duration_s`` seconds, from the latest point at or before
        ``last.t - duration_s``; ``None`` when the history is shorter than that. ``observed``:
        only points of detector frames (no ``carried`` ones), the window ending at the latest
        of them: a held box is stamped with a later time than it shows, which stretches or
        shrinks any distance measured from it."""
        pts = [p for p in self.points if not (observed and p.carried)]
        if not pts:
            return None
        start = pts[-1].t - duration_s
        for i in range(len(pts) - 1, -1, -1):
            if pts[i].t <= start + 1e-9:
                return pts[i:]
        return None


def velocity_px(track: Track, window_s: float) -> Point | None:
    """Mean image velocity (px/s) of the anchor over the last ``window_s`` seconds."""
    pts = track.window(window_s)
    if pts is None or len(pts) < 2:
        return None
    a, b = pts[0], pts[-1]
    dt = b.t - a.t
    return ((b.anchor[0] - a.anchor[0]) / dt, (b.anchor[1] - a.anchor[1]) / dt)


def ground_speed_kmh(pts: list[TrackPoint], homography: Homography) -> float:
    """Mean ground speed between the first and last point, using their own timestamps.

    Example: two points 1 s apart that map 20 m apart on the ground -> 72.0 km/h.
    """
    if len(pts) < 2 or pts[-1].t <= pts[0].t:
        raise ValueError("speed needs at least two points at different times")
    g0, g1 = homography.to_ground(pts[0].anchor), homography.to_ground(pts[-1].anchor)
    return math.hypot(g1[0] - g0[0], g1[1] - g0[1]) / (pts[-1].t - pts[0].t) * 3.6


class TrackBook:
    """All live tracks of one camera; a track unseen for ``max_gap_s`` is dropped."""

    def __init__(self, horizon_s: float = 60.0, max_gap_s: float = 2.0) -> None:
        self.horizon_s = horizon_s
        self.max_gap_s = max_gap_s
        self._tracks: dict[int, Track] = {}

    def update(self, points: Iterable[TrackPoint], t: float) -> Mapping[int, Track]:
        for p in points:
            track = self._tracks.get(p.track_id)
            if track is None:
                track = self._tracks[p.track_id] = Track(p.track_id, self.horizon_s)
            track.add(p)
        for tid in [k for k, tr in self._tracks.items() if tr.last.t < t - self.max_gap_s]:
            del self._tracks[tid]
        return self.tracks

    def clear(self) -> None:
        """Drop every track (the picture broke; see :meth:`vision.tracking.ObjectTracker.reset`)."""
        self._tracks.clear()

    @property
    def tracks(self) -> Mapping[int, Track]:
        return dict(self._tracks)
