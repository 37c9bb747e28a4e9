"""Fixtures shared by every test: the backing services.

* ``services`` (session) - PostgreSQL+TimescaleDB and the Kafka broker. Embedded ones
  are started on free loopback ports in a temporary IOC_HOME and stopped at the end.
  External mode: set ``IOC_TEST_DATABASE_URL`` and/or ``IOC_TEST_KAFKA_BOOTSTRAP_SERVERS``
  and those are used instead of starting anything.
* ``database_url`` (module) - a fresh empty database ``ioc_test_<random>`` with the
  TimescaleDB extension, dropped after the module: modules cannot see each other's rows.
* ``fresh_home`` (function) - an empty IOC_HOME that the ``postgres`` user can reach,
  for tests that start (and stop) services of their own.

Only tests that request these fixtures pay for starting the services.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from ioc.services.manager import running
from ioc.settings import Settings


@dataclass(frozen=True)
class TestServices:
    """What the ``services`` fixture yields."""

    __test__ = False  # not a test class, despite the name

    database_url: str
    kafka_bootstrap_servers: str
    settings: Settings  # home = the temp dir; both URLs set, so nothing starts again


@contextmanager
def _home(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A temporary IOC_HOME that the database server can reach, removed afterwards.

    As root the server runs as ``postgres``, which must traverse every folder above
    IOC_HOME. pytest's own temp root is 0700 (and pytest resets it to 0700 whenever
    another session starts, which would lock a running cluster out), so as root the
    home is a 0711 folder directly under the system temp dir instead.
    """
    if os.geteuid() != 0:
        yield tmp_path_factory.mktemp(name)
        return
    home = Path(tempfile.mkdtemp(prefix=f"ioc-test-{name}-"))
    home.chmod(0o711)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServices]:
    external_db = os.environ.get("IOC_TEST_DATABASE_URL") or None
    external_kafka = os.environ.get("IOC_TEST_KAFKA_BOOTSTRAP_SERVERS") or None
    with _home(tmp_path_factory, "home") as home:
        # Explicit values override any IOC_DATABASE_URL etc. of the developer's shell.
        start_settings = Settings(
            home=home, database_url=external_db, kafka_bootstrap_servers=external_kafka
        )
        with running(start_settings, progress=lambda line: print(f"[services] {line}")) as ep:
            yield TestServices(
                database_url=ep.database_url,
                kafka_bootstrap_servers=ep.kafka_bootstrap_servers,
                settings=Settings(
                    home=home,
                    database_url=ep.database_url,
                    kafka_bootstrap_servers=ep.kafka_bootstrap_servers,
                ),
            )


@pytest.fixture
def fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with _home(tmp_path_factory, "fresh") as home:
        yield home


def with_dbname(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` (URL or key=value conninfo)."""
    if "://" not in url:
        return psycopg.conninfo.make_conninfo(url, dbname=dbname)
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="module")
def database_url(services: TestServices) -> Iterator[str]:
    name = f"ioc_test_{secrets.token_hex(4)}"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_dbname(services.database_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    yield url
    drop_database(services.database_url, name)


def drop_database(url: str, name: str, deadline_s: float = 20.0) -> None:
    """Drop a test database. A TimescaleDB background job may hold a connection to it as
    another role for a moment (the role ``ioc`` may not terminate it: InsufficientPrivilege):
    retried until ``deadline_s``, then left to the throw-away cluster with a warning."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    until = time.monotonic() + deadline_s
    while True:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(statement)
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse) as exc:
            if time.monotonic() > until:
                warnings.warn(f"test database {name} left behind: {exc}", stacklevel=2)
                return
            time.sleep(0.2)


pytest_plugins = [
    "fixtures.dashboard",
    "fixtures.streams",
    "fixtures.faults",
    "fixtures.browser",
]
