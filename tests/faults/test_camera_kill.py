"""kill -9 the camera worker (``ioc vision run``) in the middle of a real clip, restart it.

Real clip: ``us_residential_street_cam.mp4`` (the first 22 s, every frame, 3 detections/s on
the CPU) with a crafted config: the near lane's allowed direction is drawn *away* from the
camera, so every real car driving towards it is a wrong-way violation (real detection,
tracking and timestamps; only the lane direction is made up). A real ``ioc worker`` stores
the violations. The camera process is SIGKILLed once a violation is stored, at the moment an
evidence folder is being written when one is caught in time, and started again on the same
clip; it re-detects the same events (event id = UUID5 of camera, track, rule, stream time).

Afterwards:

* no violation is recorded twice: one row per event id and per (camera, track, rule), and
  as many rows as distinct event ids were published by both runs;
* every stored evidence file exists, has the stored size and SHA-256 (no half-written file,
  none rewritten by the second run), and no stored path lies in a partial folder.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.streams import (
    REPO,
    WorkerProcess,
    ioc_command,
    query,
    topic_values,
    wait_for,
    worker_env,
)

from ioc.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.vision, pytest.mark.integration]

CAMERA = "us-crafted-wrong-way"
CONFIG = {
    "id": CAMERA,
    "name": "US street, crafted wrong way",
    "location": {"lat": 20.864, "lon": 106.672, "area": "303"},
    "source": "shared:data/video/us_residential_street_cam.mp4",
    "detect_fps": 3,
    "frame": {"width": 640, "height": 352},
    "lanes": [
        {
            "id": "lane_reversed",
            "polygon": [[150, 140], [330, 140], [640, 300], [640, 352], [150, 352]],
            # drawn away from the camera: the real cars all come towards it
            "flow": [[462, 350], [425, 317], [341, 250], [261, 178], [240, 152]],
        }
    ],
    "tuning": {"wrong_way_min_s": 1.0, "wrong_way_min_px": 30},
}
SECONDS = 22  # of stream time: seven cars pass


def _violation_messages(settings: Settings) -> list[dict[str, Any]]:
    return [json.loads(v) for v in topic_values(settings, "violations")]


def _partials(root: Path) -> list[Path]:
    return list((root / CAMERA).glob("*/.*.partial-*"))


def test_kill_9_camera_worker_mid_clip_records_nothing_twice(
    worker_factory: Callable[..., WorkerProcess], streams_settings: Settings, tmp_path: Path
) -> None:
    settings = streams_settings.model_copy(
        update={
            "evidence_dir": tmp_path / "evidence",
            "vision_device": "cpu",
            "vision_torch_threads": 1,
        }
    )
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]
    root = tmp_path / "evidence"
    config = tmp_path / "camera.yaml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    worker = worker_factory(settings)
    env = worker_env(settings)
    argv = [*ioc_command(), "vision", "run", "--config", str(config), "--fast", "--no-loop"]
    argv += ["--seconds", str(SECONDS)]
    log = tmp_path / "camera.log"

    def camera() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

    def stored() -> int:
        return int(
            query(url, "SELECT count(*) FROM violations WHERE camera_id = %s", [CAMERA])[0][0]
        )

    first = camera()
    try:
        wait_for(lambda: stored() >= 1 or first.poll() is not None, "a first stored violation", 300)
        assert first.poll() is None, f"camera process ended early:\n{log.read_text()[-4000:]}"
        # kill while an evidence folder is being written, if one shows up in time
        deadline = time.monotonic() + 8.0
        while not _partials(root) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # polling interval
        mid_write = bool(_partials(root))
        mid_clip = first.poll() is None
        first.kill()
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    stored_at_kill = stored()

    second = camera()
    assert second.wait(timeout=300) == 0, log.read_text()[-4000:]

    published = _violation_messages(settings)
    ids = {m["event_id"] for m in published if m.get("camera_id") == CAMERA}
    wait_for(lambda: stored() >= len(ids), "every published violation stored", 120, 0.2)
    rows = query(
        url,
        "SELECT count(*), count(DISTINCT event_id), count(DISTINCT (camera_id, track_id, rule))"
        " FROM violations WHERE camera_id = %s",
        [CAMERA],
    )[0]
    evidence = query(
        url,
        "SELECT e.event_id, e.path, e.sha256, e.bytes FROM violation_evidence e"
        " JOIN violations v USING (event_id) WHERE v.camera_id = %s",
        [CAMERA],
    )
    bad = []
    for event_id, path, sha, size in evidence:
        full = root / path
        if (
            ".partial-" in path
            or str(event_id) not in path
            or not full.is_file()
            or full.stat().st_size != size
            or hashlib.sha256(full.read_bytes()).hexdigest() != sha
        ):
            bad.append(path)
    print(
        f"\n[faults] camera kill -9: violations stored at the kill {stored_at_kill},"
        f" killed mid-clip {mid_clip}, mid-evidence-write {mid_write}, published messages {len(published)}"
        f" ({len(ids)} distinct events), stored {rows[0]}, duplicated {rows[0] - rows[1]},"
        f" evidence files checked {len(evidence)}, bad {len(bad)}"
    )
    assert mid_clip and stored_at_kill >= 1  # killed after a violation, before the end
    assert len(published) > len(ids)  # the restart re-sent events already stored
    assert rows[0] == rows[1] == rows[2] == len(ids) >= 2
    assert evidence and not bad, bad[:5]
    kinds = query(
        url,
        "SELECT count(DISTINCT e.event_id) FROM violation_evidence e"
        " JOIN violations v USING (event_id) WHERE v.camera_id = %s AND e.kind = 'clip_raw'",
        [CAMERA],
    )[0][0]
    assert kinds == len(ids)  # every stored violation has its clip
    assert not _partials(root)  # the restarted writer cleared what the killed one left
    assert worker.stop() == 0
