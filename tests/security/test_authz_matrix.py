"""The authorisation matrix, against a real ``ioc dashboard``: every route of
``dashboard.app.routes()`` and every websocket channel of ``CHANNELS``, for every kind of
caller (anonymous, an ingest API key, and sessions of admin, operator, police, department),
gets exactly what the permission table says.

The routes are *enumerated* (routes added later are covered without editing this file);
routes that take ids are called with guessed ids (small integers, random UUIDs, a made-up
SHA-256), so a handler that forgot its guard would show up as a missing 401/403 (IDOR).

* denied by the table: anonymous → 401 (APIs) or 303 to ``/login?next=…`` (pages);
  authenticated with the wrong role → 403 (the guard's answer);
* allowed by the table: never the guard's 401/403, never a redirect to the login page,
  never a 5xx (a guessed id is a 4xx of the handler, e.g. 404);
* every state-changing route refuses a cookie session without our ``Origin`` (CSRF).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fixtures.dashboard import Dashboard, add_api_key, add_user, login
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from dashboard.app import routes
from ioc.domain.auth import CHANNELS, ENDPOINTS, Role, allowed_channels

pytestmark = [pytest.mark.integration]

CALLERS: tuple[Role, ...] = ("anonymous", "ingest", "admin", "operator", "police", "department")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str

    @property
    def id(self) -> str:
        return f"{self.name}:{self.method}:{self.path}"


def _guesses(name: str, convertor: str | None) -> list[str]:
    if name == "fmt":  # Open311's response format, not an id
        return ["json"]
    if convertor == "int":
        return ["1", "2147483647"]
    if convertor == "uuid":
        return [str(uuid.UUID(int=1)), str(uuid.uuid4())]
    if convertor == "float":
        return ["1.0"]
    return ["1", str(uuid.uuid4()), secrets.token_hex(32)]


def _paths(template: str) -> list[str]:
    match = PARAM.search(template)
    if match is None:
        return [template]
    out = []
    for guess in _guesses(match.group(1), match.group(2)):
        out += _paths(template[: match.start()] + guess + template[match.end() :])
    return out


def _walk(table: list[BaseRoute], prefix: str = "") -> Iterator[Call]:
    for route in table:
        if isinstance(route, Route):
            methods = sorted((route.methods or {"GET"}) - {"HEAD"})
            for path in _paths(prefix + route.path):
                for method in methods:
                    yield Call(route.name, method, path)
        elif isinstance(route, Mount) and route.name == "static":
            yield Call("static", "GET", prefix + route.path + "/app/live.js")
        elif isinstance(route, Mount):
            yield from _walk(list(route.routes), prefix + route.path)
        elif not isinstance(route, WebSocketRoute):
            raise AssertionError(f"unknown kind of route {route!r}: extend this test")


CALLS = sorted(set(_walk(routes())), key=lambda c: c.id)


def test_every_route_is_enumerated_and_has_a_row() -> None:
    assert {c.name for c in CALLS} >= {"live_page", "login", "ingest", "healthz", "static"}
    assert {c.name for c in CALLS} <= set(ENDPOINTS)


@dataclass
class Caller:
    role: Role
    headers: dict[str, str]
    cookies: dict[str, str]


@pytest.fixture(scope="module")
def callers(dashboard: Dashboard) -> dict[str, Caller]:
    out = {
        "anonymous": Caller("anonymous", {}, {}),
        "ingest": Caller(
            "ingest",
            {"Authorization": f"Bearer {add_api_key(dashboard.settings, 'matrix-key', 'ingest')}"},
            {},
        ),
    }
    for role in ("admin", "operator", "police", "department"):
        out[role] = _session(dashboard, role)  # type: ignore[arg-type]
    return out


def _session(dashboard: Dashboard, role: Role) -> Caller:
    name = f"matrix-{role}-{secrets.token_hex(3)}"
    password = add_user(
        dashboard.settings, name, role, "environment" if role == "department" else None
    )
    client = login(dashboard.base_url, name, password)
    cookies = {"ioc_session": client.cookies["ioc_session"]}
    client.close()
    return Caller(role, {"Origin": dashboard.base_url}, cookies)


def _request(dashboard: Dashboard, caller: Caller, call: Call, **extra: Any) -> httpx.Response:
    headers = {**caller.headers, **extra.pop("headers", {})}
    with httpx.Client(base_url=dashboard.base_url, cookies=caller.cookies, timeout=60) as client:
        if call.method in WRITE_METHODS:
            return client.request(call.method, call.path, headers=headers, json={}, **extra)
        return client.request(call.method, call.path, headers=headers, **extra)


def _is_guard_denial(answer: httpx.Response, page: bool = True) -> bool:
    if answer.status_code == 303:  # the guard redirects to the login form for pages only
        return page and answer.headers.get("location", "").startswith("/login?next=")
    if answer.status_code == 401:
        return True
    if answer.status_code != 403:
        return False
    try:
        doc = answer.json()
    except ValueError:
        return "login" in answer.text.lower()  # a page's 403 is the login page
    if not isinstance(doc, dict):  # e.g. an Open311 error list: the handler's own answer
        return False
    return doc.get("error") == "forbidden" and "may not use this endpoint" in str(
        doc.get("message", "")
    )


@pytest.mark.parametrize("caller_role", CALLERS)
def test_every_route_answers_each_caller_as_the_table_says(
    dashboard: Dashboard, callers: dict[str, Caller], caller_role: str
) -> None:
    problems = []
    for call in CALLS:
        caller = callers[caller_role]
        if call.name == "logout":  # would end the shared session: use a throwaway one
            if caller_role in ("admin", "operator", "police", "department"):
                caller = _session(dashboard, caller.role)
        permission = ENDPOINTS[call.name]
        answer = _request(dashboard, caller, call, follow_redirects=False)
        if caller.role in permission.roles:
            degraded = call.name == "healthz" and answer.status_code == 503  # no workers
            denied = _is_guard_denial(answer, permission.page)
            if denied or (answer.status_code >= 500 and not degraded):
                problems.append((call.id, "allowed but got", answer.status_code, answer.text[:120]))
        elif caller.role == "anonymous" and permission.page:
            location = answer.headers.get("location", "")
            if answer.status_code != 303 or not location.startswith("/login?next="):
                problems.append((call.id, "page wants login redirect", answer.status_code))
        elif caller.role == "anonymous":
            if answer.status_code != 401 or not _is_guard_denial(answer):
                problems.append((call.id, "expected 401", answer.status_code, answer.text[:120]))
        elif answer.status_code != 403 or not _is_guard_denial(answer):
            problems.append((call.id, "expected 403", answer.status_code, answer.text[:120]))
    assert problems == []


WRITES = [c for c in CALLS if c.method in WRITE_METHODS and c.name != "login"]


@pytest.mark.parametrize("call", WRITES, ids=[c.id for c in WRITES])
def test_cookie_writes_without_our_origin_are_refused(
    dashboard: Dashboard, callers: dict[str, Caller], call: Call
) -> None:
    """CSRF: a session cookie alone never authorises a state change."""
    roles = [
        r for r in ("admin", "operator", "police", "department") if r in ENDPOINTS[call.name].roles
    ]
    if not roles:
        pytest.skip(f"{call.name} is for machines only")
    caller = callers[roles[0]]
    for origin in (None, "http://evil.example", "null"):
        headers = {} if origin is None else {"Origin": origin}
        bare = Caller(caller.role, {}, caller.cookies)
        answer = _request(dashboard, bare, call, headers=headers, follow_redirects=False)
        assert answer.status_code == 403, (origin, answer.status_code, answer.text[:200])
        assert answer.json()["error"] == "csrf_failed"


def test_login_from_a_foreign_origin_is_refused(dashboard: Dashboard) -> None:
    answer = httpx.post(
        dashboard.base_url + "/login",
        json={"username": "x", "password": "y"},
        headers={"Origin": "http://evil.example"},
    )
    assert (answer.status_code, answer.json()["error"]) == (403, "csrf_failed")


async def _ws(dashboard: Dashboard, caller: Caller) -> tuple[int | None, list[dict[str, Any]]]:
    """(close code or None, messages) after asking for every channel there is."""
    headers = dict(caller.headers)
    headers.setdefault("Origin", dashboard.base_url)
    if caller.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in caller.cookies.items())
    messages: list[dict[str, Any]] = []
    async with connect(dashboard.ws_url, additional_headers=headers, open_timeout=30) as ws:
        try:
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            await ws.send(json.dumps({"type": "subscribe", "channels": sorted(CHANNELS)}))
            while not any(m.get("type") == "error" for m in messages) or not any(
                m.get("type") == "snapshot" for m in messages
            ):
                messages.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
                if set(allowed_channels(caller.role)) == set(CHANNELS) and any(
                    m.get("type") == "snapshot" for m in messages
                ):
                    break
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), messages
    return None, messages


@pytest.mark.parametrize("caller_role", CALLERS)
def test_websocket_and_channels_per_caller(
    dashboard: Dashboard, callers: dict[str, Caller], caller_role: str
) -> None:
    caller = callers[caller_role]
    code, messages = asyncio.run(_ws(dashboard, caller))
    if caller.role not in ENDPOINTS["websocket"].roles or caller.role == "ingest":
        assert code in (4401, 4403), (code, messages)
        return
    assert code is None, (code, messages)
    hello = messages[0]
    assert hello["type"] == "hello"
    assert set(hello["channels"]) == set(allowed_channels(caller.role))
    refused = set(CHANNELS) - set(allowed_channels(caller.role))
    errors = [m for m in messages if m.get("type") == "error"]
    if refused:
        assert errors and errors[0]["error"] == "forbidden_channel"
        for name in refused:
            assert name in errors[0]["message"]
    else:
        assert not errors
