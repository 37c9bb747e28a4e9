"""Tumbling-window rollups (count, sum, min, max → mean) per sensor and per area.

Pure. The sink agent rolls up only the readings that were *newly* inserted in a batch and
merges the partial aggregates into the stored windows in the same transaction, so:

- a replay or a retry adds nothing (its rows were not new);
- late data of any age simply merges into its own window (no watermark is needed, and no
  window is ever "closed" too early); the live page sees the updated window when it is merged.

Example::

    parts = rollup(observations, WINDOWS["1m"], by="sensor")
    # {(bucket, "hp-aq-1", "pm25"): Agg(count=3, sum=90.0, min=20.0, max=40.0)}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from ioc.domain.observation import Observation

WINDOWS: Final = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1)}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Agg:
    count: int
    sum: float
    min: float
    max: float

    @property
    def mean(self) -> float:
        return self.sum / self.count

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def merge(self, other: Agg) -> Agg:
        return Agg(
            self.count + other.count,
            self.sum + other.sum,
            min(self.min, other.min),
            max(self.max, other.max),
        )


def bucket_start(time: datetime, width: timedelta) -> datetime:
    """Start of the tumbling window holding ``time`` (aligned to the Unix epoch, like time_bucket)."""
    offset = (time - _EPOCH) // width
    return _EPOCH + offset * width


RollupKey = tuple[datetime, str, str]


def rollup(
    observations: Iterable[Observation], width: timedelta, *, by: Literal["sensor", "area"]
) -> dict[RollupKey, Agg]:
    """Aggregate readings into windows keyed by (bucket, sensor or area id, quantity).

    Readings of sensors without an area are left out of the per-area rollup.
    """
    out: dict[RollupKey, Agg] = {}
    for obs in observations:
        owner = obs.sensor_id if by == "sensor" else obs.area_id
        if owner is None:
            continue
        key = (bucket_start(obs.time, width), owner, obs.quantity)
        agg = out.get(key)
        if agg is None:
            out[key] = Agg(1, obs.value, obs.value, obs.value)
        else:
            agg.add(obs.value)
    return out
