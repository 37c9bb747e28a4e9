"""Camera sources: frame timestamps from the stream, looping files, reconnection with
exponential back-off on a missing file and on an HTTP/MJPEG stream that drops, decode
threads from the settings."""

from __future__ import annotations

import http.server
import itertools
import socketserver
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from ioc.settings import Settings
from vision.catalogue import load_violation_catalogue
from vision.config import CameraConfig
from vision.detector import empty_detections
from vision.device import DevicePlan, plan_device
from vision.pipeline import Pipeline, PipelineOptions
from vision.publish import MemoryPublisher
from vision.source import (
    Backoff,
    CameraSource,
    Frame,
    Grabber,
    RateMeter,
    capture_opener,
    open_capture,
    redact,
    source_kind,
)
from vision.tracks import Detections

VIDEO = Settings().shared_dir / "data" / "video"


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    b = Backoff(initial=0.5, factor=2.0, maximum=3.0)
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next_delay() == 0.5


def test_rate_meter() -> None:
    m = RateMeter(window_s=5.0)
    for i in range(11):
        m.tick(i * 0.1)
    assert m.rate(1.0) == pytest.approx(10.0)
    assert m.rate(100.0) == 0.0


def test_kinds_and_redaction() -> None:
    assert source_kind("rtsp://cam/1") == "rtsp" and source_kind("HTTP://x") == "http"
    assert source_kind("/data/a.mp4") == "file"
    assert redact("rtsp://admin:secret@10.0.0.5:554/s1") == "rtsp://***@10.0.0.5:554/s1"


def test_file_frames_carry_their_own_vfr_timestamps() -> None:
    src = CameraSource("a", str(VIDEO / "vn_cctv_junction_a.mp4"))
    ts = []
    for _ in range(6):
        frame = src.read()
        assert frame is not None
        ts.append(frame.t)
    src.close()
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(ts)}
    assert ts[0] == 0.0 and gaps == {0.033, 0.067}  # variable frame rate, not frames / fps


def test_captures_decode_on_the_configured_number_of_threads() -> None:
    clip = str(VIDEO / "vn_cctv_junction_a.mp4")
    for cap, threads in (
        (open_capture(clip), 1),  # the default: one thread per camera
        (capture_opener(Settings(vision_decode_threads=2).vision_decode_threads)(clip), 2),
    ):
        try:
            ok, image = cap.read()
            assert ok and image.shape == (720, 1006, 3)
            assert cap.get(cv2.CAP_PROP_N_THREADS) == threads
        finally:
            cap.release()


def test_missing_file_retries_with_growing_back_off(tmp_path: Path) -> None:
    now = [100.0]
    src = CameraSource(
        "m", str(tmp_path / "nope.mp4"), backoff=Backoff(1.0, 2.0, 8.0), clock=lambda: now[0]
    )
    attempts = []
    for _ in range(40):
        before = src.failures
        assert src.read() is None
        if src.failures > before:
            attempts.append(now[0])
        now[0] += 0.5
    assert [round(b - a, 1) for a, b in itertools.pairwise(attempts)][:4] == [1.0, 2.0, 4.0, 8.0]
    assert not src.connected and src.last_error == "cannot open" and not src.ended


def _tiny_clip(path: Path, n: int = 5) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), (40 * i) % 256, np.uint8))
    w.release()
    return path


def test_looping_file_keeps_time_increasing(tmp_path: Path) -> None:
    src = CameraSource("l", str(_tiny_clip(tmp_path / "t.mp4")), loop=True)
    ts = [f.t for f in (src.read() for _ in range(14)) if f is not None]
    assert len(ts) >= 10 and all(b > a for a, b in itertools.pairwise(ts))
    assert ts[-1] > 0.9  # at least two passes of a 0.5 s clip


def test_each_pass_of_a_looping_file_is_a_new_segment(tmp_path: Path) -> None:
    src = CameraSource("l", str(_tiny_clip(tmp_path / "t.mp4")), loop=True)
    frames = [f for f in (src.read() for _ in range(14)) if f is not None]
    segments = [f.segment for f in frames]
    assert segments == sorted(segments) and segments[0] == 0 and segments[-1] >= 1
    # the first frame of each new segment is the clip's first picture again
    starts = [f for a, f in itertools.pairwise(frames) if f.segment != a.segment]
    assert starts and all(int(f.image.mean()) == int(frames[0].image.mean()) for f in starts)


