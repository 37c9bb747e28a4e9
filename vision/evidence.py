"""Evidence of a violation: clips before and after, key frames, the vehicle crop, metadata.

Per camera a :class:`FrameRing` keeps the last seconds of frames (JPEG-compressed: 15 s of
1006x720 at 10 fps is ~30 MB instead of ~160 MB as YUV or ~330 MB as BGR; ~2.2 ms of CPU per
frame) with their own timestamps and what the tracker saw. When a rule fires,
:class:`EvidenceRecorder` waits until the ring holds the window the catalogue asks for
(``evidence_from``..``evidence_to``, stream time) and hands an :class:`EvidenceJob` to a
writer thread; :func:`write_evidence` writes the raw and annotated MP4s (resampled to a
constant rate by timestamp, so VFR sources play in real time; x264 as :class:`ClipEncoding`
says), key frames, the crop and ``metadata.json``, each with its SHA-256.

Layout: ``<root>/<camera>/<YYYY-MM-DD>/<event_id>/`` (root: ``IOC_EVIDENCE_DIR``, default
``IOC_HOME/evidence``). Plates stay inside this store; logs only carry ids.

Example::

    ring.add(frame.t, frame.wall, frame.image, Overlay(tracked, lights))
    recorder.open(violation, event_id, event_wall=frame.wall - (frame.t - violation.time))
    for job in recorder.ready(latest_t=frame.t):
        writer.submit(job)
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.annotate import draw
from vision.cadence import Spacing
from vision.clips import (
    DEFAULT_ENCODING,
    ClipEncoding,
    choose_backend,
    lower_this_thread,
    write_mp4,
)
from vision.config import CameraConfig, Movement
from vision.rules.base import Violation
from vision.signals import Light
from vision.tracks import Detections

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class Overlay:
    """What to draw on a stored frame: the tracked boxes and the signal lights then."""

    detections: Detections | None = None
    lights: Mapping[Movement, Light] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class RingFrame:
    t: float
    wall: float
    jpeg: bytes
    overlay: Overlay

    def image(self) -> NDArray[np.uint8]:
        img = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("corrupt JPEG in the frame ring")
        return np.asarray(img, dtype=np.uint8)


class FrameRing:
    """The last ``horizon_s`` seconds of a camera, at most ``max_fps`` frames per second."""

    def __init__(self, horizon_s: float = 20.0, max_fps: float = 10.0, quality: int = 90) -> None:
        self.horizon_s, self.max_fps, self.quality = horizon_s, max_fps, quality
        self._frames: deque[RingFrame] = deque()
        self._spacing = Spacing(1.0 / max_fps)
        self._breaks: deque[float] = deque()  # stream times where a new segment began
        self.nbytes = 0  # the stored frames' size (the health message's ``ring_mb``)

    def due(self, t: float) -> bool:
        """Whether a frame at ``t`` would be stored (not sooner than ``1/max_fps`` after the
        last one)."""
        return self._spacing.due(t)

    def add(self, t: float, wall: float, image: NDArray[np.uint8], overlay: Overlay) -> bool:
        """Store a frame unless it comes sooner than ``1/max_fps`` after the last one."""
        if not self.due(t):
            return False
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        self._frames.append(RingFrame(t, wall, buf.tobytes(), overlay))
        self.nbytes += len(self._frames[-1].jpeg)
        self._spacing.take(t)
        while self._frames[0].t < t - self.horizon_s:
            self.nbytes -= len(self._frames.popleft().jpeg)
        return True

    def mark_break(self, t: float) -> None:
        """Frames from stream time ``t`` on follow a break in the stream (a looping file
        wrapped, a camera reconnected): no evidence joins frames from both sides of it."""
        self._breaks.append(t)
        while len(self._breaks) > 1 and self._breaks[1] < t - self.horizon_s:
            self._breaks.popleft()  # the latest break before the horizon still bounds frames

    def segment_of(self, t: float) -> tuple[float, float]:
        """Stream times ``[start, end)`` of the unbroken stretch that holds ``t``."""
        i = bisect.bisect_right(self._breaks, t)
        start = self._breaks[i - 1] if i else -math.inf
        return start, self._breaks[i] if i < len(self._breaks) else math.inf

    @property
    def latest_t(self) -> float | None:
        return self._frames[-1].t if self._frames else None

    @property
    def oldest_t(self) -> float | None:
        return self._frames[0].t if self._frames else None

    def window(self, t0: float, t1: float) -> list[RingFrame]:
        """Frames from the last one at or before ``t0`` (it is on screen at ``t0``) to ``t1``."""
        ts = [f.t for f in self._frames]
        start = max(0, bisect.bisect_right(ts, t0) - 1)
        return [f for f in list(self._frames)[start:] if f.t <= t1]


def resample(ts: Sequence[float], fps: float, t0: float, t1: float) -> list[int]:
    """Indices of the frames to show at a constant ``fps`` from ``t0`` to ``t1``: at each
    output instant, the latest frame at or before it (before the first frame: none).

    Example: ``resample([0.0, 0.3], fps=10, t0=0, t1=0.4)`` -> ``[0, 0, 0, 1, 1]``.
    """
    out: list[int] = []
    n = int((t1 - t0) * fps + 1e-9)
    for k in range(n + 1):
        i = bisect.bisect_right(ts, t0 + k / fps + 1e-9) - 1
        if i >= 0:
            out.append(i)
    return out


def nearest(ts: Sequence[float], t: float) -> int:
    """Index of the frame closest in time to ``t`` (``ts`` sorted, non-empty)."""
    i = bisect.bisect_left(ts, t)
    if i == 0:
        return 0
    if i == len(ts):
        return len(ts) - 1
    return i if ts[i] - t < t - ts[i - 1] else i - 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One written file: ``path`` relative to the evidence root."""

    path: str
    kind: str
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True, eq=False)
class EvidenceJob:
    event_id: str
    violation: Violation
    camera: CameraConfig
    event_wall: float  # wall clock (epoch s) of the violation instant
    frames: list[RingFrame]
    extra: Mapping[str, Any]
    complete: bool  # the ring held the whole window


