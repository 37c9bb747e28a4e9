"""Time compression (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.replay.schedule import Schedule, add_years, years_to_past

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_compressed_maps_each_feed_from_its_own_first_row() -> None:
    a0 = datetime(2015, 3, 1, tzinfo=UTC)
    b0 = datetime(2012, 10, 2, 14, tzinfo=UTC)
    plan = Schedule.compressed(START, 3600, {"a": a0, "b": b0})
    assert plan.send_offset("a", a0) == 0
    assert plan.send_offset("b", b0) == 0
    assert plan.send_offset("a", a0 + timedelta(hours=2)) == pytest.approx(2.0)
    assert plan.event_time("a", a0 + timedelta(hours=2)) == START + timedelta(seconds=2)
    assert plan.data_elapsed(2.0) == timedelta(hours=2)


def test_compressed_needs_positive_speed() -> None:
    with pytest.raises(ValueError):
        Schedule.compressed(START, 0, {})


def test_add_years_handles_leap_day() -> None:
    leap = datetime(2016, 2, 29, 5, tzinfo=UTC)
    assert add_years(leap, 1) == datetime(2017, 2, 28, 5, tzinfo=UTC)
    assert add_years(datetime(2016, 2, 29, tzinfo=UTC), 4) == datetime(2020, 2, 29, tzinfo=UTC)


def test_years_to_past_keeps_newest_in_the_past() -> None:
    now = datetime(2026, 11, 23, 7, tzinfo=UTC)
    assert years_to_past(datetime(2018, 12, 31, 17, tzinfo=UTC), now) == 7
    assert years_to_past(datetime(2017, 2, 28, 15, tzinfo=UTC), now) == 9
    assert years_to_past(datetime(2025, 8, 1, 6, tzinfo=UTC), now) == 1
    assert years_to_past(datetime(2016, 11, 23, 7, tzinfo=UTC), now) == 10  # exactly now


def test_original_shifted_sends_at_once_with_whole_year_shift() -> None:
    newest = datetime(2018, 12, 31, 17, tzinfo=UTC)
    plan = Schedule.original_shifted(START, {"a": newest}, START)
    assert plan.shifts == {"a": 7}
    t = datetime(2016, 6, 1, 12, tzinfo=UTC)
    assert plan.send_offset("a", t) == 0.0
    assert plan.event_time("a", t) == datetime(2023, 6, 1, 12, tzinfo=UTC)
    assert plan.event_time("a", newest) < START
