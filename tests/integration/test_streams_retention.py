"""Retention with the Apache edition: the worker's timer drops raw chunks past
``retention_days`` and 1-minute rollups past twice that, and keeps everything newer."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fixtures.streams import WorkerProcess, produce, query, wait_for

from ioc.settings import Settings

pytestmark = pytest.mark.integration


def test_old_chunks_are_dropped_and_recent_rows_kept(
    worker_factory: Callable[..., WorkerProcess], streams_settings: Settings
) -> None:
    url = streams_settings.database_url.get_secret_value()  # type: ignore[union-attr]
    if query(url, "SHOW timescaledb.license")[0][0] == "timescale":
        pytest.skip("with the Timescale License edition retention is a policy, not the streams")
    now = datetime.now(UTC)
    ages = {"old": timedelta(days=60), "recent": timedelta(hours=1)}
    produce(
        streams_settings,
        "observations.raw",
        [
            json.dumps(
                {
                    "sensor_id": "hp-aq-lechan",
                    "quantity": "pm25",
                    "value": 10.0 + i,
                    "time": (now - age - timedelta(minutes=i)).isoformat(),
                }
            ).encode()
            for age in ages.values()
            for i in range(5)
        ],
    )
    settings = streams_settings.model_copy(
        update={"retention_days": 10, "retention_interval_s": 0.5}
    )
    worker_factory(settings)

    def old_rows() -> tuple[int, int]:
        cutoff = now - timedelta(days=30)
        return (
            int(query(url, "SELECT count(*) FROM readings WHERE time < %s", [cutoff])[0][0]),
            int(
                query(url, "SELECT count(*) FROM rollup_sensor_1m WHERE bucket < %s", [cutoff])[0][
                    0
                ]
            ),
        )

    wait_for(
        lambda: (
            query(url, "SELECT count(*) FROM readings WHERE time > %s", [now - timedelta(days=1)])[
                0
            ][0]
            == 5
        ),
        "the recent rows",
    )
    wait_for(lambda: old_rows() == (0, 0), "old chunks to be dropped")
    assert query(url, "SELECT count(*) FROM rollup_sensor_1m")[0][0] == 5
    old_hours = query(
        url, "SELECT sum(count) FROM rollup_sensor_1h WHERE bucket < %s", [now - timedelta(days=30)]
    )
    assert old_hours == [(5,)]  # the old rows were stored (and rolled up) before the drop
