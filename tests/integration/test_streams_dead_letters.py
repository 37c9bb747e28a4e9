"""Invalid input is dead-lettered with its reason - never dropped - while the valid items of
the same message are stored; a replay with a new consumer group adds no second copy."""

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

MAX_ITEMS = 20
NOW = datetime.now(UTC)


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sensor_id": "hp-aq-haian",
        "quantity": "pm25",
        "value": 12.5,
        "unit": "ug/m3",
        "time": (NOW - timedelta(minutes=1)).isoformat(),
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


# index in the batch -> expected reason (None: stored)
BATCH: list[tuple[dict[str, Any] | str, str | None]] = [
    (_item(), None),
    (_item(sensor_id="hp-nope"), "unknown_sensor"),
    (_item(quantity="radon"), "unknown_quantity"),
    (_item(unit="ppm"), "unit_mismatch"),
    (_item(value=-3), "out_of_range"),
    (_item(time="yesterday"), "bad_timestamp"),
    (_item(time=(NOW + timedelta(hours=2)).isoformat()), "clock_skew"),
    (_item(time=(NOW - timedelta(days=20)).isoformat()), "too_old"),
    ("not an object", "invalid_schema"),
    (_item(colour="red"), "invalid_schema"),
    (_item(value=0.02, unit="mg/m3", time=(NOW - timedelta(minutes=2)).isoformat()), None),
    (_item(sensor_id="hp-aq-haian\u0000x"), "unknown_sensor"),
]
NGSI_OK = {
    "id": "urn:ngsi-ld:AirQualityObserved:hp-aq-kienan:1",
    "type": "AirQualityObserved",
    "refDevice": "urn:ngsi-ld:Device:hp-aq-kienan",
    "dateObserved": (NOW - timedelta(minutes=3)).isoformat(),
    "pm25": 30.0,
    "pm10": 41.0,
}
NGSI_BAD = {**NGSI_OK, "pm25": -1.0, "pm10": -2.0, "id": "urn:ngsi-ld:AirQualityObserved:x:2"}


@pytest.fixture(scope="module")
def judged(
    worker_factory: Callable[..., WorkerProcess], streams_settings: Settings
) -> tuple[Settings, dict[str, tuple[str, str, str]]]:
    settings = streams_settings.model_copy(
        update={"max_batch_items": MAX_ITEMS, "max_age_days": 10.0}
    )
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]
    worker_factory(settings)
    produce(
        settings,
        "observations.raw",
        [json.dumps({"observations": [item for item, _ in BATCH]}).encode()],
        headers=[("ioc-source", b"http")],
        key=b"a",
    )
    produce(settings, "observations.raw", [json.dumps([NGSI_OK, NGSI_BAD]).encode()], key=b"a")
    produce(
        settings,
        "observations.raw",
        [b"{not json", b"\xff\xfe\x00 binary"],
        headers=[("ioc-source", b"mqtt")],
        key=b"a",
    )
    produce(
        settings, "observations.raw", [json.dumps([_item()] * (MAX_ITEMS + 1)).encode()], key=b"a"
    )
    produce(settings, "observations.raw", [json.dumps(42).encode()], key=b"a")
    expected_dead = sum(1 for _, r in BATCH if r) + 2 + 2 + 1 + 1
    wait_for(
        lambda: query(url, "SELECT count(*) FROM dead_letters")[0][0] >= expected_dead,
        f"{expected_dead} dead letters",
    )
    wait_caught_up(settings)
    rows = query(url, "SELECT dedup_key, reason, source, payload FROM dead_letters")
    return settings, {r[0].split(":", 1)[1]: (r[1], r[2], r[3]) for r in rows}


def test_every_invalid_item_is_dead_lettered_with_its_reason(
    judged: tuple[Settings, dict[str, tuple[str, str, str]]],
) -> None:
    _settings, dead = judged
    batch = {key.rsplit(":", 1)[1]: value for key, value in dead.items() if value[1] == "http"}
    expected = {str(i): reason for i, (_, reason) in enumerate(BATCH) if reason}
    assert {i: v[0] for i, v in batch.items()} == expected
    assert json.loads(batch["1"][2])["sensor_id"] == "hp-nope"  # the item itself is kept


def test_valid_items_of_the_same_messages_are_stored(
    judged: tuple[Settings, dict[str, tuple[str, str, str]]],
) -> None:
    url = judged[0].database_url.get_secret_value()  # type: ignore[union-attr]
    rows = query(url, "SELECT sensor_id, quantity, value FROM readings ORDER BY 1, 2, 3")
    assert rows == [
        ("hp-aq-haian", "pm25", 12.5),
        ("hp-aq-haian", "pm25", 20.0),
        ("hp-aq-kienan", "pm10", 41.0),
        ("hp-aq-kienan", "pm25", 30.0),
    ]


def test_whole_message_failures_and_ngsi_rejections(
    judged: tuple[Settings, dict[str, tuple[str, str, str]]],
) -> None:
    _, dead = judged
    reasons = sorted((v[0], v[1], k.rsplit(":", 1)[1]) for k, v in dead.items() if v[1] != "http")
    assert reasons == sorted(
        [
            ("out_of_range", "kafka", "1"),
            ("out_of_range", "kafka", "1.1"),  # one NGSI entity
            ("malformed_json", "mqtt", "*"),
            ("malformed_json", "mqtt", "*"),
            ("too_many_items", "kafka", "*"),
            ("invalid_schema", "kafka", "*"),
        ]
    )
    binary = next(v for v in dead.values() if v[2].endswith("binary"))
    assert "\x00" not in binary[2] and "\ufffd" in binary[2]


def test_dead_letters_are_counted_on_the_dashboard_topic(
    judged: tuple[Settings, dict[str, tuple[str, str, str]]],
) -> None:
    settings, dead = judged
    counts = [m for m in dashboard_messages(settings) if m["type"] == "deadletter"]
    assert sum(m["count"] for m in counts) == len(dead)
    total: dict[str, int] = {}
    for m in counts:
        for reason, n in m["reasons"].items():
            total[reason] = total.get(reason, 0) + n
    assert total["malformed_json"] == 2 and total["unknown_sensor"] == 2


def test_a_replay_with_a_new_group_stores_no_second_copy(
    worker_factory: Callable[..., WorkerProcess],
    judged: tuple[Settings, dict[str, tuple[str, str, str]]],
) -> None:
    settings, dead = judged
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]
    replay = worker_factory(settings, streams_app_id=f"{settings.streams_app_id}-replay")
    wait_caught_up(replay.settings)
    assert query(url, "SELECT count(*) FROM dead_letters")[0][0] == len(dead)
    assert query(url, "SELECT count(*) FROM readings")[0][0] == 4
