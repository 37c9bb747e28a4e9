"""Wrong-way driving: sustained movement against a lane's allowed direction.

Over the last ``wrong_way_min_s`` seconds the vehicle must stay in one lane, travel at least
``wrong_way_min_px`` within ``wrong_way_max_angle_deg`` of the lane's reverse direction (the
lane's ``flow`` polyline, so curved and perspective lanes work), and most of its steps must
go backwards too. A box that jitters while waiting, or a brief reverse, is not wrong-way.

Evidence must be sustained: the window needs ``wrong_way_min_points`` observations (two
points 1.5 s apart are one step, and a tracker that switched identities between two vehicles
at a low detection rate produces exactly that), and none of its boxes may be cut off by the
left, right or bottom frame edge (``edge_margin_px``): a vehicle entering the view from the
bottom has its box's bottom on the edge, so its anchor jumps as more of it appears. Both
were seen on the junction-B sample at 2 detections/s (a false wrong-way on a rider entering
the frame). The box as a whole must move, too: its top centre must also travel
``wrong_way_min_px`` against the lane. A box that only grows or shrinks moves its anchor (the
bottom centre) and its centre but not its top. Seen twice on the junction-A sample at 5
detections/s. A waiting motorbike's box lost its lower part for a frame and grew back
(anchor 48 px "backwards", centre 24 px). A waiting rider was detected alone and then fused
with the motorbike under him (anchor 119 px, centre 60 px, top 0). And the box must keep
covering the same thing and go one way: no box in the window may change its height or width
by more than ``_MAX_RESIZE`` between two observations, and the anchor's net travel must be at
least ``_MIN_STRAIGHTNESS`` of its path. The same waiting rider, detected alone, then fused
with his motorbike, then as the motorbike alone, moved every edge "backwards" (top 48 px)
with the box nearly doubling in height, or flipped to and fro (63 px net over 125 px). And
the travel must be spread over the window: no single step may carry more than
``_MAX_STEP_SHARE`` of it. At 1.4 detections/s (8 cameras on an AVX2 VM, session 17) the
same rider's box went from rider-and-motorbike (372-505) to the motorbike alone (421-566) in
one step, 61 of the window's 67 px, after 1.7 s standing still. The top's travel must be
spread the same way: at 2.6 detections/s (session 18) the bottom went down in two steps as
the rider was fused with his motorbike and then left out, but the top only in the last.

Example::

    rule = WrongWayRule("cam", catalogue, camera.lanes, camera.tuning)
    rule.evaluate(tracks, t)   # -> [Violation(rule='wrong_way', where='lane_1', ...)]
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence

from vision.catalogue import ViolationCatalogue
from vision.config import Lane, RuleTuning
from vision.geometry import Polygon, Polyline, dot, norm, sub
from vision.rules.base import Measured, RuleBase, Violation
from vision.tracks import Track, TrackPoint

logger = logging.getLogger(__name__)

_BACKWARD_SHARE = 0.75  # share of moving steps that must go against the lane
_MIN_STRAIGHTNESS = 0.8  # net anchor travel / anchor path length
_MAX_RESIZE = 1.6  # largest change of box height or width between two observations
_MAX_STEP_SHARE = 0.75  # largest share of the backward travel one step may carry


def _resized(pts: Sequence[TrackPoint]) -> bool:
    """Whether the box changes what it covers between two observations (a rider detected
    alone, then fused with his motorbike, then the motorbike alone)."""
    for a, b in itertools.pairwise(pts):
        for lo, hi in ((1, 3), (0, 2)):
            x, y = a.bbox[hi] - a.bbox[lo], b.bbox[hi] - b.bbox[lo]
            if max(x, y) > _MAX_RESIZE * max(min(x, y), 1e-6):
                return True
    return False


class WrongWayRule(RuleBase):
    key = "wrong_way"

    def __init__(
        self,
        camera_id: str,
        catalogue: ViolationCatalogue,
        lanes: Sequence[Lane],
        tuning: RuleTuning,
        frame: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(camera_id, catalogue)
        self.tuning = tuning
        self._lanes = [(ln.id, Polygon.of(ln.polygon), Polyline.of(ln.flow)) for ln in lanes]
        self._frame = frame  # (width, height): boxes at its edges are cut off

    def _cut_off(self, bbox: tuple[float, float, float, float]) -> bool:
        if self._frame is None:
            return False
        (width, height), m = self._frame, self.tuning.edge_margin_px
        return bbox[0] <= m or bbox[2] >= width - m or bbox[3] >= height - m

    def evaluate(self, tracks: Mapping[int, Track], t: float) -> list[Violation]:
        out: list[Violation] = []
        for track in self.candidates(tracks):
            pts = track.window(self.tuning.wrong_way_min_s)
            if pts is None or len(pts) < self.tuning.wrong_way_min_points:
                continue
            if any(self._cut_off(p.bbox) for p in pts) or _resized(pts):
                continue
            anchors = [p.anchor for p in pts]
            for lane_id, zone, flow in self._lanes:
                if not all(zone.contains(a) for a in anchors):
                    continue
                disp = sub(anchors[-1], anchors[0])
                dist = norm(disp)
                if dist < self.tuning.wrong_way_min_px:
                    break
                mid = anchors[len(anchors) // 2]
                back = flow.direction_at(mid)
                back = (-back[0], -back[1])
                cos = dot(disp, back) / dist
                if cos < math.cos(math.radians(self.tuning.wrong_way_max_angle_deg)):
                    break
                shift = sub(pts[-1].top, pts[0].top)
                if dot(shift, back) < self.tuning.wrong_way_min_px:
                    break  # the anchor moved, the box did not: it grew or shrank
                steps = [sub(b, a) for a, b in itertools.pairwise(anchors)]
                moving = [s for s in steps if norm(s) > 0.5]
                backward = [s for s in moving if dot(s, back) > 0]
                if len(backward) < _BACKWARD_SHARE * len(moving):
                    break
                along = [dot(st, back) for st in backward]
                if max(along) > _MAX_STEP_SHARE * sum(along):
                    break  # one jump, not a drive: a box that switched what it covers
                rises = [
                    max(0.0, dot(sub(b, a), back))
                    for a, b in itertools.pairwise([p.top for p in pts])
                ]
                if max(rises) > _MAX_STEP_SHARE * sum(rises):
                    break  # the top jumped once: the box switched what it covers
                if dist < _MIN_STRAIGHTNESS * sum(norm(st) for st in steps):
                    break  # to and fro: a box flipping between two things it covers
                measured: Measured = {
                    "lane": lane_id,
                    "duration_s": round(pts[-1].t - pts[0].t, 2),
                    "distance_px": round(dist, 1),
                    "angle_deg": round(math.degrees(math.acos(min(1.0, cos))), 1),
                }
                v = self.emit(track, pts[-1].t, lane_id, measured)
                if v is not None:
                    out.append(v)
                break
        return out
