"""Traffic counts of one camera from finished vehicles: line crossings and per-minute flow; pure.

Fed by :class:`vision.vehicles.VehicleLedger` (fragments already merged, class voted):

* **line counts** - totals per counting line, direction and class (``report()``);
* **unique vehicles per minute** per class - a moving vehicle counts once, in the minute
  (wall clock, UTC) it was last seen;
* **traffic flow per minute, lane and class** (``intensity``, ``occupancy``, mean speed) in the
  shape of the Smart Data Models ``TrafficFlowObserved``. Occupancy is the share of the
  minute a lane held at least one vehicle of the class (what a loop detector measures).
  Vehicles outside every configured lane - or all of them when the camera has no lanes - go
  to the lane ``all``.

A minute is reported once ``grace_s`` has passed after its end (vehicles finish a little after
they leave). Example::

    counter = TrafficCounter(bucket_s=60)
    counter.add(ledger.observe(tracks, t, wall))
    counter.presence(ledger.present(t), dt=0.1, wall=wall)
    for minute in counter.closed(now_wall):
        minute.start, minute.vehicles, minute.flows     # 1732350000.0, {'car': 4}, [...]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from vision.tracks import VEHICLE_CLASSES
from vision.vehicles import Vehicle

logger = logging.getLogger(__name__)

ALL_LANES = "all"


@dataclass(frozen=True, slots=True)
class LaneFlow:
    """Flow of one class on one lane over one minute."""

    lane: str
    vehicle_class: str
    intensity: int
    occupancy: float | None
    mean_speed_kmh: float | None


@dataclass
class MinuteCounts:
    start: float
    vehicles: dict[str, int] = field(default_factory=dict)
    crossings: dict[tuple[str, str, str], int] = field(default_factory=dict)
    speeds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    lane_vehicles: dict[tuple[str, str], int] = field(default_factory=dict)
    occupied_s: dict[tuple[str, str], float] = field(default_factory=dict)
    observed_s: float = 0.0

    @property
    def flows(self) -> list[LaneFlow]:
        keys = sorted(set(self.lane_vehicles) | set(self.occupied_s))
        out = []
        for lane, cls in keys:
            speeds = self.speeds.get((lane, cls), [])
            occ = (
                round(min(1.0, self.occupied_s.get((lane, cls), 0.0) / self.observed_s), 4)
                if self.observed_s > 0
                else None
            )
            out.append(
                LaneFlow(
                    lane,
                    cls,
                    self.lane_vehicles.get((lane, cls), 0),
                    occ,
                    round(sum(speeds) / len(speeds), 1) if speeds else None,
                )
            )
        return out


class TrafficCounter:
    """Line totals and per-minute buckets of one camera."""

    def __init__(
        self, bucket_s: float = 60.0, grace_s: float = 5.0, min_move_px: float = 20.0
    ) -> None:
        self.bucket_s, self.grace_s, self.min_move_px = bucket_s, grace_s, min_move_px
        self.lines: dict[tuple[str, str, str], int] = {}  # (line, direction, class) -> n
        self.unique: dict[str, int] = {}
        self._buckets: dict[float, MinuteCounts] = {}

    def _bucket(self, wall: float) -> MinuteCounts:
        start = wall - wall % self.bucket_s
        b = self._buckets.get(start)
        if b is None:
            b = self._buckets[start] = MinuteCounts(start)
        return b

    def add(self, vehicles: Iterable[Vehicle]) -> None:
        """Count finished vehicles (those the ledger returned)."""
        for v in vehicles:
            cls = v.cls
            if cls not in VEHICLE_CLASSES:
                continue
            for line, (direction, wall) in v.crossings.items():
                key = (line, direction, cls)
                self.lines[key] = self.lines.get(key, 0) + 1
                b = self._bucket(wall)
                b.crossings[key] = b.crossings.get(key, 0) + 1
            if v.max_disp < self.min_move_px and not v.crossings:
                continue  # parked or a detector flicker on a kerb
            self.unique[cls] = self.unique.get(cls, 0) + 1
            b = self._bucket(v.last_wall)
            b.vehicles[cls] = b.vehicles.get(cls, 0) + 1
            lane = v.lane or ALL_LANES
            b.lane_vehicles[(lane, cls)] = b.lane_vehicles.get((lane, cls), 0) + 1
            speed = v.speed_kmh()
            if speed is not None:
                b.speeds.setdefault((lane, cls), []).append(speed)

    def presence(self, live: Iterable[Vehicle], dt: float, wall: float) -> None:
        """Account ``dt`` seconds of observation ending at ``wall``: which lanes held which
        classes (occupancy). ``dt`` is the time since the previous tick, capped by the caller."""
        b = self._bucket(wall)
        b.observed_s += dt
        held = {(v.lane or ALL_LANES, v.cls) for v in live if v.cls in VEHICLE_CLASSES}
        for key in held:
            b.occupied_s[key] = b.occupied_s.get(key, 0.0) + dt

    def closed(self, now_wall: float, flush: bool = False) -> list[MinuteCounts]:
        """Finished minutes, oldest first, removed from the counter (``flush``: all of them)."""
        done = sorted(
            s for s in self._buckets if flush or s + self.bucket_s + self.grace_s <= now_wall
        )
        return [self._buckets.pop(s) for s in done]

    def report(self) -> dict[str, dict[str, dict[str, int]]]:
        """Line totals as ``{line: {direction: {class: n}}}``."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (line, direction, cls), n in sorted(self.lines.items()):
            out.setdefault(line, {}).setdefault(direction, {})[cls] = n
        return out
