"""Working-time deadlines: office hours, lunch, weekends, holidays, compensatory Saturdays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from ioc.feedback.calendar import CalendarConfig, WorkingDuration, is_overdue

CAL = CalendarConfig(
    holidays=(date(2025, 4, 30), date(2025, 5, 1), date(2025, 5, 2)),
    extra_working_days=(date(2025, 4, 26),),
).build()


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=CAL.tz)


def test_default_day_is_seven_and_a_half_hours() -> None:
    assert CAL.minutes_per_day == 450


def test_hours_within_a_morning() -> None:
    assert CAL.add(at(6, 8), WorkingDuration.parse("2h")) == at(6, 10)


def test_lunch_break_does_not_count() -> None:
    assert CAL.add(at(6, 11), WorkingDuration.parse("1h")) == at(6, 14)


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    # Friday 3 Jan 2025 16:00 + 2h: 1h left on Friday, 1h from Monday 07:30.
    assert CAL.add(at(3, 16), WorkingDuration.parse("2h")) == at(6, 8, 30)


def test_start_outside_office_hours_starts_at_next_opening() -> None:
    assert CAL.add(at(6, 20), WorkingDuration.parse("30m")) == at(7, 8)
    assert CAL.add(at(4, 10), WorkingDuration.parse("1h")) == at(6, 8, 30)  # Saturday


def test_holidays_are_skipped_and_extra_working_days_count() -> None:
    # Tuesday 29 April 16:00 + 8h: 1h on Tue, then 30/4, 1/5, 2/5 off, weekend; Mon 5 May 4h + 3h.
    assert CAL.add(at(29, 16, month=4), WorkingDuration.parse("8h")) == at(5, 16, 30, month=5)
    assert CAL.is_working_day(date(2025, 4, 26))  # a Saturday worked in exchange for 2 May
    assert CAL.add(at(25, 17, month=4), WorkingDuration.parse("1h")) == at(26, 8, 30, month=4)


def test_days_are_multiples_of_the_working_day() -> None:
    assert CAL.add(at(6, 10), WorkingDuration.parse("1d")) == at(7, 10)
    assert CAL.add(at(6, 10), WorkingDuration.parse("5d")) == at(13, 10)


def test_zero_duration_and_exact_period_end() -> None:
    assert CAL.add(at(6, 10), WorkingDuration.parse("0h")) == at(6, 10)
    assert CAL.add(at(6, 7, 30), WorkingDuration.parse("4h")) == at(6, 11, 30)


def test_working_minutes_between_is_the_inverse_of_add() -> None:
    start = at(3, 16)
    end = CAL.add(start, WorkingDuration.parse("9h"))
    assert CAL.working_minutes_between(start, end) == pytest.approx(540)
    assert CAL.working_minutes_between(end, start) == 0


def test_other_time_zones_are_converted() -> None:
    utc = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)  # 08:00 in Hai Phong
    assert CAL.add(utc, WorkingDuration.parse("1h")) == at(6, 9)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add(datetime(2025, 1, 6, 8), WorkingDuration.parse("1h"))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_overdue(at(6, 8), datetime(2025, 1, 6, 9))


def test_is_overdue() -> None:
    assert is_overdue(at(6, 8), at(6, 9))
    assert not is_overdue(at(6, 8), at(6, 8))
    assert not is_overdue(None, at(6, 9))


@pytest.mark.parametrize("text", ["8", "h8", "8 hours", "-1h", ""])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        WorkingDuration.parse(text)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"periods": ["13:30-17:00", "07:30-11:30"]}, "ascending"),
        ({"periods": ["07:30-07:00"]}, "end after"),
        ({"periods": ["7h30-11h30"]}, "must look like"),
        ({"timezone": "Asia/Hai_Phong"}, "unknown time zone"),
        ({"weekdays": ["mon", "funday"]}, "weekdays"),
        ({"workdays": ["mon"]}, "Extra inputs"),
    ],
)
def test_bad_calendar_config_is_refused(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarConfig.model_validate(config)
