"""Sidewalk and restricted-zone driving: a vehicle moving inside a zone it may not enter.

The anchor must stay in the zone for ``restricted_min_s`` seconds and move at least
``min_move_px`` meanwhile (driving, not a box grazing the kerb). The zone's ``kind`` picks the
catalogue key: ``sidewalk`` -> ``sidewalk_driving``, ``restricted`` -> ``restricted_zone``.
Classes in the zone's ``allowed_classes`` are exempt.

Example::

    rule = RestrictedZoneRule("cam", catalogue, camera.restricted_zones, camera.tuning)
    rule.evaluate(tracks, t)   # -> [Violation(rule='sidewalk_driving', where='sidewalk_e')]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from vision.catalogue import ViolationCatalogue
from vision.config import RestrictedZone, RuleTuning
from vision.geometry import Polygon, norm, sub
from vision.rules.base import Measured, RuleBase, Violation
from vision.tracks import Track

logger = logging.getLogger(__name__)

KEY_BY_KIND = {"sidewalk": "sidewalk_driving", "restricted": "restricted_zone"}


class RestrictedZoneRule(RuleBase):
    key = "restricted_zone"

    def __init__(
        self,
        camera_id: str,
        catalogue: ViolationCatalogue,
        zones: Sequence[RestrictedZone],
        tuning: RuleTuning,
    ) -> None:
        super().__init__(camera_id, catalogue, KEY_BY_KIND.values())
        self.tuning = tuning
        self._zones = [
            (z.id, KEY_BY_KIND[z.kind], frozenset(z.allowed_classes), Polygon.of(z.polygon))
            for z in zones
        ]

    def evaluate(self, tracks: Mapping[int, Track], t: float) -> list[Violation]:
        out: list[Violation] = []
        for track in self.candidates(tracks):
            pts = track.window(self.tuning.restricted_min_s)
            if pts is None:
                continue
            anchors = [p.anchor for p in pts]
            moved = norm(sub(anchors[-1], anchors[0]))
            if moved < self.tuning.min_move_px:
                continue
            for zone_id, key, allowed, zone in self._zones:
                if track.cls in allowed or not all(zone.contains(a) for a in anchors):
                    continue
                measured: Measured = {
                    "zone": zone_id,
                    "duration_s": round(pts[-1].t - pts[0].t, 2),
                    "distance_px": round(moved, 1),
                }
                v = self.emit(track, pts[-1].t, zone_id, measured, key=key)
                if v is not None:
                    out.append(v)
                break
        return out
