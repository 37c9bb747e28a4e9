"""Probing a camera before it goes live (``ioc vision check-config --probe``): connect, read
a few seconds of frames, and say what the pipeline will make of the stream.

What commissioning a camera needs to know and a YAML file cannot tell: whether the source
answers at all, the frame size against the one its geometry was drawn on (another size is
scaled at run time, with a warning, and is usually a substream picked by mistake), the frame
rate against the camera's ``detect_fps``, where frame times come from (a stream without
timestamps judges no speeding) and whether the stream broke while it was read.

Example::

    report = probe(CameraSource(cam.id, url, timing=cam.stream), cam, seconds=5.0)
    print(report.line())   # "probe vn-junction-a: 100 frames in 5.0 s of stream (20.0/s) ..."
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vision.config import CameraConfig
from vision.source import CameraSource


@dataclass(slots=True)
class ProbeReport:
    camera_id: str
    frames: int = 0
    size: tuple[int, int] | None = None  # (width, height) of the stream's frames
    stream_s: float = 0.0  # stream time from the first frame to the last
    clock: str | None = None  # file, pts or wall
    breaks: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.frames > 0

    @property
    def fps(self) -> float | None:
        return (self.frames - 1) / self.stream_s if self.frames > 1 and self.stream_s > 0 else None

    def line(self) -> str:
        if not self.ok:
            return f"FAIL probe {self.camera_id}: no frame ({self.error or 'nothing received'})"
        w, h = self.size or (0, 0)
        rate = f"{self.fps:.1f}/s" if self.fps is not None else "one frame"
        text = (
            f"probe {self.camera_id}: {self.frames} frames in {self.stream_s:.1f} s of stream "
            f"({rate}), {w}x{h}, frame times {self.clock}, {self.breaks} break(s)"
        )
        return "ok  " + text + "".join(f"; WARNING: {m}" for m in self.warnings)


def probe(
    source: CameraSource,
    camera: CameraConfig,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> ProbeReport:
    """Read ``source`` for ``seconds`` of wall time (a file: at most that much of its own
    time) and report; never raises for a bad source (the report says why)."""
    report = ProbeReport(camera.id)
    first_t: float | None = None
    last_t = 0.0
    deadline = clock() + seconds
    try:
        while clock() < deadline and not source.ended:
            frame = source.read()
            if frame is None:
                if source.failures and report.frames:
                    break  # the stream went away after it started: report what came
                time.sleep(min(0.05, max(0.0, source.retry_in())))
                continue
            report.frames += 1
            report.size = (int(frame.image.shape[1]), int(frame.image.shape[0]))
            first_t = frame.t if first_t is None else first_t
            last_t = frame.t
            if last_t - first_t >= seconds:
                break
    finally:
        report.clock = source.clock_kind
        report.breaks = source.breaks
        report.error = source.last_error
        source.close()
    if first_t is not None:
        report.stream_s = last_t - first_t
    report.warnings = _warnings(report, camera)
    return report


def _warnings(report: ProbeReport, camera: CameraConfig) -> list[str]:
    out: list[str] = []
    drawn = (camera.frame.width, camera.frame.height)
    if report.size is not None and report.size != drawn:
        w, h = report.size
        out.append(
            f"the stream is {w}x{h} but the geometry was drawn on {drawn[0]}x{drawn[1]} "
            "(it is scaled at run time; a substream picked by mistake?)"
        )
    fps = report.fps
    if fps is not None and report.frames >= 5 and fps < camera.detect_fps * 0.95:
        out.append(f"{fps:.1f} frames/s is fewer than detect_fps {camera.detect_fps:g}")
    if report.clock == "wall" and camera.speed is not None and camera.stream.clock != "wall":
        out.append("no frame timestamps (MJPEG?): speeding will not be judged")
    if report.breaks:
        out.append(f"{report.breaks} break(s) while probing (gaps or timestamp restarts)")
    return out
