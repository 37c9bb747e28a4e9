"""Frame times of live streams (vision/clock.py): a burst of delayed frames keeps the spacing
it was filmed with, holes and timestamp restarts break the stream, and the source uses it on
real HTTP streams (MPEG-TS with timestamps, MJPEG without) served on loopback."""

from __future__ import annotations

import http.server
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ioc.settings import Settings
from vision.catalogue import ViolationCatalogue
from vision.clock import ClockKind, Stamp, StreamClock, fourcc_text, uses_pts
from vision.config import CameraConfig, RuleTuning, SpeedCalibration, StreamTiming
from vision.detector import prepare_ultralytics_env
from vision.pipeline import CameraWorker, PipelineOptions
from vision.probe import probe
from vision.rules import SpeedingRule, Violation
from vision.source import CameraSource, Frame, open_capture
from vision.tracks import Detections

CLIP = Settings().shared_dir / "data" / "video" / "vn_cctv_junction_a.mp4"
Replay = Callable[..., list[Violation]]


def _clock(use_pts: bool = True, **kw: float) -> StreamClock:
    return StreamClock(
        use_pts=use_pts, max_gap_s=kw.get("gap", 1.0), max_delay_s=kw.get("delay", 10)
    )


def test_a_burst_of_delayed_frames_keeps_its_pts_spacing() -> None:
    clock = _clock()
    # 2 s of frames at 20/s handed over at once when the connection opens, then live
    times = [clock.stamp(100.0 + 0.001 * i, 0.05 * i).t for i in range(40)]
    times += [clock.stamp(100.04 + 0.05 * i, 2.0 + 0.05 * i).t for i in range(20)]
    steps = np.diff(times)
    assert steps == pytest.approx(0.05, abs=1e-4)
    assert clock.breaks == 0


def test_a_stall_whose_frames_arrive_late_is_no_break_and_keeps_spacing() -> None:
    clock = _clock()
    stamps = [clock.stamp(10.0 + 0.05 * i, 0.05 * i) for i in range(20)]  # live
    # the network stalls 2 s: the frames filmed meanwhile arrive together at 13.0 s
    stamps += [clock.stamp(13.0 + 0.001 * i, 1.0 + 0.05 * i) for i in range(40)]
    assert all(s.brk is None for s in stamps)
    assert np.diff([s.t for s in stamps]) == pytest.approx(0.05, abs=1e-4)


def test_lost_frames_restarted_timestamps_and_a_drifting_pts_break_the_stream() -> None:
    clock = _clock()
    assert clock.stamp(0.0, 5.0).brk is None
    assert clock.stamp(0.05, 5.05).brk is None
    lost = clock.stamp(2.6, 7.6)  # 2.55 s of frames never came
    assert lost.brk == "gap" and lost.t == pytest.approx(2.6)
    assert clock.stamp(2.65, 7.65).brk is None
    repeated = clock.stamp(2.66, 7.65)  # the same PTS again (RTSP's first two frames)
    assert repeated.brk is None and repeated.t == pytest.approx(2.651)
    restarted = clock.stamp(2.7, 0.0)  # the camera restarted its stream
    assert restarted.brk == "pts_reset" and restarted.t > 2.65
    assert clock.stamp(2.75, 0.05).t == pytest.approx(2.75)
    # a PTS counting 40 ms per frame of a 50 ms camera falls behind the wall clock
    slow = _clock(delay=3.0)
    found = [slow.stamp(0.05 * i, 0.04 * i).brk for i in range(400)]
    assert "delay" in found and found.count("delay") <= 2
    assert slow.breaks == found.count("delay")


def test_the_offset_follows_a_slow_drift_without_breaks() -> None:
    clock = _clock()
    # the camera's clock runs 0.05 % slow: 3 s behind after 100 minutes
    stamps = [clock.stamp(0.2 * i, 0.2 * i * 0.9995) for i in range(30_000)]
    assert all(s.brk is None for s in stamps)
    assert stamps[-1].t == pytest.approx(6000.0, abs=0.2)
    assert np.diff([s.t for s in stamps]) == pytest.approx(0.2 * 0.9995, rel=2e-3)


