"""Open311 rendering (JSON/XML, GeoReport errors) and the agent's message validation (pure)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from dashboard.open311.render import georeport_error, render, to_xml
from ioc.feedback.intake import ReportMessage, new_token, new_tracking_code
from streams.agents.feedback import judge


def test_xml_lists_nulls_and_booleans() -> None:
    doc = [{"service_code": "flooding", "metadata": False, "lat": None, "attributes": []}]
    root = ET.fromstring(to_xml("services", "service", doc))
    assert root.tag == "services"
    service = root.find("service")
    assert service is not None
    assert service.findtext("metadata") == "false" and service.findtext("lat") == ""
    assert service.find("attributes") is not None


def test_json_and_error_bodies() -> None:
    answer = render("json", "services", "service", [{"service_name": "Ngập úng"}])
    assert json.loads(answer.body) == [{"service_name": "Ngập úng"}]
    err = georeport_error("xml", 400, "description is required", code="missing_description")
    assert err.status_code == 400 and err.media_type is not None and "xml" in err.media_type
    root = ET.fromstring(bytes(err.body))
    assert root.findtext("error/code") == "400"
    assert root.findtext("error/description") == "description is required"
    assert json.loads(georeport_error("json", 404, "no").body) == [
        {"code": 404, "description": "no"}
    ]


def test_agent_dead_letters_unusable_messages_with_a_reason() -> None:
    good = ReportMessage(
        report_id=new_tracking_code(),
        token=new_token(),
        received_at=datetime.now(UTC),
        description="Ngập",
        contact={"email": "lan@example.vn"},  # type: ignore[arg-type]
    )
    naive = good.encode().replace(b"+00:00", b"").replace(b"Z", b"")
    ok, bad = judge([good.encode(), b"{", None, naive, b'{"schema": 2}'])
    assert ok == [good]
    assert len(bad) == 4 and all(reason for _, reason in bad)
    assert all("lan@example.vn" not in reason for _, reason in bad)
