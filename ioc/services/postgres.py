"""The embedded PostgreSQL 15 + TimescaleDB cluster under ``IOC_HOME``.

Layout (``settings.home``):

* ``pg/data``      - the cluster (owned by the ``postgres`` user when we run as root,
  because ``initdb``/``postgres`` refuse to run as root);
* ``pg/socket``    - unix socket folder (mode 0700: only the cluster owner and root
  may use the trusted local socket);
* ``pg.log``       - server log, its tail is quoted in start errors;
* ``pg.password``  - random password of the ``ioc`` role (mode 0600).

Authentication: ``trust`` on the private unix socket (used only for bootstrap admin
work), ``scram-sha-256`` for TCP. The application role ``ioc`` owns database ``ioc``
and has CREATEDB (tests create one database per module); it is not a superuser.
TimescaleDB's control file marks the extension *trusted*, so ``ioc`` can
``CREATE EXTENSION timescaledb`` itself. The server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ioc.services.ports import (
    LOOPBACK,
    MissingBinaryError,
    NotReadyError,
    ServiceError,
    ensure_port_free,
    log_tail,
    pg_probe,
    pid_alive,
    wait_until,
)
from ioc.services.timescale_build import Progress, ensure_timescaledb
from ioc.settings import Settings

logger = logging.getLogger(__name__)

DEBIAN_BIN_DIR = Path("/usr/lib/postgresql/15/bin")
APP_ROLE = "ioc"
APP_DB = "ioc"
_TUNING = {  # a small 2-core box; durability stays on
    "shared_buffers": "256MB",
    "max_connections": "100",
    "fsync": "on",
    "synchronous_commit": "on",
    "password_encryption": "scram-sha-256",
    "shared_preload_libraries": "'timescaledb'",
    "timescaledb.telemetry_level": "off",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
}


def bin_dir(settings: Settings) -> Path:
    """``IOC_PG_BIN_DIR``, else ``pg_config --bindir``, else the Debian PG 15 folder."""
    if settings.pg_bin_dir is not None:
        return settings.pg_bin_dir
    if DEBIAN_BIN_DIR.is_dir():
        return DEBIAN_BIN_DIR
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            return Path(out.stdout.strip())
    return DEBIAN_BIN_DIR


def binary(settings: Settings, name: str) -> Path:
    """Path of a PostgreSQL program, or ``MissingBinaryError`` saying where we looked."""
    path = bin_dir(settings) / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise MissingBinaryError(
            f"PostgreSQL program '{name}' not found at {path}; install PostgreSQL 15 "
            "server binaries or set IOC_PG_BIN_DIR"
        )
    return path


def pg_root(settings: Settings) -> Path:
    return settings.home.resolve() / "pg"


def data_dir(settings: Settings) -> Path:
    return pg_root(settings) / "data"


def socket_dir(settings: Settings) -> Path:
    """Socket folder; falls back to /tmp when IOC_HOME is too deep for a socket path."""
    inside = pg_root(settings) / "socket"
    if len(str(inside)) <= 80:  # sun_path is 108 bytes incl. "/.s.PGSQL.NNNNN.lock"
        return inside
    digest = hashlib.sha256(str(inside).encode()).hexdigest()[:12]
    return Path("/tmp") / f"ioc-pg-{digest}"  # noqa: S108


def log_path(settings: Settings) -> Path:
    return settings.home.resolve() / "pg.log"


def _run_as() -> dict[str, Any]:
    """subprocess kwargs that drop root to the ``postgres`` user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ServiceError("running as root but there is no 'postgres' system user") from exc
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _own(path: Path) -> None:
    """Give ``path`` to the server's user (when root)."""
    who = _run_as()
    if who:
        os.chown(path, who["user"], who["group"])


def _pg(step: str, cmd: list[str], settings: Settings, timeout_s: float = 120) -> str:
    """Run a PostgreSQL program as the server user; errors carry output and log tail."""
    proc = subprocess.run(
        cmd, cwd=pg_root(settings), capture_output=True, text=True, timeout=timeout_s,
        start_new_session=True, check=False, **_run_as(),
    )  # fmt: skip
    if proc.returncode != 0:
        raise ServiceError(
            f"postgres: {step} failed (exit {proc.returncode}): {proc.stderr.strip()}\n"
            f"--- last lines of {log_path(settings)} ---\n{log_tail(log_path(settings))}"
        )
    return str(proc.stdout)


def _check_traversable(settings: Settings) -> None:
    """The server user must reach ``pg/``; name the first folder that blocks it."""
    who = _run_as()
    if not who:
        return
    target = pg_root(settings)
    for folder in [*reversed(target.parents), target]:
        ok = subprocess.run(["test", "-x", str(folder)], check=False, **who).returncode == 0
        if not ok:
            raise ServiceError(
                f"postgres: the 'postgres' user cannot traverse {folder} (needed to reach "
                f"{target}); chmod o+x {folder} or choose an IOC_HOME outside it"
            )


def password(settings: Settings) -> str:
    """The ``ioc`` role's password, created on first use (file mode 0600)."""
    path = settings.home.resolve() / "pg.password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def url(settings: Settings, port: int) -> str:
    return f"postgresql://{APP_ROLE}:{password(settings)}@{LOOPBACK}:{port}/{APP_DB}"