def test_without_pts_arrival_is_the_time_and_a_long_gap_breaks() -> None:
    clock = _clock(use_pts=False)
    assert [clock.stamp(w, 123.0).t for w in (1.0, 1.05, 1.1)] == [1.0, 1.05, 1.1]
    assert clock.stamp(2.5, None).brk == "gap"
    assert clock.stamp(2.5, None).t == pytest.approx(2.501)  # never twice the same time
    clock.reset()  # a reconnection is a break already: the first frame after it is none
    assert clock.stamp(9.0, None).brk is None


def test_timestamps_that_stop_are_a_break_and_frames_go_by_arrival_until_they_move() -> None:
    clock = _clock()
    live = [clock.stamp(10.0 + 0.05 * i, 0.05 * i) for i in range(20)]
    assert {s.kind for s in live} == {"pts"}
    # the PTS sticks at 1.0 while frames keep coming 50 ms apart: by their PTS they would
    # be 1 ms apart however far their vehicles moved
    stuck = [clock.stamp(11.0 + 0.05 * i, 1.0) for i in range(40)]
    assert [s.brk for s in stuck[:3]] == [None, None, None]  # two repeats are allowed
    assert stuck[3].brk == "pts_lost" and all(s.brk is None for s in stuck[4:])
    assert {s.kind for s in stuck[3:]} == {"wall"}
    assert np.diff([s.t for s in stuck[3:]]) == pytest.approx(0.05, abs=1e-6)
    # the PTS moves on (the camera's encoder recovered): it is the timing again, no break
    moving = [clock.stamp(13.0 + 0.05 * i, 50.0 + 0.05 * i) for i in range(20)]
    assert all(s.brk is None and s.kind == "pts" for s in moving)
    assert moving[0].t == pytest.approx(13.0) and clock.breaks == 1
    assert np.diff([s.t for s in moving]) == pytest.approx(0.05, abs=1e-4)
    # a frame without any timestamp in a PTS-timed connection breaks too; so do zeros
    # (OpenCV reads a frame without a timestamp as 0): one restart, then lost
    assert clock.stamp(14.0, None) == Stamp(14.0, "pts_lost", "wall")
    assert clock.stamp(14.05, None) == Stamp(14.05, None, "wall")
    fresh = _clock()
    found = [fresh.stamp(20.0 + 0.05 * i, 0.05 * i if i < 10 else 0.0).brk for i in range(30)]
    assert found.count("pts_reset") == 1 and found.count("pts_lost") == 1
    assert fresh.breaks == 2


def test_which_streams_have_timestamps() -> None:
    assert uses_pts("auto", "rtsp", "")
    assert uses_pts("auto", "http", "h264") and uses_pts("auto", "http", "hevc")
    assert not uses_pts("auto", "http", "MJPG") and not uses_pts("auto", "http", "")
    assert uses_pts("pts", "http", "MJPG") and not uses_pts("wall", "rtsp", "h264")
    assert fourcc_text(float(cv2.VideoWriter.fourcc(*"MJPG"))) == "MJPG"
    assert fourcc_text(0.0) == "" and fourcc_text(float("nan")) == ""
    with pytest.raises(ValueError):
        StreamClock(use_pts=True, max_gap_s=0, max_delay_s=1)
    with pytest.raises(ValueError, match="max_gap_s"):
        StreamTiming.model_validate({"max_gap_s": 0})
    with pytest.raises(ValueError, match="clock"):
        StreamTiming.model_validate({"clock": "gps"})


