"""Notice fields and HTML, the case ZIP (contents, hashes, refusal of tampered files),
retention and the YOLO label helpers - all pure."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ioc.review.case import Case, EvidenceRef
from ioc.review.export import Blob, IntegrityError, build_case_zip
from ioc.review.labels import event_frame_index, locate, yolo_line
from ioc.review.notice import build_notice, render_html, vnd
from ioc.review.retention import RetentionPolicy, purge_due
from ioc.review.workflow import WorkflowError

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NAMES = {"red_light": ("Không chấp hành hiệu lệnh của đèn tín hiệu", "Red-light running")}
LEGAL = {
    "citation": "Điểm b khoản 9 Điều 6 Nghị định 168/2024/NĐ-CP",
    "fine_min_vnd": 18_000_000,
    "fine_max_vnd": 20_000_000,
    "points": 4,
}


def case(**changes: object) -> Case:
    base = Case(
        event_id="6f1c1f9e-1c1b-5a53-9d9e-2f3e4d5c6b7a",
        camera_id="cam-1",
        camera_name="Ngã tư <Lạch Tray>",
        camera_lat=20.8561,
        camera_lon=106.6822,
        area_id="303",
        rule="red_light",
        detected_rule="red_light",
        vehicle_class="car",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        where="approach",
        legal=LEGAL,
        measured={"signal": "red"},
        status="confirmed",
        version=1,
        plate="15A12345",
        vehicle_type="car",
        evidence=(EvidenceRef("clip_raw", "cam-1/2026-01-01/e/clip_raw.mp4", "0" * 64, 3),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_notice_carries_the_required_fields_escaped() -> None:
    n = build_notice(case(), NAMES, "Phòng CSGT Hải Phòng", NOW)
    assert (n.plate, n.vehicle_type, n.points) == ("15A12345", "Xe ô tô", 4)
    assert n.fine_range == "18.000.000 đ - 20.000.000 đ" and vnd(600000) == "600.000 đ"
    assert n.time.strftime("%H:%M %d/%m/%Y") == "07:00 01/01/2026"  # Vietnam time
    page = render_html(n)
    for text in (
        "15A12345",
        "Điểm b khoản 9 Điều 6",
        "Phòng CSGT Hải Phòng",
        "07:00:00 01/01/2026",
    ):
        assert text in page
    assert "<Lạch Tray>" not in page and "&lt;Lạch Tray&gt;" in page
    with pytest.raises(WorkflowError):
        build_notice(case(plate=None, status="pending"), NAMES, "u", NOW)


def test_case_zip_has_evidence_metadata_audit_notice_and_checksums() -> None:
    data = b"\x00\x01video"
    blob = Blob("clip_raw", "clip_raw.mp4", hashlib.sha256(data).hexdigest(), data)
    audit = [{"seq": 1, "action": "view", "hash": "a" * 64}]
    raw = build_case_zip({"event_id": "e", "legal": LEGAL}, [blob], audit, "<p>n</p>", NOW, "lan")
    zf = zipfile.ZipFile(io.BytesIO(raw))
    names = set(zf.namelist())
    assert names == {
        "evidence/clip_raw.mp4",
        "case.json",
        "audit.json",
        "notice.html",
        "SHA256SUMS",
    }
    meta = json.loads(zf.read("case.json"))
    assert meta["case"]["legal"]["citation"].startswith("Điểm b")
    assert meta["evidence"][0]["sha256"] == blob.sha256 and meta["exported_by"] == "lan"
    sums = dict(line.split("  ")[::-1] for line in zf.read("SHA256SUMS").decode().splitlines())
    assert set(sums) == names - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(zf.read(name)).hexdigest() == digest
    assert json.loads(zf.read("audit.json")) == audit


def test_case_zip_refuses_a_tampered_file() -> None:
    blob = Blob("clip_raw", "clip_raw.mp4", hashlib.sha256(b"original").hexdigest(), b"edited")
    with pytest.raises(IntegrityError) as err:
        build_case_zip({}, [blob], [], None, NOW, "lan")
    assert err.value.kind == "clip_raw"


def test_retention() -> None:
    policy = RetentionPolicy(unconfirmed_days=30)
    old, young = NOW - timedelta(days=40), NOW - timedelta(days=10)
    assert purge_due("rejected", old, old, NOW, policy)
    assert not purge_due("rejected", old, young, NOW, policy)  # decided 10 days ago
    assert purge_due("pending", old, None, NOW, policy)
    assert not purge_due("confirmed", old, old, NOW, policy)  # limitation period: 1 year
    assert not purge_due("confirmed", NOW - timedelta(days=365), None, NOW, policy)
    assert purge_due("notice_issued", NOW - timedelta(days=400), None, NOW, policy)
    assert not purge_due("appealed", NOW - timedelta(days=900), None, NOW, policy)
    with pytest.raises(ValueError):
        RetentionPolicy(unconfirmed_days=30, confirmed_days=100)


def test_label_helpers_find_the_crop_and_write_yolo_lines() -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    box = (100, 50, 160, 110)  # 60x60 vehicle; crop grown by 15 % each side (9 px)
    crop = frame[41:119, 91:169].copy()
    found, score = locate(frame, crop)
    assert score > 0.99
    assert found == pytest.approx(box, abs=1.0)
    assert yolo_line(0, box, 300, 200) == "0 0.433333 0.400000 0.200000 0.300000"
    assert yolo_line(1, (-10, -10, 30, 20), 300, 200).startswith("1 0.050000 0.050000")
    assert event_frame_index(2.0, 0.45, 0.5, 10.0, 31) == 15
    assert event_frame_index(9.0, 0.0, 0.5, 10.0, 31) == 30
