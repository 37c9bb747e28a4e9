"""Users, API keys and sessions in PostgreSQL (tables from migration 0006).

Only hashes of secrets are stored: argon2id for passwords, SHA-256 for session tokens and
API keys (see :mod:`ioc.domain.auth`). Synchronous functions serve the CLI, ``a``-prefixed
async ones the web server. Every value is a bind parameter.

Example::

    with connect(url) as conn:
        create_user(conn, "lan", hash_password(pw), "operator")
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import psycopg

from ioc.domain.auth import Role

logger = logging.getLogger(__name__)


class UserError(ValueError):
    """A user or key operation was refused (duplicate name, unknown name …)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    department: str | None
    disabled: bool
    created_at: datetime
    password_hash: str = ""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    role: Role
    department: str | None
    created_at: datetime
    revoked_at: datetime | None
    key_hash: str = ""


_USER_COLS = "id, username, role, department, disabled, created_at, password_hash"
_KEY_COLS = "id, name, key_prefix, role, department, created_at, revoked_at, key_hash"


def _user(row: tuple[Any, ...]) -> User:
    return User(
        int(row[0]), str(row[1]), cast(Role, row[2]), row[3], bool(row[4]), row[5], str(row[6])
    )


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        cast(Role, row[3]),
        row[4],
        row[5],
        row[6],
        str(row[7]),
    )


# --- CLI (synchronous) -----------------------------------------------------------------


def count_users(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


def create_user(
    conn: psycopg.Connection[Any],
    username: str,
    password_hash: str,
    role: Role,
    department: str | None = None,
) -> User:
    try:
        with conn.transaction():
            row = conn.execute(
                f"INSERT INTO users (username, password_hash, role, department) "  # noqa: S608
                f"VALUES (%s, %s, %s, %s) RETURNING {_USER_COLS}",
                (username, password_hash, role, department),
            ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise UserError(f"user {username!r} already exists") from exc
    except psycopg.errors.CheckViolation as exc:
        raise UserError("role 'department' needs --department (and only it)") from exc
    assert row is not None  # RETURNING always yields the row
    logger.info("user %s created (role %s)", username, role)
    return _user(row)


def list_users(conn: psycopg.Connection[Any]) -> list[User]:
    rows = conn.execute(f"SELECT {_USER_COLS} FROM users ORDER BY username").fetchall()  # noqa: S608
    return [_user(r) for r in rows]


def set_user_disabled(conn: psycopg.Connection[Any], username: str, disabled: bool = True) -> None:
    """Disable (or enable) a user; disabling also ends all of their sessions at once."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE users SET disabled = %s WHERE username = %s RETURNING id", (disabled, username)
        )
        row = cur.fetchone()
        if row is None:
            raise UserError(f"no user {username!r}")
        if disabled:
            conn.execute("DELETE FROM sessions WHERE user_id = %s", (row[0],))
    logger.info("user %s %s", username, "disabled" if disabled else "enabled")


def create_api_key(
    conn: psycopg.Connection[Any],
    name: str,
    prefix: str,
    key_hash: str,
    role: Role,
    department: str | None = None,
) -> ApiKey:
    try:
        with conn.transaction():
            row = conn.execute(
                f"INSERT INTO api_keys (name, key_prefix, key_hash, role, department) "  # noqa: S608
                f"VALUES (%s, %s, %s, %s, %s) RETURNING {_KEY_COLS}",
                (name, prefix, key_hash, role, department),
            ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise UserError(f"API key {name!r} already exists") from exc
    assert row is not None  # RETURNING always yields the row
    logger.info("API key %s created (role %s)", name, role)
    return _key(row)


def list_api_keys(conn: psycopg.Connection[Any]) -> list[ApiKey]:
    rows = conn.execute(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY name").fetchall()  # noqa: S608
    return [_key(r) for r in rows]


def revoke_api_key(conn: psycopg.Connection[Any], name: str) -> None:
    with conn.transaction():
        cur = conn.execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE name = %s "
            "RETURNING id",
            (name,),
        )
        if cur.fetchone() is None:
            raise UserError(f"no API key {name!r}")
    logger.info("API key %s revoked", name)


# --- web server (async) ----------------------------------------------------------------


async def aget_user(conn: psycopg.AsyncConnection[Any], username: str) -> User | None:
    cur = await conn.execute(
        f"SELECT {_USER_COLS} FROM users WHERE username = %s",  # noqa: S608
        (username,),
    )
    row = await cur.fetchone()
    return None if row is None else _user(row)


async def aset_password_hash(
    conn: psycopg.AsyncConnection[Any], user_id: int, password_hash: str
) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
    )


async def acreate_session(
    conn: psycopg.AsyncConnection[Any], token_hash: str, user_id: int, ttl_s: int
) -> datetime:
    """Store a session; also sweeps expired ones (cheap with the expiry index)."""
    await conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    cur = await conn.execute(
        "INSERT INTO sessions (token_hash, user_id, expires_at) "
        "VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING expires_at",
        (token_hash, user_id, ttl_s),
    )
    row = await cur.fetchone()
    assert row is not None  # RETURNING always yields the row
    expires: datetime = row[0]
    return expires


async def asession_user(
    conn: psycopg.AsyncConnection[Any], token_hash: str
) -> tuple[User, datetime] | None:
    """The user of a live session (not expired, user not disabled) and its expiry."""
    cols = ", ".join(f"u.{c.strip()}" for c in _USER_COLS.split(","))
    cur = await conn.execute(
        f"SELECT {cols}, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id "  # noqa: S608
        "WHERE s.token_hash = %s AND s.expires_at > now() AND NOT u.disabled",
        (token_hash,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return _user(row[:7]), row[7]


async def adelete_session(conn: psycopg.AsyncConnection[Any], token_hash: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))


async def aget_api_key(conn: psycopg.AsyncConnection[Any], prefix: str) -> ApiKey | None:
    """An unrevoked key by its public prefix (the caller compares the hash)."""
    cur = await conn.execute(
        f"SELECT {_KEY_COLS} FROM api_keys WHERE key_prefix = %s AND revoked_at IS NULL",  # noqa: S608
        (prefix,),
    )
    row = await cur.fetchone()
    return None if row is None else _key(row)