def test_speeds_across_a_stall_are_right_with_pts_and_false_with_arrival(
    catalogue: ViolationCatalogue, replay: Replay
) -> None:
    """A car at a steady 40 km/h in a 50 zone, filmed at 10 frames/s; the network stalls
    for 2 s and the delayed frames then arrive within 40 ms."""
    calibration = SpeedCalibration(
        image_points=((0, 0), (1000, 0), (1000, 600), (0, 600)),
        ground_points_m=((0, 0), (100, 0), (100, 60), (0, 60)),  # 10 px per metre
        limit_kmh=50,
    )
    filmed = [(0.1 * i, 50 + 40 / 3.6 * 10 * 0.1 * i, 300.0) for i in range(60)]
    arrival = [p for p, _, _ in filmed]
    for i in range(20, 40):
        arrival[i] = 4.0 + 0.002 * (i - 20)  # filmed 2.0-3.9 s, all there at ~4.0 s
    clock = _clock(gap=1.0)
    by_pts = [clock.stamp(100 + w, p).t for w, (p, _, _) in zip(arrival, filmed, strict=True)]
    by_arrival = [100 + w for w in arrival]

    def fined(times: list[float]) -> list[Violation]:
        rule = SpeedingRule("cam-1", catalogue, calibration, RuleTuning())
        waypoints = [(t, x, y) for t, (_, x, y) in zip(times, filmed, strict=True)]
        return replay(rule, {1: ("car", waypoints)}, fps=None)

    assert fined(by_pts) == []
    (false_fine,) = fined(by_arrival)
    assert float(false_fine.measured["speed_kmh"]) > 100  # 40 km/h read as more than twice that


# -- real streams on loopback ---------------------------------------------------------------


def _ffmpeg() -> str:
    import imageio_ffmpeg  # type: ignore[import-untyped]

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _ts(out: Path, start: float, seconds: float, offset: float = 0.0, width: int = 320) -> bytes:
    """``seconds`` of junction A from ``start`` as a small MPEG-TS (H.264) ``width`` pixels
    wide, its timestamps shifted by ``offset``."""
    cmd = [
        _ffmpeg(), "-loglevel", "error", "-y", "-ss", str(start), "-i", str(CLIP),
        "-t", str(seconds), "-an", "-vf", f"scale={width}:-2", "-c:v", "libx264",
        "-preset", "ultrafast", "-g", "10", "-output_ts_offset", str(offset), "-f", "mpegts",
        str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=60)
    return out.read_bytes()


class _Bytes(http.server.BaseHTTPRequestHandler):
    """Serves ``body`` at once (every frame arrives in one burst), then closes."""

    body = b""
    content_type = "video/mp2t"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.end_headers()
        self.wfile.write(self.body)
        self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/live"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="module")
def ts_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("ts")
    first = _ts(tmp / "a.ts", 0.0, 1.5)
    later = _ts(tmp / "b.ts", 4.0, 1.5, offset=4.0)  # 2.5 s later: a hole in between
    larger = _ts(tmp / "c.ts", 1.5, 1.5, offset=1.5, width=480)  # straight on, larger
    return {"plain": first, "hole": first + later, "larger": larger}


def _read_all(src: CameraSource, limit: float = 20.0) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + limit
    while not src.ended and time.monotonic() < deadline:
        frame = src.read()
        if frame is None:
            if src.failures:  # the server closed the stream: everything has been read
                break
            continue
        frames.append(frame)
    return frames


@pytest.mark.parametrize("clock", ["auto", "wall"])
def test_an_mpeg_ts_stream_delivered_at_once_keeps_its_filmed_spacing(
    ts_clips: dict[str, bytes], clock: str
) -> None:
    handler = type("H", (_Bytes,), {"body": ts_clips["plain"]})
    for url in _serve(handler):
        src = CameraSource("ts", url, timing=StreamTiming.model_validate({"clock": clock}))
        frames = _read_all(src)
        assert len(frames) >= 25
        span = frames[-1].t - frames[0].t
        arrived = frames[-1].wall - frames[0].wall
        assert arrived < 1.0  # the whole clip came in one burst
        if clock == "auto":
            assert src.clock_kind == "pts"
            assert span == pytest.approx(1.45, abs=0.1)  # 1.5 s filmed
        else:
            assert src.clock_kind == "wall"
            assert span < 1.0  # squeezed into the burst: the behaviour this replaces
        assert all(f.segment == 0 for f in frames)


