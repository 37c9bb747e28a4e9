"""Signal-phase feed: a traffic-signal controller's phase messages -> the camera's signal
history, in the camera's stream time; pure (the Kafka consumer is ``vision.feed_consumer``).

A camera whose config has ``signal: {source: feed, feed_topic: ...}`` reads no lamps from
the image; the controller publishes each phase change (message format in docs/CONTRACTS.md,
"Vision")::

    {"schema": 1, "time": "2026-11-23T07:00:03.250+07:00",
     "lights": {"straight": "red", "left": "red", "right": "green"}}

``time`` is when the phase took effect (wall clock, with an offset); ``lights`` maps movements
(or ``all``) to ``red``/``amber``/``yellow``/``green``/``off``. Optional ``junction``: when the
camera's ``feed_junction`` is set, messages for other junctions on the same topic are skipped.

Rules compare stream times, so :class:`SignalFeed` converts each phase's wall time with the
latest frame's (stream time, wall time) pair, and holds messages until a frame at or after their
time has been seen: a phase is never applied before the video reaches it, and arrival order
does not matter (they are applied in time order).

Example::

    feed = SignalFeed(history)
    feed.receive(raw_bytes)                  # from Kafka; ValueError if malformed
    feed.advance(frame.t, frame.wall)        # each processed frame: due phases -> history
"""

from __future__ import annotations

import heapq
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from vision.config import Movement
from vision.signals import Light, SignalHistory, SignalState, state_from_feed

logger = logging.getLogger(__name__)

PHASE_SCHEMA = 1


@dataclass(frozen=True, order=True, slots=True)
class Phase:
    """One phase change: from ``wall`` (epoch seconds) the movements show ``lights``."""

    wall: float
    lights: dict[Movement, Light] = field(compare=False)
    junction: str | None = field(default=None, compare=False)


def parse_phase(raw: bytes | str) -> Phase:
    """Validate one feed message; ``ValueError`` names what is wrong."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"signal feed: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("signal feed: expected a JSON object")
    if doc.get("schema") != PHASE_SCHEMA:
        raise ValueError(f"signal feed: schema must be {PHASE_SCHEMA}")
    when, lights, junction = doc.get("time"), doc.get("lights"), doc.get("junction")
    if not isinstance(when, str):
        raise ValueError("signal feed: time must be an ISO-8601 string")
    try:
        stamp = datetime.fromisoformat(when)
    except ValueError:
        raise ValueError(f"signal feed: time {when!r} is not ISO-8601") from None
    if stamp.tzinfo is None:
        raise ValueError(f"signal feed: time {when!r} has no UTC offset")
    if not isinstance(lights, dict) or not lights:
        raise ValueError("signal feed: lights must be a non-empty object")
    if junction is not None and not isinstance(junction, str):
        raise ValueError("signal feed: junction must be a string")
    state = state_from_feed(lights, 0.0)
    return Phase(stamp.timestamp(), dict(state.lights), junction)


class SignalFeed:
    """Due phases of one camera's feed into its :class:`SignalHistory` (stream time)."""

    def __init__(self, history: SignalHistory, junction: str | None = None) -> None:
        self.history, self.junction = history, junction
        self._pending: list[Phase] = []
        self.rejected = 0
        self.applied = 0
        self.lights: dict[Movement, Light] = {}

    def receive(self, raw: bytes | str) -> Phase | None:
        """Queue one message; returns it, or ``None`` when it is for another junction.
        Raises ``ValueError`` for a malformed message (counted in ``rejected``)."""
        try:
            phase = parse_phase(raw)
        except ValueError:
            self.rejected += 1
            raise
        if self.junction is not None and phase.junction != self.junction:
            return None
        heapq.heappush(self._pending, phase)
        return phase

    def advance(self, t: float, wall: float) -> list[SignalState]:
        """Apply every phase due by the frame at stream time ``t`` captured at ``wall``."""
        out: list[SignalState] = []
        while self._pending and self._pending[0].wall <= wall:
            phase = heapq.heappop(self._pending)
            state = SignalState(t - (wall - phase.wall), phase.lights)
            self.history.add(state)
            self.lights = dict(phase.lights)
            self.applied += 1
            out.append(state)
        return out
