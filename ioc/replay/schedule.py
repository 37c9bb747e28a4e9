"""Time compression of a replay: when each real reading is sent and which event time it gets.

Pure (no clock, no I/O): the caller passes the wall-clock start and ``now``.

Two modes:

* ``compressed`` (default): every feed starts at *its own first row* at the wall-clock start
  of the run, and ``speed`` data seconds pass per wall second. A reading is sent at
  ``start + (data_time - feed_t0) / speed`` and its event time is that send time, so the live
  page moves now while the values and their sequence are the real data. Feeds are aligned on
  their own first rows (not on a common calendar window) because the data sets barely
  overlap in time (Beijing 2015-03…2017-02, Fremont 2012…2025): with per-feed alignment
  every sensor reports from the first second. Each run gets new event times, so a re-run
  stores new rows (the database key is ``(event_id, time)``); a retry within one run reuses
  the same time and id and stays a duplicate.
* ``original-shifted``: the data's own timestamps, each feed moved forward by the largest
  whole number of years that keeps its newest reading in the past (month, day and hour are
  kept; 29 February falls back to the 28th). Sent as fast as the sink accepts, for history
  back-fill; event ids and times are the same on every run, so a re-run adds nothing.

Example::

    plan = Schedule.compressed(start, speed=3600, origins={"hp-aq-lechan": t0})
    plan.send_offset("hp-aq-lechan", t0 + timedelta(hours=1))   # -> 1.0 (seconds)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

TimeMode = Literal["compressed", "original-shifted"]
TIME_MODES: tuple[TimeMode, ...] = ("compressed", "original-shifted")


def add_years(when: datetime, years: int) -> datetime:
    """``when`` moved by whole calendar years (29 Feb → 28 Feb in a common year)."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:
        return when.replace(year=when.year + years, day=28)


def years_to_past(newest: datetime, now: datetime) -> int:
    """Largest whole number of years that keeps ``newest`` shifted at or before ``now``."""
    years = now.year - newest.year
    while add_years(newest, years) > now:
        years -= 1
    return years


@dataclass(frozen=True, slots=True)
class Schedule:
    """Maps a feed's data time to (send offset in seconds after start, event time)."""

    mode: TimeMode
    start: datetime
    speed: float = 1.0
    origins: Mapping[str, datetime] = field(default_factory=dict)
    shifts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def compressed(cls, start: datetime, speed: float, origins: Mapping[str, datetime]) -> Schedule:
        """``origins``: first data time of each feed (key = sensor id)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        return cls("compressed", start, speed, dict(origins))

    @classmethod
    def original_shifted(
        cls,
        start: datetime,
        newest: Mapping[str, datetime],
        now: datetime,
        margin: timedelta = timedelta(hours=1),
    ) -> Schedule:
        """``newest``: last data time of each feed; ``margin`` keeps it clearly in the past."""
        shifts = {key: years_to_past(last, now - margin) for key, last in newest.items()}
        return cls("original-shifted", start, shifts=shifts)

    def send_offset(self, feed: str, data_time: datetime) -> float:
        """Seconds after ``start`` at which this reading is due (0: as soon as possible)."""
        if self.mode == "original-shifted":
            return 0.0
        return (data_time - self.origins[feed]).total_seconds() / self.speed

    def event_time(self, feed: str, data_time: datetime) -> datetime:
        """The reading's ``time`` as sent to the centre."""
        if self.mode == "original-shifted":
            return add_years(data_time, self.shifts[feed])
        return self.start + timedelta(seconds=self.send_offset(feed, data_time))

    def data_elapsed(self, offset_s: float) -> timedelta:
        """How much data time a compressed replay has covered after ``offset_s`` wall seconds."""
        return timedelta(seconds=offset_s * self.speed)
