"""Who may do what: roles, the one permission table, channels, password policy, credentials.

Pure: no I/O. Every HTTP route and websocket channel of the web server is looked up in
:data:`ENDPOINTS` / :data:`CHANNELS` by name, and the app factory refuses to start with a
route that has no row, so access control lives in one declarative table instead of ``if``
statements scattered over handlers (deny by default).

Example::

    allowed(Principal.anonymous(), ENDPOINTS["live_page"])      # -> False
    allowed(Principal.user(1, "an", "operator"), ENDPOINTS["live_page"])  # -> True
    allowed_channels("police")                                   # -> {"sensors", "alerts"}

Secrets: passwords are hashed with argon2id (slow on purpose); session tokens and API keys
are 32 random bytes, so a plain SHA-256 of them is enough (nothing to brute-force) and can be
looked up by equality.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

Role = Literal["admin", "operator", "police", "department", "ingest", "anonymous"]
USER_ROLES: Final[tuple[Role, ...]] = ("admin", "operator", "police", "department")
KEY_ROLES: Final[tuple[Role, ...]] = ("admin", "operator", "police", "department", "ingest")
STAFF: Final[frozenset[Role]] = frozenset({"admin", "operator", "police", "department"})
EVERYONE: Final[frozenset[Role]] = STAFF | {"ingest", "anonymous"}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request: a person (session), a machine (API key) or nobody."""

    kind: Literal["user", "apikey", "anonymous"]
    name: str
    role: Role
    department: str | None = None
    user_id: int | None = None

    @staticmethod
    def anonymous() -> Principal:
        return Principal("anonymous", "", "anonymous")

    @staticmethod
    def user(user_id: int, name: str, role: Role, department: str | None = None) -> Principal:
        return Principal("user", name, role, department, user_id)

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"


@dataclass(frozen=True, slots=True)
class Permission:
    """Roles allowed to use one endpoint; ``page`` endpoints redirect anonymous callers to
    the login page instead of answering 401."""

    roles: frozenset[Role]
    page: bool = False
    description: str = ""


# The permission table: route name -> who may call it. Route names are set in dashboard/app.py.
ENDPOINTS: Final[Mapping[str, Permission]] = {
    "live_page": Permission(
        frozenset({"admin", "operator", "police"}), page=True, description="live operations page"
    ),
    "login_page": Permission(EVERYONE, description="login form"),
    "login": Permission(EVERYONE, description="create a session from username + password"),
    "logout": Permission(EVERYONE, description="end the caller's session (if any)"),
    "me": Permission(STAFF, description="who am I: name, role, allowed channels"),
    "ingest": Permission(frozenset({"ingest", "admin"}), description="POST observations"),
    "healthz": Permission(EVERYONE, description="overall status (details need health_details)"),
    "health_details": Permission(
        frozenset({"admin", "operator"}), description="per-component health, lag, workers"
    ),
    "websocket": Permission(STAFF, description="open the live websocket"),
    "static": Permission(EVERYONE, description="JS/CSS/vendor code (nothing sensitive)"),
    "openapi": Permission(EVERYONE, description="the OpenAPI document of the HTTP API"),
    # The operations wall and its unified alarms (issue #6, dashboard/wall/).
    "wall_page": Permission(
        frozenset({"admin", "operator", "police"}), page=True, description="operations wall"
    ),
    "wall_map": Permission(STAFF, description="areas GeoJSON, sensor and camera positions"),
    "wall_series": Permission(STAFF, description="rollup time series for the wall's charts"),
    "alarms_list": Permission(STAFF, description="open and recently closed alarms"),
    "alarm_detail": Permission(STAFF, description="one alarm with its history"),
    "alarm_action": Permission(
        frozenset({"admin", "operator"}),
        description="acknowledge, assign, comment or clear an alarm",
    ),
    # Citizen feedback (issue #4): Open311 GeoReport v2 (dashboard/open311/), citizen pages
    # and the department work queue (dashboard/feedback/). POST requests checks api_key itself.
    "open311_services": Permission(EVERYONE, description="Open311 service list"),
    "open311_service": Permission(EVERYONE, description="Open311 service definition"),
    "open311_post_request": Permission(EVERYONE, description="Open311 new request (api_key)"),
    "open311_requests": Permission(EVERYONE, description="Open311 request list (no contacts)"),
    "open311_request": Permission(EVERYONE, description="Open311 one request (no contacts)"),
    "open311_token": Permission(EVERYONE, description="Open311 token -> service_request_id"),
    "citizen_page": Permission(EVERYONE, description="citizen report form and status page"),
    "citizen_submit": Permission(EVERYONE, description="file a citizen report (rate-limited)"),
    "citizen_status": Permission(EVERYONE, description="public status + timeline by code"),
    "citizen_reply": Permission(EVERYONE, description="citizen answers a question (token)"),
    "citizen_services": Permission(EVERYONE, description="categories for the citizen form"),
    "feedback_media": Permission(EVERYONE, description="a report photo by its SHA-256"),
    "feedback_queue_page": Permission(
        frozenset({"admin", "operator", "department"}), page=True, description="work queue page"
    ),
    "feedback_queue": Permission(
        frozenset({"admin", "operator", "department"}),
        description="reports of the caller's department (operators: all + triage)",
    ),
    "feedback_report": Permission(
        frozenset({"admin", "operator", "department"}),
        description="one report with timeline and contact (staff)",
    ),
    "feedback_action": Permission(
        frozenset({"admin", "operator", "department"}),
        description="accept, ask for info, reassign, resolve, reject a report",
    ),
    # Police review of violations (issue #5, dashboard/review/); every call is audited.
    "review_page": Permission(frozenset({"police"}), page=True, description="review queue"),
    "review_list": Permission(frozenset({"police"}), description="violation queue, filtered"),
    "review_case": Permission(frozenset({"police"}), description="one case (audited view)"),
    "review_evidence": Permission(
        frozenset({"police"}), description="a case's evidence file by kind (audited, Range)"
    ),
    "review_decide": Permission(
        frozenset({"police"}), description="confirm / reject / reclassify / notice / appeal"
    ),
    "review_export": Permission(frozenset({"police"}), description="case package ZIP (audited)"),
}

