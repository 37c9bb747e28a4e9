"""Open311 GeoReport v2 conformance against the running web server and a real worker.

Every endpoint in both formats, bad input (400/403/404/413/415/429 in GeoReport format,
nothing half-stored), EXIF location used then stripped, the agent's routing, duplicate
linking, dead letters and idempotency; and the department work queue driving the
lifecycle, visible through Open311 and the citizen status API.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from feedback.env import WebServer, web_server
from fixtures.dashboard import add_api_key, add_user, login
from fixtures.streams import dashboard_messages, produce, query, wait_for
from PIL import Image

from ioc.feedback.intake import ReportMessage, new_token, new_tracking_code
from ioc.feedback.media import jpeg_with_gps
from ioc.settings import Settings

pytestmark = pytest.mark.integration

LECHAN = (20.8466, 106.6881)  # Lê Chân, Hai Phong
MAX_PHOTO = 60_000


@pytest.fixture(scope="module")
def fb_settings(streams_settings: Settings) -> Settings:
    return streams_settings.model_copy(
        update={
            "feedback_rate_limit": 40,
            "feedback_max_photo_bytes": MAX_PHOTO,
            "feedback_deadline_interval_s": 1.0,
        }
    )


@pytest.fixture(scope="module")
def server(
    fb_settings: Settings, worker_factory: Callable[..., Any], streams_dir: Path
) -> Iterator[WebServer]:
    worker_factory(fb_settings)
    with web_server(fb_settings, streams_dir / "dashboard.log") as web:
        yield web


@pytest.fixture(scope="module")
def api_key(server: WebServer) -> str:
    return add_api_key(server.settings, f"app-{secrets.token_hex(3)}", "operator")


@pytest.fixture(scope="module")
def http(server: WebServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url + "/open311/v2", timeout=30) as client:
        yield client


def db(server: WebServer) -> str:
    assert server.settings.database_url is not None
    return server.settings.database_url.get_secret_value()


def xml(answer: httpx.Response) -> ET.Element:
    assert answer.headers["content-type"].startswith("text/xml"), answer.headers
    return ET.fromstring(answer.content)


def stored(server: WebServer, http: httpx.Client, rid: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        answer = http.get(f"/requests/{rid}.json")
        return answer.json()[0] if answer.status_code == 200 else None

    return wait_for(probe, f"report {rid} stored by the agent")


def post(
    http: httpx.Client, api_key: str, fmt: str = "json", files: Any = None, **fields: Any
) -> httpx.Response:
    data = {"api_key": api_key, **{k: str(v) for k, v in fields.items()}}
    return http.post(f"/requests.{fmt}", data=data, files=files)


def noisy_jpeg(size: int) -> bytes:
    """A real JPEG larger than ``size`` bytes (random pixels do not compress)."""
    side = 64
    while True:
        img = Image.frombytes("RGB", (side, side), secrets.token_bytes(side * side * 3))
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=95)
        if out.tell() > size:
            return out.getvalue()
        side *= 2


# --- services ---------------------------------------------------------------------------


def test_services_list_in_both_formats(http: httpx.Client) -> None:
    doc = http.get("/services.json").json()
    codes = {s["service_code"] for s in doc}
    assert {"flooding", "streetlight-out", "garbage-uncollected"} <= codes
    flood = next(s for s in doc if s["service_code"] == "flooding")
    assert set(flood) >= {"service_name", "description", "metadata", "type", "keywords", "group"}
    assert flood["metadata"] is False and flood["type"] == "realtime"
    root = xml(http.get("/services.xml"))
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} == codes
    assert root.find("service/metadata").text == "false"  # type: ignore[union-attr]


def test_service_definition_and_unknown_code(http: httpx.Client) -> None:
    assert http.get("/services/flooding.json").json() == {
        "service_code": "flooding",
        "attributes": [],
    }
    root = xml(http.get("/services/flooding.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "flooding"
    missing = http.get("/services/no-such.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and missing.json()[0]["description"]
    root = xml(http.get("/services/no-such.xml"))
    assert root.tag == "errors" and root.findtext("error/code") == "404"
    assert http.get("/services.html").status_code == 404


# --- POST requests -----------------------------------------------------------------------


def test_post_needs_a_valid_api_key(http: httpx.Client) -> None:
    fields = {"service_code": "flooding", "description": "ngập", "lat": 20.85, "long": 106.69}
    for key in ("", "ioc_000000000000_forged"):
        answer = post(http, key, **fields)
        assert answer.status_code == 403
        assert answer.json()[0]["code"] == 403
    answer = post(http, "", fmt="xml", **fields)
    assert answer.status_code == 403 and xml(answer).findtext("error/code") == "403"


def test_post_json_then_read_back_everywhere(
    server: WebServer, http: httpx.Client, api_key: str
) -> None:
    answer = post(
        http,
        api_key,
        service_code="streetlight-out",
        description="Đèn đường trước số 12 Tô Hiệu hỏng cả tuần nay",
        lat=LECHAN[0],
        long=LECHAN[1],
        address_string="12 Tô Hiệu, Lê Chân",
        email="citizen@example.vn",
        phone="0912 345 678",
        first_name="Lan",
    )
    assert answer.status_code == 201, answer.text
    (created,) = answer.json()
    rid, token = created["service_request_id"], created["token"]
    assert rid.startswith("HP-") and token
    doc = stored(server, http, rid)
    assert doc["status"] == "open" and doc["service_code"] == "streetlight-out"
    assert doc["agency_responsible"] and doc["expected_datetime"]
    assert doc["lat"] == pytest.approx(LECHAN[0]) and doc["long"] == pytest.approx(LECHAN[1])
    assert doc["address"] == "12 Tô Hiệu, Lê Chân"
    assert "example.vn" not in json.dumps(doc) and "0912" not in json.dumps(doc)
    root = xml(http.get(f"/requests/{rid}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == rid
    assert root.findtext("request/status") == "open"
    assert http.get(f"/tokens/{token}.json").json() == [{"service_request_id": rid, "token": token}]
    assert xml(http.get(f"/tokens/{token}.xml")).findtext("request/service_request_id") == rid
    assert http.get("/tokens/unknown-token-000000.json").status_code == 404
    assert http.get("/requests/HP-2222-2222.json").status_code == 404
    # contact kept apart, never logged
    assert query(
        db(server), "SELECT email FROM feedback_contacts WHERE report_id = %s", (rid,)
    ) == [("citizen@example.vn",)]
    assert "citizen@example.vn" not in server.log.read_text()


def test_post_xml_with_photo_uses_then_strips_exif_location(
    server: WebServer, http: httpx.Client, api_key: str
) -> None:
    photo = jpeg_with_gps(20.8611, 106.6838)
    answer = post(
        http,
        api_key,
        fmt="xml",
        files={"media": ("p.jpg", photo, "image/jpeg")},
        service_code="garbage-uncollected",
        description="Rác không được thu gom ba ngày ở đầu ngõ",
    )
    assert answer.status_code == 201, answer.text
    rid = xml(answer).findtext("request/service_request_id")
    assert rid
    doc = stored(server, http, rid)
    assert doc["lat"] == pytest.approx(20.8611, abs=1e-4)
    assert doc["long"] == pytest.approx(106.6838, abs=1e-4)
    assert doc["media_url"]
    image = httpx.get(doc["media_url"], timeout=30)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(image.content)).getexif()  # no GPS, no camera make
    digest = hashlib.sha256(image.content).hexdigest()
    assert doc["media_url"].endswith(digest)
    assert query(
        db(server), "SELECT location_source FROM feedback_reports WHERE report_id = %s", (rid,)
    ) == [("exif",)]


def _count(server: WebServer) -> int:
    return int(query(db(server), "SELECT count(*) FROM feedback_reports")[0][0])


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_input_is_refused_in_the_callers_format_and_nothing_is_stored(
    server: WebServer, http: httpx.Client, api_key: str, fmt: str
) -> None:
    media_dir = server.settings.home / "feedback-media"
    files_before = sorted(media_dir.rglob("*")) if media_dir.exists() else []
    where = {"lat": LECHAN[0], "long": LECHAN[1]}
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    cases: list[tuple[int, dict[str, Any], Any]] = [
        (400, {"service_code": "flooding", **where}, None),  # no description
        (400, {"service_code": "flooding", "description": "ngập"}, None),  # no location
        (400, {"description": "x" * 5000, **where}, None),  # too long
        (400, {"service_code": "no-such", "description": "ngập", **where}, None),
        (400, {"description": "ngập", "lat": "abc", "long": "106.6"}, None),
        (
            413,
            {"description": "ảnh lớn", **where},
            {"media": ("big.jpg", noisy_jpeg(MAX_PHOTO), "image/jpeg")},
        ),
        (
            415,
            {"description": "không phải ảnh", **where},
            {"media": ("a.jpg", b"%PDF-1.4 not an image", "image/jpeg")},
        ),
        (
            415,
            {"description": "ảnh nói dối", **where},
            {"media": ("a.jpg", png.getvalue(), "image/jpeg")},
        ),
    ]
    before = _count(server)
    for status, fields, files in cases:
        answer = post(http, api_key, fmt=fmt, files=files, **fields)
        assert answer.status_code == status, (fields.keys(), answer.text)
        if fmt == "json":
            (err,) = answer.json()
            assert err["code"] == status and err["description"] and err["error"]
        else:
            root = xml(answer)
            assert root.tag == "errors" and root.findtext("error/code") == str(status)
    # a valid report sent afterwards is stored; none of the refused ones ever will be
    ok = post(http, api_key, description="Ổ gà lớn giữa đường Lạch Tray", **where)
    stored(server, http, ok.json()[0]["service_request_id"])
    assert _count(server) == before + 1
    files_after = sorted(media_dir.rglob("*")) if media_dir.exists() else []
    assert files_after == files_before


def test_requests_list_filters(server: WebServer, http: httpx.Client, api_key: str) -> None:
    ids = []
    for code, text in (("noise", "Karaoke hát to sau 23 giờ"), ("pipe-leak", "Vỡ ống nước sạch")):
        answer = post(http, api_key, service_code=code, description=text, lat=20.83, long=106.70)
        ids.append(answer.json()[0]["service_request_id"])
    for rid in ids:
        stored(server, http, rid)
    both = http.get("/requests.json", params={"service_request_id": ",".join(ids)}).json()
    assert sorted(d["service_request_id"] for d in both) == sorted(ids)
    noise = http.get("/requests.json", params={"service_code": "noise"}).json()
    assert ids[0] in {d["service_request_id"] for d in noise}
    assert all(d["service_code"] == "noise" for d in noise)
    assert ids[0] in {
        d["service_request_id"]
        for d in http.get("/requests.json", params={"status": "open"}).json()
    }
    assert ids[0] not in {
        d["service_request_id"]
        for d in http.get("/requests.json", params={"status": "closed"}).json()
    }
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert http.get("/requests.json", params={"start_date": future}).json() == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    window = http.get("/requests.json", params={"start_date": past, "end_date": future}).json()
    assert set(ids) <= {d["service_request_id"] for d in window}
    root = xml(http.get("/requests.xml", params={"service_request_id": ids[1]}))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [ids[1]]
    bad = http.get("/requests.json", params={"start_date": "yesterday"})
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400
    assert http.get("/requests.xml", params={"status": "maybe"}).status_code == 400


# --- agent: routing, duplicates, dead letters, idempotency -------------------------------


def test_duplicates_are_linked_to_one_case(
    server: WebServer, http: httpx.Client, api_key: str
) -> None:
    first = post(
        http,
        api_key,
        description="Đường Hai Bà Trưng ngập sâu sau mưa lớn",
        lat=20.8600,
        long=106.6800,
    )
    case = first.json()[0]["service_request_id"]
    assert stored(server, http, case)["service_code"] == "flooding"  # classified
    near = post(
        http,
        api_key,
        description="Ngập sâu đường Hai Bà Trưng, xe chết máy",
        lat=20.8610,
        long=106.6805,
    )
    far = post(http, api_key, description="Đường ngập sâu sau mưa lớn", lat=20.7200, long=106.7800)
    near_id, far_id = near.json()[0]["service_request_id"], far.json()[0]["service_request_id"]
    assert stored(server, http, near_id)["case_id"] == case
    assert stored(server, http, far_id)["case_id"] is None
    ctx = query(db(server), "SELECT context FROM feedback_reports WHERE report_id = %s", (case,))[
        0
    ][0]
    assert set(ctx) == {"cameras", "readings"}


def test_invalid_messages_are_dead_lettered_and_redelivery_is_idempotent(
    server: WebServer, http: httpx.Client
) -> None:
    produce(
        server.settings, "feedback.reports", [b'{"schema": 1, "report_id": "nope"}', b"not json"]
    )
    msg = ReportMessage(
        report_id=new_tracking_code(),
        token=new_token(),
        received_at=datetime.now(UTC),
        description="Cây đổ chắn ngang đường",
        lat=20.85,
        lon=106.68,
    )
    produce(server.settings, "feedback.reports", [msg.encode(), msg.encode()])
    stored(server, http, msg.report_id)
    wait_for(
        lambda: (
            query(db(server), "SELECT count(*) FROM dead_letters WHERE source = 'feedback'")[0][0]
            >= 2
        ),
        "two feedback dead letters",
    )
    assert query(
        db(server), "SELECT count(*) FROM feedback_reports WHERE report_id = %s", (msg.report_id,)
    ) == [(1,)]
    assert query(
        db(server),
        "SELECT count(*) FROM feedback_events WHERE report_id = %s AND kind = 'received'",
        (msg.report_id,),
    ) == [(1,)]


def test_low_confidence_goes_to_triage(server: WebServer, http: httpx.Client, api_key: str) -> None:
    rid = post(http, api_key, description="xyz qwerty asdf", lat=20.85, long=106.68).json()[0][
        "service_request_id"
    ]
    doc = stored(server, http, rid)
    assert doc["detailed_status"] == "triage" and doc["service_code"] is None


# --- department work queue ---------------------------------------------------------------


def test_department_queue_drives_the_lifecycle(
    server: WebServer, http: httpx.Client, api_key: str
) -> None:
    s = server.settings
    drainage, lighting = f"drain-{secrets.token_hex(3)}", f"light-{secrets.token_hex(3)}"
    staff = login(server.base_url, drainage, add_user(s, drainage, "department", "drainage"))
    other = login(server.base_url, lighting, add_user(s, lighting, "department", "lighting"))
    op_name = f"op-{secrets.token_hex(3)}"
    operator = login(server.base_url, op_name, add_user(s, op_name, "operator"))
    (created,) = post(
        http,
        api_key,
        service_code="flooding",
        description="Ngập ở ngõ 5 Nguyễn Đức Cảnh",
        lat=20.70,
        long=106.60,
    ).json()
    case, case_token = created["service_request_id"], created["token"]
    dup = post(
        http,
        api_key,
        service_code="flooding",
        description="Ngõ 5 Nguyễn Đức Cảnh ngập",
        lat=20.7001,
        long=106.6001,
    ).json()[0]["service_request_id"]
    stored(server, http, case)
    assert stored(server, http, dup)["case_id"] == case

    mine = staff.get("/api/v1/feedback/queue").json()
    assert case in {i["report_id"] for i in mine["items"]} and mine["department"] == "drainage"
    assert dup not in {i["report_id"] for i in mine["items"]}  # one case, several reporters
    assert next(i for i in mine["items"] if i["report_id"] == case)["reporters"] == 2
    assert case not in {i["report_id"] for i in other.get("/api/v1/feedback/queue").json()["items"]}
    assert other.post(f"/api/v1/feedback/reports/{case}/accept").status_code == 403
    assert other.get(f"/api/v1/feedback/reports/{case}").status_code == 403
    assert other.get("/api/v1/feedback/queue?triage=1").status_code == 403
    assert httpx.get(server.base_url + "/api/v1/feedback/queue").status_code == 401

    accepted = staff.post(f"/api/v1/feedback/reports/{case}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "in_progress"
    assert (
        staff.post(f"/api/v1/feedback/reports/{case}/accept").json()["error"]
        == "illegal_transition"
    )
    assert staff.post(f"/api/v1/feedback/reports/{case}/request_info", data={}).status_code == 400
    asked = staff.post(
        f"/api/v1/feedback/reports/{case}/request_info", data={"question": "Ngập sâu bao nhiêu?"}
    )
    assert asked.status_code == 200 and asked.json()["status"] == "in_progress"
    reply_url = f"{server.base_url}/feedback/api/status/{case}/reply"
    wrong = httpx.post(reply_url, data={"token": "not-the-token", "message": "30 cm"})
    assert wrong.status_code == 404
    assert httpx.post(reply_url, data={"token": case_token, "message": " "}).status_code == 400
    replied = httpx.post(reply_url, data={"token": case_token, "message": "Ngập khoảng 30 cm"})
    assert replied.status_code == 201, replied.text
    timeline = staff.get(f"/api/v1/feedback/reports/{case}").json()["timeline"]
    assert [(e["kind"], e["actor"], e["note"]) for e in timeline][-1] == (
        "citizenreply",
        "citizen",
        "Ngập khoảng 30 cm",
    )
    detail = staff.get(f"/api/v1/feedback/reports/{case}").json()
    assert detail["contact"] is None or "email" in detail["contact"]
    photo = jpeg_with_gps(20.70, 106.60)
    resolved = staff.post(
        f"/api/v1/feedback/reports/{case}/resolve",
        data={"note": "Đã nạo vét cống, nước đã rút."},
        files={"media": ("done.jpg", photo, "image/jpeg")},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert [p["role"] for p in resolved.json()["photos"]] == ["resolution"]

    assert httpx.post(reply_url, data={"token": case_token, "message": "còn"}).status_code == 409
    for rid in (case, dup):  # every reporter sees the shared resolution
        doc = http.get(f"/requests/{rid}.json").json()[0]
        assert doc["status"] == "closed" and doc["status_notes"] == "Đã nạo vét cống, nước đã rút."
    status = httpx.get(f"{server.base_url}/feedback/api/status/{dup}").json()
    kinds = [e["kind"] for e in status["timeline"]]
    assert {"received", "linked", "acknowledged", "inforequested", "resolved"} <= set(kinds)
    assert "citizenreply" in kinds
    assert all(e["by"] in ("staff", "system", "citizen") for e in status["timeline"])
    assert drainage not in json.dumps(status)

    # an operator reassigns a triaged report: kept as a training label
    rid = post(http, api_key, description="abc def ghi", lat=20.85, long=106.68).json()[0][
        "service_request_id"
    ]
    stored(server, http, rid)
    assert rid in {
        i["report_id"] for i in operator.get("/api/v1/feedback/queue?triage=1").json()["items"]
    }
    moved = operator.post(
        f"/api/v1/feedback/reports/{rid}/reassign",
        data={"category": "road-damage", "reason": "ổ gà"},
    )
    assert moved.status_code == 200 and moved.json()["department"] == "transport"
    assert query(
        db(server),
        "SELECT category, actor, reason FROM feedback_labels WHERE report_id = %s",
        (rid,),
    ) == [("road-damage", op_name, "ổ gà")]
    rejected = operator.post(f"/api/v1/feedback/reports/{rid}/reject", data={"reason": "Trùng lặp"})
    assert rejected.json()["status"] == "rejected"
    for client in (staff, other, operator):
        client.close()


def test_overdue_reports_raise_alerts_and_kpis(server: WebServer, http: httpx.Client) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    msg = ReportMessage(
        report_id=new_tracking_code(),
        token=new_token(),
        received_at=old,
        service_code="flooding",
        description="Ngập lâu ngày chưa ai xử lý",
        lat=20.95,
        lon=106.55,
    )
    produce(server.settings, "feedback.reports", [msg.encode()])
    stored(server, http, msg.report_id)
    wait_for(
        lambda: (
            query(
                db(server),
                "SELECT overdue_ack AND overdue_resolve FROM feedback_reports WHERE report_id = %s",
                (msg.report_id,),
            )
            == [(True,)]
        ),
        "report flagged overdue",
    )
    messages = wait_for(
        lambda: [
            m
            for m in dashboard_messages(server.settings)
            if m.get("type") == "feedback.overdue" and m["report_id"] == msg.report_id
        ],
        "feedback.overdue message",
    )
    assert len(messages) == 1 and sorted(messages[0]["missed"]) == ["ack", "resolve"]
    kpis = wait_for(
        lambda: [
            m
            for m in dashboard_messages(server.settings)
            if m.get("type") == "feedback.kpi"
            and m["departments"].get("drainage", {}).get("overdue", 0) >= 1
        ],
        "a feedback.kpi message counting the overdue report",
    )
    assert kpis[-1]["overall"]["open"] >= 1
    assert set(kpis[-1]["departments"]["drainage"]) >= {"open", "overdue", "on_time_rate"}


def test_citizen_api_answers_in_its_own_error_format(server: WebServer) -> None:
    base = server.base_url
    services = httpx.get(base + "/feedback/api/services").json()["services"]
    assert {"code", "vi", "en", "group"} <= set(services[0])
    areas = httpx.get(base + "/feedback/api/areas").json()
    assert areas["type"] == "FeatureCollection" and len(areas["features"]) >= 10
    ok = httpx.post(
        base + "/feedback/api/reports",
        json={"description": "Cây đổ chắn đường", "address_string": "Văn Cao, Ngô Quyền"},
    )
    assert ok.status_code == 202, ok.text
    assert ok.json()["location_source"] == "address" and ok.json()["code"].startswith("HP-")
    bad = httpx.post(base + "/feedback/api/reports", json={"description": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "missing_location"
    assert (
        httpx.post(
            base + "/feedback/api/reports",
            content=b"{",
            headers={"content-type": "application/json"},
        ).status_code
        == 400
    )
    assert httpx.get(base + "/feedback/api/status/nonsense").status_code == 400
    assert httpx.get(base + "/feedback/api/status/HP-2222-2222").status_code == 404
    assert httpx.get(base + "/feedback/media/" + "0" * 64).status_code == 404
    for page in ("/feedback", "/feedback/status"):
        answer = httpx.get(base + page)
        assert answer.status_code == 200 and "<script" in answer.text
    assert httpx.get(base + "/feedback/queue").status_code in (302, 303)


def test_floods_from_one_address_get_429(
    server: WebServer, http: httpx.Client, api_key: str
) -> None:
    """Last in the module: it exhausts the address' allowance."""
    statuses = []
    for i in range(server.settings.feedback_rate_limit + 1):
        answer = post(http, api_key, description=f"Phản ánh số {i}", lat=20.85, long=106.68)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert answer.json()[0]["code"] == 429 and int(answer.headers["retry-after"]) > 0
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) <= {201}