def test_a_hole_in_a_live_stream_starts_a_new_segment(
    ts_clips: dict[str, bytes], tmp_path: Path
) -> None:
    handler = type("H", (_Bytes,), {"body": ts_clips["hole"]})
    for url in _serve(handler):
        src = CameraSource("ts", url)
        frames = _read_all(src)
        segments = [f.segment for f in frames]
        assert segments == sorted(segments) and set(segments) == {0, 1}
        (cut,) = [i for i in range(1, len(frames)) if segments[i] != segments[i - 1]]
        assert frames[cut].t - frames[cut - 1].t == pytest.approx(2.55, abs=0.1)
        assert src.breaks == 1
    # the same bytes as a file: a recording with a hole breaks there too
    path = tmp_path / "hole.ts"
    path.write_bytes(ts_clips["hole"])
    src = CameraSource("file", str(path))
    segments = [f.segment for f in _read_all(src)]
    assert src.breaks == 1 and segments.count(0) == segments.count(1) == len(segments) // 2


def test_a_camera_reconfigured_to_another_size_comes_back_after_a_break(
    ts_clips: dict[str, bytes], tmp_path: Path
) -> None:
    """A camera switched to another resolution restarts its stream: the frames of the new
    size come after a reconnection, a break. Within one connection OpenCV scales every
    frame to the size the connection began with (the control: the same bytes as one
    stream come out at one size), so a size never changes without a break."""
    served: list[int] = []

    class Reconfigured(_Bytes):
        def do_GET(self) -> None:
            served.append(1)
            self.body = ts_clips["plain"] if len(served) == 1 else ts_clips["larger"]
            super().do_GET()

    for url in _serve(Reconfigured):
        src = CameraSource("ts", url)
        frames: list[Frame] = []
        deadline = time.monotonic() + 20
        while (len(served) < 2 or src.connected) and time.monotonic() < deadline:
            frames += _read_all(src, limit=5.0)  # to the end of each connection
        widths = [f.image.shape[1] for f in frames]
        assert set(widths) == {320, 480} and widths == sorted(widths)
        assert [f.segment for f in frames] == [int(w == 480) for w in widths]
        assert src.reconnects == 1
    path = tmp_path / "resized.ts"
    path.write_bytes(ts_clips["plain"] + ts_clips["larger"])
    frames = _read_all(CameraSource("file", str(path)))
    assert len(frames) >= 55 and {f.image.shape[1] for f in frames} == {320}


class _TimestampsStop:
    """A real capture whose frames from the ``after``-th on read as OpenCV reads a frame
    without a timestamp (``CAP_PROP_POS_MSEC`` 0), as from an encoder that stopped
    stamping them."""

    def __init__(self, cap: Any, after: int) -> None:
        self.cap, self.after, self.grabbed = cap, after, 0

    def isOpened(self) -> bool:
        return bool(self.cap.isOpened())

    def grab(self) -> bool:
        self.grabbed += 1
        return bool(self.cap.grab())

    def retrieve(self) -> tuple[bool, Any]:
        return self.cap.retrieve()  # type: ignore[no-any-return]

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_POS_MSEC and self.grabbed > self.after:
            return 0.0
        return float(self.cap.get(prop))

    def release(self) -> None:
        self.cap.release()


def test_frames_whose_timestamps_stopped_are_timed_by_arrival(ts_clips: dict[str, bytes]) -> None:
    handler = type("H", (_Bytes,), {"body": ts_clips["plain"]})
    for url in _serve(handler):
        src = CameraSource("ts", url, opener=lambda u: _TimestampsStop(open_capture(u), 12))
        frames = _read_all(src)
        assert len(frames) >= 25
        assert {f.clock for f in frames[:12]} == {"pts"}
        # the 13th reads 0: the PTS went back (a restart); two more zeros are repeats, then
        # the timestamps are lost and the rest go by arrival, on which no speed is judged
        assert {f.clock for f in frames[15:]} == {"wall"} and src.clock_kind == "wall"
        assert [f.segment for f in frames[11:17]] == [0, 1, 1, 1, 2, 2]
        assert src.breaks == 2


