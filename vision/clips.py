"""MP4 writing for evidence clips: H.264 where possible, so reviewers' browsers can play it.

The pip OpenCV wheels usually cannot encode H.264 (licensing), so the writer is chosen once
per process: an ``ffmpeg`` with libx264 (the system's, or the static build of the pinned
``imageio-ffmpeg`` wheel) fed raw frames on a pipe, which honours the configured preset and
CRF; else OpenCV's own ``avc1`` when this build has it (its own settings; until session 24 it
was tried first, and on the pip wheel the probe printed FFmpeg's failed attempt at a
hardware encoder, "h264_v4l2m2m ... Could not find a valid device", into every camera
log); else OpenCV's MPEG-4 Part 2 (``mp4v``: plays in VLC, not in browsers). The codec and
writer used are recorded in each clip's metadata.

The ``ffmpeg`` encoder, and the evidence thread that feeds it (:func:`lower_this_thread`),
run ``ENCODER_NICENESS`` below the cameras' CPU priority (the niceness of the process's main
thread): evidence can wait a few seconds, the live cameras cannot, and a burst of violations
would otherwise take the cores from the detector (measured with ``bench/vision.py``'s
latency probe, a camera whose every vehicle is a violation).

The x264 preset and CRF come from :class:`ClipEncoding` (``IOC_VISION_CLIP_PRESET``,
``IOC_VISION_CLIP_CRF``). Encoding is most of a violation's evidence cost, so the default is
``ultrafast`` at CRF 23: measured on 100 frames of junction A (1006x720), 3.9 ms of CPU per
frame against ``veryfast``'s 10.8, a higher PSNR (38.6 against 37.0 dB), and 2.7x the bytes
(4.7 against 1.7 MB for 10 s). Frames go to ``ffmpeg`` as YUV 4:2:0 converted by OpenCV,
which costs less than ffmpeg's own conversion and keeps the colours closer to the camera's
(mean error 2.4 against 3.0 grey levels after encoding; ffmpeg's darkened blue and red by ~2).

Example::

    codec = write_mp4(Path("clip.mp4"), frames_bgr, fps=10.0)   # -> 'h264' or 'mpeg4'
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from ioc.settings import ClipPreset, Settings

logger = logging.getLogger(__name__)

ENCODER_NICENESS = 10  # added to the cameras' niceness for the encoder and the evidence thread

Backend = Literal["opencv-avc1", "ffmpeg-libx264", "opencv-mp4v"]


@dataclass(frozen=True, slots=True)
class ClipEncoding:
    """x264's speed/size preset and constant rate factor (lower: better and larger) for the
    ``ffmpeg`` writer; the OpenCV writers have their own."""

    preset: ClipPreset = "ultrafast"
    crf: int = 23

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be 0..51, not {self.crf}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ClipEncoding:
        return cls(settings.vision_clip_preset, settings.vision_clip_crf)


DEFAULT_ENCODING = ClipEncoding()


_CODEC: dict[Backend, str] = {
    "opencv-avc1": "h264",
    "ffmpeg-libx264": "h264",
    "opencv-mp4v": "mpeg4",
}


def _opencv_can(fourcc: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "probe.mp4")
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*fourcc), 10.0, (64, 48))
            ok = bool(writer.isOpened())
            if ok:
                writer.write(np.zeros((48, 64, 3), np.uint8))
            writer.release()
        finally:
            cv2.utils.logging.setLogLevel(level)
        return ok and Path(path).stat().st_size > 0


def _ffmpeg_candidates() -> list[str]:
    """The system ``ffmpeg`` first, then the static build shipped by the ``imageio-ffmpeg``
    wheel (it has libx264), so clips play in browsers without a system package."""
    found = [exe] if (exe := shutil.which("ffmpeg")) else []
    try:
        import imageio_ffmpeg  # type: ignore[import-untyped]

        found.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    return found


def _ffmpeg_x264() -> str | None:
    for exe in _ffmpeg_candidates():
        if _has_x264(exe):
            return exe
    return None


def _has_x264(exe: str) -> bool:
    try:
        out = subprocess.run(
            [exe, "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return " libx264 " in out


@functools.cache
def choose_backend() -> Backend:
    """The best MP4 writer this machine has (probed once, then cached)."""
    if _ffmpeg_x264() is not None:  # honours the preset and CRF, recorded in the metadata
        backend: Backend = "ffmpeg-libx264"
    elif _opencv_can("avc1"):
        backend = "opencv-avc1"
    else:
        backend = "opencv-mp4v"
    logger.info("evidence clips: MP4 writer %s (%s)", backend, _CODEC[backend])
    return backend


def write_mp4(
    path: Path,
    frames: Sequence[NDArray[np.uint8]],
    fps: float,
    backend: Backend | None = None,
    encoding: ClipEncoding = DEFAULT_ENCODING,
) -> str:
    """Write equally sized BGR frames as MP4 at constant ``fps``; returns the codec name."""
    if not frames:
        raise ValueError("no frames to write")
    backend = backend or choose_backend()
    if backend == "ffmpeg-libx264":
        _write_ffmpeg(path, frames, fps, encoding)
    else:
        h, w = frames[0].shape[:2]
        fourcc = cv2.VideoWriter.fourcc(*("avc1" if backend == "opencv-avc1" else "mp4v"))
        writer = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
        if not writer.isOpened():
            raise OSError(f"cannot open a {backend} writer for {path}")
        try:
            for f in frames:
                writer.write(f)
        finally:
            writer.release()
    return _CODEC[backend]


def _write_ffmpeg(
    path: Path, frames: Sequence[NDArray[np.uint8]], fps: float, encoding: ClipEncoding
) -> None:
    exe = _ffmpeg_x264()
    if exe is None:
        raise OSError("ffmpeg with libx264 is no longer available")
    h, w = frames[0].shape[:2]
    pad_h, pad_w = h % 2, w % 2  # 4:2:0 needs even sides: one black row/column where odd
    cmd = [
        exe,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-s",
        f"{w + pad_w}x{h + pad_h}",
        "-r",
        f"{fps:.6g}",
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-preset",
        encoding.preset,
        "-crf",
        str(encoding.crf),
        "-threads",
        "1",  # background work: one thread spends the least CPU per frame
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None  # both are pipes
    below_cameras(proc.pid)
    try:
        for f in frames:
            even = (
                cv2.copyMakeBorder(f, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
                if pad_h or pad_w
                else f
            )
            proc.stdin.write(cv2.cvtColor(even, cv2.COLOR_BGR2YUV_I420).tobytes())
        proc.stdin.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if code != 0:
        raise OSError(f"ffmpeg failed ({code}): {err.decode(errors='replace')[-300:]}")


def below_cameras(pid: int) -> None:
    """Lower process ``pid``'s CPU priority to ``ENCODER_NICENESS`` below the cameras' (the
    main thread's niceness; at most 19). Where that is not possible (another platform, a
    sandbox that forbids it) the encoder simply runs at the normal priority."""
    try:
        cameras = os.getpriority(os.PRIO_PROCESS, os.getpid())  # Linux: the main thread's
        os.setpriority(os.PRIO_PROCESS, pid, min(19, cameras + ENCODER_NICENESS))
    except (AttributeError, OSError) as exc:
        logger.debug("priority of %d not lowered: %s", pid, exc)


def lower_this_thread() -> None:
    """Run the calling thread ``ENCODER_NICENESS`` below the cameras. Linux only, where a
    thread's niceness is its own (``setpriority`` on its thread id); elsewhere a no-op, since
    lowering the process would slow the cameras too."""
    if sys.platform.startswith("linux"):
        below_cameras(threading.get_native_id())
