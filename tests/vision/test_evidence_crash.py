"""Evidence under crashes: an event folder appears complete in one atomic rename or not at
all, a writer killed half-way leaves nothing that is referenced, and writing the same event
again (a restarted camera worker re-detecting it) modifies nothing; the writer thread
yields the cores to the cameras."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vision.catalogue import ViolationCatalogue
from vision.clips import ENCODER_NICENESS, write_mp4
from vision.config import CameraConfig
from vision.detector import CLASS_NAMES
from vision.evidence import (
    EvidenceFile,
    EvidenceJob,
    EvidenceRecorder,
    EvidenceWriter,
    FrameRing,
    Overlay,
    write_evidence,
)
from vision.rules.base import Violation
from vision.tracks import Detections

CAM = CameraConfig.model_validate(
    {
        "id": "cam-c",
        "name": "C",
        "location": {"lat": 20.8, "lon": 106.7},
        "source": "x.mp4",
        "detect_fps": 5,
        "frame": {"width": 160, "height": 120},
    }
)
WALL0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _job(
    catalogue: ViolationCatalogue, wall: float = WALL0 + 2.0, event_id: str = "ev-crash"
) -> EvidenceJob:
    legal = catalogue.resolve("wrong_way", "car")
    assert legal is not None
    v = Violation(
        rule="wrong_way",
        camera_id="cam-c",
        track_id=3,
        vehicle_class="car",
        time=2.0,
        evidence_from=1.0,
        evidence_to=3.0,
        where="l",
        legal=legal,
        measured={},
    )
    ring = FrameRing(horizon_s=20.0, max_fps=10.0)
    for i in range(41):
        t = round(i * 0.1, 3)
        img = np.full((120, 160, 3), 50, np.uint8)
        x = int(10 + 20 * t)
        img[60:90, x : x + 30] = (40, 40, 220)
        det = Detections(
            t,
            np.array([[x, 60, x + 30, 90]], float),
            np.array([0.9]),
            np.array([CLASS_NAMES.index("car")]),
            CLASS_NAMES,
            np.array([3]),
        )
        ring.add(t, wall - 2.0 + t, img, Overlay(det, {}))
    rec = EvidenceRecorder(CAM, ring)
    rec.open(v, event_id, wall)
    (job,) = rec.ready()
    return job


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_event_folder_is_complete_and_written_once(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    files = write_evidence(_job(catalogue), tmp_path)
    day = tmp_path / "cam-c" / "2026-01-01"
    assert [p.name for p in day.iterdir()] == ["ev-crash"]  # no partial folder left
    for f in files:
        assert hashlib.sha256((tmp_path / f.path).read_bytes()).hexdigest() == f.sha256
    before = _tree(tmp_path)
    # the same event again, seen 7 s later by a restarted worker: the metadata would differ
    again = write_evidence(_job(catalogue, wall=WALL0 + 9.0), tmp_path)
    assert again == files and _tree(tmp_path) == before


def test_a_writer_killed_half_way_leaves_nothing_referenced(
    tmp_path: Path, catalogue: ViolationCatalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = write_mp4
    calls: list[Path] = []

    def dies_on_second_clip(path: Path, frames: Any, fps: float, *rest: Any) -> str:
        calls.append(path)
        if len(calls) == 2:
            path.write_bytes(b"\x00\x00\x00\x18ftypisom")  # a half-written MP4
            raise OSError("killed")
        return real(path, frames, fps, *rest)

    monkeypatch.setattr("vision.evidence.write_mp4", dies_on_second_clip)
    with pytest.raises(OSError, match="killed"):
        write_evidence(_job(catalogue), tmp_path)
    day = tmp_path / "cam-c" / "2026-01-01"
    assert list(day.iterdir()) == []  # neither a final nor a partial folder
    assert calls[0].parent.name.startswith(".ev-crash.partial-")

    # a SIGKILL leaves its partial folder behind; the next writer clears it
    monkeypatch.setattr("vision.evidence.write_mp4", real)
    leftover = day / ".ev-crash.partial-dead"
    leftover.mkdir()
    (leftover / "clip_raw.mp4").write_bytes(b"half")
    # and an incomplete event folder of an older, non-atomic writer is set aside
    (day / "ev-crash").mkdir()
    (day / "ev-crash" / "clip_raw.mp4").write_bytes(b"half")
    files = write_evidence(_job(catalogue), tmp_path)
    names = sorted(p.name for p in day.iterdir())
    assert names[0].startswith(".ev-crash.stale-") and names[1:] == ["ev-crash"]
    for f in files:
        assert hashlib.sha256((tmp_path / f.path).read_bytes()).hexdigest() == f.sha256
        assert f.path.startswith("cam-c/2026-01-01/ev-crash/")


def test_existing_evidence_refuses_a_tampered_folder(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    files = write_evidence(_job(catalogue), tmp_path)
    clip = tmp_path / next(f.path for f in files if f.kind == "clip_raw")
    clip.write_bytes(clip.read_bytes()[:100])
    with pytest.raises(ValueError, match="differs"):
        write_evidence(_job(catalogue), tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_writer_thread_runs_below_the_cameras(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    done = threading.Event()
    seen: list[tuple[int, int]] = []

    def finished(job: EvidenceJob, files: list[EvidenceFile] | None) -> None:
        seen.append((os.getpriority(os.PRIO_PROCESS, 0), len(files or [])))
        done.set()

    writer = EvidenceWriter(tmp_path, finished)
    writer.submit(_job(catalogue))
    assert done.wait(120)
    writer.close()
    ((nice, written),) = seen
    assert nice == min(19, own + ENCODER_NICENESS)
    assert written > 0
    assert os.getpriority(os.PRIO_PROCESS, 0) == own  # the camera thread keeps its priority


def test_a_writer_that_falls_behind_reports_its_backlog_and_what_it_dropped(
    tmp_path: Path, catalogue: ViolationCatalogue
) -> None:
    """A queue of one job: while the writer is busy, one job waits; the next finds the queue
    full and is handed back at once without clips (its violation is still published). The
    health message carries both numbers."""
    busy, release = threading.Event(), threading.Event()
    results: list[tuple[str, bool]] = []

    def finished(job: EvidenceJob, files: list[EvidenceFile] | None) -> None:
        results.append((job.event_id, files is not None))
        if len(results) == 1:
            busy.set()
            assert release.wait(60)

    writer = EvidenceWriter(tmp_path, finished, max_jobs=1)
    jobs = [_job(catalogue, event_id=f"ev-{k}") for k in range(3)]
    writer.submit(jobs[0])
    assert busy.wait(120)  # the writer holds the first job
    writer.submit(jobs[1])  # waits
    assert writer.backlog == 1 and writer.dropped == 0
    writer.submit(jobs[2])  # the queue is full
    assert writer.dropped == 1 and results[-1] == ("ev-2", False)
    release.set()
    writer.close()
    assert sorted(results) == [("ev-0", True), ("ev-1", True), ("ev-2", False)]
    assert writer.backlog == 0
