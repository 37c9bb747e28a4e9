"""``ioc run`` end to end: everything starts, data reaches the live page, SIGINT stops it all.

Runs the real command in a fresh IOC_HOME on embedded services, with the replay limited;
reads the first admin's password from its output (printed once), logs in, opens the live
websocket and waits for readings, then sends SIGINT and checks that every child process
and both embedded services are gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.processes import Output, gone, ioc_command
from websockets.asyncio.client import connect

from ioc.settings import Settings
from streams.topics import worker_topic_names

REPO = Path(__file__).resolve().parents[2]


async def _wait_for_readings(url: str, password: str, deadline_s: float) -> dict[str, Any]:
    from dashboard.auth import SESSION_COOKIE

    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/login", json={"username": "admin", "password": password})
        resp.raise_for_status()
        token = resp.cookies[SESSION_COOKIE]
    ws_url = "ws" + url.removeprefix("http").rstrip("/") + "/ws"
    async with asyncio.timeout(deadline_s):
        async with connect(
            ws_url,
            additional_headers={"Cookie": f"{SESSION_COOKIE}={token}"},
            origin=url.rstrip("/"),
        ) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channels": ["sensors"]}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == "snapshot" and msg.get("latest"):
                    return dict(msg)
                if msg.get("type") == "readings" and msg.get("items"):
                    return dict(msg)


async def _wait_for_camera(url: str, password: str, deadline_s: float) -> dict[str, Any]:
    """The first camera health message on the ``cameras`` channel (``ioc vision run``)."""
    from dashboard.auth import SESSION_COOKIE

    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/login", json={"username": "admin", "password": password})
        resp.raise_for_status()
        token = resp.cookies[SESSION_COOKIE]
    ws_url = "ws" + url.removeprefix("http").rstrip("/") + "/ws"
    async with asyncio.timeout(deadline_s):
        async with connect(
            ws_url,
            additional_headers={"Cookie": f"{SESSION_COOKIE}={token}"},
            origin=url.rstrip("/"),
        ) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channels": ["cameras"]}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == "camera" and msg.get("connected"):
                    return dict(msg)


@pytest.mark.integration
def test_run_starts_the_centre_and_stops_everything_on_sigint(
    fresh_home: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(IOC_HOME=str(fresh_home), IOC_REPLAY_SPEED=str(3600 * 24), IOC_LOG_LEVEL="INFO")
    proc = subprocess.Popen(
        [*ioc_command(), "run", "--replay-limit", "3000"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(proc)
    try:
        password = out.wait_for(r"password: (\S+)", 300).group(1)
        url = out.wait_for(r"Live page:\s+(http://\S+)", 300).group(1)
        out.wait_for(r"replay started", 30)
        # a fresh home: every topic the worker needs is new (the count once came out -3)
        topics = len(worker_topic_names(Settings()))
        out.wait_for(rf"topics: {topics} created, 0 existed", 1)
        share = f"{Settings.model_fields['vision_run_cpu_share'].default:g}"
        assert Settings.model_fields["vision_run_detect_fps"].default == "auto"
        out.wait_for(rf"cameras: `ioc vision run` started, detections/s sized to {share} ", 30)
        run_dir = fresh_home / "run"
        children = json.loads((run_dir / "children.json").read_text())["children"]
        services = json.loads((run_dir / "services.json").read_text())
        assert set(children) == {"worker", "dashboard", "replay", "vision"}
        service_pids = [services[n]["pid"] for n in ("postgres", "broker")]
        snapshot = asyncio.run(_wait_for_readings(url, password, 120))
        assert snapshot["type"] in ("snapshot", "readings")
        camera = asyncio.run(_wait_for_camera(url, password, 180))
        ids = {"vn-junction-a", "vn-junction-b", "us-residential-street", "parking-lot-aisle"}
        assert camera["camera_id"] in ids and camera["processed_fps"] >= 0
        assert out.text().count(password) == 1  # shown once
        for name in ("worker", "dashboard", "replay", "vision"):
            assert (fresh_home / "logs" / f"{name}.log").stat().st_size > 0
        # the cameras' rate was sized on this host before they started
        vision_log = (fresh_home / "logs" / "vision.log").read_text(errors="replace")
        sized = re.search(r"detections/s capped at ([\d.]+) per camera for 4 camera", vision_log)
        assert sized is not None and 1 <= float(sized.group(1)) <= 10, vision_log[-2000:]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, out.text()
    pids = [*children.values(), *service_pids]
    deadline = time.monotonic() + 15
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if not gone(p)] == [], out.text()
    assert not (run_dir / "children.json").exists()
    state = json.loads((run_dir / "services.json").read_text())
    assert "postgres" not in state and "broker" not in state


# --- the launcher's child handling, with plain Python children (fast) ------------------

PY = [sys.executable, "-c"]


def test_children_stop_in_order_and_state_is_kept(tmp_path: Path) -> None:
    from infra.launcher import ChildGroup

    group = ChildGroup(tmp_path / "logs", os.environ, state_file=tmp_path / "children.json")
    a = group.start("a", ["import time; print('a up', flush=True); time.sleep(60)"], command=PY)
    b = group.start("b", ["import time; time.sleep(60)"], command=PY)
    state = json.loads((tmp_path / "children.json").read_text())
    assert state["children"] == {"a": a.pid, "b": b.pid}
    group.wait_ready(a, lambda: "a up" in a.log.read_text().splitlines(), what="a", deadline_s=30)
    assert group.first_dead() is None
    group.stop_all(timeout_s=10)
    assert not a.alive() and not b.alive()
    assert a.describe_exit() == "was killed by SIGTERM"
    assert not (tmp_path / "children.json").exists()


def test_a_dying_child_fails_the_wait_with_its_log(tmp_path: Path) -> None:
    from infra.launcher import ChildFailed, ChildGroup

    group = ChildGroup(tmp_path / "logs", os.environ)
    slow = group.start("slow", ["import time; time.sleep(60)"], command=PY)
    group.start("crash", ["import sys; print('boom: no database'); sys.exit(3)"], command=PY)
    with pytest.raises(ChildFailed) as failed:
        group.wait_ready(slow, lambda: False, what="never", deadline_s=30)
    message = str(failed.value)
    assert "crash exited with code 3" in message and "boom: no database" in message
    group.stop_all(timeout_s=10)
    assert not slow.alive()


def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    from infra.launcher import ChildGroup

    group = ChildGroup(tmp_path / "logs", os.environ)
    stubborn = group.start(
        "stubborn",
        [
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)"
        ],
        command=PY,
    )
    group.wait_ready(
        stubborn,
        lambda: "ready" in stubborn.log.read_text().splitlines(),
        what="ready",
        deadline_s=30,
    )
    group.stop_all(timeout_s=0.5)
    assert stubborn.describe_exit() == "was killed by SIGKILL"
