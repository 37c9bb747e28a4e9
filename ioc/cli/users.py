"""``ioc users add|list|disable`` and ``ioc apikeys create|list|revoke``.

Secrets are printed once and never stored or logged in clear: a generated password or a new
API key appears on stdout only, the database keeps its hash.

Example::

    printf '%s\\n' "$PW" | ioc users add lan --role operator --password-stdin
    ioc users add tuan --role department --department environment   # prints a password
    ioc apikeys create station-7 --role ingest                         # prints the key
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

import psycopg

from ioc.domain.auth import (
    KEY_ROLES,
    USER_ROLES,
    Role,
    generate_password,
    hash_password,
    new_api_key,
    password_problems,
)
from ioc.settings import Settings
from ioc.storage.db import connect
from ioc.storage.users import (
    UserError,
    count_users,
    create_api_key,
    create_user,
    list_api_keys,
    list_users,
    revoke_api_key,
    set_user_disabled,
)

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("users", help="people who log in to the web pages")
    sub = group.add_subparsers(dest="users_command", required=True)
    p = sub.add_parser("add", help="create a user (prints a generated password once)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=USER_ROLES)
    p.add_argument("--department", default=None, help="required for --role department")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    p.set_defaults(func=cmd_users_add)
    p = sub.add_parser("list", help="list users")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_users_list)
    p = sub.add_parser("disable", help="disable a user and end their sessions")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_disable)

    group = subparsers.add_parser("apikeys", help="keys of machine clients (sensors, bridges)")
    sub = group.add_subparsers(dest="apikeys_command", required=True)
    p = sub.add_parser("create", help="create a key (prints it once)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=KEY_ROLES)
    p.add_argument("--department", default=None, help="required for --role department")
    p.set_defaults(func=cmd_keys_create)
    p = sub.add_parser("list", help="list keys (never the secrets)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_keys_list)
    p = sub.add_parser("revoke", help="revoke a key at once")
    p.add_argument("name")
    p.set_defaults(func=cmd_keys_revoke)


def ensure_first_admin(conn: psycopg.Connection[Any], password: str | None) -> str | None:
    """Create user ``admin`` when there is no user at all.

    Returns the password to print once: the generated one when ``password`` is ``None``;
    ``None`` when nothing needs printing (users already exist, or the caller chose it).
    """
    if count_users(conn) > 0:
        return None
    chosen = password if password is not None else generate_password()
    problems = password_problems(chosen, "admin")
    if problems:
        raise UserError("admin password refused: " + "; ".join(problems))
    create_user(conn, "admin", hash_password(chosen), "admin")
    return None if password is not None else chosen


def _database_url(settings: Settings) -> str:
    from ioc.services.manager import database_url

    return database_url(settings)


def _department(role: Role, department: str | None) -> str | None:
    if role == "department" and not department:
        raise UserError("--role department needs --department")
    if role != "department" and department:
        raise UserError("--department is only for --role department")
    return department


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    try:
        department = _department(args.role, args.department)
    except UserError as exc:
        return _fail(str(exc))
    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    problems = password_problems(password, args.name)
    if problems:
        return _fail("password refused: " + "; ".join(problems))
    with connect(_database_url(settings)) as conn:
        try:
            create_user(conn, args.name, hash_password(password), args.role, department)
        except UserError as exc:
            return _fail(str(exc))
    print(f"created user {args.name} ({args.role})")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    with connect(_database_url(settings)) as conn:
        users = list_users(conn)
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "department": u.department,
            "disabled": u.disabled,
            "created_at": u.created_at.isoformat(),
        }
        for u in users
    ]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            state = "disabled" if r["disabled"] else "active"
            dept = f" [{r['department']}]" if r["department"] else ""
            print(f"{r['username']:<24} {r['role']:<10}{dept} {state}")
    return 0


def cmd_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    with connect(_database_url(settings)) as conn:
        try:
            set_user_disabled(conn, args.name)
        except UserError as exc:
            return _fail(str(exc))
    print(f"disabled user {args.name}")
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        department = _department(args.role, args.department)
    except UserError as exc:
        return _fail(str(exc))
    key = new_api_key()
    with connect(_database_url(settings)) as conn:
        try:
            create_api_key(conn, args.name, key.prefix, key.key_hash, args.role, department)
        except UserError as exc:
            return _fail(str(exc))
    print(f"created API key {args.name} ({args.role}); key (shown once):")
    print(key.key)
    return 0


def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    with connect(_database_url(settings)) as conn:
        keys = list_api_keys(conn)
    rows = [
        {
            "name": k.name,
            "prefix": k.prefix,
            "role": k.role,
            "department": k.department,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            state = "revoked" if r["revoked_at"] else "active"
            print(f"{r['name']:<24} ioc_{r['prefix']}_…  {r['role']:<10} {state}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with connect(_database_url(settings)) as conn:
        try:
            revoke_api_key(conn, args.name)
        except UserError as exc:
            return _fail(str(exc))
    print(f"revoked API key {args.name}")
    return 0
