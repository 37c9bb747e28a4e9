"""Traffic counts per camera: distinct vehicles per class per minute; pure.

A vehicle is counted once, in the minute (UTC, wall clock) when its track has first moved
``min_move_px`` (so parked cars and detector flicker on a kerb do not count). Camera configs
have no counting line yet; once one exists, counting crossings of it fits here.

Example::

    counter = TrafficCounter()
    counter.observe(book.tracks, wall=frame.wall)
    for minute, counts in counter.closed(now_wall):    # whole minutes only
        print(minute, counts)                           # 1732350000.0 {'car': 4, ...}
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Mapping

from vision.tracks import VEHICLE_CLASSES, Track

logger = logging.getLogger(__name__)


class TrafficCounter:
    """Counts each moving vehicle track once, bucketed by wall-clock minute."""

    def __init__(self, min_move_px: float = 20.0, bucket_s: float = 60.0) -> None:
        self.min_move_px, self.bucket_s = min_move_px, bucket_s
        self._counted: OrderedDict[int, None] = OrderedDict()
        self._buckets: dict[float, dict[str, int]] = {}

    def observe(self, tracks: Mapping[int, Track], wall: float) -> None:
        for tid, track in tracks.items():
            if tid in self._counted or len(track.points) < 2 or track.cls not in VEHICLE_CLASSES:
                continue
            first, last = track.points[0].anchor, track.last.anchor
            if math.hypot(last[0] - first[0], last[1] - first[1]) < self.min_move_px:
                continue
            self._counted[tid] = None
            while len(self._counted) > 10_000:
                self._counted.popitem(last=False)
            bucket = self._buckets.setdefault(wall - wall % self.bucket_s, {})
            bucket[track.cls] = bucket.get(track.cls, 0) + 1

    def closed(self, now_wall: float, flush: bool = False) -> list[tuple[float, dict[str, int]]]:
        """Finished buckets (start, counts per class), oldest first, removed from the counter;
        ``flush`` also returns the current, unfinished one."""
        current = now_wall - now_wall % self.bucket_s
        done = sorted(b for b in self._buckets if flush or b < current)
        return [(b, self._buckets.pop(b)) for b in done]
