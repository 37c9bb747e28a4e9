"""The permission table, password policy and hashing, API keys, login throttling."""

from __future__ import annotations

import pytest

from dashboard.app import routes
from dashboard.auth import safe_next
from dashboard.throttle import LoginThrottle
from ioc.domain import auth
from ioc.domain.auth import ENDPOINTS, Principal, allowed, allowed_channels, command_allowed

ROLES = ("admin", "operator", "police", "department", "ingest", "anonymous")


def principal(role: str) -> Principal:
    if role == "anonymous":
        return Principal.anonymous()
    kind = "apikey" if role == "ingest" else "user"
    return Principal(kind, f"{role}-1", role, "environment" if role == "department" else None)  # type: ignore[arg-type]


def test_every_route_has_a_permission_row() -> None:
    names = {getattr(r, "name", None) for r in routes()}
    assert names <= set(ENDPOINTS)
    assert {"live_page", "ingest", "healthz", "websocket", "login", "static"} <= names


# endpoint -> roles that may use it; everything else must be refused (deny by default)
EXPECTED = {
    "live_page": {"admin", "operator", "police"},
    "ingest": {"admin", "ingest"},
    "health_details": {"admin", "operator"},
    "websocket": {"admin", "operator", "police", "department"},
    "me": {"admin", "operator", "police", "department"},
    "healthz": set(ROLES),
    "login": set(ROLES),
    "login_page": set(ROLES),
    "static": set(ROLES),
}


@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(endpoint: str, role: str) -> None:
    assert allowed(principal(role), ENDPOINTS[endpoint]) is (role in EXPECTED[endpoint])


def test_only_pages_redirect_to_login() -> None:
    pages = {name for name, p in ENDPOINTS.items() if p.page}
    assert pages == {"live_page", "wall_page", "feedback_queue_page", "review_page"}


@pytest.mark.parametrize(
    ("role", "channels"),
    [
        ("admin", {"sensors", "alerts", "system", "alarms", "cameras", "feedback", "violations"}),
        ("operator", {"sensors", "alerts", "system", "alarms", "cameras", "feedback"}),
        # violation cases (plates) are police business; citizens' reports are not
        ("police", {"sensors", "alerts", "alarms", "cameras", "violations"}),
        # department staff: no cameras, no violations, no city-wide feedback feed
        ("department", {"sensors", "alerts", "alarms"}),
        ("ingest", set()),
        ("anonymous", set()),
    ],
)
def test_channels_per_role(role: str, channels: set[str]) -> None:
    assert allowed_channels(role) == channels  # type: ignore[arg-type]


def test_every_dashboard_message_type_has_a_channel() -> None:
    for kind in ("readings", "rollups", "alert", "deadletter", "heartbeat"):
        assert auth.channel_of(kind) in auth.CHANNELS
    assert auth.channel_of("snapshot") is None
    assert auth.channel_of(42) is None


def test_websocket_commands_are_an_allow_list() -> None:
    assert command_allowed("operator", "subscribe")
    assert command_allowed("police", "ping")
    assert not command_allowed("operator", "shutdown")
    assert not command_allowed("operator", None)
    assert not command_allowed("anonymous", "subscribe")
    assert not command_allowed("ingest", "subscribe")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least"),
        ("lan-secret-password", "user name"),
        ("password1234", "common"),
        ("aaaaaaaaaaaaaaaa", "repetitive"),
        ("x" * 2000, "at most"),
    ],
)
def test_password_policy_refuses(password: str, problem: str) -> None:
    problems = auth.password_problems(password, "lan")
    assert any(problem in p for p in problems), problems


def test_password_policy_accepts_generated_and_passphrases() -> None:
    assert auth.password_problems(auth.generate_password(), "admin") == []
    assert auth.password_problems("cầu rào lúc bình minh", "lan") == []


def test_password_hash_is_argon2id_and_verifies() -> None:
    stored = auth.hash_password("cầu rào lúc bình minh")
    assert stored.startswith("$argon2id$")
    assert "bình minh" not in stored
    assert auth.verify_password(stored, "cầu rào lúc bình minh")
    assert not auth.verify_password(stored, "cầu rào lúc hoàng hôn")
    assert not auth.verify_password("not-a-hash", "anything")
    assert not auth.password_needs_rehash(stored)
    assert auth.hash_password("same") != auth.hash_password("same")  # salted


def test_api_key_format_lookup_and_match() -> None:
    key = auth.new_api_key()
    assert key.key.startswith(f"ioc_{key.prefix}_")
    assert auth.api_key_prefix(key.key) == key.prefix
    assert auth.api_key_matches(key.key, key.key_hash)
    assert not auth.api_key_matches(key.key + "x", key.key_hash)
    assert key.key not in key.key_hash
    for bad in ("", "ioc", "ioc__x", "abc_0123456789ab_secret", "ioc_short_secret"):
        assert auth.api_key_prefix(bad) is None


def test_session_tokens_are_random_and_stored_hashed() -> None:
    (t1, h1), (t2, h2) = auth.new_session_token(), auth.new_session_token()
    assert t1 != t2 and h1 != h2
    assert h1 == auth.sha256_hex(t1) and len(h1) == 64 and t1 not in h1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_locks_out_after_failures_and_backs_off() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=3, window_s=600, base_lockout_s=10, clock=clock)
    keys = ("user:lan", "ip:10.0.0.5")
    for _ in range(2):
        assert throttle.retry_after(keys) is None
        throttle.failure(keys)
    throttle.failure(keys)  # third failure: locked for 10 s
    assert throttle.retry_after(keys) == 10
    clock.now += 10.5
    assert throttle.retry_after(keys) is None
    throttle.failure(keys)  # fourth: doubled
    assert throttle.retry_after(keys) == 20
    assert throttle.retry_after(("user:other", "ip:10.0.0.5")) == 20  # the IP is locked too
    assert throttle.retry_after(("user:lan", "ip:10.9.9.9")) == 20  # and the user name
    assert throttle.retry_after(("user:other", "ip:10.9.9.9")) is None


def test_throttle_success_clears_the_user_not_the_ip() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=1, base_lockout_s=30, clock=clock)
    throttle.failure(("user:lan", "ip:1.2.3.4"))
    throttle.success("user:lan")
    assert throttle.retry_after(("user:lan",)) is None
    assert throttle.retry_after(("ip:1.2.3.4",)) == 30


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=100, clock=Clock())
    for i in range(1000):
        throttle.failure((f"ip:{i}",))
    assert len(throttle._entries) == 100


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("/?q=1", "/?q=1"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_redirects_only_to_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_throttle_gives_addresses_a_higher_limit_than_user_names() -> None:
    throttle = LoginThrottle(
        free_failures=2, base_lockout_s=5, clock=Clock(), free_by_kind={"ip": 10}
    )
    for user in ("a", "b"):
        throttle.failure((f"user:{user}", "ip:10.0.0.1"))
        throttle.failure((f"user:{user}", "ip:10.0.0.1"))
    assert throttle.retry_after(("user:a",)) == 5
    assert throttle.retry_after(("user:c", "ip:10.0.0.1")) is None  # 4 < 10: others still in
