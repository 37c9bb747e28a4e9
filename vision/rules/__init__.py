"""Violation rules: one small class each, pure ``evaluate(tracks, t) -> list[Violation]``.

:func:`build_rules` makes the rules a camera's geometry supports (no stop line, no red-light
rule; no calibration, no speeding), all sharing one catalogue.

Example::

    history = SignalHistory()
    rules = build_rules(camera, load_violation_catalogue(), history)
    violations = [v for rule in rules for v in rule.evaluate(book.tracks, t)]
"""

from __future__ import annotations

import logging

from vision.catalogue import ViolationCatalogue
from vision.config import CameraConfig
from vision.rules.base import Rule, RuleBase, Violation
from vision.rules.illegal_stop import IllegalStopRule
from vision.rules.red_light import RedLightRule
from vision.rules.restricted_zone import RestrictedZoneRule
from vision.rules.speeding import SpeedingRule
from vision.rules.wrong_lane import WrongLaneRule
from vision.rules.wrong_way import WrongWayRule
from vision.signals import SignalHistory

logger = logging.getLogger(__name__)

__all__ = [
    "IllegalStopRule",
    "RedLightRule",
    "RestrictedZoneRule",
    "Rule",
    "RuleBase",
    "SpeedingRule",
    "Violation",
    "WrongLaneRule",
    "WrongWayRule",
    "build_rules",
]


def build_rules(
    camera: CameraConfig, catalogue: ViolationCatalogue, signals: SignalHistory | None = None
) -> list[Rule]:
    """Every rule the camera's configuration supports; ``signals`` feeds the red-light rule
    and is required when the camera has stop lines."""
    cid, tuning = camera.id, camera.tuning
    rules: list[Rule] = []
    if camera.stop_lines:
        if signals is None:
            raise ValueError(f"camera {cid}: stop_lines need a SignalHistory for red_light")
        sig = camera.signal
        # a light read from the image is recorded confirm_frames ticks after it changed
        settle = sig.confirm_frames / camera.detect_fps if sig and sig.source == "image" else 0.0
        rules.append(RedLightRule(cid, catalogue, camera.stop_lines, signals, tuning, settle))
    if camera.lanes:
        frame = (float(camera.frame.width), float(camera.frame.height))
        rules.append(WrongWayRule(cid, catalogue, camera.lanes, tuning, frame))
        rules.append(WrongLaneRule(cid, catalogue, camera.lanes, tuning))
    if camera.no_stopping_zones:
        rules.append(IllegalStopRule(cid, catalogue, camera.no_stopping_zones, tuning))
    if camera.restricted_zones:
        rules.append(RestrictedZoneRule(cid, catalogue, camera.restricted_zones, tuning))
    if camera.speed is not None:
        rules.append(SpeedingRule(cid, catalogue, camera.speed, tuning))
    logger.info("camera %s: rules %s", cid, [r.key for r in rules])
    return rules
