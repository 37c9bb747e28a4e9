"""The live page in headless Chromium: log in, see the snapshot, see a live reading arrive.

The live reading takes the whole real path: HTTP ingest → ``observations.raw`` → the Faust
worker (``ioc worker``, stores it and publishes to ``dashboard``) → the server's feed → hub →
websocket → page. A screenshot is left at ``/tmp/ioc-live-page.png`` for a person to look at.
"""

from __future__ import annotations

import math
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fixtures.dashboard import Dashboard, add_api_key, add_user
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCREENSHOT = Path("/tmp/ioc-live-page.png")
TIMEOUT_MS = 30_000
AIR = {
    "hp-aq-hongbang": ("303", 18.0),
    "hp-aq-ngoquyen": ("304", 38.0),
    "hp-aq-lechan": ("305", 42.0),
    "hp-aq-haian": ("306", 66.0),
    "hp-aq-kienan": ("307", 95.0),
}
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def city(dashboard: Dashboard) -> dict[str, Any]:
    """A believable hour of the city: latest readings, 1-minute rollups, one active alert."""
    assert dashboard.settings.database_url is not None
    alert_id = uuid.uuid4()
    with psycopg.connect(dashboard.settings.database_url.get_secret_value()) as conn:
        for sensor, (area, value) in AIR.items():
            conn.execute(
                "INSERT INTO latest_readings VALUES (%s, 'pm25', %s, %s, 'ug/m3')",
                (sensor, NOW - timedelta(seconds=40), value),
            )
            for minute in range(45):
                mean = value * (1 + 0.18 * math.sin(minute / 6 + int(area))) + minute * 0.2
                conn.execute(
                    "INSERT INTO rollup_area_1m VALUES (%s, %s, 'pm25', 4, %s, %s, %s)",
                    (
                        NOW.replace(second=0) - timedelta(minutes=45 - minute),
                        area,
                        4 * mean,
                        mean * 0.9,
                        mean * 1.1,
                    ),
                )
        for quantity, value, unit in (
            ("temperature", 27.4, "degC"),
            ("humidity", 78.0, "%"),
            ("wind_speed", 3.2, "m/s"),
        ):
            conn.execute(
                "INSERT INTO latest_readings VALUES ('hp-wx-ngoquyen', %s, %s, %s, %s)",
                (quantity, NOW - timedelta(seconds=50), value, unit),
            )
        conn.execute(
            "INSERT INTO alerts VALUES (%s, 'hp-aq-kienan', 'pm25', 'bad', 3, 'active', %s, %s,"
            " NULL, 95.0, 101.0, 'PM2.5 bad at Kien An')",
            (alert_id, NOW - timedelta(minutes=12), NOW - timedelta(minutes=2)),
        )
    return {"alert_id": str(alert_id)}


def ingest(dashboard: Dashboard, key: str, value: float) -> None:
    answer = httpx.post(
        dashboard.base_url + "/api/v1/observations",
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
        json={
            "sensor_id": "hp-aq-lechan",
            "quantity": "pm25",
            "value": value,
            "unit": "ug/m3",
            "time": datetime.now(UTC).isoformat(),
        },
    )
    assert answer.status_code == 202, answer.text


def log_in(page: Page, dashboard: Dashboard, name: str, password: str) -> None:
    page.goto(dashboard.base_url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page).to_have_url(dashboard.base_url + "/")


@pytest.fixture(scope="module")
def worker(dashboard: Dashboard, worker_factory: Callable[..., Any]) -> Any:
    """A real ``ioc worker`` on the dashboard's database, topics and consumer group."""
    return worker_factory(settings=dashboard.settings)


def test_live_page_shows_snapshot_and_live_reading(
    dashboard: Dashboard, city: dict[str, Any], browser: Browser, worker: Any
) -> None:
    name = f"operator-{secrets.token_hex(3)}"
    password = add_user(dashboard.settings, name, "operator")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_default_timeout(TIMEOUT_MS)
    log_in(page, dashboard, name, password)

    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    lechan = page.locator('[data-sensor="hp-aq-lechan"][data-quantity="pm25"]')
    expect(lechan.locator(".value")).to_have_text("42,0")  # Vietnamese decimal comma
    expect(lechan).to_have_class(re.compile(r"\baqi-moderate\b"))
    expect(page.locator('[data-sensor="hp-aq-kienan"][data-quantity="pm25"]')).to_have_class(
        re.compile(r"\baqi-bad\b")
    )
    expect(page.locator(f'[data-alert="{city["alert_id"]}"]')).to_be_visible()
    expect(page.locator("#chart .uplot")).to_be_visible()
    expect(page.locator("#chart .u-legend .u-series")).to_have_count(6)  # x + 5 areas

    ingest(dashboard, add_api_key(dashboard.settings, "browser-sensor", "ingest"), 163.4)
    expect(lechan.locator(".value")).to_have_text("163")
    expect(lechan).to_have_class(re.compile(r"\baqi-very_bad\b"))
    alert = page.locator("#alerts li.alert", has_text="Lê Chân")  # raised by the worker
    expect(alert).to_contain_text("Rất xấu")
    expect(page.locator("#system .worker")).to_contain_text(worker.name)

    page.click("#lang")
    expect(page.locator("h2#h-latest")).to_have_text("Latest readings by area")
    expect(lechan).to_contain_text("Very bad")
    page.click("#lang")
    expect(page.locator("h2#h-latest")).to_have_text("Chỉ số mới nhất theo khu vực")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert not errors, errors
    page.close()


def test_police_sees_the_page_without_the_system_panel(
    dashboard: Dashboard, city: dict[str, Any], browser: Browser
) -> None:
    name = f"police-{secrets.token_hex(3)}"
    password = add_user(dashboard.settings, name, "police")
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log_in(page, dashboard, name, password)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#system-panel")).to_be_hidden()
    expect(page.locator("#user")).to_contain_text("police")
    page.click("form.logout button")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.screenshot(path=str(SCREENSHOT.with_name("ioc-login-page.png")))
    page.goto(dashboard.base_url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.close()
