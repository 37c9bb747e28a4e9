"""Multi-object tracking: ultralytics' ByteTrack fed with our detections, one per camera.

ByteTrack (``ultralytics.trackers.BYTETracker``) is used as a library: it associates boxes
across detector frames (high-score boxes first, then low-score ones, so a vehicle half hidden
behind a motorbike keeps its id). Its IoU is *buffered* (boxes grown by 0.6 of their size
before they are compared), so that tracks survive low detection rates: on the hand-counted
clips at 3 / 4 detections/s the line-count error fell from 94 / 28 % to 17 / 6 %, and at the
cameras' own rates it stayed 0 %. Between detector frames - when the motion gate found the
scene still - :meth:`ObjectTracker.carry` repeats the last tracked boxes at the new time:
nothing moved, so they are still where they were, and dwell-time rules (no-stopping zones)
keep counting while the detector rests. The tracker's own frame counter only advances on
detector frames, so a long still spell does not age tracks out.

Boxes reported are the detector's own boxes for each track (not the Kalman-smoothed ones):
evidence and rules should see what was detected.

Example::

    tracker = ObjectTracker(TrackerConfig(), ticks_per_s=10)
    tracked = tracker.update(detections)      # Detections with track_id set
    held = tracker.carry(t=12.6)              # same boxes and ids at a still frame
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from vision.tracks import Detections

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """ByteTrack thresholds (ultralytics' defaults), how long a lost track may return, the
    IoU buffer: boxes are grown by ``buffer`` x their width and height on each side before a
    track and a detection are compared (0: plain IoU), and ``emit_new``: a new track's first
    box comes out at once, marked ``tentative``, under the id the track keeps if ByteTrack
    confirms it on its next detection (ByteTrack itself reports a track from its second box
    on; at 2-3 detections/s a vehicle re-found past a line in a box ByteTrack never
    confirms was lost to the count: ``bench/count_rates.py`` errors at 3 / 2.5 / 2 per second
    went from 3 / 6 / 11 to 2 / 5 / 8 of 22 with it, session 18)."""

    high_thresh: float = 0.25
    low_thresh: float = 0.1
    new_track_thresh: float = 0.25
    match_thresh: float = 0.8
    lost_s: float = 3.0
    fuse_score: bool = True
    buffer: float = 0.6
    emit_new: bool = True


class _Boxes:
    """The results-like object BYTETracker reads: ``conf``, ``xywh``, ``cls``, masks."""

    def __init__(
        self, xywh: NDArray[np.float32], conf: NDArray[np.float32], cls: NDArray[np.float32]
    ) -> None:
        self.xywh, self.conf, self.cls = xywh, conf, cls

    def __len__(self) -> int:
        return int(self.conf.shape[0])

    def __getitem__(self, mask: Any) -> _Boxes:
        return _Boxes(self.xywh[mask], self.conf[mask], self.cls[mask])


def _as_boxes(d: Detections) -> _Boxes:
    x1, y1, x2, y2 = (d.xyxy[:, i] for i in range(4))
    xywh = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
    return _Boxes(xywh.astype(np.float32), d.conf.astype(np.float32), d.class_id.astype(np.float32))


def _grow(xyxy: NDArray[np.float32], b: float) -> NDArray[np.float32]:
    w, h = xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]
    return np.array([xyxy[0] - b * w, xyxy[1] - b * h, xyxy[2] + b * w, xyxy[3] + b * h])


def _buffered(base: Any) -> Any:
    """``base`` (ultralytics' BYTETracker) with buffered IoU in its main association steps
    (the idea of C-BIoU, Yang et al., WACV 2023): at a few detections per second a vehicle
    moves more than its own length between detector frames, its boxes no longer overlap and
    plain IoU starts a new track each time; grown boxes still overlap. The low-score second
    pass keeps ByteTrack's plain IoU."""
    from ultralytics.trackers.basetrack import TrackState
    from ultralytics.trackers.utils import matching

    class Buffered(base):  # type: ignore[misc]
        buffer = 0.0
        motion: dict[int, _Motion] | None = None

        def get_dists(self, tracks: list[Any], detections: list[Any]) -> Any:
            if self.buffer <= 0:
                dists = super().get_dists(tracks, detections)
            else:
                a = [_grow(t.xyxy, self.buffer) for t in tracks]
                b = [_grow(d.xyxy, self.buffer) for d in detections]
                dists = matching.iou_distance(a, b)
                if self.args.fuse_score:
                    dists = matching.fuse_score(dists, detections)
            if self.motion and len(tracks) and len(detections):
                _refuse_backwards(dists, tracks, detections, self.motion, TrackState.Lost)
            return dists

    return Buffered


@dataclass(frozen=True, slots=True)
class _Motion:
    """Where a track was last seen (box centre and size) and its velocity then (px/s)."""

    t: float
    centre: tuple[float, float]
    size: tuple[float, float]
    velocity: tuple[float, float] | None


MIN_SPEED_PX_S = 20.0  # slower tracks are not judged by direction
BACK_TOLERANCE = 0.2  # of the box's length along its way: how far back a lost track may return


def _refuse_backwards(
    dists: NDArray[np.float64],
    tracks: list[Any],
    detections: list[Any],
    motion: dict[int, _Motion],
    lost: int,
) -> None:
    """A lost track (state ``lost``, ultralytics' ``TrackState.Lost``) may not take a
    detection that lies behind where it was last seen, against the way it was going (more than ``BACK_TOLERANCE`` of its box's length along that way):
    that is the next vehicle coming up behind it. Seen on the US street at 3 detections/s: a
    hatchback lost past the line took, 2 s later, the box of the sedan behind it (39 px back
    along its way, a 155 px long box), and the sedan's crossing went to a vehicle that had
    crossed already. Buffered IoU (grown boxes) makes such matches possible, and a lost
    track's Kalman box barely moves when its velocity was learnt from two or three boxes."""
    centres = np.array(
        [((d.xyxy[0] + d.xyxy[2]) / 2, (d.xyxy[1] + d.xyxy[3]) / 2) for d in detections]
    )
    for i, tr in enumerate(tracks):
        if tr.state != lost:
            continue
        seen = motion.get(int(tr.track_id))
        if seen is None or seen.velocity is None:
            continue
        vx, vy = seen.velocity
        speed = float(np.hypot(vx, vy))
        if speed < MIN_SPEED_PX_S:
            continue
        ux, uy = vx / speed, vy / speed
        length = abs(ux) * seen.size[0] + abs(uy) * seen.size[1]
        ahead = (centres - np.array(seen.centre)) @ np.array([ux, uy])
        dists[i, ahead < -BACK_TOLERANCE * length] = 1.0


class ObjectTracker:
    """ByteTrack over one camera's detector frames, plus carrying tracks over still frames."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), ticks_per_s: float = 10.0) -> None:
        self.config = config
        self._args = SimpleNamespace(
            track_high_thresh=config.high_thresh,
            track_low_thresh=config.low_thresh,
            new_track_thresh=config.new_track_thresh,
            match_thresh=config.match_thresh,
            track_buffer=max(1, round(config.lost_s * ticks_per_s)),
            fuse_score=config.fuse_score,
        )
        self._base = 0  # added to ByteTrack's ids, which restart at 1 with each tracker
        self._top = 0  # highest id handed out
        self._tracker = self._new()
        self._last: Detections | None = None

    def _new(self) -> Any:
        from ultralytics.trackers import BYTETracker

        tracker = cast(Any, _buffered(BYTETracker))(self._args)
        tracker.buffer = self.config.buffer
        self._motion: dict[int, _Motion] = {}
        tracker.motion = self._motion
        return tracker

    def reset(self) -> None:
        """Forget every track (the picture broke: a file looped, a camera reconnected). Ids
        keep growing, so a new track never takes the id of one the rules or the vehicle
        ledger still remember."""
        self._tracker = self._new()
        self._base = self._top
        self._last = None

    def update(self, detections: Detections) -> Detections:
        """Associate a detector frame; returns the tracked rows with their ``track_id``."""
        rows = np.asarray(self._tracker.update(_as_boxes(detections)), dtype=np.float64)
        rows = rows.reshape(-1, 8)
        confirmed = len(rows)
        if self.config.emit_new:
            born = [
                (tr.track_id, tr.idx)
                for tr in self._tracker.tracked_stracks
                if not tr.is_activated and tr.frame_id == self._tracker.frame_id
            ]
            if born:
                extra = np.zeros((len(born), 8))
                extra[:, 4] = [b[0] for b in born]
                extra[:, 7] = [b[1] for b in born]
                rows = np.vstack([rows, extra])
        if rows.size == 0:
            out = Detections(
                detections.t,
                np.zeros((0, 4)),
                np.zeros(0),
                np.zeros(0, dtype=np.int64),
                detections.names,
                np.zeros(0, dtype=np.int64),
            )
        else:
            idx = rows[:, 7].astype(np.int64)
            self._remember(detections.t, rows[:, 4].astype(np.int64), detections.xyxy[idx])
            ids = rows[:, 4].astype(np.int64) + self._base
            self._top = max(self._top, int(ids.max()))
            out = Detections(
                detections.t,
                detections.xyxy[idx].copy(),
                detections.conf[idx].copy(),
                detections.class_id[idx].copy(),
                detections.names,
                ids,
                np.arange(len(rows)) >= confirmed,
            )
        self._last = out
        return out

    def _remember(self, t: float, ids: NDArray[np.int64], xyxy: NDArray[np.float64]) -> None:
        """Keep each track's last position and velocity (ByteTrack's own ids)."""
        for tid, box in zip(ids.tolist(), xyxy, strict=True):
            centre = (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2)
            before = self._motion.get(tid)
            velocity = None
            if before is not None and t > before.t:
                dt = t - before.t
                velocity = (
                    (centre[0] - before.centre[0]) / dt,
                    (centre[1] - before.centre[1]) / dt,
                )
            size = (float(box[2] - box[0]), float(box[3] - box[1]))
            self._motion[tid] = _Motion(t, centre, size, velocity)
        if len(self._motion) > 4 * max(1, len(ids)) + 256:  # forget long-gone tracks
            horizon = t - 2 * self.config.lost_s
            for tid in [k for k, m in self._motion.items() if m.t < horizon]:
                del self._motion[tid]

    def carry(self, t: float) -> Detections | None:
        """The last tracked boxes, unchanged, at time ``t``, marked ``carried`` (``None``
        before any update)."""
        last = self._last
        if last is None:
            return None
        return Detections(
            t, last.xyxy, last.conf, last.class_id, last.names, last.track_id, last.tentative, True
        )
