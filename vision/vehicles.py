"""Vehicles from tracker fragments: gaps bridged, class voted, lines crossed; pure.

ByteTrack loses a vehicle behind another one or when its detection flickers, and a new id
starts when it is found again; a motorbike may be a ``bicycle`` for a few frames. Counting
raw track ids therefore over-counts (the issue's baseline: 45 car tracks on a clip that never
holds more than 15 cars). :class:`VehicleLedger` turns fragments into vehicles:

* **gap bridging** - a new track that starts within ``max_gap_s`` of a lost one, on the way
  from the lost one's last position to where it was heading (last position + velocity x gap;
  within ``link_px`` + a quarter of the box height of that way: a vehicle that braked while
  lost is short of where its speed would have taken it) and of the same kind (two-wheeler
  vs four-wheeler), continues that vehicle;
* **one track at a time** - a vehicle is held by one track. When the track it was taken from
  comes back while the track that took it is still seen, two objects were joined: the
  vehicle goes back to what it was before the link, and the later track becomes a vehicle of
  its own, rebuilt from its points. Seen on the US street at 5 detections/s: a car waiting at
  the far end was lost for 1.4 s, a car starting beside it was linked to its vehicle, then
  both drove across the line one after the other and counted once;
* **unconfirmed boxes** - a track's first box, before ByteTrack confirms the track
  (``TrackPoint.tentative``), starts or continues a vehicle like any fragment, with two
  limits: a vehicle counts only if one of its boxes is of a confirmed track, and a vehicle
  held by an unconfirmed box takes no second one (session 18: chains of single boxes at
  junction B's bottom edge walked one rider's vehicle over to another's);
* **class vote** - the class is the confidence-weighted vote over all its observations;
* **minimum length** - a vehicle seen at fewer than ``min_points`` detector observations is noise;
* **line crossings** - per counting line the side of the anchor (bottom centre; the centre with
  ``counting.anchor: centre``, for cameras looking straight down) is tracked with
  a dead band of ``line_margin_px``; forward and back crossings cancel, so jitter on a line
  counts nothing and a vehicle counts at most once per line.

A vehicle is *finished* when nothing has held it for ``max_gap_s``; only finished vehicles are
reported (their class vote is complete by then).

Example::

    ledger = VehicleLedger(camera)
    done = ledger.observe(book.tracks, t=frame.t, wall=frame.wall)   # finished vehicles
    for v in done:
        v.cls, v.crossings          # 'motorbike', {'approach': ('forward', 1732350012.4)}
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from vision.config import CameraConfig, CountingTuning
from vision.geometry import DirectedLine, Homography, Point, Polygon, segment_distance
from vision.tracks import VEHICLE_CLASSES, Track, TrackPoint

logger = logging.getLogger(__name__)

RIDER_LANE_SHARE = 0.25
_FAMILY = {"motorbike": 2, "bicycle": 2, "person": 2, "car": 4, "truck": 4, "bus": 4}


@dataclass
class Vehicle:
    """One physical vehicle: the union of the tracker fragments merged into it."""

    vid: int
    first_t: float
    first_wall: float
    last_t: float
    last_wall: float
    start: Point
    last: Point
    box_h: float
    velocity: Point = (0.0, 0.0)
    points: int = 0
    fragments: int = 1
    max_disp: float = 0.0
    votes: dict[str, float] = field(default_factory=dict)
    lane_votes: dict[str, int] = field(default_factory=dict)
    sides: dict[str, int] = field(default_factory=dict)
    net: dict[str, int] = field(default_factory=dict)
    cross_wall: dict[str, float] = field(default_factory=dict)
    speed_first: tuple[float, Point] | None = None
    speed_last: tuple[float, Point] | None = None
    confirmed: bool = False  # one of its boxes is of a track ByteTrack confirmed
    tentative: bool = False  # its last box is a single unconfirmed one
    track_id: int = -1  # the track that holds it now
    # per link: the track that held it before, and the vehicle as it was then
    links: list[tuple[int, Vehicle]] = field(default_factory=list)

    @property
    def cls(self) -> str:
        """Class with the highest confidence-weighted vote. A "person" seen in the traffic
        lanes for at least ``RIDER_LANE_SHARE`` of its observations is a rider whose
        motorbike the detector missed (common on elevated CCTV): it counts as a motorbike.
        Pedestrians stay on sidewalks and crossings, which lanes do not cover."""
        if not self.votes:
            return "unknown"
        top = max(self.votes.items(), key=lambda kv: kv[1])[0]
        in_lanes = sum(self.lane_votes.values())
        if top == "person" and self.points > 0 and in_lanes >= RIDER_LANE_SHARE * self.points:
            return "motorbike"
        return top

    @property
    def family(self) -> int:
        return _FAMILY.get(self.cls, 0)

    @property
    def lane(self) -> str | None:
        """The lane that held most of its observations (``None``: outside every lane)."""
        if not self.lane_votes:
            return None
        return max(self.lane_votes.items(), key=lambda kv: kv[1])[0]

    @property
    def crossings(self) -> dict[str, tuple[str, float]]:
        """Net crossings per line: ``{line id: ("forward"|"backward", wall time)}``."""
        return {
            line: ("forward" if n > 0 else "backward", self.cross_wall[line])
            for line, n in self.net.items()
            if n != 0
        }

    def speed_kmh(self, min_s: float = 0.5) -> float | None:
        """Mean ground speed through the calibrated zone, when seen there long enough."""
        if self.speed_first is None or self.speed_last is None:
            return None
        (t0, g0), (t1, g1) = self.speed_first, self.speed_last
        if t1 - t0 < min_s:
            return None
        return math.hypot(g1[0] - g0[0], g1[1] - g0[1]) / (t1 - t0) * 3.6


class VehicleLedger:
    """Merges one camera's track fragments into vehicles and follows their line crossings."""

    def __init__(self, camera: CameraConfig) -> None:
        self.tuning: CountingTuning = camera.counting
        self.lines = {
            c.id: DirectedLine.of(c.line[0], c.line[1], c.direction) for c in camera.count_lines
        }
        self.lanes = {ln.id: Polygon.of(ln.polygon) for ln in camera.lanes}
        sp = camera.speed
        self.homography = (
            Homography.from_points(sp.image_points, sp.ground_points_m) if sp else None
        )
        self.speed_zone = (
            Polygon.of(sp.zone if sp.zone is not None else list(sp.image_points)) if sp else None
        )
        self._next = 1
        self._of_track: dict[int, int] = {}
        self._live: dict[int, Vehicle] = {}
        self._seen: dict[int, float] = {}  # track id -> time of the last point used

    @property
    def live(self) -> Mapping[int, Vehicle]:
        return dict(self._live)

    def present(self, t: float) -> list[Vehicle]:
        """Vehicles seen at tick ``t`` (for occupancy); not one of unconfirmed boxes alone."""
        return [v for v in self._live.values() if v.last_t >= t - 1e-9 and v.confirmed]

    def observe(self, tracks: Mapping[int, Track], t: float, wall: float) -> list[Vehicle]:
        """Feed the tracks at tick ``t``; returns the vehicles that finished (gone for good)."""
        fresh = [tr for tr in tracks.values() if tr.last.t >= t - 1e-9]
        here = {tr.track_id for tr in fresh}
        touched: set[int] = set()
        done: set[int] = set()  # tracks whose point of this tick is in
        known = [tr for tr in fresh if tr.track_id in self._of_track]
        new = [tr for tr in fresh if tr.track_id not in self._of_track]
        for tr in known:
            v = self._live.get(self._of_track[tr.track_id])
            if v is None or tr.track_id in done:
                continue
            if v.track_id != tr.track_id and v.track_id in here:
                kept, moved = self._separate(v, tr.track_id, tracks, t, wall)
                done |= moved
                touched |= {self._of_track[m] for m in moved if m in self._of_track}
                if kept is None:
                    continue
                v = kept
            self._update(v, tr.last, wall)
            touched.add(v.vid)
            done.add(tr.track_id)
        for tr in sorted(new, key=lambda x: -x.last.conf):
            v = self._link(tr.last, t, touched)
            if v is None:
                v = self._start(tr.last, wall)
            else:
                v.links.append((v.track_id, copy.deepcopy(dataclasses.replace(v, links=[]))))
                v.fragments += 1
            self._of_track[tr.track_id] = v.vid
            self._update(v, tr.last, wall)
            touched.add(v.vid)
        return self._expire(t)

    def flush(self) -> list[Vehicle]:
        """Finish every live vehicle (end of a file, shutdown)."""
        return self._expire(math.inf)

    def _anchor(self, p: TrackPoint) -> Point:
        """The vehicle's ground point in the image (``counting.anchor``)."""
        if self.tuning.anchor == "centre":
            return ((p.bbox[0] + p.bbox[2]) / 2.0, (p.bbox[1] + p.bbox[3]) / 2.0)
        return p.anchor

    def _separate(
        self, v: Vehicle, tid: int, tracks: Mapping[int, Track], t: float, wall: float
    ) -> tuple[Vehicle | None, set[int]]:
        """Track ``tid`` and ``v``'s holder are both seen at ``t``: two objects in one vehicle.
        When ``tid`` held ``v`` before a link, ``v`` goes back to what it was then and the
        tracks linked since move to a vehicle rebuilt from their points; otherwise ``tid``
        moves. Returns (the vehicle ``tid`` goes on updating, or ``None`` when it moved; the
        tracks moved, their points of ``t`` included)."""
        back = [i for i, (holder, _) in enumerate(v.links) if holder == tid]
        if not back:
            self._rebuild({tid}, tracks, t, wall)
            return None, {tid}
        i = back[-1]
        moved = {holder for holder, _ in v.links[i + 1 :]} | {v.track_id}
        kept = v.links[i][1]
        kept.links = v.links[:i]
        self._live[v.vid] = kept
        logger.debug("vehicle %s: track %s is back, tracks %s split off", v.vid, tid, moved)
        self._rebuild(moved, tracks, t, wall)
        return kept, moved

    def _rebuild(self, tids: set[int], tracks: Mapping[int, Track], t: float, wall: float) -> None:
        """A new vehicle from the points the track book still holds of ``tids`` (a wall time
        for each from its stream time); tracks the book no longer holds are forgotten."""
        pts = sorted(
            (p for tid in tids if tid in tracks for p in tracks[tid].points), key=lambda p: p.t
        )
        for tid in tids:
            self._of_track.pop(tid, None)
            self._seen.pop(tid, None)
        if not pts:
            return
        w = self._start(pts[0], wall - (t - pts[0].t))
        w.fragments = len({p.track_id for p in pts})
        for p in pts:
            self._of_track[p.track_id] = w.vid
            self._update(w, p, wall - (t - p.t))

    def _start(self, p: TrackPoint, wall: float) -> Vehicle:
        a = self._anchor(p)
        v = Vehicle(self._next, p.t, wall, p.t, wall, a, a, p.bbox[3] - p.bbox[1])
        self._next += 1
        self._live[v.vid] = v
        return v

    def _link(self, p: TrackPoint, t: float, touched: set[int]) -> Vehicle | None:
        """The lost vehicle this new fragment most likely continues, if any."""
        fam = _FAMILY.get(p.cls, 0)
        best: tuple[float, Vehicle] | None = None
        for v in self._live.values():
            gap = t - v.last_t
            if v.vid in touched or gap <= 0 or gap > self.tuning.max_gap_s or v.family != fam:
                continue
            if p.tentative and v.tentative:
                continue  # no chains of single unconfirmed boxes
            guess = (v.last[0] + v.velocity[0] * gap, v.last[1] + v.velocity[1] * gap)
            d = segment_distance(self._anchor(p), v.last, guess)
            if d <= self.tuning.link_px + 0.25 * max(v.box_h, p.bbox[3] - p.bbox[1]):
                if best is None or d < best[0]:
                    best = (d, v)
        return None if best is None else best[1]

    def _update(self, v: Vehicle, p: TrackPoint, wall: float) -> None:
        a = self._anchor(p)
        if p.t > v.last_t:
            dt = p.t - v.last_t
            inst = ((a[0] - v.last[0]) / dt, (a[1] - v.last[1]) / dt)
            v.velocity = (0.5 * v.velocity[0] + 0.5 * inst[0], 0.5 * v.velocity[1] + 0.5 * inst[1])
        seen = self._seen.get(p.track_id)
        if seen is None or p.t > seen:
            self._seen[p.track_id] = p.t
            v.points += 1
            v.votes[p.cls] = v.votes.get(p.cls, 0.0) + p.conf
        v.last_t, v.last_wall, v.last, v.box_h = p.t, wall, a, p.bbox[3] - p.bbox[1]
        v.track_id = p.track_id
        v.confirmed = v.confirmed or not p.tentative
        v.tentative = p.tentative
        v.max_disp = max(v.max_disp, math.dist(a, v.start))
        for lane_id, poly in self.lanes.items():
            if poly.contains(a):
                v.lane_votes[lane_id] = v.lane_votes.get(lane_id, 0) + 1
                break
        if self.homography is not None and self.speed_zone is not None and not p.carried:
            if self.speed_zone.contains(a):
                g = self.homography.to_ground(a)
                if v.speed_first is None:
                    v.speed_first = (p.t, g)
                v.speed_last = (p.t, g)
        self._cross(v, a, wall)

    def _cross(self, v: Vehicle, a: Point, wall: float) -> None:
        tun = self.tuning
        for lid, line in self.lines.items():
            sd = line.signed_distance(a)
            side = 1 if sd > tun.line_margin_px else -1 if sd < -tun.line_margin_px else 0
            if side == 0:
                continue
            prev = v.sides.get(lid, 0)
            v.sides[lid] = side
            along = line.along(a)
            if (
                prev == 0
                or prev == side
                or not -tun.line_end_px <= along <= line.length + tun.line_end_px
            ):
                continue
            v.net[lid] = v.net.get(lid, 0) + side
            v.cross_wall.setdefault(lid, wall)

    def _expire(self, t: float) -> list[Vehicle]:
        gone = [v for v in self._live.values() if v.last_t < t - self.tuning.max_gap_s]
        for v in gone:
            del self._live[v.vid]
        if gone:
            ids = {v.vid for v in gone}
            for tid in [k for k, vid in self._of_track.items() if vid in ids]:
                del self._of_track[tid]
                self._seen.pop(tid, None)
        return [v for v in gone if self.counts(v)]

    def counts(self, v: Vehicle) -> bool:
        """A vehicle worth counting: a vehicle class, seen often enough, and held by a track
        ByteTrack confirmed at least once (not only by unconfirmed first boxes)."""
        return v.cls in VEHICLE_CLASSES and v.points >= self.tuning.min_points and v.confirmed
