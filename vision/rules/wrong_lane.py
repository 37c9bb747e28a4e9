"""Wrong lane: a vehicle of a class the lane does not allow, driving in it.

The vehicle's anchor must stay in one such lane for ``wrong_lane_min_s`` seconds and move at
least ``min_move_px`` meanwhile, so a motorbike that cuts a corner of a car lane, or a box
that grazes the lane while queueing, is not reported.

Example::

    rule = WrongLaneRule("cam", catalogue, camera.lanes, camera.tuning)
    rule.evaluate(tracks, t)   # -> [Violation(rule='wrong_lane', where='car_lane', ...)]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from vision.catalogue import ViolationCatalogue
from vision.config import Lane, RuleTuning
from vision.geometry import Polygon, norm, sub
from vision.rules.base import Measured, RuleBase, Violation
from vision.tracks import Track

logger = logging.getLogger(__name__)


class WrongLaneRule(RuleBase):
    key = "wrong_lane"

    def __init__(
        self,
        camera_id: str,
        catalogue: ViolationCatalogue,
        lanes: Sequence[Lane],
        tuning: RuleTuning,
    ) -> None:
        super().__init__(camera_id, catalogue)
        self.tuning = tuning
        self._lanes = [
            (ln.id, frozenset(ln.allowed_classes), Polygon.of(ln.polygon)) for ln in lanes
        ]

    def evaluate(self, tracks: Mapping[int, Track], t: float) -> list[Violation]:
        out: list[Violation] = []
        for track in self.candidates(tracks):
            cls = track.cls
            lanes = [(i, z) for i, allowed, z in self._lanes if cls not in allowed]
            if not lanes:
                continue
            pts = track.window(self.tuning.wrong_lane_min_s)
            if pts is None:
                continue
            anchors = [p.anchor for p in pts]
            if norm(sub(anchors[-1], anchors[0])) < self.tuning.min_move_px:
                continue
            for lane_id, zone in lanes:
                if all(zone.contains(a) for a in anchors):
                    duration = round(pts[-1].t - pts[0].t, 2)
                    measured: Measured = {"lane": lane_id, "duration_s": duration}
                    v = self.emit(track, pts[-1].t, lane_id, measured)
                    if v is not None:
                        out.append(v)
                    break
        return out
