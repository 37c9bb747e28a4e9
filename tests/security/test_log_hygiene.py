"""Secrets and personal data never reach the server log.

A real ``ioc dashboard`` runs at log level DEBUG (the most talkative it gets) while callers
log in (right and wrong passwords), send observations with a real and with a forged API key,
file an Open311 request with contacts (e-mail, phone, name; the API key in the query string,
as GeoReport v2 allows) and a police user looks up a plate. Then the whole captured log
(stdout + stderr: uvicorn's access log, the app's loggers) must contain none of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fixtures.dashboard import add_api_key, add_user, login

from dashboard.app import routes
from ioc.settings import Settings

pytestmark = [pytest.mark.integration]

PLATE = "15A-987.65"
EMAIL = "nguyen.van.an.h7@example.vn"
PHONE = "0912345678"
FIRST_NAME = "Anhsecret"


def _route_path(name: str) -> str | None:
    for route in routes():
        if getattr(route, "name", None) == name:
            return str(route.path)  # type: ignore[attr-defined]
    return None


def test_no_secrets_or_personal_data_in_the_server_log(
    dashboard_settings: Settings, dashboard_process: Callable[[Settings], Any]
) -> None:
    server = dashboard_process(dashboard_settings.model_copy(update={"log_level": "DEBUG"}))
    base = server.base_url
    settings = server.settings
    name = f"hygiene-{secrets.token_hex(3)}"
    password = add_user(settings, name, "admin")
    wrong = f"wrong-{secrets.token_urlsafe(12)}"
    key = add_api_key(settings, "hygiene-sensor", "ingest")
    forged = f"ioc_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    secret_values = {"password": password, "wrong password": wrong, "api key": key}
    secret_values["forged key secret"] = forged.split("_", 2)[2]

    assert (
        httpx.post(
            base + "/login", json={"username": name, "password": wrong}, headers={"Origin": base}
        ).status_code
        == 401
    )
    admin = login(base, name, password)
    secret_values["session token"] = admin.cookies["ioc_session"]
    assert admin.get("/api/v1/me").status_code == 200
    observation = {
        "sensor_id": "hp-aq-lechan",
        "quantity": "pm25",
        "value": 12.5,
        "unit": "ug/m3",
        "time": "2026-11-23T07:00:00+07:00",
    }
    for presented in (key, forged):
        httpx.post(
            base + "/api/v1/observations",
            json=observation,
            timeout=30,
            headers={"Authorization": f"Bearer {presented}"},
        )
    httpx.post(
        base + "/api/v1/observations", json=observation, timeout=30, headers={"X-API-Key": key}
    )

    open311 = _route_path("open311_post_request")
    if open311 is not None:
        personal = {"email": EMAIL, "phone": PHONE, "first_name": FIRST_NAME}
        answer = httpx.post(
            base + open311.replace("{fmt}", "json"),
            params={"api_key": key},
            data={
                "description": "Ngập sâu trước cổng trường",
                "lat": "20.8561",
                "long": "106.6822",
                **personal,
            },
            timeout=30,
        )
        assert answer.status_code < 500, answer.text
        secret_values.update({"e-mail": EMAIL, "phone": PHONE, "citizen name": FIRST_NAME})

    review = _route_path("review_list")
    if review is not None and "{" not in review:
        police_name = f"police-{secrets.token_hex(3)}"
        police = login(base, police_name, add_user(settings, police_name, "police"))
        assert police.get(review, params={"plate": PLATE}).status_code < 500
        secret_values["plate"] = PLATE
        police.close()
    admin.post("/logout")
    admin.close()

    log = server.log_text()
    assert "/api/v1/observations" in log or "ingest" in log  # the log did capture requests
    leaked = sorted(label for label, value in secret_values.items() if value in log)
    lines = [
        f"{label}: " + line.replace(secret_values[label], f"<{label}>")[:300]
        for label in leaked
        for line in log.splitlines()
        if secret_values[label] in line
    ]
    assert leaked == [], "found in the server log:\n" + "\n".join(lines[:20])


def test_access_log_records_lose_their_query_string() -> None:
    import logging

    from ioc.log_hygiene import RedactQuery

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", f"/open311/v2/requests.json?api_key={PHONE}", "1.1", 201),
        None,
    )
    assert RedactQuery().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "POST /open311/v2/requests.json?… HTTP/1.1" 201'
