"""Restart the web server under a connected browser: the page goes offline, reconnects by
itself with its session cookie (sessions live in the database, not in the process) and
resyncs from a *fresh* snapshot - one that shows a reading stored while the server was down.

Real Chromium (Playwright), a real ``ioc dashboard`` killed with SIGKILL and started again on
the same port. Screenshots: ``/tmp/ioc-fault-restart-{before,offline,after}.png``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fixtures.dashboard import add_user
from playwright.sync_api import Browser, expect

from ioc.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.browser, pytest.mark.integration]

SHOTS = Path("/tmp")
TIMEOUT_MS = 60_000


def _latest(settings: Settings, value: float) -> None:
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        conn.execute(
            "INSERT INTO latest_readings VALUES ('hp-aq-lechan', 'pm25', %s, %s, 'ug/m3')"
            " ON CONFLICT (sensor_id, quantity) DO UPDATE SET time = EXCLUDED.time,"
            " value = EXCLUDED.value",
            (datetime.now(UTC), value),
        )


def test_browser_reconnects_and_resyncs_after_a_server_restart(
    dashboard_settings: Settings,
    dashboard_process: Callable[[Settings], Any],
    browser: Browser,
) -> None:
    server = dashboard_process(dashboard_settings)
    name = f"operator-{secrets.token_hex(3)}"
    password = add_user(dashboard_settings, name, "operator")
    _latest(dashboard_settings, 21.0)

    snapshots: list[float] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda frame: (
                snapshots.append(time.monotonic()) if '"type":"snapshot"' in str(frame) else None
            ),
        ),
    )
    page.goto(server.base_url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login-submit")
    conn = page.locator("#conn")
    lechan = page.locator('[data-sensor="hp-aq-lechan"][data-quantity="pm25"] .value')
    expect(conn).to_have_attribute("data-state", "live")
    expect(lechan).to_have_text("21,0")
    page.screenshot(path=str(SHOTS / "ioc-fault-restart-before.png"))
    before = len(snapshots)
    assert before >= 1

    server.kill()
    killed_at = time.monotonic()
    expect(conn).to_have_attribute("data-state", "offline")
    page.screenshot(path=str(SHOTS / "ioc-fault-restart-offline.png"))
    _latest(dashboard_settings, 77.0)  # stored while no server runs: only a snapshot shows it
    server.start()

    expect(conn).to_have_attribute("data-state", "live")
    expect(lechan).to_have_text("77,0")
    recovered = time.monotonic() - killed_at
    assert len(snapshots) > before  # a fresh snapshot after the reconnect
    assert page.url.rstrip("/") == server.base_url  # not bounced to the login page
    page.screenshot(path=str(SHOTS / "ioc-fault-restart-after.png"))
    print(f"\n[faults] web server kill -9 + restart: page live again after {recovered:.1f} s")
    page.close()
