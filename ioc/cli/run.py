"""``ioc run``: the whole centre on embedded defaults, in one command (what ``make run`` does).

Steps: start the embedded services (in this process, stopped on exit) → ``db migrate`` →
``db seed`` → first admin (password printed once) → the replay's API key (kept in
``IOC_HOME``, mode 0600, reused next time) → Kafka topics → ``ioc worker``, ``ioc
dashboard`` and, with ``IOC_MQTT_URL``, ``ioc mqtt`` as children, each waited for until
ready → the live page URL → ``ioc replay`` (``IOC_REPLAY_ON_RUN``) → ``ioc vision run`` on
the configured cameras (the sample clips, looping; ``IOC_VISION_ON_RUN``, detections capped
at ``IOC_VISION_RUN_DETECT_FPS`` per camera, by default sized to ``IOC_VISION_RUN_CPU_SHARE``
of the host's cores) → supervise.

A child that dies is named with the tail of its log, and everything is stopped (exit 1);
only the camera pipeline is optional: if it stops, that is reported and the centre goes on.
Ctrl-C or SIGTERM stops every child and the services this command started (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import httpx
import psycopg

from ioc.settings import Settings

logger = logging.getLogger(__name__)


class Interrupted(Exception):
    """SIGINT or SIGTERM asked the launcher to stop."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("run", help="start the whole centre (services, worker, web, replay)")
    p.add_argument(
        "--foreground-logs",
        action="store_true",
        help="also stream the children's logs to this terminal",
    )
    p.add_argument("--no-replay", action="store_true", help="do not start the data replay")
    p.add_argument("--no-vision", action="store_true", help="do not start the camera pipeline")
    p.add_argument(
        "--replay-limit", type=int, default=None, help="stop the replay after N readings"
    )
    p.add_argument(
        "--ready-timeout",
        type=float,
        default=180.0,
        help="seconds each child may take to become ready",
    )
    p.set_defaults(func=cmd_run)


def say(line: str = "") -> None:
    print(line, flush=True)


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """First SIGINT/SIGTERM raises :class:`Interrupted`; later ones only set the event."""
    hurry = threading.Event()
    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            hurry.set()
            return
        stopping = True
        raise Interrupted(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield hurry
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from infra.launcher import ChildFailed
    from ioc.services import manager
    from ioc.services.ports import ServiceError

    if not getattr(args, "verbose", False):  # this command prints its own progress
        for name in ("httpx", "ioc.storage", "ioc.services"):
            logging.getLogger(name).setLevel(logging.WARNING)
    settings.home.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"home": settings.home.resolve()})
    say(f"Hai Phong IOC: starting the whole centre (state in {settings.home})")
    with _stop_signals() as hurry:
        try:
            with manager.running(settings, progress=lambda line: say(f"  {line}")) as ep:
                _run_centre(args, settings, ep.database_url, ep.kafka_bootstrap_servers, hurry)
        except Interrupted as exc:
            say(f"\nstopped by {exc}: every process `ioc run` started is stopped.")
            return 0
        except (ServiceError, ChildFailed, SetupError) as exc:
            print(f"\nerror: {exc}", file=sys.stderr, flush=True)
            return 1


class SetupError(RuntimeError):
    """A set-up step (migrate, seed, admin, key, topics) failed; the message says which."""


def _setup(settings: Settings, db_url: str, bootstrap: str) -> None:
    from ioc.cli.replay import api_key_path
    from ioc.cli.users import ensure_first_admin
    from ioc.storage.db import connect
    from ioc.storage.migrate import MigrationError, migrate
    from ioc.storage.registry import read_areas, read_sensors, seed
    from ioc.storage.users import UserError
    from streams.topics import ensure_topics, worker_topic_names

    try:
        with connect(db_url) as conn:
            report = migrate(conn, retention_days=settings.retention_days)
            say(
                f"  schema: {len(report.applied)} migration(s) applied, {report.already} already "
                f"(TimescaleDB {report.timescaledb_version}, {report.edition} edition)"
            )
            areas = read_areas(settings.areas_file)
            sensors = read_sensors(settings.sensors_file)
            seed(conn, areas, sensors)
            say(f"  registry: {len(areas)} areas, {len(sensors)} sensors")
            chosen = settings.admin_password
            password = ensure_first_admin(conn, chosen.get_secret_value() if chosen else None)
            if password is not None:
                _print_admin(password)
            elif chosen is None:
                say("  users exist already (the first admin's password was shown on first run)")
            ensure_replay_key(conn, api_key_path(settings))
        topics = worker_topic_names(settings)
        created = asyncio.run(ensure_topics(bootstrap, settings))
        say(f"  topics: {len(created)} created, {len(topics) - len(created)} existed")
    except (OSError, ValueError, UserError, MigrationError, psycopg.Error) as exc:
        raise SetupError(f"set-up failed: {exc}") from exc


