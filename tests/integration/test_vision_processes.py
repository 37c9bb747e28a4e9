"""``ioc vision run --processes P``: one command, P supervised camera processes on the real
sample clips and weights (CPU, no Kafka); a killed process is restarted, a finished one is
not, and a signal stops them all."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fixtures.processes import Output, gone, ioc_command

from ioc.cli.vision_processes import child_args, child_env, slots
from vision.sharding import ShardError

pytestmark = pytest.mark.vision


def test_each_process_takes_one_slot_of_this_hosts_share() -> None:
    assert slots(1, 0, 3) == [(3, 0), (3, 1), (3, 2)]
    assert slots(2, 1, 3) == [(6, 3), (6, 4), (6, 5)]  # host 1 of 2 keeps its own cameras
    with pytest.raises(ShardError, match=r"index must be 0\.\.1"):
        slots(2, 2, 3)
    with pytest.raises(ShardError, match="processes must be at least 1"):
        slots(1, 0, 0)


def test_children_share_the_cores_when_the_thread_count_is_the_default() -> None:
    env = {"PATH": "/bin"}
    assert child_env(env, 0, 2, 2) == {"PATH": "/bin", "IOC_VISION_TORCH_THREADS": "1"}
    assert child_env(env, 0, 4, 16)["IOC_VISION_TORCH_THREADS"] == "4"
    assert child_env(env, 0, 3, 2)["IOC_VISION_TORCH_THREADS"] == "1"  # never 0: every core
    assert child_env(env, 3, 2, 16) == env  # an explicit setting is the operator's choice
    assert child_env(env, 0, 1, 16) == env  # one process keeps the runtime's default
    assert env == {"PATH": "/bin"}  # the caller's mapping is not changed


def test_children_get_the_same_options_and_their_slot() -> None:
    args = argparse.Namespace(
        camera=["vn-junction-a"],
        config=Path("cams"),
        no_loop=True,
        fast=False,
        no_kafka=True,
        seconds=12.5,
        max_detect_fps=3.0,
    )
    assert child_args(args, 4, 3) == [
        "vision", "run", "--camera", "vn-junction-a", "--config", "cams", "--no-loop",
        "--no-kafka", "--seconds", "12.5", "--max-detect-fps", "3", "--processes", "1",
        "--workers", "4", "--worker-index", "3",
    ]  # fmt: skip


def test_children_of_an_auto_cap_size_their_cameras_in_their_share() -> None:
    args = argparse.Namespace(
        camera=[], config=None, no_loop=False, fast=False, no_kafka=False, seconds=None,
        max_detect_fps="auto", cpu_share=0.5,
    )  # fmt: skip
    assert child_args(args, 2, 1, processes=2) == [
        "vision", "run", "--max-detect-fps", "auto", "--cpu-share", "0.25", "--processes", "1",
        "--workers", "2", "--worker-index", "1",
    ]  # fmt: skip
    args.keep_input_size = True
    assert child_args(args, 2, 1, processes=2)[2:3] == ["--keep-input-size"]


def _start(home: Path, *extra: str) -> tuple[subprocess.Popen[str], Output]:
    proc = subprocess.Popen(
        [*ioc_command(), "vision", "run", "--all", "--no-kafka", "--processes", "2", *extra],
        env={**os.environ, "IOC_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, Output(proc)


def test_processes_split_the_cameras_and_finish(tmp_path: Path) -> None:
    proc, out = _start(tmp_path, "--fast", "--seconds", "2")
    assert proc.wait(timeout=240) == 0, out.text()
    out.wait_for(r"vision: 2 of 2 processes finished, 0 restart\(s\)", 10)
    text = out.text()
    for cam in ("vn-junction-a", "vn-junction-b", "us-residential-street", "parking-lot-aisle"):
        assert len([ln for ln in out.lines if f"] {cam}: " in ln and "frames" in ln]) == 1, text
    assert "[vision-0]" in text and "[vision-1]" in text
    assert (tmp_path / "logs" / "vision-1.log").is_file()


def test_a_killed_process_is_restarted_and_a_signal_stops_all(tmp_path: Path) -> None:
    proc, out = _start(tmp_path)
    state = tmp_path / "run" / "vision-processes.json"
    try:
        out.wait_for(r"\[vision-0\] .*vision: \d camera\(s\) on", 120)
        out.wait_for(r"\[vision-1\] .*vision: \d camera\(s\) on", 120)
        first = json.loads(state.read_text())["children"]
        os.kill(first["vision-1"], signal.SIGKILL)
        out.wait_for(r"vision: vision-1 was killed by SIGKILL; restarting in 1 s", 30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = json.loads(state.read_text())["children"]
            if now["vision-1"] != first["vision-1"]:
                break
            time.sleep(0.2)
        assert now["vision-1"] != first["vision-1"], out.text()
        assert now["vision-0"] == first["vision-0"]  # the other one ran on untouched
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, out.text()
    finally:
        if proc.poll() is None:
            proc.kill()
    out.wait_for(r"vision: 0 of 2 processes finished, 1 restart\(s\)", 10)
    assert all(gone(pid) for pid in now.values())
    assert not state.exists()
