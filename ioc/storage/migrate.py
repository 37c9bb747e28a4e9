"""Forward-only numbered migrations, then re-appliable objects, then edition-specific policies.

``infra/db/migrations/NNNN_verb_object.sql`` run once each, in order, each in its own
transaction, recorded with a checksum: a landed migration that was edited afterwards is
refused rather than silently diverging. ``infra/db/idempotent/*.sql`` run every time.
With the Timescale License edition, ``infra/db/tsl/*.sql`` add continuous aggregates,
compression and a retention policy; with the Apache edition the streams do that work.

Example::

    report = migrate(conn, retention_days=400)
    print(report.applied, report.edition)
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

import psycopg

logger = logging.getLogger(__name__)

Edition = Literal["apache", "timescale"]
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration failed or a landed migration was edited."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass
class MigrationReport:
    edition: Edition
    timescaledb_version: str
    applied: list[str] = field(default_factory=list)
    already: int = 0


def _read_folder(folder: str) -> list[tuple[str, str]]:
    root = resources.files("infra").joinpath("db", folder)
    files = sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in root.iterdir()
        if entry.name.endswith(".sql")
    )
    return files


def load_migrations() -> list[Migration]:
    """The numbered migrations shipped with the package, in order."""
    out: list[Migration] = []
    for name, text in _read_folder("migrations"):
        match = _NAME.match(name)
        if match is None:
            raise MigrationError(f"migration file name {name!r} is not NNNN_verb_object.sql")
        out.append(Migration(int(match.group(1)), name, text))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migrations share a number")
    return out


def detect_edition(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[Edition, str]:
    """Create the extension if needed and say which TimescaleDB edition this server runs."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    row = conn.execute("SELECT current_setting('timescaledb.license')").fetchone()
    version_row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    license_ = str(row[0]) if row else "apache"
    edition: Edition = "timescale" if license_ == "timescale" else "apache"
    return edition, str(version_row[0]) if version_row else "unknown"


def migrate(
    conn: psycopg.Connection[tuple[object, ...]], *, retention_days: int
) -> MigrationReport:
    """Bring the database up to date; safe to run any number of times."""
    conn.autocommit = True
    edition, version = detect_edition(conn)
    report = MigrationReport(edition=edition, timescaledb_version=version)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    # One migrator at a time, even from several hosts.
    conn.execute("SELECT pg_advisory_lock(hashtext('ioc.migrate'))")
    try:
        done = {
            int(str(v)): str(c)
            for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")
        }
        for mig in load_migrations():
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    raise MigrationError(
                        f"{mig.name} was edited after it was applied; "
                        "landed migrations are never edited, add a new one"
                    )
                report.already += 1
                continue
            logger.info("applying migration %s", mig.name)
            try:
                with conn.transaction():
                    conn.execute(mig.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"{mig.name} failed: {exc}") from exc
            report.applied.append(mig.name)
        _apply_folder(conn, "idempotent")
        if edition == "timescale":
            _apply_folder(conn, "tsl")
            conn.execute(
                "SELECT add_retention_policy('readings', make_interval(days => %s),"
                " if_not_exists => true)",
                (retention_days,),
            )
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext('ioc.migrate'))")
    return report


def _apply_folder(conn: psycopg.Connection[tuple[object, ...]], folder: str) -> None:
    for name, text in _read_folder(folder):
        try:
            # Continuous aggregates cannot be created inside a transaction block,
            # so these files run statement by statement in autocommit.
            for statement in _split(text):
                conn.execute(statement.encode())
        except psycopg.Error as exc:
            raise MigrationError(f"{folder}/{name} failed: {exc}") from exc


def _split(text: str) -> list[str]:
    """Split a file of plain statements (no dollar-quoted bodies) on semicolons."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
