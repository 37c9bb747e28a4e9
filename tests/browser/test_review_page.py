"""The review page in headless Chromium, end to end with real footage.

Evidence is cut from the shared clip ``vn_cctv_junction_a.mp4`` by the camera pipeline's
own evidence writer (H.264 through imageio-ffmpeg's ffmpeg), the violation goes through the
Kafka topic the pipeline publishes to, the real ``ioc worker`` stores it and announces it on
the dashboard topic, and the page shows it live. The officer plays and seeks the clip,
confirms with a plate using the keyboard, and exports the case; the ZIP's files are checked
against the SHA-256 recorded at capture. Screenshot: ``/tmp/ioc-review-page.png``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixtures.dashboard import Dashboard, add_user
from fixtures.streams import produce, query, wait_for
from playwright.sync_api import Browser, expect
from review.cases import h264_clips, real_case

from streams.agents.violations import encode

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCREENSHOT = Path("/tmp/ioc-review-page.png")
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def worker(dashboard: Dashboard, worker_factory: Callable[..., Any]) -> Any:
    return worker_factory(settings=dashboard.settings)


@pytest.fixture(scope="module")
def footage(dashboard: Dashboard) -> list[dict[str, Any]]:
    root = dashboard.settings.home / "evidence"
    with h264_clips() as codec:
        assert codec == "ffmpeg-libx264"
        return [
            real_case(root, "cam-ui", 11, "red_light", "car"),
            real_case(root, "cam-ui", 12, "red_light", "motorbike", at=2.5),
        ]


def stored(dashboard: Dashboard, event_id: str) -> bool:
    assert dashboard.settings.database_url is not None
    url = dashboard.settings.database_url.get_secret_value()
    return bool(query(url, "SELECT 1 FROM violations WHERE event_id = %s", (event_id,)))


def _meta(case: dict[str, Any]) -> str:
    return next(f["path"] for f in case["evidence"]["files"] if f["kind"] == "metadata")


def test_review_a_real_case_end_to_end(
    dashboard: Dashboard,
    worker: Any,
    footage: list[dict[str, Any]],
    browser: Browser,
    tmp_path: Path,
) -> None:
    first, second = footage
    produce(dashboard.settings, "violations", [encode(first)])
    wait_for(lambda: stored(dashboard, first["event_id"]), "the worker to store the violation")
    name = f"officer-{secrets.token_hex(3)}"
    password = add_user(dashboard.settings, name, "police")
    context = browser.new_context(accept_downloads=True, viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(dashboard.base_url + "/review")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Freview$"))
        page.fill("#username", name)
        page.fill("#password", password)
        page.click("#login-submit")
        expect(page).to_have_url(dashboard.base_url + "/review")
        queue = page.locator("#queue li")
        expect(queue).to_have_count(1)
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        # a new violation arrives live, without a reload
        produce(dashboard.settings, "violations", [encode(second)])
        expect(queue).to_have_count(2)
        expect(page.locator(f'#queue li[data-id="{second["event_id"]}"]')).to_have_class(
            re.compile("fresh")
        )
        expect(page.locator("#newcount")).to_contain_text("+1")
        # newest first; the selection stayed on the case being looked at; j/k move
        expect(queue.first).to_have_attribute("data-id", second["event_id"])
        expect(page.locator("#queue li.sel")).to_have_attribute("data-id", first["event_id"])
        page.locator("body").press("k")
        expect(page.locator("#queue li.sel")).to_have_attribute("data-id", second["event_id"])
        page.locator("body").press("j")
        expect(page.locator("#queue li.sel")).to_have_attribute("data-id", first["event_id"])
        expect(page.locator("#c-sub")).to_contain_text(first["event_id"])
        expect(page.locator("#facts")).to_contain_text("Điểm b khoản 9 Điều 6")
        expect(page.locator("#facts")).to_contain_text("18.000.000")
        expect(page.locator("#frames img")).to_have_count(4)
        expect(page.locator("#map-camera")).to_have_count(1)  # the camera on the district map
        expect(page.locator("#map polygon").nth(9)).to_be_attached()  # >= 10 district outlines
        expect(page.locator("#map-cap")).to_contain_text("20.85610, 106.68220")
        # what judged it, from the evidence metadata: the weights and the camera's config
        prov = json.loads((dashboard.settings.home / "evidence" / _meta(first)).read_text())
        weights = prov["provenance"]["detector"]["weights_sha256"]
        expect(page.locator("#facts tr.provenance")).to_have_count(2)
        expect(page.locator("#facts")).to_contain_text(f"sha256 {weights[:16]}")
        config = prov["provenance"]["camera"]["config_sha256"]
        expect(page.locator("#facts")).to_contain_text(f"sha256 {config[:16]} · 5 lần/s · 640 px")
        # the annotated clip plays and is seekable (served with Range support)
        video = page.locator("#video")
        page.wait_for_function(
            "() => { const v = document.getElementById('video');"
            " return v.readyState >= 2 && v.currentTime > 0.5; }"
        )
        assert page.evaluate("() => document.getElementById('video').duration") > 2.5
        page.evaluate(
            "() => { const v = document.getElementById('video'); v.pause(); v.currentTime = 2.0; }"
        )
        page.wait_for_function(
            "() => Math.abs(document.getElementById('video').currentTime - 2.0) < 0.2"
        )
        page.locator("body").press(" ")  # space: replay from the start
        page.wait_for_function("() => !document.getElementById('video').paused")
        page.click("#show-raw")
        expect(video).to_have_attribute("src", re.compile("/evidence/clip_raw$"))
        page.wait_for_function("() => document.getElementById('video').readyState >= 2")
        # frames are loaded (each through the audited evidence route)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#frames img')].every(i => i.naturalWidth > 0)"
        )
        # confirm with the keyboard: c without a plate asks for it; then c confirms
        page.locator("body").press("c")
        expect(page.locator("#msg")).to_contain_text("biển số")
        page.fill("#plate", "15A-678.90")
        page.select_option("#vehicle", "car")
        page.locator("#plate").press("Escape")
        page.locator("body").press("c")
        expect(page.locator("#msg")).to_contain_text("pending → confirmed")
        expect(page.locator("#facts")).to_contain_text("15A67890")
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        with page.expect_download() as info:
            page.click("#export")
        target = tmp_path / "case.zip"
        info.value.save_as(target)
    finally:
        context.close()
    assert errors == []
    zf = zipfile.ZipFile(target)
    for f in first["evidence"]["files"]:
        data = zf.read("evidence/" + f["path"].rsplit("/", 1)[1])
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
    meta = json.loads(zf.read("case.json"))
    assert meta["case"]["status"] == "confirmed" and meta["case"]["plate"] == "15A67890"
    assert meta["case"]["legal"]["citation"] == first["legal"]["citation"]
    assert "15A67890" in zf.read("notice.html").decode()
    actions = [a["action"] for a in json.loads(zf.read("audit.json"))]
    assert actions.count("view") >= 1 and "decide" in actions and actions[-1] == "export"
    assert actions.count("evidence") >= 6  # clips and frames, each request audited
    for line in zf.read("SHA256SUMS").decode().splitlines():
        digest, member = line.split("  ")
        assert hashlib.sha256(zf.read(member)).hexdigest() == digest
