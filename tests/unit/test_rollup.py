"""Tumbling-window rollups: buckets aligned like time_bucket, per sensor and per area, and
partial aggregates that merge to the same result in any order (late data, retries)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ioc.domain.observation import Observation
from ioc.domain.rollup import WINDOWS, Agg, bucket_start, rollup


def obs(
    sensor: str, minute: float, value: float, area: str | None = "303", quantity: str = "pm25"
) -> Observation:
    time = datetime(2026, 11, 23, 7, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return Observation(uuid.uuid4(), sensor, time, quantity, value, "ug/m3", "good", area)


def test_buckets_are_aligned_to_the_epoch_like_time_bucket() -> None:
    t = datetime(2026, 11, 23, 7, 59, 59, 999999, tzinfo=UTC)
    assert bucket_start(t, WINDOWS["1m"]) == datetime(2026, 11, 23, 7, 59, tzinfo=UTC)
    assert bucket_start(t, WINDOWS["1h"]) == datetime(2026, 11, 23, 7, tzinfo=UTC)
    before_epoch = datetime(1969, 12, 31, 23, 59, 30, tzinfo=UTC)
    assert bucket_start(before_epoch, WINDOWS["1m"]) == datetime(1969, 12, 31, 23, 59, tzinfo=UTC)
    on_edge = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert bucket_start(on_edge, WINDOWS["1h"]) == on_edge


def test_count_sum_min_max_and_mean_per_sensor() -> None:
    parts = rollup(
        [obs("a", 0.1, 20), obs("a", 0.5, 40), obs("a", 0.9, 30), obs("a", 1.2, 5)],
        WINDOWS["1m"],
        by="sensor",
    )
    t0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert parts == {
        (t0, "a", "pm25"): Agg(3, 90.0, 20.0, 40.0),
        (t0 + timedelta(minutes=1), "a", "pm25"): Agg(1, 5.0, 5.0, 5.0),
    }
    assert parts[(t0, "a", "pm25")].mean == 30.0


def test_per_area_combines_sensors_and_leaves_out_sensors_without_area() -> None:
    parts = rollup(
        [
            obs("a", 1, 10),
            obs("b", 2, 30),
            obs("c", 3, 99, area=None),
            obs("a", 4, 7, quantity="pm10"),
        ],
        WINDOWS["1h"],
        by="area",
    )
    t0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert parts == {
        (t0, "303", "pm25"): Agg(2, 40.0, 10.0, 30.0),
        (t0, "303", "pm10"): Agg(1, 7.0, 7.0, 7.0),
    }


def test_merging_partial_aggregates_equals_aggregating_everything() -> None:
    rng = random.Random(7)
    readings = [
        obs(rng.choice("abc"), rng.uniform(0, 180), rng.uniform(0, 500)) for _ in range(500)
    ]
    whole = rollup(readings, WINDOWS["1m"], by="sensor")
    rng.shuffle(readings)  # late data: any arrival order, any batch split
    merged: dict = {}
    for start in range(0, len(readings), 37):
        for key, agg in rollup(readings[start : start + 37], WINDOWS["1m"], by="sensor").items():
            merged[key] = merged[key].merge(agg) if key in merged else agg
    assert merged.keys() == whole.keys()
    for key, agg in whole.items():
        got = merged[key]
        assert (got.count, got.min, got.max) == (agg.count, agg.min, agg.max)
        assert got.sum == pytest.approx(agg.sum)


def test_empty_input_gives_no_windows() -> None:
    assert rollup([], WINDOWS["1m"], by="area") == {}