def test_a_looping_file_stays_connected_across_its_wraps(tmp_path: Path) -> None:
    """A wrap reopens the file: health sent between the end and the reopening must not
    report the camera offline (make run raised camera-offline alarms that way). A file that
    cannot be opened again is lost."""
    clip = _tiny_clip(tmp_path / "t.mp4")
    src = CameraSource("l", str(clip), loop=True)
    states = []
    for _ in range(14):
        frame = src.read()
        states.append((frame is None, src.connected))
    assert (True, True) in states  # the wraps: no frame, still connected
    assert all(connected for _, connected in states)
    assert src.failures == 0 and src.reconnects == 0
    while src.read() is not None:  # to the end of this pass
        pass
    clip.unlink()  # the file is gone when the next pass opens it
    assert src.read() is None
    assert not src.connected and src.last_error == "cannot open"


class _Mjpeg(http.server.BaseHTTPRequestHandler):
    frames = 4
    part: Callable[[int], bytes]  # the conftest's mjpeg_part, set by the fixture

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for i in range(self.frames):  # then the connection drops
            self.wfile.write(self.part(50 * i))
            self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mjpeg_server(
    mjpeg_part: Callable[[int], bytes],
) -> Iterator[socketserver.ThreadingTCPServer]:
    handler = type("Mjpeg", (_Mjpeg,), {"part": staticmethod(mjpeg_part)})
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_mjpeg_stream_reconnects_after_loss_then_backs_off(
    mjpeg_server: socketserver.ThreadingTCPServer,
) -> None:
    port = mjpeg_server.server_address[1]
    src = CameraSource("h", f"http://127.0.0.1:{port}/video.mjpg", backoff=Backoff(0.05, 2.0, 0.4))
    assert src.kind == "http"
    frames, deadline = [], time.monotonic() + 20
    while src.reconnects < 1 or len(frames) < 6:
        assert time.monotonic() < deadline, "no reconnection"
        frame = src.read()
        if frame is None:
            time.sleep(0.01)
        else:
            frames.append(frame)
    assert src.failures >= 1 and src.last_error == "stream lost"
    assert all(abs(f.t - f.wall) < 1e-9 for f in frames)  # live: wall-clock timestamps
    assert frames[0].segment == 0 and frames[-1].segment >= 1  # a reconnection is a break
    mjpeg_server.shutdown()
    mjpeg_server.server_close()
    while src.read() is not None:  # drain what is left of the open connection
        pass
    failures = src.failures
    while src.failures < failures + 3:
        assert time.monotonic() < deadline + 20, "no retries while the server is down"
        src.read()
        time.sleep(0.01)
    assert not src.connected and 0 < src.retry_in() <= 0.4


def test_grabber_live_queue_drops_oldest(mjpeg_server: socketserver.ThreadingTCPServer) -> None:
    port = mjpeg_server.server_address[1]
    grabber = Grabber(
        CameraSource("g", f"http://127.0.0.1:{port}/v.mjpg", backoff=Backoff(0.05, 2.0, 0.2)),
        size=2,
    )
    assert grabber.drop_oldest  # live default: the newest picture matters
    grabber.start()
    deadline = time.monotonic() + 20
    while grabber.dropped == 0:  # nobody consumes: the queue overflows
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grabber.stop()
    assert grabber.get() is not None


@pytest.mark.parametrize("live", [True, False])
def test_newer_waiting_only_for_a_live_camera_with_a_frame_queued(
    tmp_path: Path, live: bool
) -> None:
    src = CameraSource("n", str(_tiny_clip(tmp_path / "n.mp4")))
    first = src.read()
    assert first is not None
    grabber = Grabber(src, size=4, drop_oldest=live)  # not started: frames queued by hand
    assert not grabber.newer_waiting
    grabber._put(first)
    # a file read offline never has one: every frame keeps the tick the clock gives it
    assert grabber.newer_waiting is live
    assert grabber.get() is first and not grabber.newer_waiting


def _drain(grabber: Grabber) -> list[Frame]:
    """Start ``grabber`` and take its frames until its file has ended."""
    grabber.start()
    frames = []
    while not grabber.finished:
        frame = grabber.get(timeout=0.2)
        if frame is not None:
            frames.append(frame)
    return frames


def test_grabber_passes_over_frames_want_refuses(tmp_path: Path) -> None:
    clip = _tiny_clip(tmp_path / "w.mp4", n=10)
    grabber = Grabber(CameraSource("w", str(clip)), drop_oldest=False)
    asked: list[float] = []

    def want(t: float, segment: int) -> bool:  # every third frame, and none after 0.75 s
        asked.append(t)
        return len(asked) % 3 == 1 and t < 0.75

    grabber.want = want
    frames = _drain(grabber)
    assert len(asked) == 10  # every decoded frame was asked about
    assert [f.seq for f in frames] == [1, 4, 7]
    assert [f.t for f in frames] == [asked[0], asked[3], asked[6]]
    assert [f.skipped for f in frames] == [0, 2, 2]
    assert grabber.unreported == 3  # frames 8-10, passed over after the last one queued
    assert sum(1 + f.skipped for f in frames) + grabber.unreported == 10
    assert all(f.image.shape == (48, 64, 3) for f in frames)


