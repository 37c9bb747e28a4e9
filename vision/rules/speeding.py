"""Speeding: ground speed from the homography calibration above the limit.

Speed is the ground distance between the anchor's positions ``speed_window_s`` apart,
divided by the difference of their own timestamps (never frames / fps: the CCTV clips have a
variable frame rate), over detector frames only: between them the tracker holds each box
where it was last seen, and a held box, stamped with a later time than it shows, read at one
end of the window made a car up to a third too fast. Only points inside the measuring zone
count, since a homography is trustworthy only over the calibrated patch of road. The
overspeed picks the decree band in the catalogue; under the lowest band (5 km/h over)
nothing is reported. A track is reported once, at the first window over the limit. Every
speed carries the calibration that measured it (``measured.calibration``: its points and
digest, :func:`vision.provenance.calibration_label`; the whole calibration goes into the
evidence metadata).

Example::

    rule = SpeedingRule("cam", catalogue, camera.speed, camera.tuning)
    rule.evaluate(tracks, t)   # -> [Violation(measured={'speed_kmh': 72.0, ...})]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from vision.catalogue import ViolationCatalogue
from vision.config import RuleTuning, SpeedCalibration
from vision.geometry import Homography, Polygon
from vision.provenance import calibration_label
from vision.rules.base import Measured, RuleBase, Violation
from vision.tracks import Track, ground_speed_kmh

logger = logging.getLogger(__name__)


class SpeedingRule(RuleBase):
    key = "speeding"

    def __init__(
        self,
        camera_id: str,
        catalogue: ViolationCatalogue,
        calibration: SpeedCalibration,
        tuning: RuleTuning,
    ) -> None:
        super().__init__(camera_id, catalogue)
        self.tuning = tuning
        self.limit_kmh = calibration.limit_kmh
        self.homography = Homography.from_points(
            calibration.image_points, calibration.ground_points_m
        )
        self.zone = Polygon.of(calibration.zone or list(calibration.image_points))
        self.calibration = calibration_label(calibration)  # stored with every speed

    def evaluate(self, tracks: Mapping[int, Track], t: float) -> list[Violation]:
        out: list[Violation] = []
        for track in self.candidates(tracks):
            pts = track.window(self.tuning.speed_window_s, observed=True)
            if pts is None or not all(self.zone.contains(p.anchor) for p in pts):
                continue
            try:
                speed = ground_speed_kmh(pts, self.homography)
            except ValueError as exc:
                logger.debug("track %s: no speed: %s", track.track_id, exc)
                continue
            over = speed - self.limit_kmh
            if over <= 0:
                continue
            measured: Measured = {
                "speed_kmh": round(speed, 1),
                "limit_kmh": self.limit_kmh,
                "overspeed_kmh": round(over, 1),
                "window_s": round(pts[-1].t - pts[0].t, 3),
                "calibration": self.calibration,
            }
            v = self.emit(track, pts[-1].t, "speed_zone", measured)
            if v is not None:
                out.append(v)
        return out
