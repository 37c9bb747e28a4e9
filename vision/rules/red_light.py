"""Red-light running: crossing a stop line, in its direction of travel, against a red light.

A crossing is the anchor (bottom centre of the box) going from at least ``line_margin_px``
before the line to at least ``line_margin_px`` past it, within the line's extent; its instant
is interpolated where the path meets the line. So a vehicle waiting at or on the line, whose
box jitters by a few pixels, never crosses, and one first seen past the line never does.

The light that counts is the one of the vehicle's movement at the crossing instant, red for at
least ``red_grace_s`` (signal-reading latency and the anchor's offset get the benefit of the
doubt), and still red ``settle_s`` after it: a light read from the image is recorded only
when ``confirm_frames`` readings agree, so a change to green shows that much late, and a
vehicle that crossed in that lag crossed on green. The rule waits for the history to reach
``settle_s`` past the crossing before judging it. When every movement was red the movement
does not matter; otherwise the rule waits until the movement is known: the first exit region
entered, or without exits the turn angle after ``movement_min_px`` (a turn) or
``straight_min_px`` (straight). A red ball with a green right arrow thus lets right-turners
go and reports the ones going straight.

Example::

    rule = RedLightRule("cam", catalogue, camera.stop_lines, history, camera.tuning)
    rule.evaluate(tracks, t)   # -> [Violation(rule='red_light', measured={'movement': ...})]
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vision.catalogue import ViolationCatalogue
from vision.config import MOVEMENTS, Movement, RuleTuning, StopLine
from vision.geometry import DirectedLine, Point, Polygon, norm, signed_angle_deg, sub
from vision.rules.base import Measured, RuleBase, Violation
from vision.signals import Light, SignalHistory
from vision.tracks import Track

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Crossing:
    line: int  # index into the rule's lines
    t: float
    point: Point
    red: frozenset[Movement]  # movements whose light was red at the crossing


class RedLightRule(RuleBase):
    key = "red_light"

    def __init__(
        self,
        camera_id: str,
        catalogue: ViolationCatalogue,
        stop_lines: Sequence[StopLine],
        signals: SignalHistory,
        tuning: RuleTuning,
        settle_s: float = 0.0,
    ) -> None:
        super().__init__(camera_id, catalogue)
        self.signals = signals
        self.tuning = tuning
        self.settle_s = settle_s  # how late a light change is recorded (readings to confirm)
        self._lines = [
            (
                s.id,
                DirectedLine.of(s.line[0], s.line[1], s.direction),
                {m: Polygon.of(p) for m, p in s.exits.items()},
            )
            for s in stop_lines
        ]
        self._pending: dict[int, _Crossing] = {}
        self._settled: OrderedDict[int, None] = OrderedDict()

    def evaluate(self, tracks: Mapping[int, Track], t: float) -> list[Violation]:
        for tid in [k for k in self._pending if k not in tracks]:
            del self._pending[tid]  # track ended before its movement was known
        out: list[Violation] = []
        for track in self.candidates(tracks):
            tid = track.track_id
            if tid in self._settled:
                continue
            crossing = self._pending.get(tid) or self._find_crossing(track)
            if crossing is None:
                continue
            if not crossing.red:
                self._settle(tid)
                continue
            movement: Movement | None = None
            if crossing.red != frozenset(MOVEMENTS):
                movement = self._movement(track, crossing)
                if movement is None:
                    if track.last.t - crossing.t > self.tuning.movement_timeout_s:
                        logger.debug("track %s: movement undecided; not reported", tid)
                        self._settle(tid)
                    else:
                        self._pending[tid] = crossing
                    continue
                if movement not in crossing.red:
                    self._settle(tid)
                    continue
            out += self._report(track, crossing, movement)
        return out

    def _report(self, track: Track, c: _Crossing, movement: Movement | None) -> list[Violation]:
        self._pending.pop(track.track_id, None)
        m = movement or "straight"
        since = self.signals.steady_since(c.t, m)
        measured: Measured = {
            "signal": Light.RED.value,
            "movement": movement or "any",
            "red_for_s": round(c.t - since, 2) if since is not None else -1.0,
            "crossing_x": round(c.point[0], 1),
            "crossing_y": round(c.point[1], 1),
        }
        v = self.emit(track, c.t, self._lines[c.line][0], measured)
        return [v] if v is not None else []

    def _settle(self, tid: int) -> None:
        self._pending.pop(tid, None)
        self._settled[tid] = None
        while len(self._settled) > self._MAX_REMEMBERED:
            self._settled.popitem(last=False)

    def _find_crossing(self, track: Track) -> _Crossing | None:
        margin = self.tuning.line_margin_px
        pts = list(track.points)
        for idx, (_, line, _) in enumerate(self._lines):
            d = [line.signed_distance(p.anchor) for p in pts]
            first_before = next((i for i, v in enumerate(d) if v <= -margin), None)
            if first_before is None:
                continue
            past = next((i for i in range(first_before, len(d)) if d[i] >= margin), None)
            if past is None:
                continue
            k = max(i for i in range(first_before, past) if d[i] <= 0)
            s = -d[k] / (d[k + 1] - d[k])
            a, b = pts[k].anchor, pts[k + 1].anchor
            point = (a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]))
            if not -margin <= line.along(point) <= line.length + margin:
                continue
            tc = pts[k].t + s * (pts[k + 1].t - pts[k].t)
            latest = self.signals.latest_t
            if self.settle_s > 0 and (latest is None or latest < tc + self.settle_s):
                return None  # judged once the light after the crossing is known too
            return _Crossing(idx, tc, point, self._red_movements(tc))
        return None

    def _red_movements(self, tc: float) -> frozenset[Movement]:
        grace = self.tuning.red_grace_s
        return frozenset(
            m
            for m in MOVEMENTS
            if self.signals.light_at(tc, m) == Light.RED
            and self.signals.light_at(tc - grace, m) == Light.RED
            and self.signals.light_at(tc + self.settle_s, m) == Light.RED
        )

    def _movement(self, track: Track, c: _Crossing) -> Movement | None:
        _, line, exits = self._lines[c.line]
        if exits:
            for p in track.points:
                if p.t > c.t:
                    for m, zone in exits.items():
                        if zone.contains(p.anchor):
                            return m
            return None
        disp = sub(track.last.anchor, c.point)
        dist = norm(disp)
        if dist < self.tuning.movement_min_px:
            return None
        angle = signed_angle_deg(line.normal, disp)
        if angle > self.tuning.turn_angle_deg:
            return "right"
        if angle < -self.tuning.turn_angle_deg:
            return "left"
        return "straight" if dist >= self.tuning.straight_min_px else None