_Open = tuple[Violation, str, float, Mapping[str, Any]]  # violation, event id, wall, extra


class EvidenceRecorder:
    """Waits for each open violation's post-event window, then yields its job; pure."""

    def __init__(self, camera: CameraConfig, ring: FrameRing) -> None:
        self.camera, self.ring = camera, ring
        self._open: list[_Open] = []

    def open(
        self,
        violation: Violation,
        event_id: str,
        event_wall: float,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Record ``violation`` once its window has passed; ``extra`` goes into the metadata."""
        self._open.append((violation, event_id, event_wall, extra or {}))

    def ready(self, latest_t: float | None = None, flush: bool = False) -> list[EvidenceJob]:
        """Jobs whose window has passed ``latest_t`` (or all of them when ``flush``)."""
        now = self.ring.latest_t if latest_t is None else latest_t
        jobs, keep = [], []
        for v, eid, wall, extra in self._open:
            start, end = self.ring.segment_of(v.time)  # a break cuts the window short
            if not flush and (now is None or now < min(v.evidence_to, end)):
                keep.append((v, eid, wall, extra))
                continue
            frames = [
                f
                for f in self.ring.window(max(v.evidence_from, start), v.evidence_to)
                if start <= f.t < end
            ]
            if not frames:
                logger.error(
                    "camera %s: event %s: no frames left for its evidence", self.camera.id, eid
                )
                continue
            oldest = self.ring.oldest_t
            # complete: footage from before the window start is still held (nothing of the
            # window was evicted or predates the camera), and the window end has been seen
            complete = (
                oldest is not None
                and oldest <= v.evidence_from
                and now is not None
                and now >= v.evidence_to
                and start <= v.evidence_from
                and end > v.evidence_to
            )
            jobs.append(EvidenceJob(eid, v, self.camera, wall, frames, extra, complete))
        self._open = keep
        return jobs

    def withdraw(self, after_t: float | None) -> list[tuple[Violation, str, float]]:
        """Drop the open violations judged after stream time ``after_t`` (all of them when
        ``None``): their evidence is not written and they are not published. For a camera
        whose view turned out to have moved (judged on geometry no longer on the road) or
        whose picture froze. Returns each with its event id and wall time."""
        gone: list[_Open] = []
        kept: list[_Open] = []
        for entry in self._open:
            (gone if after_t is None or entry[0].time > after_t else kept).append(entry)
        self._open = kept
        return [(v, eid, wall) for v, eid, wall, _ in gone]

    @property
    def pending(self) -> int:
        return len(self._open)


def _row_of(det: Detections | None, track_id: int) -> int | None:
    """Row of ``track_id`` in ``det``, if it is there."""
    if det is None or det.track_id is None:
        return None
    rows = np.flatnonzero(det.track_id == track_id)
    return int(rows[0]) if rows.size else None


def _crop(
    img: NDArray[np.uint8], det: Detections | None, track_id: int, grow: float = 0.15
) -> NDArray[np.uint8] | None:
    row = _row_of(det, track_id)
    if det is None or row is None:
        return None
    x1, y1, x2, y2 = det.xyxy[row]
    dx, dy = (x2 - x1) * grow, (y2 - y1) * grow
    h, w = img.shape[:2]
    a, b = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    c, d = min(w, int(x2 + dx) + 1), min(h, int(y2 + dy) + 1)
    return img[b:d, a:c] if c > a and d > b else None


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def write_evidence(
    job: EvidenceJob, root: Path, fps: float = 10.0, encoding: ClipEncoding = DEFAULT_ENCODING
) -> list[EvidenceFile]:
    """Write every evidence file of ``job`` once; returns them (``metadata.json`` last);
    clips at ``fps``, encoded as ``encoding`` says.

    Crash-safe: the files go to a hidden ``.<event_id>.partial-*`` folder beside the final
    one, are flushed to disk, and the folder is renamed to ``<event_id>`` in one atomic
    step, so an event folder is either absent or complete. When it already exists (a
    restarted worker re-detecting the same event: same event id), nothing is rewritten and
    the files on disk are returned, so the SHA-256s a first message carried stay true."""
    cam = job.camera
    day = datetime.fromtimestamp(job.event_wall, UTC).strftime("%Y-%m-%d")
    rel = Path(cam.id) / day / job.event_id
    final = root / rel
    if (final / "metadata.json").is_file():
        return existing_evidence(root, rel)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{job.event_id}.partial-*"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{job.event_id}.partial-", dir=final.parent))
    try:
        files = _write_files(job, folder, rel, fps, encoding)
        for f in folder.iterdir():
            _fsync(f)
        _fsync(folder)
        try:
            folder.rename(final)
        except OSError:
            if not (final / "metadata.json").is_file():
                # an incomplete folder from an older writer: keep it aside, never referenced
                final.rename(final.parent / f".{job.event_id}.stale-{uuid.uuid4().hex[:8]}")
                folder.rename(final)
            else:  # written meanwhile: the first complete copy wins
                shutil.rmtree(folder, ignore_errors=True)
                return existing_evidence(root, rel)
        _fsync(final.parent)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return files


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def existing_evidence(root: Path, rel: Path) -> list[EvidenceFile]:
    """The files of a complete event folder, read back from disk and checked against its
    ``metadata.json`` (``ValueError`` when a file is missing or differs)."""
    meta_path = root / rel / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        listed = [(str(m["path"]), str(m["kind"]), str(m["sha256"])) for m in meta["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{rel}: unreadable metadata.json: {exc}") from None
    files: list[EvidenceFile] = []
    for path, kind, sha in listed:
        full = root / path
        if not full.is_file() or sha256_file(full) != sha:
            raise ValueError(f"{path}: missing or differs from its metadata")
        files.append(EvidenceFile(path, kind, sha, full.stat().st_size))
    files.append(
        EvidenceFile(
            str(rel / "metadata.json"), "metadata", sha256_file(meta_path), meta_path.stat().st_size
        )
    )
    return files


def caption(v: Violation, cam: CameraConfig, wall: float) -> str:
    """What the annotated clip and key frames show at the top left, as camera evidence
    images commonly do: camera, the frame's time (UTC) and the rule; then where (the
    camera's position, WGS 84, and the line, lane or zone) and, for a speed, the speed
    against the limit. ASCII only: OpenCV's built-in font has no Vietnamese letters."""
    first = f"{cam.id} {iso(wall)} {v.rule}"
    where = f"{cam.location.lat:.5f}, {cam.location.lon:.5f} {v.where}"
    speed, limit = v.measured.get("speed_kmh"), v.measured.get("limit_kmh")
    if isinstance(speed, float | int) and isinstance(limit, float | int):
        where += f" {speed:.1f} km/h (limit {limit:g})"
    return f"{first}\n{where}"


def _write_files(
    job: EvidenceJob, folder: Path, rel: Path, fps: float, encoding: ClipEncoding
) -> list[EvidenceFile]:
    """Every file of ``job`` into ``folder``; paths recorded as ``rel/<name>``."""
    v, cam = job.violation, job.camera
    ts = [f.t for f in job.frames]
    event_wall = job.event_wall
    images = [f.image() for f in job.frames]
    annotated = [
        draw(
            img,
            cam,
            f.overlay.detections,
            f.overlay.lights,
            {v.track_id},
            caption(v, cam, f.wall),
        )
        for img, f in zip(images, job.frames, strict=True)
    ]
    order = resample(ts, fps, max(ts[0], v.evidence_from), ts[-1])
    written: list[tuple[str, str]] = []
    backend = choose_backend()
    codec = write_mp4(folder / "clip_raw.mp4", [images[i] for i in order], fps, backend, encoding)
    write_mp4(folder / "clip_annotated.mp4", [annotated[i] for i in order], fps, backend, encoding)
    written += [("clip_raw.mp4", "clip_raw"), ("clip_annotated.mp4", "clip_annotated")]
    key_at = {"before": v.time - 1.0, "event": v.time, "after": v.time + 1.0}
    for name, t in key_at.items():
        cv2.imwrite(
            str(folder / f"key_{name}.jpg"),
            annotated[nearest(ts, t)],
            [cv2.IMWRITE_JPEG_QUALITY, 92],
        )
        written.append((f"key_{name}.jpg", f"key_frame_{name}"))
    i = nearest(ts, v.time)
    crop = _crop(images[i], job.frames[i].overlay.detections, v.track_id)
    if crop is not None and crop.size:
        cv2.imwrite(str(folder / "vehicle_crop.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
        written.append(("vehicle_crop.jpg", "vehicle_crop"))
    files = [
        EvidenceFile(str(rel / n), k, sha256_file(folder / n), (folder / n).stat().st_size)
        for n, k in written
    ]
    meta = {
        "event_id": job.event_id,
        "camera_id": cam.id,
        "rule": v.rule,
        "track_id": v.track_id,
        "track": _track(job),
        "vehicle_class": v.vehicle_class,
        "where": v.where,
        "time": iso(event_wall),
        "stream_time_s": round(v.time, 3),
        "measured": dict(v.measured),
        "legal": {
            "citation": v.legal.citation,
            "decree": v.legal.decree,
            "article": v.legal.article,
            "clause": v.legal.clause,
            "point": v.legal.point,
        },
        "window": {
            "from_s": round(v.evidence_from, 3),
            "to_s": round(v.evidence_to, 3),
            "first_frame_s": round(ts[0], 3),
            "last_frame_s": round(ts[-1], 3),
            "frames": len(ts),
            "complete": job.complete,
        },
        "video": {
            "codec": codec,
            "fps": fps,
            "width": images[0].shape[1],
            "height": images[0].shape[0],
            "writer": backend,
            **(
                {"x264": {"preset": encoding.preset, "crf": encoding.crf}}
                if backend == "ffmpeg-libx264"
                else {}
            ),
        },
        "files": [_as_dict(f) for f in files],
        **job.extra,
    }
    meta_path = folder / "metadata.json"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    files.append(
        EvidenceFile(
            str(rel / "metadata.json"), "metadata", sha256_file(meta_path), meta_path.stat().st_size
        )
    )
    return files


def _track(job: EvidenceJob) -> list[dict[str, Any]]:
    """The offending track's box in each frame of the window that shows it (stream time,
    class as detected then, ``[x1, y1, x2, y2]`` in pixels): the trajectory the rule judged."""
    out: list[dict[str, Any]] = []
    for f in job.frames:
        det = f.overlay.detections
        row = _row_of(det, job.violation.track_id)
        if det is not None and row is not None:
            out.append(
                {
                    "t": round(f.t, 3),
                    "class": det.names[int(det.class_id[row])],
                    "box": [round(float(x), 1) for x in det.xyxy[row]],
                }
            )
    return out


def _as_dict(f: EvidenceFile) -> dict[str, Any]:
    return {"path": f.path, "kind": f.kind, "sha256": f.sha256, "bytes": f.bytes}


Done = Callable[[EvidenceJob, list[EvidenceFile] | None], None]


class EvidenceWriter:
    """Writes jobs on a background thread so the camera loop never waits for the disk;
    ``done(job, files)`` runs on that thread (``files`` is ``None`` when writing failed)."""

    def __init__(
        self,
        root: Path,
        done: Done,
        fps: float = 10.0,
        max_jobs: int = 64,
        encoding: ClipEncoding = DEFAULT_ENCODING,
    ) -> None:
        self.root, self.done, self.fps, self.encoding = root, done, fps, encoding
        self._q: queue.Queue[EvidenceJob | None] = queue.Queue(maxsize=max_jobs)
        self._thread = threading.Thread(target=self._run, name="evidence", daemon=True)
        self._thread.start()
        self.dropped = 0

    def submit(self, job: EvidenceJob) -> None:
        try:
            self._q.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            logger.error("evidence queue full: event %s written without clips", job.event_id)
            self.done(job, None)

    @property
    def backlog(self) -> int:
        """Jobs waiting to be written (the writer falls behind when this grows: at
        ``max_jobs`` the next violations are published without clips)."""
        return self._q.qsize()

    def close(self, timeout: float = 120.0) -> None:
        """Finish the queued jobs, then stop."""
        self._q.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        lower_this_thread()  # decoding, annotating and encoding window frames yield to cameras
        while (job := self._q.get()) is not None:
            try:
                files: list[EvidenceFile] | None = write_evidence(
                    job, self.root, self.fps, self.encoding
                )
            except (OSError, ValueError) as exc:
                logger.error("event %s: evidence not written: %s", job.event_id, exc)
                files = None
            self.done(job, files)
