"""Threshold alerts with hysteresis and de-duplication, as a pure state machine.

One alert per (sensor, quantity) at most. It is raised when a value reaches a level's
``at``, changes level while active (escalation or de-escalation, one event each), and is
cleared only when the value falls below the lowest level's ``at - hysteresis``. A value
that hovers at a threshold therefore gives one alert, not a storm. Readings older than the
last one seen for that key are ignored, so replays and duplicates change nothing.

Example::

    state, events = step(None, reading_time, 62.0, quantity)   # -> raised 'poor'
    state, events = step(state, later, 48.0, quantity)         # hysteresis 5: still active
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from ioc.domain.catalogue import Quantity

AlertEventKind = Literal["raised", "level_changed", "cleared"]
ALERT_NAMESPACE = uuid.UUID("3c5e1b8a-2f4d-4d6e-8b0a-6a1e9f2c7d44")


@dataclass(frozen=True, slots=True)
class AlertState:
    """What is remembered per (sensor, quantity) between readings."""

    last_time: datetime
    alert_id: uuid.UUID | None = None  # None: no active alert
    level: int = -1  # index into quantity.levels while active
    raised_at: datetime | None = None
    peak: float = 0.0


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: AlertEventKind
    alert_id: uuid.UUID
    event_id: uuid.UUID
    time: datetime
    level: str
    severity: int
    value: float
    peak: float
    raised_at: datetime


def _level_for(value: float, quantity: Quantity, current: int) -> int:
    """Highest level whose threshold the value meets; while inside a level's hysteresis
    band the current level is kept (so no flapping between adjacent levels either)."""
    target = -1
    for index, level in enumerate(quantity.levels):
        if value >= level.at:
            target = index
    if current > target and value >= quantity.levels[current].at - quantity.hysteresis:
        return current
    if target < current:
        # Falling: step down only past the band of the level we leave.
        while target < current and value >= quantity.levels[target + 1].at - quantity.hysteresis:
            target += 1
    return target


def step(
    state: AlertState | None,
    sensor_id: str,
    time: datetime,
    value: float,
    quantity: Quantity,
) -> tuple[AlertState | None, list[AlertEvent]]:
    """Feed one reading; return the new state and the events it caused (0 or 1)."""
    if not quantity.levels:
        return state, []
    if state is not None and time <= state.last_time:
        return state, []
    current = state.level if state is not None and state.alert_id is not None else -1
    target = _level_for(value, quantity, current)
    base = state or AlertState(last_time=time)
    if current == -1 and target == -1:
        return replace(base, last_time=time), []

    def event(
        kind: AlertEventKind, alert_id: uuid.UUID, level: int, peak: float, raised_at: datetime
    ) -> AlertEvent:
        spec = quantity.levels[level]
        return AlertEvent(
            kind,
            alert_id,
            uuid.uuid5(ALERT_NAMESPACE, f"{alert_id}|{kind}|{time.isoformat()}"),
            time,
            spec.name,
            spec.severity,
            value,
            peak,
            raised_at,
        )

    if current == -1:
        alert_id = uuid.uuid5(ALERT_NAMESPACE, f"{sensor_id}|{quantity.key}|{time.isoformat()}")
        new = AlertState(time, alert_id, target, time, value)
        return new, [event("raised", alert_id, target, value, time)]
    assert base.alert_id is not None and base.raised_at is not None
    peak = max(base.peak, value)
    if target == -1:
        cleared = event("cleared", base.alert_id, current, peak, base.raised_at)
        return AlertState(last_time=time), [cleared]
    new = AlertState(time, base.alert_id, target, base.raised_at, peak)
    if target != current:
        return new, [event("level_changed", base.alert_id, target, peak, base.raised_at)]
    return new, []
