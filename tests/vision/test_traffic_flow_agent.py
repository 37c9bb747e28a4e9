"""The ``traffic_flow`` agent: what the pipeline sends is accepted, bad messages are
dead-lettered with a reason, and storage is idempotent (a repeat adds nothing)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fixtures.streams import produce, query, wait_for

from ioc.domain.catalogue import load_catalogue
from ioc.settings import Settings
from ioc.storage.migrate import migrate
from streams.agents.traffic_flow import judge, parse_flow, process
from streams.runtime import Runtime
from vision.config import CameraConfig
from vision.counting import MinuteCounts
from vision.flow import flow_messages

CAM = CameraConfig.model_validate(
    {
        "id": "cam-f",
        "name": "Cam F",
        "location": {"lat": 20.86, "lon": 106.68},
        "source": "x.mp4",
        "detect_fps": 5,
        "frame": {"width": 640, "height": 360},
        "lanes": [
            {
                "id": "l1",
                "polygon": [[0, 100], [300, 100], [300, 360], [0, 360]],
                "flow": [[150, 350], [150, 110]],
            }
        ],
    }
)


def messages(start: float = 1_800_000_000.0) -> list[dict[str, Any]]:
    minute = MinuteCounts(
        start,
        lane_vehicles={("l1", "car"): 7, ("all", "motorbike"): 12},
        occupied_s={("l1", "car"): 30.0},
        speeds={("l1", "car"): [30.0, 40.0]},
        observed_s=60.0,
    )
    return flow_messages(CAM, minute)


def encode(m: dict[str, Any]) -> bytes:
    return json.dumps(m).encode()


def test_parse_accepts_what_the_pipeline_sends() -> None:
    car, bike = sorted(messages(), key=lambda m: m["vehicle_class"])
    f = parse_flow(encode(car))
    assert (f.camera_id, f.lane, f.vehicle_class, f.intensity) == ("cam-f", "l1", "car", 7)
    assert f.occupancy == 0.5 and f.averageVehicleSpeed == 35.0
    assert parse_flow(encode(bike)).averageVehicleSpeed is None
    assert parse_flow(encode({**car, "congested": False})).id == car["id"]  # newer field


@pytest.mark.parametrize(
    "change",
    [
        {"intensity": -1},
        {"occupancy": 1.5},
        {"vehicle_class": "tank"},
        {"dateObservedTo": "2027-01-15T07:59:00.000+00:00"},
        {"dateObservedFrom": "2027-01-15T08:00:00"},
        {"schema": 2},
        {"id": "x"},
    ],
)
def test_parse_refuses_bad_messages(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parse_flow(encode({**messages()[0], **change}))
    good, bad = judge([b"{", encode(messages()[0]), None])
    assert len(good) == 1 and next(r for _, r in bad).startswith("message")


@pytest.mark.integration
async def test_store_is_idempotent(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url) as conn:
        migrate(conn, retention_days=400)
    rt = Runtime(Settings(home=tmp_path, database_url=database_url), database_url, load_catalogue())
    await rt.started()
    try:
        batch = [encode(m) for m in messages()]
        assert await process(rt, [*batch, b"garbage"]) == 2
        assert await process(rt, batch) == 0  # redelivery / restart: nothing new
    finally:
        await rt.close()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT minute, camera_id, lane_id, vehicle_class, intensity, occupancy, "
            "average_speed_kmh FROM traffic_flow ORDER BY vehicle_class"
        ).fetchall()
        assert [r[1:] for r in rows] == [
            ("cam-f", "l1", "car", 7, 0.5, 35.0),
            ("cam-f", "all", "motorbike", 12, 0.0, None),
        ]
        assert rows[0][0].timestamp() == 1_800_000_000.0
        dead = conn.execute("SELECT reason FROM dead_letters WHERE source = 'traffic_flow'")
        assert dead.fetchall() == [("invalid_traffic_flow",)]


@pytest.mark.integration
def test_worker_stores_flow_from_kafka(
    worker_factory: Callable[..., Any], streams_settings: Settings
) -> None:
    url = streams_settings.database_url.get_secret_value()  # type: ignore[union-attr]
    worker_factory()
    start = 1_800_000_000.0 + 3600 * secrets.randbelow(10_000)  # a minute no other test uses
    batch = [encode(m) for m in messages(start)]
    produce(streams_settings, "traffic.flow", [*batch, b"{broken"], key=b"cam-f")

    def stored() -> list[tuple[Any, ...]]:
        return query(
            url,
            "SELECT lane_id, vehicle_class, intensity FROM traffic_flow "
            "WHERE camera_id = 'cam-f' AND minute = to_timestamp(%s) ORDER BY lane_id",
            (start,),
        )

    assert wait_for(lambda: len(stored()) == 2 and stored(), "flow rows") == [
        ("all", "motorbike", 12),
        ("l1", "car", 7),
    ]
    produce(streams_settings, "traffic.flow", batch, key=b"cam-f")  # a repeat: nothing new
    wait_for(
        lambda: (
            query(
                url,
                "SELECT count(*) FROM dead_letters WHERE source = 'traffic_flow' "
                "AND payload = '{broken'",
            )[0][0]
            == 1
        ),
        "the broken message dead-lettered",
    )
    assert len(stored()) == 2