def _print_admin(password: str) -> None:
    bar = "=" * 64
    say(
        f"\n{bar}\n  FIRST ADMIN CREATED - write this down, it is shown only once:\n"
        f"      user:     admin\n      password: {password}\n{bar}\n"
    )


def ensure_replay_key(conn: Any, path: Path) -> None:
    """Reuse the key in ``path`` if the database still knows it, else create one (0600)."""
    from ioc.domain.auth import api_key_matches, api_key_prefix, new_api_key
    from ioc.storage.users import create_api_key, list_api_keys

    try:
        existing = path.read_text().strip()
    except OSError:
        existing = ""
    prefix = api_key_prefix(existing) if existing else None
    if prefix is not None:
        for key in list_api_keys(conn):
            if (
                key.prefix == prefix
                and key.revoked_at is None
                and api_key_matches(existing, key.key_hash)
            ):
                say(f"  replay API key: reusing {key.name} ({path})")
                return
    new = new_api_key()
    create_api_key(conn, f"replay-{new.prefix}", new.prefix, new.key_hash, "ingest")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new.key + "\n")
    os.replace(tmp, path)
    say(f"  replay API key: created replay-{new.prefix} (kept in {path}, mode 0600)")


def _health(url: str) -> tuple[int, str] | None:
    try:
        resp = httpx.get(url.rstrip("/") + "/healthz", timeout=3.0)
    except httpx.HTTPError:
        return None
    return resp.status_code, resp.text


def _run_centre(
    args: argparse.Namespace,
    settings: Settings,
    db_url: str,
    bootstrap: str,
    hurry: threading.Event,
) -> NoReturn:
    from infra.launcher import ChildGroup
    from ioc.mqtt_bridge import ready_path
    from ioc.services.manager import read_state, record_dashboard_url

    if settings.replay_on_run and settings.replay_path == "mqtt" and not settings.mqtt_url:
        raise SetupError("IOC_REPLAY_PATH=mqtt needs IOC_MQTT_URL (an MQTT broker to use)")
    say("setting up:")
    _setup(settings, db_url, bootstrap)
    env = {**os.environ, "IOC_HOME": str(settings.home)}
    logs = settings.home / "logs"
    group = ChildGroup(
        logs, env, foreground=args.foreground_logs, state_file=settings.run_dir / "children.json"
    )
    try:
        say(f"starting processes (logs in {logs}/):")
        record_dashboard_url(settings, None)
        worker = group.start("worker", ["worker"])
        dashboard = group.start("dashboard", ["dashboard"])
        url_box: list[str] = []

        def dashboard_up() -> bool:
            url = read_state(settings).get("dashboard_url")
            if url and _health(str(url)) is not None:
                url_box[:] = [str(url)]
                return True
            return False

        group.wait_ready(
            dashboard,
            dashboard_up,
            what="web server",
            deadline_s=args.ready_timeout,
            interval_s=0.5,
        )
        url = url_box[0]
        say(f"  dashboard: listening on {url}")
        health = lambda: (_health(url) or (0, ""))[0] == 200  # noqa: E731
        group.wait_ready(
            worker,
            health,
            what="worker heartbeat (/healthz ok)",
            deadline_s=args.ready_timeout,
            interval_s=0.5,
        )
        say("  worker: heartbeat seen, /healthz ok")
        if settings.mqtt_url:
            ready_path(settings).unlink(missing_ok=True)
            bridge = group.start("mqtt", ["mqtt"])
            group.wait_ready(
                bridge,
                lambda: _ready_pid(ready_path(settings)) == bridge.pid,
                what="MQTT subscription",
                deadline_s=args.ready_timeout,
            )
            say(f"  mqtt bridge: subscribed to {settings.mqtt_topic_filter}")
        _banner(url)
        replay = None
        if settings.replay_on_run and not args.no_replay:
            cmd = [
                "replay",
                "--via",
                settings.replay_path,
                "--speed",
                f"{settings.replay_speed:g}",
                "--url",
                url,
            ]
            if args.replay_limit is not None:
                cmd += ["--limit", str(args.replay_limit)]
            replay = group.start("replay", cmd)
            say(
                f"replay started: real data via {settings.replay_path}, "
                f"x{settings.replay_speed:g} (progress in {replay.log})"
            )
        vision = _start_vision(group, settings, args)
        say("Ctrl-C stops everything.")
        _supervise(group, replay, show_progress=not args.foreground_logs, optional=vision)
    finally:
        say("stopping processes ...")
        group.stop_all(hurry=hurry)
        record_dashboard_url(settings, None)


