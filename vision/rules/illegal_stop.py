"""Illegal stopping/parking: standing in a no-stopping zone longer than the zone allows.

A vehicle stands while its anchor stays within ``stationary_radius_px`` of where it stopped
(detector jitter); the standstill starts at the earliest such point still in the history and
is remembered per track, so a dwell longer than the track history is still measured. The
violation time is the moment the zone's ``max_dwell_s`` was exceeded; the zone's
``violation`` key picks the legal basis (e.g. ``illegal_stop`` or ``stop_on_crosswalk``).

Example::

    rule = IllegalStopRule("cam", catalogue, camera.no_stopping_zones, camera.tuning)
    rule.evaluate(tracks, t)   # -> [Violation(rule='illegal_stop', measured={'dwell_s': 63.0})]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from vision.catalogue import ViolationCatalogue
from vision.config import NoStoppingZone, RuleTuning
from vision.geometry import Point, Polygon, norm, sub
from vision.rules.base import Measured, RuleBase, Violation
from vision.tracks import Track

logger = logging.getLogger(__name__)


class IllegalStopRule(RuleBase):
    key = "illegal_stop"

    def __init__(
        self,
        camera_id: str,
        catalogue: ViolationCatalogue,
        zones: Sequence[NoStoppingZone],
        tuning: RuleTuning,
    ) -> None:
        super().__init__(camera_id, catalogue, (z.violation for z in zones))
        self.tuning = tuning
        self._zones = [(z, Polygon.of(z.polygon)) for z in zones]
        self._stopped: dict[int, tuple[Point, float]] = {}  # track id -> (where, since)

    def evaluate(self, tracks: Mapping[int, Track], t: float) -> list[Violation]:
        for tid in [k for k in self._stopped if k not in tracks]:
            del self._stopped[tid]
        out: list[Violation] = []
        for track in self.candidates(tracks):
            last = track.last
            zone = next(((z, poly) for z, poly in self._zones if poly.contains(last.anchor)), None)
            if zone is None:
                self._stopped.pop(track.track_id, None)
                continue
            cfg, poly = zone
            since = self._standstill(track, poly)[1]
            dwell = last.t - since
            if dwell < cfg.max_dwell_s:
                continue
            measured: Measured = {
                "zone": cfg.id,
                "dwell_s": round(dwell, 2),
                "stopped_since": since,
                "max_dwell_s": cfg.max_dwell_s,
            }
            v = self.emit(track, since + cfg.max_dwell_s, cfg.id, measured, key=cfg.violation)
            if v is not None:
                out.append(v)
                self._stopped.pop(track.track_id, None)
        return out

    def _standstill(self, track: Track, zone: Polygon) -> tuple[Point, float]:
        radius = self.tuning.stationary_radius_px
        last = track.last
        known = self._stopped.get(track.track_id)
        if known is not None and norm(sub(last.anchor, known[0])) <= radius:
            return known
        since = last.t
        for p in reversed(track.points):
            if norm(sub(p.anchor, last.anchor)) > radius or not zone.contains(p.anchor):
                break
            since = p.t
        self._stopped[track.track_id] = (last.anchor, since)
        return last.anchor, since