@pytest.fixture
def stalling_mjpeg(mjpeg_part: Callable[[int], bytes]) -> Iterator[str]:
    """An MJPEG stream: 8 frames 50 ms apart, a 1.5 s stall, 8 more (no timestamps)."""

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for i in range(16):
                time.sleep(1.5 if i == 8 else 0.05)
                self.wfile.write(mjpeg_part(10 * i))
                self.wfile.flush()

        def log_message(self, *args: object) -> None:
            pass

    yield from _serve(Stalling)


def test_an_mjpeg_stream_is_timed_by_arrival_and_a_stall_breaks_it(stalling_mjpeg: str) -> None:
    src = CameraSource("mjpeg", stalling_mjpeg)
    frames = _read_all(src)
    assert src.clock_kind == "wall"
    assert len(frames) >= 12  # FFmpeg may hold the last frames back until the end
    grey = [int(f.image.mean()) for f in frames]
    after = next(i for i, g in enumerate(grey) if g >= 75)  # frames 8 and on
    assert {f.segment for f in frames[:after]} == {0}
    assert {f.segment for f in frames[after:]} == {1}
    assert frames[after].t - frames[after - 1].t > 1.0
    assert src.breaks == 1


@pytest.mark.parametrize(
    ("frame_clock", "configured", "judged"),
    [
        ("pts", "auto", True),
        ("file", "auto", True),
        ("wall", "auto", False),
        ("wall", "wall", True),
    ],
)
def test_speeding_is_judged_on_frames_timed_by_arrival_only_when_configured(
    catalogue: ViolationCatalogue,
    stop_line_camera: CameraConfig,
    car_at: Callable[[float, float], Detections],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    frame_clock: ClockKind,
    configured: str,
    judged: bool,
) -> None:
    # a real CameraWorker (ByteTrack, rules): a car driving up the image at 170 px/s = 61
    # km/h under a 10 px/m calibration and a 40 km/h limit
    prepare_ultralytics_env(tmp_path / "yolo")
    camera = CameraConfig.model_validate(
        {
            **stop_line_camera.model_dump(exclude={"stop_lines", "signal"}),
            "id": "cam-s",
            "speed": {
                "image_points": [[0, 0], [320, 0], [320, 240], [0, 240]],
                "ground_points_m": [[0, 0], [32, 0], [32, 24], [0, 24]],
                "limit_kmh": 40,
            },
            "stream": {"clock": configured},
        }
    )
    worker = CameraWorker(camera, catalogue, PipelineOptions(gate=False))
    found: list[Violation] = []
    for k in range(14):
        t = round(0.1 * k, 3)
        frame = Frame(
            "cam-s", np.full((240, 320, 3), 90, np.uint8), t, 1e9 + t, k, clock=frame_clock
        )
        assert worker.offer(frame) is True
        found += worker.apply(frame, car_at(t, 230.0 - 13 * k))
    assert [v.rule for v in found] == (["speeding"] if judged else [])
    if judged:
        assert float(found[0].measured["speed_kmh"]) == pytest.approx(46.8, abs=2)
    warned = "speeding is not judged" in caplog.text
    assert warned == (not judged)


def test_the_probe_warns_of_a_slow_stream_and_of_speeds_without_timestamps(
    stop_line_camera: CameraConfig, stalling_mjpeg: str
) -> None:
    speedy = CameraConfig.model_validate(
        {
            **stop_line_camera.model_dump(exclude={"stop_lines", "signal"}),
            "detect_fps": 30,
            "frame": {"width": 64, "height": 48},
            "speed": {
                "image_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
                "ground_points_m": [[0, 0], [6, 0], [6, 5], [0, 5]],
                "limit_kmh": 40,
            },
        }
    )
    src = CameraSource("mjpeg", stalling_mjpeg, timing=speedy.stream)  # no timestamps
    report = probe(src, speedy, seconds=4.0)
    assert report.ok and report.clock == "wall" and report.size == (64, 48)
    text = report.line()
    assert "frame times wall, 1 break(s)" in text
    assert "fewer than detect_fps 30" in text
    assert "no frame timestamps (MJPEG?): speeding will not be judged" in text
    assert "1 break(s) while probing" in text