# Websocket channels: which dashboard message types each carries, and who may subscribe.
CHANNELS: Final[Mapping[str, Permission]] = {
    "sensors": Permission(STAFF, description="latest readings and per-area 1-minute rollups"),
    "alerts": Permission(
        frozenset({"admin", "operator", "police", "department"}),
        description="threshold alerts (raised, level changed, cleared)",
    ),
    "system": Permission(
        frozenset({"admin", "operator"}), description="worker heartbeats and dead-letter counts"
    ),
    "alarms": Permission(STAFF, description="unified alarms: every transition (alarm.*)"),
    "cameras": Permission(
        frozenset({"admin", "operator", "police"}),
        description="camera health, annotated frames, counts, violations as they fire (and "
        "withdrawn)",
    ),
    "feedback": Permission(
        frozenset({"admin", "operator"}),
        description="citizen feedback: overdue reports and on-time rates per department",
    ),
    "violations": Permission(
        frozenset({"police", "admin"}), description="new violations to review (violation.new)"
    ),
}
MESSAGE_CHANNEL: Final[Mapping[str, str]] = {
    "readings": "sensors",
    "rollups": "sensors",
    "alert": "alerts",
    "deadletter": "system",
    "heartbeat": "system",
    "alarm.raised": "alarms",
    "alarm.updated": "alarms",
    "alarm.reactivated": "alarms",
    "alarm.cleared": "alarms",
    "alarm.acknowledged": "alarms",
    "alarm.assigned": "alarms",
    "alarm.commented": "alarms",
    "alarm.closed": "alarms",
    "camera": "cameras",
    "camera_frame": "cameras",
    "camera_counts": "cameras",
    "camera_violation": "cameras",
    "camera_violation_withdrawn": "cameras",
    "violation.new": "violations",
    "feedback.overdue": "feedback",
    "feedback.kpi": "feedback",
}

# Inbound websocket commands: an allow-list per role (anything else is refused).
WS_COMMANDS: Final[Mapping[str, frozenset[Role]]] = {
    "subscribe": STAFF,
    "unsubscribe": STAFF,
    "resync": STAFF,
    "ping": STAFF,
}


def allowed(principal: Principal, permission: Permission) -> bool:
    """Deny by default: the caller's role must be listed."""
    return principal.role in permission.roles


def allowed_channels(role: Role) -> frozenset[str]:
    return frozenset(name for name, perm in CHANNELS.items() if role in perm.roles)


def command_allowed(role: Role, command: object) -> bool:
    return isinstance(command, str) and role in WS_COMMANDS.get(command, frozenset())


def channel_of(message_type: object) -> str | None:
    """Websocket channel of a dashboard-topic message type (``None``: not forwarded)."""
    return MESSAGE_CHANNEL.get(message_type) if isinstance(message_type, str) else None


# --- password policy -------------------------------------------------------------------

MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 1024  # argon2 is slow on purpose; refuse megabyte "passwords"
_COMMON: Final = frozenset(
    {
        "password1234",
        "123456789012",
        "qwertyuiop12",
        "haiphong1234",
        "admin1234567",
        "matkhau12345",
        "iloveyou1234",
        "abc123456789",
        "password123!",
        "changeme1234",
    }
)


def password_problems(password: str, username: str = "") -> list[str]:
    """Why a password is refused (empty list: acceptable). Length beats complexity rules."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"at most {MAX_PASSWORD_LENGTH} characters")
    if username and username.lower() in password.lower():
        problems.append("must not contain the user name")
    if password.lower() in _COMMON or len(set(password)) < 4:
        problems.append("too common or repetitive")
    return problems


def generate_password() -> str:
    """A random password to print once (~128 bits)."""
    return secrets.token_urlsafe(16)


# --- hashing ---------------------------------------------------------------------------

_HASHER: Final = PasswordHasher()  # argon2id with the library's current recommended cost


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Constant-time check; a corrupt stored hash counts as a mismatch."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    """True after the cost parameters were raised: re-hash on the next successful login."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


DUMMY_HASH: Final = _HASHER.hash("unknown-user-timing-equaliser")


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_session_token() -> tuple[str, str]:
    """``(token for the cookie, its SHA-256 for the sessions table)``."""
    token = secrets.token_urlsafe(32)
    return token, sha256_hex(token)


API_KEY_PREFIX: Final = "ioc"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str  # shown once, never stored
    prefix: str  # stored, used to find the row
    key_hash: str  # stored


def new_api_key() -> NewApiKey:
    """``ioc_<12 hex prefix>_<43 chars of a 32-byte secret>``."""
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key, prefix, sha256_hex(key))


def api_key_prefix(key: str) -> str | None:
    """The lookup prefix of a presented key, ``None`` when it is not shaped like ours."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def api_key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(sha256_hex(key), stored_hash)
