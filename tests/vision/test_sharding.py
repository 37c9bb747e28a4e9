"""Several camera workers sharing one camera list: every camera runs on exactly one worker,
the split does not depend on the list's order, and adding a worker moves few cameras."""

from __future__ import annotations

import logging
import random
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ioc.settings import Settings
from vision.sharding import ShardError, mine, shard_of

CAMERAS = [f"cam-{i:03d}" for i in range(200)] + ["vn-junction-a", "us-residential-street"]


@pytest.mark.parametrize("workers", [1, 2, 3, 5, 8])
def test_every_camera_on_exactly_one_worker(workers: int) -> None:
    shares = [mine(CAMERAS, k, workers) for k in range(workers)]
    flat = [c for share in shares for c in share]
    assert sorted(flat) == sorted(CAMERAS)  # each once, none lost
    assert all(shard_of(c, workers) == k for k, share in enumerate(shares) for c in share)
    if workers > 1:  # a fair split of 202 cameras, not all on one worker
        assert min(len(s) for s in shares) >= len(CAMERAS) / workers / 2


def test_stable_under_reordering_and_keeps_the_given_order() -> None:
    shuffled = CAMERAS[::-1]
    random.Random(7).shuffle(shuffled)
    for k in range(3):
        assert sorted(mine(shuffled, k, 3)) == sorted(mine(CAMERAS, k, 3))
        assert mine(CAMERAS, k, 3) == [c for c in CAMERAS if c in set(mine(CAMERAS, k, 3))]
    # a fixed function of the id (no per-process hash seed): pinned values
    assert [shard_of("vn-junction-a", n) for n in (1, 2, 3)] == [0, 1, 1]
    assert [shard_of(c, 2) for c in ("vn-junction-b", "us-residential-street")] == [1, 0]
    assert mine(["x"], 0, 1) == ["x"]


def test_a_new_worker_only_takes_cameras() -> None:
    for n in (1, 2, 4):
        moved = [c for c in CAMERAS if shard_of(c, n) != shard_of(c, n + 1)]
        assert all(shard_of(c, n + 1) == n for c in moved)  # only to the new worker
        assert len(moved) < len(CAMERAS) * 2 / (n + 1)


@pytest.mark.parametrize(("index", "workers"), [(0, 0), (2, 2), (-1, 3)])
def test_bad_index_or_count_is_refused(index: int, workers: int) -> None:
    with pytest.raises(ShardError):
        mine(CAMERAS, index, workers)


@pytest.mark.vision
def test_two_workers_run_every_shipped_camera_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``ioc vision run --workers 2 --worker-index K`` on the four shipped cameras (real clips,
    1 s each, no Kafka): each worker sends health for its own cameras and only those."""
    from ioc.cli import main
    from vision.config import load_cameras

    monkeypatch.setenv("IOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IOC_VISION_DEVICE", "cpu")
    cameras_dir = Settings().cameras_dir
    ids = sorted(load_cameras(cameras_dir))
    assert len(ids) >= 3
    seen: list[set[str]] = []
    for k in range(2):
        caplog.clear()
        caplog.set_level(logging.DEBUG, logger="vision.publish")
        argv = ["vision", "run", "--config", str(cameras_dir), "--no-kafka", "--fast"]
        argv += ["--no-loop", "--seconds", "1", "--workers", "2", "--worker-index", str(k)]
        assert main(argv) == 0, capsys.readouterr().err
        health = set()
        for rec in caplog.records:
            hit = re.fullmatch(r"would send camera to \S+ \(key (.+)\)", rec.getMessage())
            if hit:
                health.add(hit.group(1))
        seen.append(health)
        assert health == set(mine(ids, k, 2)), k  # its own cameras, from this worker
    assert seen[0] | seen[1] == set(ids) and not seen[0] & seen[1]


@pytest.mark.vision
@pytest.mark.integration
def test_two_concurrent_workers_report_every_camera_to_kafka(services: Any, tmp_path: Path) -> None:
    """Two ``ioc vision run`` processes at once, real broker: camera health for every shipped
    camera reaches the dashboard topic, and each process ran exactly its own share."""
    from fixtures.streams import REPO, dashboard_messages, ioc_command, worker_env

    from vision.config import load_cameras

    settings = Settings(
        home=tmp_path / "home",
        kafka_bootstrap_servers=services.kafka_bootstrap_servers,
        topic_prefix=f"shard{secrets.token_hex(4)}",
        vision_device="cpu",
        vision_torch_threads=1,
        vision_workers=2,  # the index comes from the command line, the count from settings
    )
    ids = sorted(load_cameras(settings.cameras_dir))
    argv = [*ioc_command(), "vision", "run", "--all", "--fast", "--no-loop", "--seconds", "1"]
    procs = [
        subprocess.Popen(
            [*argv, "--worker-index", str(k)],
            env=worker_env(settings),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for k in range(2)
    ]
    ran: list[set[str]] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        text = out.decode(errors="replace")
        assert proc.returncode == 0, text[-4000:]
        ran.append(set(re.findall(r"^([\w-]+): \d+ frames", text, re.MULTILINE)))
    assert ran == [set(mine(ids, k, 2)) for k in range(2)]
    health = {m["camera_id"] for m in dashboard_messages(settings) if m.get("type") == "camera"}
    assert health == set(ids)