def init_cluster(settings: Settings) -> None:
    """``initdb`` once; afterwards (re)write ``ioc.conf`` with our settings."""
    initdb = binary(settings, "initdb")
    root, data, sock = pg_root(settings), data_dir(settings), socket_dir(settings)
    for folder in (root, sock):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _own(folder)
        folder.chmod(0o700)
    _check_traversable(settings)
    log = log_path(settings)
    log.touch(mode=0o600, exist_ok=True)
    _own(log)
    if not (data / "PG_VERSION").exists():
        logger.info("initialising PostgreSQL cluster in %s", data)
        _pg("initdb", [
            str(initdb), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions",
        ], settings)  # fmt: skip
        with (data / "postgresql.conf").open("a") as fh:
            fh.write("\ninclude_if_exists = 'ioc.conf'\n")
    conf = data / "ioc.conf"
    lines = [f"{key} = {value}" for key, value in _TUNING.items()]
    lines += [f"listen_addresses = '{LOOPBACK}'", f"unix_socket_directories = '{sock}'"]
    conf.write_text("# written by ioc.services.postgres on every start\n" + "\n".join(lines) + "\n")
    _own(conf)


def running_pid(settings: Settings) -> int | None:
    """PID of the cluster's postmaster if it is alive (from ``postmaster.pid``)."""
    try:
        pid = int((data_dir(settings) / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _bootstrap_roles(settings: Settings, port: int) -> None:
    """Create/refresh role ``ioc`` and database ``ioc`` over the trusted socket."""
    admin = f"host={socket_dir(settings)} port={port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
        verb = sql.SQL("ALTER" if exists else "CREATE")
        conn.execute(
            sql.SQL("{} ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                verb, sql.Identifier(APP_ROLE), sql.Literal(password(settings))
            )
        )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_DB]).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(APP_DB), sql.Identifier(APP_ROLE)
                )
            )


def start(
    settings: Settings, port: int, timeout_s: float = 60.0, progress: Progress = print
) -> int:
    """Start the cluster detached (own session) on ``127.0.0.1:port``; return the pid.

    Ready means: the ``ioc`` role logs in over TCP with its password and the
    TimescaleDB extension can be created in database ``ioc``.
    """
    pg_ctl = binary(settings, "pg_ctl")
    binary(settings, "postgres")
    if running_pid(settings) is not None:
        raise ServiceError(
            f"postgres: a server is already running on {data_dir(settings)} "
            "(run `ioc services down` first)"
        )
    ensure_port_free(port, "postgres")
    pg_config = bin_dir(settings) / "pg_config"
    ensure_timescaledb(pg_config if pg_config.is_file() else Path("/usr/bin/pg_config"), progress)
    init_cluster(settings)
    try:  # from here on a half-started server is stopped again, even on Ctrl-C
        _pg("pg_ctl start", [
            str(pg_ctl), "start", "-D", str(data_dir(settings)), "-l", str(log_path(settings)),
            "-o", f"-p {port}", "-w", "-t", str(int(timeout_s)), "-s",
        ], settings, timeout_s=timeout_s + 10)  # fmt: skip
        _bootstrap_roles(settings, port)
        app_url = url(settings, port)
        wait_until(lambda: pg_probe(app_url), what="postgres", deadline_s=timeout_s)
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except BaseException as exc:
        stop(settings)
        if isinstance(exc, ServiceError) or not isinstance(exc, Exception):
            raise
        raise ServiceError(
            f"postgres: started but not usable: {exc}\n"
            f"--- last lines of {log_path(settings)} ---\n{log_tail(log_path(settings))}"
        ) from exc
    pid = running_pid(settings)
    if pid is None:
        raise ServiceError(f"postgres exited right after start:\n{log_tail(log_path(settings))}")
    return pid


def stop(settings: Settings, timeout_s: float = 30.0) -> bool:
    """``pg_ctl stop -m fast``; SIGKILL the postmaster if that fails. True if one ran."""
    pid = running_pid(settings)
    if pid is None:
        return False
    try:
        _pg("pg_ctl stop", [
            str(binary(settings, "pg_ctl")), "stop", "-D", str(data_dir(settings)),
            "-m", "fast", "-w", "-t", str(int(timeout_s)), "-s",
        ], settings, timeout_s=timeout_s + 10)  # fmt: skip
    except (ServiceError, subprocess.TimeoutExpired) as exc:
        logger.warning("pg_ctl stop failed (%s); killing postmaster %d", exc, pid)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            os.kill(pid, signal.SIGKILL)
    # pg_ctl returns once postmaster.pid is gone; the process exits a moment later
    with contextlib.suppress(NotReadyError):
        wait_until(lambda: not pid_alive(pid), what="postgres exit", deadline_s=timeout_s)
    return True


def timescaledb_info(database_url: str) -> tuple[str | None, str | None]:
    """(edition, version) of TimescaleDB at ``database_url``: edition "apache"/"timescale".

    Creates the extension if missing (it is what every caller needs next anyway);
    returns (None, None) when it is not available there.
    """
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            license_row = conn.execute("SHOW timescaledb.license").fetchone()
            version_row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
    except psycopg.Error as exc:
        logger.info("TimescaleDB not available at the database: %s", exc)
        return None, None
    license_ = str(license_row[0]) if license_row else ""
    edition = "apache" if license_ == "apache" else "timescale" if license_ else None
    return edition, str(version_row[0]) if version_row else None
