"""``ioc users`` / ``ioc apikeys`` and the first admin, against a real database."""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest
from fixtures.dashboard import ioc_cli, run_cli, settings_env

from ioc.cli.users import ensure_first_admin
from ioc.domain.auth import api_key_matches, verify_password
from ioc.settings import Settings
from ioc.storage.users import UserError, count_users, list_api_keys, list_users

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(
    services: object, dashboard_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp("users-home"),
        database_url=dashboard_db,
        kafka_bootstrap_servers=services.kafka_bootstrap_servers,
    )  # type: ignore[attr-defined]


def test_first_admin_is_created_once_with_a_printed_password(dashboard_db: str) -> None:
    with psycopg.connect(dashboard_db) as conn:
        assert count_users(conn) == 0
        password = ensure_first_admin(conn, None)
        assert password is not None and len(password) >= 16
        admin = next(u for u in list_users(conn) if u.username == "admin")
        assert admin.role == "admin" and verify_password(admin.password_hash, password)
        assert ensure_first_admin(conn, None) is None  # users exist: nothing to do


def test_first_admin_with_a_chosen_password_prints_nothing(dashboard_db: str) -> None:
    with psycopg.connect(dashboard_db) as conn:
        conn.execute("DELETE FROM users")
        with pytest.raises(UserError, match="refused"):
            ensure_first_admin(conn, "short")
        assert ensure_first_admin(conn, "a long chosen passphrase") is None
        admin = next(u for u in list_users(conn) if u.username == "admin")
        assert verify_password(admin.password_hash, "a long chosen passphrase")


def test_users_add_generates_a_password_and_stores_only_its_hash(
    settings: Settings, dashboard_db: str
) -> None:
    out = run_cli(settings, "users", "add", "lan", "--role", "operator")
    password = out.split("password (shown once): ")[1].strip()
    with psycopg.connect(dashboard_db) as conn:
        lan = next(u for u in list_users(conn) if u.username == "lan")
        assert lan.password_hash.startswith("$argon2id$") and password not in lan.password_hash
        assert verify_password(lan.password_hash, password)
    listed = json.loads(run_cli(settings, "users", "list", "--json"))
    assert {
        "username": "lan",
        "role": "operator",
        "department": None,
        "disabled": False,
    }.items() <= next(u for u in listed if u["username"] == "lan").items()
    assert "password" not in json.dumps(listed)
    run_cli(settings, "users", "disable", "lan")
    listed = json.loads(run_cli(settings, "users", "list", "--json"))
    assert next(u for u in listed if u["username"] == "lan")["disabled"] is True


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "tuan", "--role", "department"], None, "needs --department"),
        (["users", "add", "tuan", "--role", "police", "--department", "x"], None, "only for"),
        (["users", "add", "tuan", "--role", "police", "--password-stdin"], "short\n", "refused"),
        (["users", "add", "admin", "--role", "police"], None, "already exists"),
        (["users", "disable", "nobody"], None, "no user"),
        (["apikeys", "revoke", "nothing"], None, "no API key"),
    ],
)
def test_cli_refuses_with_a_clear_message(
    settings: Settings, args: list[str], stdin: str | None, message: str
) -> None:
    done = subprocess.run(
        [*ioc_cli(), *args],
        env=settings_env(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_department_user_needs_its_department(settings: Settings) -> None:
    run_cli(
        settings,
        "users",
        "add",
        "tuan",
        "--role",
        "department",
        "--department",
        "environment",
        "--password-stdin",
        stdin="river mouth at dawn 1\n",
    )
    listed = json.loads(run_cli(settings, "users", "list", "--json"))
    assert next(u for u in listed if u["username"] == "tuan")["department"] == "environment"


def test_api_key_is_printed_once_and_stored_hashed(settings: Settings, dashboard_db: str) -> None:
    key = run_cli(settings, "apikeys", "create", "station-7", "--role", "ingest").split()[-1]
    with psycopg.connect(dashboard_db) as conn:
        stored = next(k for k in list_api_keys(conn) if k.name == "station-7")
    assert stored.role == "ingest" and api_key_matches(key, stored.key_hash)
    assert key not in run_cli(settings, "apikeys", "list")
