"""Threshold alerts end to end: raw readings → worker → alerts, alert_events, dashboard.

PM2.5 (levels poor 50, bad 80 …; hysteresis 5) hovers around 50 and then drops below 45:
exactly one alert, raised once and cleared once. Noise (noisy 70, very_noisy 85; hysteresis
3) escalates and de-escalates: one alert with raised, two level changes and a clear. Sending
every reading again changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixtures.streams import (
    WorkerProcess,
    dashboard_messages,
    produce,
    query,
    wait_caught_up,
    wait_for,
)

from ioc.settings import Settings

pytestmark = pytest.mark.integration

PM25 = [10, 20, 55, 52, 48, 51, 49, 47, 60, 44, 30]  # raised at 55, cleared at 44
NOISE = [60, 72, 86, 83, 84, 81, 68, 66]  # raised, very_noisy, back to noisy, cleared


def _messages(
    sensor: str, quantity: str, unit: str, values: list[float], start: datetime
) -> list[bytes]:
    return [
        json.dumps(
            {
                "sensor_id": sensor,
                "quantity": quantity,
                "value": v,
                "unit": unit,
                "time": (start + timedelta(seconds=10 * i)).isoformat(),
            }
        ).encode()
        for i, v in enumerate(values)
    ]


@pytest.fixture(scope="module")
def alerted(
    worker_factory: Callable[..., WorkerProcess], streams_settings: Settings
) -> tuple[Settings, list[bytes], list[bytes]]:
    url = streams_settings.database_url.get_secret_value()  # type: ignore[union-attr]
    start = datetime.now(UTC) - timedelta(minutes=10)
    pm25 = _messages("hp-aq-hongbang", "pm25", "ug/m3", PM25, start)
    noise = _messages("hp-wx-lechan", "noise", "dBA", NOISE, start)
    worker_factory()
    produce(streams_settings, "observations.raw", pm25, key=b"hp-aq-hongbang")
    produce(streams_settings, "observations.raw", noise, key=b"hp-wx-lechan")
    wait_for(lambda: query(url, "SELECT count(*) FROM alert_events")[0][0] >= 6, "six alert events")
    wait_caught_up(streams_settings)
    return streams_settings, pm25, noise


def _events(url: str, sensor: str) -> list[tuple[Any, ...]]:
    return query(
        url,
        "SELECT e.kind, e.level, e.value FROM alert_events e"
        " JOIN alerts a ON a.id = e.alert_id WHERE a.sensor_id = %s"
        " ORDER BY e.time",
        [sensor],
    )


def test_hovering_at_a_threshold_raises_one_alert_and_dropping_below_clears_it(
    alerted: tuple[Settings, list[bytes], list[bytes]],
) -> None:
    url = alerted[0].database_url.get_secret_value()  # type: ignore[union-attr]
    alerts = query(
        url,
        "SELECT state, level, peak_value, value FROM alerts"
        " WHERE sensor_id = 'hp-aq-hongbang' AND quantity = 'pm25'",
    )
    assert alerts == [("cleared", "poor", 60.0, 44.0)]
    assert _events(url, "hp-aq-hongbang") == [("raised", "poor", 55.0), ("cleared", "poor", 44.0)]


def test_escalation_and_de_escalation_are_level_changes_of_one_alert(
    alerted: tuple[Settings, list[bytes], list[bytes]],
) -> None:
    url = alerted[0].database_url.get_secret_value()  # type: ignore[union-attr]
    assert query(
        url, "SELECT count(*), min(state) FROM alerts WHERE sensor_id = 'hp-wx-lechan'"
    ) == [(1, "cleared")]
    assert _events(url, "hp-wx-lechan") == [
        ("raised", "noisy", 72.0),
        ("level_changed", "very_noisy", 86.0),
        ("level_changed", "noisy", 81.0),
        ("cleared", "noisy", 66.0),
    ]


def test_alert_events_reach_the_dashboard_topic(
    alerted: tuple[Settings, list[bytes], list[bytes]],
) -> None:
    events = [m["event"] for m in dashboard_messages(alerted[0]) if m["type"] == "alert"]
    kinds = sorted((e["sensor_id"], e["kind"], e["level"]) for e in events)
    assert kinds == sorted(
        [
            ("hp-aq-hongbang", "raised", "poor"),
            ("hp-aq-hongbang", "cleared", "poor"),
            ("hp-wx-lechan", "raised", "noisy"),
            ("hp-wx-lechan", "level_changed", "very_noisy"),
            ("hp-wx-lechan", "level_changed", "noisy"),
            ("hp-wx-lechan", "cleared", "noisy"),
        ]
    )
    raised = next(e for e in events if e["sensor_id"] == "hp-aq-hongbang" and e["kind"] == "raised")
    assert raised["area_id"] == "303" and raised["severity"] == 2 and raised["value"] == 55.0


def test_sending_the_same_readings_again_changes_nothing(
    alerted: tuple[Settings, list[bytes], list[bytes]],
) -> None:
    settings, pm25, noise = alerted
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]
    before = (
        query(url, "SELECT * FROM alert_events ORDER BY event_id"),
        query(url, "SELECT * FROM alerts ORDER BY id"),
    )
    produce(settings, "observations.raw", pm25 + noise)
    wait_caught_up(settings)
    after = (
        query(url, "SELECT * FROM alert_events ORDER BY event_id"),
        query(url, "SELECT * FROM alerts ORDER BY id"),
    )
    assert after == before