def _start_vision(group: Any, settings: Settings, args: argparse.Namespace) -> Any:
    """``ioc vision run`` on every configured camera, looping the sample clips; ``None`` when
    disabled or impossible (no weights, no camera config) - the centre runs without it."""
    if not settings.vision_on_run or getattr(args, "no_vision", False):
        return None
    if not settings.model_path.is_file():
        say(f"cameras: not started (no detector weights at {settings.model_path})")
        return None
    if not any(settings.cameras_dir.glob("*.y*ml")):
        say(f"cameras: not started (no camera configs in {settings.cameras_dir})")
        return None
    argv, how = vision_argv(settings)
    vision = group.start("vision", argv)
    say(f"cameras: `ioc vision run` started, {how} ({vision.log})")
    return vision


def _ready_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _banner(url: str) -> None:
    live = url.rstrip("/") + "/"
    bar = "*" * 64
    say(f"\n{bar}\n  Hai Phong IOC is running.\n  Live page:  {live}\n{bar}\n")


def _last_progress(log: Path) -> str | None:
    """The replay's latest progress line from its log (it logs one every 10 s)."""
    from infra.launcher import log_tail

    for line in reversed(log_tail(log, 20).splitlines()):
        if "replay via" in line:
            return line[line.index("replay via") :]
    return None


def _supervise(
    group: Any,
    replay: Any,
    *,
    show_progress: bool,
    every_s: float = 30.0,
    optional: Any = None,
) -> NoReturn:
    """Until a signal: a replay that ends well is reported once; the ``optional`` child (the
    camera pipeline) stopping is reported once with its log; any other exit is fatal.

    Every ``every_s`` the replay's progress is repeated here, so the terminal shows that
    data flows without ``--foreground-logs``.
    """
    shown_at = time.monotonic()
    while True:
        if (
            replay is not None
            and not replay.done_ok
            and not replay.alive()
            and replay.proc.returncode == 0
        ):
            replay.done_ok = True
            say("replay finished (all data sent); the centre keeps running.")
        if optional is not None and not optional.done_ok and not optional.alive():
            from infra.launcher import log_tail

            optional.done_ok = True
            say(
                f"{optional.name} stopped ({optional.describe_exit()}); the centre keeps "
                f"running without it. Last lines of {optional.log}:\n{log_tail(optional.log, 8)}"
            )
        dead = group.first_dead()
        if dead is not None:
            raise dead.failure(f"{dead.describe_exit()}; stopping everything")
        if show_progress and replay is not None and time.monotonic() - shown_at >= every_s:
            shown_at = time.monotonic()
            line = _last_progress(replay.log)
            if line:
                say(f"  {line}")
        time.sleep(0.2)


def vision_argv(settings: Settings) -> tuple[list[str], str]:
    """The ``ioc`` arguments of ``ioc run``'s cameras and how their rate is set, in words."""
    cap = settings.vision_run_detect_fps
    argv = ["vision", "run", "--all"]
    if cap == "auto":
        share = settings.vision_run_cpu_share
        argv += ["--max-detect-fps", "auto", "--cpu-share", f"{share:g}"]
        if settings.vision_run_keep_input_size:
            argv.append("--keep-input-size")
        return argv, f"detections/s sized to {share:g} of this host's cores"
    argv += ["--max-detect-fps", f"{cap:g}"]
    return argv, f"at most {cap:g} detections/s each"
