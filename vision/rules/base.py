"""The rule protocol and the :class:`Violation` value every rule returns.

A rule is one small class with a pure ``evaluate(tracks, t) -> list[Violation]``: no I/O, no
clock, state only per track id. The shell calls it once per processed frame with the live
tracks of one camera and stores or publishes what comes back. A rule reports a track at most
once (de-duplicated here), and only vehicles whose class has a category in the catalogue, so
every violation carries its resolved legal reference.

Example::

    rule = WrongWayRule("vn-junction-a", catalogue, camera.lanes, camera.tuning)
    for v in rule.evaluate(book.tracks, t):
        print(v.rule, v.track_id, v.legal.citation, v.evidence_from, v.evidence_to)
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from vision.catalogue import LegalReference, ViolationCatalogue
from vision.tracks import Track

logger = logging.getLogger(__name__)

Measured = Mapping[str, float | str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One detected violation, ready for review and for cutting the evidence clip.

    ``time`` is when the violation happened (crossing, limit exceeded), in stream seconds;
    ``evidence_from``/``evidence_to`` are the clip window from the catalogue; ``where`` is the
    id of the stop line, lane or zone involved; ``measured`` holds speed, signal state, dwell.
    """

    rule: str
    camera_id: str
    track_id: int
    vehicle_class: str
    time: float
    evidence_from: float
    evidence_to: float
    where: str
    legal: LegalReference
    measured: Measured = field(default_factory=dict)


class Rule(Protocol):
    """What the pipeline needs from a rule."""

    @property
    def key(self) -> str: ...

    def evaluate(self, tracks: Mapping[int, Track], t: float) -> list[Violation]: ...


class RuleBase:
    """Shared plumbing: catalogue lookup, evidence window, one report per track and key."""

    key: ClassVar[str]
    _MAX_REMEMBERED = 10_000

    def __init__(
        self, camera_id: str, catalogue: ViolationCatalogue, other_keys: Iterable[str] = ()
    ) -> None:
        """``other_keys``: catalogue keys besides ``key`` the rule may report."""
        missing = sorted(k for k in {self.key, *other_keys} if k not in catalogue)
        if missing:
            raise ValueError(f"camera {camera_id}: rule {self.key}: catalogue lacks {missing}")
        self.camera_id = camera_id
        self.catalogue = catalogue
        self._reported: OrderedDict[int, None] = OrderedDict()

    def candidates(self, tracks: Mapping[int, Track]) -> Iterator[Track]:
        """Tracks not yet reported, with 2+ points, of a class the catalogue covers."""
        for tid, track in tracks.items():
            if tid in self._reported or len(track.points) < 2:
                continue
            if self.catalogue.category_of(track.cls) is None:
                continue
            yield track

    def emit(
        self, track: Track, time: float, where: str, measured: Measured, key: str | None = None
    ) -> Violation | None:
        """Build the violation and remember the track; ``None`` when no reference applies."""
        key = key or self.key
        legal = self.catalogue.resolve(key, track.cls, measured)
        if legal is None:
            logger.debug(
                "camera %s: %s track %s: no legal reference for %s",
                self.camera_id,
                key,
                track.track_id,
                track.cls,
            )
            return None
        self._reported[track.track_id] = None
        while len(self._reported) > self._MAX_REMEMBERED:
            self._reported.popitem(last=False)
        ev = self.catalogue[key].evidence
        logger.info(
            "camera %s: %s by track %s (%s) at %.2f",
            self.camera_id,
            key,
            track.track_id,
            track.cls,
            time,
        )
        return Violation(
            rule=key,
            camera_id=self.camera_id,
            track_id=track.track_id,
            vehicle_class=track.cls,
            time=time,
            evidence_from=time - ev.before_s,
            evidence_to=time + ev.after_s,
            where=where,
            legal=legal,
            measured=dict(measured),
        )
