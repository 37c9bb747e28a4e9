"""Working-time arithmetic for feedback deadlines (pure: no clock, no I/O).

Service levels are promised in *working* time ("acknowledge within 8 working hours"), so a
report sent on Friday at 16:00 is due on Monday, not on Saturday, and Tết does not count.
The default Vietnamese office week is Monday–Friday, 07:30–11:30 and 13:30–17:00 (7.5 h a
day); holidays and the compensatory working Saturdays are city data in the catalogue.

Example::

    cal = CalendarConfig().build()
    start = datetime(2025, 1, 3, 16, 0, tzinfo=cal.tz)          # Friday 16:00
    cal.add(start, WorkingDuration.parse("2h"))                 # -> Monday 06 Jan 08:30
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

logger = logging.getLogger(__name__)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MAX_DAYS = 3660  # a deadline further than ten years out is a configuration error


@dataclass(frozen=True, slots=True)
class WorkingDuration:
    """An amount of working time: minutes ("90m"), hours ("8h") or working days ("3d").

    A working day is the calendar's daily working time (7.5 h by default), so "1d" from
    Monday 10:00 is Tuesday 10:00.
    """

    value: float
    unit: Literal["m", "h", "d"]

    @classmethod
    def parse(cls, text: str) -> WorkingDuration:
        """``WorkingDuration.parse("8h")``; raises ``ValueError`` on anything else."""
        match = _DURATION.match(text)
        if match is None:
            raise ValueError(f"duration {text!r} must look like '90m', '8h' or '3d'")
        unit = match.group(2)
        value = float(match.group(1))
        if unit == "m":
            return cls(value, "m")
        return cls(value, "h") if unit == "h" else cls(value, "d")

    def __str__(self) -> str:
        return f"{self.value:g}{self.unit}"


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Working periods of a day, working weekdays, holidays and extra working days."""

    tz: ZoneInfo
    periods: tuple[tuple[time, time], ...]
    weekdays: frozenset[int]
    holidays: frozenset[date]
    extra_working_days: frozenset[date]

    @property
    def minutes_per_day(self) -> float:
        return sum(_minutes(start, end) for start, end in self.periods)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def minutes(self, duration: WorkingDuration) -> float:
        """Length of ``duration`` in working minutes."""
        factor = {"m": 1.0, "h": 60.0, "d": self.minutes_per_day}[duration.unit]
        return duration.value * factor

    def add(self, start: datetime, duration: WorkingDuration) -> datetime:
        """The instant ``duration`` of working time after ``start`` (timezone-aware)."""
        return self.add_minutes(start, self.minutes(duration))

    def add_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` working minutes after ``start``; ``start`` itself for 0."""
        local = _local(start, self.tz)
        if minutes <= 0:
            return local
        remaining = timedelta(minutes=minutes)
        day = local.date()
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                for begin, end in self._spans(day):
                    if local >= end:
                        continue
                    begin = max(begin, local)
                    if remaining <= end - begin:
                        return begin + remaining
                    remaining -= end - begin
            day += timedelta(days=1)
        raise ValueError(f"no working time within {_MAX_DAYS} days of {start.isoformat()}")

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes in ``[start, end)``; 0 when ``end <= start``."""
        start, end = _local(start, self.tz), _local(end, self.tz)
        total = timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                for begin, stop in self._spans(day):
                    overlap = min(stop, end) - max(begin, start)
                    if overlap > timedelta():
                        total += overlap
            day += timedelta(days=1)
        return total.total_seconds() / 60.0

    def _spans(self, day: date) -> list[tuple[datetime, datetime]]:
        return [
            (datetime.combine(day, a, tzinfo=self.tz), datetime.combine(day, b, tzinfo=self.tz))
            for a, b in self.periods
        ]


def is_overdue(deadline: datetime | None, now: datetime) -> bool:
    """True once ``now`` is past ``deadline``; a missing deadline is never overdue."""
    return deadline is not None and _aware(now) > _aware(deadline)


class CalendarConfig(BaseModel):
    """The ``calendar:`` section of the feedback catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="IANA zone of office hours.")
    weekdays: tuple[Weekday, ...] = Field(
        default=("mon", "tue", "wed", "thu", "fri"), description="Working days of the week."
    )
    periods: tuple[str, ...] = Field(
        default=("07:30-11:30", "13:30-17:00"),
        description="Working periods of a working day, 'HH:MM-HH:MM', ascending.",
    )
    holidays: tuple[date, ...] = Field(
        default=(), description="Days off that would otherwise be working days (Tết, 30/4 …)."
    )
    extra_working_days: tuple[date, ...] = Field(
        default=(), description="Compensatory working days that would otherwise be off."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _check(self) -> CalendarConfig:
        if not self.weekdays and not self.extra_working_days:
            raise ValueError("a calendar needs at least one working weekday")
        spans = [_parse_period(p) for p in self.periods]
        if not spans:
            raise ValueError("a calendar needs at least one working period")
        for (_, prev_end), (start, _) in itertools.pairwise(spans):
            if start < prev_end:
                raise ValueError("working periods must be ascending and must not overlap")
        return self

    def build(self) -> WorkingCalendar:
        """The pure calendar object the deadline arithmetic runs on."""
        return WorkingCalendar(
            tz=ZoneInfo(self.timezone),
            periods=tuple(_parse_period(p) for p in self.periods),
            weekdays=frozenset(_WEEKDAYS.index(d) for d in self.weekdays),
            holidays=frozenset(self.holidays),
            extra_working_days=frozenset(self.extra_working_days),
        )


def _parse_period(text: str) -> tuple[time, time]:
    match = _PERIOD.match(text)
    if match is None:
        raise ValueError(f"working period {text!r} must look like '07:30-11:30'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (0 <= h1 < 24 and 0 <= h2 < 24 and m1 < 60 and m2 < 60):
        raise ValueError(f"working period {text!r} is not a time of day")
    start, end = time(h1, m1), time(h2, m2)
    if end <= start:
        raise ValueError(f"working period {text!r} must end after it starts")
    return start, end


def _minutes(start: time, end: time) -> float:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute) + 0.0


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return value


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    return _aware(value).astimezone(tz)
