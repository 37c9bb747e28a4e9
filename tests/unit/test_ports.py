"""Ports, probes and small helpers of ioc.services (no services started)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from ioc.services import manager
from ioc.services.ports import (
    NotReadyError,
    PortInUseError,
    ensure_port_free,
    free_port,
    kafka_probe,
    log_tail,
    pg_probe,
    port_in_use,
    tcp_probe,
    wait_until,
)
from ioc.settings import Settings


def test_free_port_is_free_and_detected_when_taken() -> None:
    port = free_port()
    assert not port_in_use(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use(port)
        assert tcp_probe("127.0.0.1", port)
        with pytest.raises(PortInUseError, match=f"broker: port 127.0.0.1:{port} is already"):
            ensure_port_free(port, "broker")


def test_probes_fail_fast_when_nothing_listens() -> None:
    port = free_port()
    assert not tcp_probe("127.0.0.1", port)
    assert not kafka_probe(f"127.0.0.1:{port}")
    assert not pg_probe(f"postgresql://x:y@127.0.0.1:{port}/db", timeout_s=1)


def test_wait_until_polls_until_true() -> None:
    calls = iter([False, False, True])
    wait_until(lambda: next(calls), what="thing", deadline_s=5, interval_s=0.01)


def test_wait_until_deadline_and_dead_process() -> None:
    start = time.monotonic()
    with pytest.raises(NotReadyError, match="thing: not ready after"):
        wait_until(lambda: False, what="thing", deadline_s=0.2, interval_s=0.01)
    assert time.monotonic() - start < 2
    with pytest.raises(NotReadyError, match="exited before becoming ready"):
        wait_until(lambda: False, what="thing", deadline_s=10, alive=lambda: False)


def test_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("\n".join(str(i) for i in range(100)))
    assert log_tail(log, 3) == "97\n98\n99"
    assert log_tail(tmp_path / "missing.log") == ""


def test_mask_url() -> None:
    assert manager.mask_url("postgresql://ioc:s3cret@127.0.0.1:5432/ioc") == (
        "postgresql://ioc:***@127.0.0.1:5432/ioc"
    )
    assert manager.mask_url("postgresql://ioc@h/db") == "postgresql://ioc@h/db"
    assert manager.mask_url("127.0.0.1:9092") == "127.0.0.1:9092"


def test_lookups_without_running_services(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=None, kafka_bootstrap_servers=None)
    with pytest.raises(manager.ServicesNotRunningError, match="run `ioc services up`"):
        manager.database_url(settings)
    with pytest.raises(manager.ServicesNotRunningError):
        manager.kafka_bootstrap(settings)
    external = Settings(
        home=tmp_path, database_url="postgresql://a:b@db/x", kafka_bootstrap_servers="k:9092"
    )
    assert manager.database_url(external) == "postgresql://a:b@db/x"
    assert manager.kafka_bootstrap(external) == "k:9092"


def test_dashboard_url_round_trip(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=None, kafka_bootstrap_servers=None)
    manager.record_dashboard_url(settings, "http://127.0.0.1:8000")
    assert manager.read_state(settings)["dashboard_url"] == "http://127.0.0.1:8000"
    assert (manager.state_path(settings).stat().st_mode & 0o777) == 0o600
    manager.record_dashboard_url(settings, None)
    assert manager.read_state(settings)["dashboard_url"] is None
