"""Citizen feedback end to end in headless Chromium.

A citizen files a report with a photo from the citizen page on a phone-sized screen (pin on
the district map) and gets a tracking code; the report goes through Kafka and the worker;
a drainage officer logs in, finds it in the work queue and resolves it with a note and a
photo; the citizen's status page then shows the resolution (Vietnamese, then English).
Screenshots: ``/tmp/ioc-citizen-*.png``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from feedback.env import WebServer, web_server
from fixtures.dashboard import add_user
from fixtures.streams import wait_for
from playwright.sync_api import Browser, expect

from ioc.feedback.media import jpeg_with_gps
from ioc.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHOTS = Path("/tmp")
TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(
    streams_settings: Settings, worker_factory: Callable[..., Any], streams_dir: Path
) -> Iterator[WebServer]:
    worker_factory(streams_settings)
    with web_server(streams_settings, streams_dir / "dashboard.log") as web:
        yield web


def test_report_with_photo_is_resolved_and_the_citizen_sees_it(
    server: WebServer, browser: Browser, tmp_path: Path
) -> None:
    photo = tmp_path / "ngap.jpg"
    photo.write_bytes(jpeg_with_gps(20.8561, 106.6822, size=(320, 240)))

    # 1. the citizen files a report on a phone
    citizen = browser.new_page(viewport=PHONE)
    citizen.set_default_timeout(TIMEOUT_MS)
    citizen.goto(server.base_url + "/feedback")
    expect(citizen.locator("h1")).to_have_text("Phản ánh kiến nghị")
    expect(citizen.locator("#map path").first).to_be_attached()
    citizen.fill("#description", "Đường Trần Nguyên Hãn ngập sâu sau mưa, xe máy chết máy")
    box = citizen.locator("#map").bounding_box()
    assert box is not None
    citizen.mouse.click(box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.42)
    expect(citizen.locator("#pin-text")).to_contain_text("Đã ghim")
    citizen.fill("#address_string", "Trần Nguyên Hãn, Lê Chân")
    citizen.set_input_files("#media", str(photo))
    citizen.screenshot(path=str(SHOTS / "ioc-citizen-form.png"), full_page=True)
    citizen.click("#submit")
    expect(citizen.locator("#done")).to_be_visible()
    code = citizen.locator("#tracking-code").inner_text()
    assert re.fullmatch(r"HP-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    citizen.screenshot(path=str(SHOTS / "ioc-citizen-code.png"), full_page=True)

    status_api = f"{server.base_url}/feedback/api/status/{code}"
    doc = wait_for(
        lambda: (r := httpx.get(status_api, timeout=10)).status_code == 200 and r.json(),
        "the report stored by the worker",
    )
    assert doc["service_code"] == "flooding" and len(doc["photos"]) == 1

    # 2. a drainage officer resolves it from the work queue
    name = f"thoat-nuoc-{secrets.token_hex(3)}"
    password = add_user(server.settings, name, "department", "drainage")
    officer = browser.new_page(viewport={"width": 1280, "height": 900})
    officer.set_default_timeout(TIMEOUT_MS)
    officer.goto(server.base_url + "/feedback/queue")
    officer.fill("#username", name)
    officer.fill("#password", password)
    officer.click("#login-submit")
    expect(officer).to_have_url(re.compile(r"/feedback/queue$"))
    row = officer.locator(f"tr[data-id='{code}']")
    row.click()
    expect(officer.locator("#d-code")).to_have_text(code)
    officer.click("button[data-action='accept']")
    expect(officer.locator("#d-status")).to_have_text("in_progress")
    officer.fill("#a-text", "Nước ngập sâu khoảng bao nhiêu?")
    officer.click("button[data-action='request_info']")
    expect(officer.locator("#d-timeline")).to_contain_text("Nước ngập sâu khoảng bao nhiêu?")

    # the citizen answers on the status page (the token was kept by the browser)
    citizen.click("#status-link")
    expect(citizen.locator("#timeline")).to_contain_text("Nước ngập sâu khoảng bao nhiêu?")
    citizen.fill("#reply-text", "Khoảng 40 cm, ngập cả vỉa hè.")
    citizen.click("#reply-send")
    expect(citizen.locator("#timeline")).to_contain_text("Khoảng 40 cm, ngập cả vỉa hè.")
    citizen.screenshot(path=str(SHOTS / "ioc-citizen-reply.png"), full_page=True)
    officer.locator(f"tr[data-id='{code}']").click()
    expect(officer.locator("#d-timeline")).to_contain_text("Khoảng 40 cm")
    officer.fill("#a-text", "Đã nạo vét cống, nước đã rút hết lúc 10 giờ.")
    done = tmp_path / "xong.jpg"
    done.write_bytes(jpeg_with_gps(20.8561, 106.6822, size=(240, 320)))
    officer.set_input_files("#a-photo", str(done))
    officer.click("button[data-action='resolve']")
    expect(officer.locator("#d-status")).to_have_text("resolved")
    expect(officer.locator("#d-photos img")).to_have_count(2)
    officer.screenshot(path=str(SHOTS / "ioc-citizen-queue.png"), full_page=True)

    # 3. the citizen's status page shows the resolution
    citizen.reload()
    expect(citizen.locator("#status")).to_have_text("Đã xử lý xong")
    expect(citizen.locator("#answer-text")).to_have_text(
        "Đã nạo vét cống, nước đã rút hết lúc 10 giờ."
    )
    # received, routed, taken up, question, answer, resolved
    expect(citizen.locator("#timeline li")).to_have_count(6)
    expect(citizen.locator("#reply")).to_be_hidden()
    expect(citizen.locator("#photos img")).to_have_count(2)
    citizen.screenshot(path=str(SHOTS / "ioc-citizen-status.png"), full_page=True)
    citizen.click("#lang-toggle")
    expect(citizen.locator("#status")).to_have_text("Resolved")
    expect(citizen.locator("#timeline")).to_contain_text("The department took it up")
    citizen.screenshot(path=str(SHOTS / "ioc-citizen-status-en.png"), full_page=True)
