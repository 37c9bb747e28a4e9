"""Who may see what over HTTP: pages, API, health details; CSRF, headers, login throttling."""

from __future__ import annotations

import secrets
from contextlib import closing

import httpx
import pytest
from fixtures.dashboard import Dashboard, add_api_key, add_user, login, run_cli

pytestmark = pytest.mark.integration


def anonymous(dashboard: Dashboard) -> httpx.Client:
    return httpx.Client(base_url=dashboard.base_url, timeout=30)


def form_login(
    dashboard: Dashboard, name: str, password: str, next_path: str = "/"
) -> httpx.Client:
    client = httpx.Client(
        base_url=dashboard.base_url, headers={"Origin": dashboard.base_url}, timeout=30
    )
    answer = client.post("/login", data={"username": name, "password": password, "next": next_path})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == next_path
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return client


def user(dashboard: Dashboard, role: str, department: str | None = None) -> tuple[str, str]:
    name = f"{role}-{secrets.token_hex(3)}"
    return name, add_user(dashboard.settings, name, role, department)


def test_anonymous_is_sent_to_the_login_page(dashboard: Dashboard) -> None:
    with anonymous(dashboard) as client:
        answer = client.get("/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2F"
        page = client.get("/login?next=%2F")
        assert page.status_code == 200 and 'name="password"' in page.text
        assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("role", ["operator", "admin", "police"])
def test_staff_who_may_watch_get_the_live_page(dashboard: Dashboard, role: str) -> None:
    with closing(form_login(dashboard, *user(dashboard, role))) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert 'src="/static/app/live.js"' in page.text
        assert client.get("/api/v1/me").json()["role"] == role


def test_department_users_may_not_watch_the_live_page(dashboard: Dashboard) -> None:
    with closing(form_login(dashboard, *user(dashboard, "department", "environment"))) as client:
        page = client.get("/")
        assert page.status_code == 403
        assert "may not view" in page.text
        me = client.get("/api/v1/me").json()
        assert me["department"] == "environment" and me["channels"] == [
            "alarms",
            "alerts",
            "sensors",
        ]


def test_machine_keys_are_not_people(dashboard: Dashboard) -> None:
    key = add_api_key(dashboard.settings, f"k-{secrets.token_hex(3)}", "ingest")
    with httpx.Client(
        base_url=dashboard.base_url, timeout=30, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        assert client.get("/api/v1/me").status_code == 403
        assert client.get("/", follow_redirects=False).status_code == 403


def test_health_details_only_for_operators_and_admins(dashboard: Dashboard) -> None:
    with anonymous(dashboard) as client:
        assert set(client.get("/healthz").json()) == {"status"}
    with closing(form_login(dashboard, *user(dashboard, "police"))) as client:
        assert set(client.get("/healthz").json()) == {"status"}
    with closing(form_login(dashboard, *user(dashboard, "operator"))) as client:
        body = client.get("/healthz").json()
        assert {"database", "broker", "feed", "workers", "lag"} <= set(body["components"])


def test_security_headers_everywhere(dashboard: Dashboard) -> None:
    with anonymous(dashboard) as client:
        for path in (
            "/login",
            "/healthz",
            "/static/app/live.js",
            "/static/vendor/uPlot.iife.min.js",
        ):
            answer = client.get(path)
            assert answer.status_code in (200, 503), path
            csp = answer.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
        assert client.get("/static/pages/live.html").status_code == 404  # templates not served
        assert client.get("/static/app/../pages/live.html").status_code == 404


def test_cookie_writes_need_our_origin(dashboard: Dashboard, operator_client: httpx.Client) -> None:
    cookie = operator_client.cookies["ioc_session"]
    for headers in ({}, {"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}):
        bare = httpx.Client(
            base_url=dashboard.base_url,
            headers=headers,
            timeout=30,
            cookies={"ioc_session": cookie},
        )
        with bare:
            answer = bare.post("/logout", headers={"Accept": "application/json"})
        assert answer.status_code == 403, headers
        assert answer.json()["error"] == "csrf_failed"
    assert operator_client.get("/api/v1/me").status_code == 200  # still logged in


def test_logout_ends_the_session(
    dashboard: Dashboard, operator_credentials: tuple[str, str]
) -> None:
    client = login(dashboard.base_url, *operator_credentials)
    cookie = client.cookies["ioc_session"]
    answer = client.post("/logout", headers={"Accept": "application/json"})
    assert answer.status_code == 200
    client.close()
    with httpx.Client(base_url=dashboard.base_url, cookies={"ioc_session": cookie}) as replay:
        assert replay.get("/api/v1/me").status_code == 401  # the old token is dead server-side


def test_disabled_user_loses_access(dashboard: Dashboard) -> None:
    name, password = user(dashboard, "operator")
    client = login(dashboard.base_url, name, password)
    run_cli(dashboard.settings, "users", "disable", name)
    assert client.get("/api/v1/me").status_code == 401
    client.close()
    answer = httpx.post(
        dashboard.base_url + "/login", json={"username": name, "password": password}
    )
    assert answer.status_code == 401


def test_open_redirects_are_refused(dashboard: Dashboard) -> None:
    name, password = user(dashboard, "police")
    for target in ("//evil.example/", "https://evil.example/"):
        answer = httpx.post(
            dashboard.base_url + "/login",
            headers={"Origin": dashboard.base_url},
            data={"username": name, "password": password, "next": target},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_wrong_passwords_are_refused_then_throttled(dashboard: Dashboard) -> None:
    name, password = user(dashboard, "operator")
    for _ in range(5):
        answer = httpx.post(
            dashboard.base_url + "/login", json={"username": name, "password": "wrong-password-123"}
        )
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_credentials"
    locked = httpx.post(
        dashboard.base_url + "/login", json={"username": name, "password": password}
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    form = httpx.post(dashboard.base_url + "/login", data={"username": name, "password": password})
    assert form.status_code == 429 and "Retry" not in form.text and "giây" in form.text
    other = login(dashboard.base_url, *user(dashboard, "police"))  # the address is not locked
    other.close()


def test_the_url_is_recorded_for_ioc_run(dashboard: Dashboard) -> None:
    from ioc.services.manager import read_state

    assert read_state(dashboard.settings)["dashboard_url"] == dashboard.base_url
