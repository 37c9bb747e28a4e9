"""The ``violations`` agent: validation of the messages the camera pipeline sends, and
idempotent storage (a message stored twice, or a restart re-sending it, adds nothing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ioc.domain.catalogue import load_catalogue
from ioc.settings import Settings
from ioc.storage.migrate import migrate
from streams.agents.violations import encode, judge, parse_violation, process
from streams.runtime import Runtime
from vision.catalogue import ViolationCatalogue
from vision.config import CameraConfig
from vision.evidence import EvidenceFile
from vision.publish import event_id, violation_message
from vision.rules.base import Violation

CAM = CameraConfig.model_validate(
    {
        "id": "cam-v",
        "name": "Cam V",
        "location": {"lat": 20.86, "lon": 106.68, "area": "303"},
        "source": "x.mp4",
        "detect_fps": 5,
        "frame": {"width": 640, "height": 360},
    }
)


def _message(catalogue: ViolationCatalogue, track: int = 7) -> dict[str, Any]:
    legal = catalogue.resolve("red_light", "motorbike")
    assert legal is not None
    v = Violation(
        rule="red_light",
        camera_id="cam-v",
        track_id=track,
        vehicle_class="motorbike",
        time=3.25,
        evidence_from=-1.75,
        evidence_to=8.25,
        where="approach",
        legal=legal,
        measured={"signal": "red", "red_for_s": 2.5},
    )
    files = [
        EvidenceFile(f"cam-v/2026-01-01/e/{n}", k, f"{i:064x}", 100 + i)
        for i, (n, k) in enumerate([("clip_raw.mp4", "clip_raw"), ("metadata.json", "metadata")])
    ]
    eid = str(event_id("cam-v", track, "red_light", 3.25))
    return violation_message(v, eid, 1_767_225_600.0, CAM, files, True)


def test_parse_accepts_what_the_pipeline_sends(catalogue: ViolationCatalogue) -> None:
    msg = _message(catalogue)
    v = parse_violation(encode(msg))
    assert str(v.event_id) == msg["event_id"] and v.legal.clause == 7
    assert v.time.isoformat() == "2026-01-01T00:00:00+00:00"
    assert [f.kind for f in v.evidence.files] == ["clip_raw", "metadata"]
    newer = {**msg, "something_new": 1}  # a newer producer's extra field is ignored
    assert parse_violation(encode(newer)).event_id == v.event_id


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": "not-a-uuid"},
        {"schema": 2},
        {"time": "2026-01-01T00:00:00"},
        {
            "evidence": {
                "complete": True,
                "files": [{"path": "x", "kind": "k", "sha256": "XYZ", "bytes": 1}],
            }
        },
        {"camera_id": "other"},
    ],
)
def test_parse_refuses_bad_messages(catalogue: ViolationCatalogue, change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parse_violation(encode({**_message(catalogue), **change}))
    good, bad = judge([b"{not json", encode(_message(catalogue)), None])
    assert len(good) == 1 and len(bad) == 2


@pytest.mark.integration
async def test_store_is_idempotent(
    database_url: str, tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    with psycopg.connect(database_url) as conn:
        migrate(conn, retention_days=400)
    rt = Runtime(Settings(home=tmp_path, database_url=database_url), database_url, load_catalogue())
    await rt.started()
    try:
        one, two = encode(_message(catalogue, 7)), encode(_message(catalogue, 8))
        assert await process(rt, [one, two, b"garbage"]) == 2
        assert await process(rt, [one, two]) == 0  # redelivery / restart: nothing new
    finally:
        await rt.close()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT camera_id, rule, status, legal->>'citation', "
            "measured->>'signal' FROM violations ORDER BY track_id"
        ).fetchall()
        assert (
            rows
            == [
                (
                    "cam-v",
                    "red_light",
                    "pending",
                    "Điểm c khoản 7 Điều 7 Nghị định 168/2024/NĐ-CP",
                    "red",
                )
            ]
            * 2
        )
        assert conn.execute("SELECT count(*) FROM violation_evidence").fetchone() == (4,)
        assert conn.execute("SELECT name, area_id FROM cameras").fetchall() == [("Cam V", "303")]
        dead = conn.execute("SELECT reason FROM dead_letters WHERE source = 'violations'")
        assert dead.fetchall() == [("invalid_violation",)]
    assert json.loads(one)["status"] == "pending"