def test_realtime_grabber_stamps_frames_when_their_time_comes(tmp_path: Path) -> None:
    """A paced file is a live camera: each frame's wall time is when its time came, also
    when the frames before it were passed over (decoded at once, they must not make the
    next frame look older than it is)."""
    clip = _tiny_clip(tmp_path / "p.mp4", n=10)  # 10 frames/s
    grabber = Grabber(CameraSource("p", str(clip)), drop_oldest=False, realtime=True)
    asked: list[float] = []

    def want(t: float, segment: int) -> bool:  # every third frame
        asked.append(t)
        return len(asked) % 3 == 1

    grabber.want = want
    frames = _drain(grabber)
    assert [f.seq for f in frames] == [1, 4, 7, 10]
    first = frames[0]
    for f in frames[1:]:  # never earlier than its stream time says (the clock may run late)
        assert f.wall - first.wall >= (f.t - first.t) - 0.02, (f.seq, f.wall - first.wall)


def test_grabber_refusing_everything_still_delivers(tmp_path: Path) -> None:
    clip = _tiny_clip(tmp_path / "r.mp4", n=10)
    grabber = Grabber(CameraSource("r", str(clip)), drop_oldest=False)
    grabber.MAX_SKIP = 3
    grabber.want = lambda t, segment: False
    frames = _drain(grabber)
    assert [f.seq for f in frames] == [4, 8]  # one frame after MAX_SKIP refusals
    assert [f.skipped for f in frames] == [3, 3] and grabber.unreported == 2


def test_source_grab_then_retrieve_matches_read(tmp_path: Path) -> None:
    clip = str(_tiny_clip(tmp_path / "g.mp4", n=4))
    read = CameraSource("a", clip).read()
    src = CameraSource("b", clip)
    t = src.grab()
    frame = src.retrieve(skipped=5)
    assert read is not None and frame is not None and t == frame.t == read.t
    assert np.array_equal(frame.image, read.image) and (frame.seq, frame.skipped) == (1, 5)
    assert src.grab() is not None and src.grab() is not None  # frame 2 passed over
    third = src.retrieve()
    assert third is not None and third.seq == 3 and int(third.image.mean()) in range(75, 86)


class _Blind:
    """A detector that finds nothing (the health messages are what is looked at)."""

    def __init__(self) -> None:
        self.plan: DevicePlan = plan_device(
            "cpu", cuda_devices=0, model_suffix=".pt", cameras=1, max_batch=1
        )

    def detect(
        self,
        frames: Sequence[NDArray[np.uint8]],
        ts: Sequence[float],
        sizes: Sequence[int | None] | None = None,
        class_maps: Sequence[Mapping[str, str] | None] | None = None,
    ) -> list[Detections]:
        return [empty_detections(t) for t in ts]


def _health_while_opening(tmp_path: Path, opens: bool) -> list[dict[str, Any]]:
    """Health of a camera whose first connection takes 0.8 s to open (``opens``) or to
    fail, with a health message due every 0.05 s."""
    clip = _tiny_clip(tmp_path / "slow.mp4", n=20)

    def slow(url: str) -> Any:
        time.sleep(0.8)
        return open_capture(url) if opens else None

    cam = CameraConfig.model_validate(
        {
            "id": "slow-cam",
            "name": "Slow",
            "location": {"lat": 20.86, "lon": 106.68},
            "source": str(clip),
            "detect_fps": 5,
            "frame": {"width": 64, "height": 48},
        }
    )
    src = CameraSource(cam.id, str(clip), opener=slow, backoff=Backoff(5.0, 2.0, 5.0))
    pub = MemoryPublisher()
    opts = PipelineOptions(
        evidence_root=tmp_path / "ev", health_interval_s=0.05, device="cpu", gate=False
    )
    feeds = {cam.id: Grabber(src, drop_oldest=False)}
    pipe = Pipeline.build([cam], load_violation_catalogue(), feeds, _Blind(), pub, opts)
    pipe.run(max_wall_s=1.6 if not opens else 20)
    return pub.of(opts.topic_dashboard, "camera")


def test_no_offline_health_while_the_first_connection_opens(tmp_path: Path) -> None:
    health = _health_while_opening(tmp_path, opens=True)
    # before the fix, ~16 messages with connected: false came in the 0.8 s of opening, and
    # the wall raised an offline alarm for every camera at every start
    assert health
    first_up = next(i for i, h in enumerate(health) if h["connected"])
    assert first_up == 0, health[:3]


def test_a_first_connection_that_fails_is_reported_at_once(tmp_path: Path) -> None:
    health = _health_while_opening(tmp_path, opens=False)
    down = [h for h in health if not h["connected"]]
    assert down and down[0]["error"] == "cannot open"  # not held back by the grace
    assert all(h["error"] == "cannot open" for h in down[:-1])
