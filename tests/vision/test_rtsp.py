"""The camera source against a real RTSP server (GStreamer's gst-rtsp-server, started by
``tests/vision/rtsp_server.py`` on a free loopback port): frame times from the RTP
timestamps, through the burst FFmpeg hands over when a stream opens and through a network
stall (a TCP proxy that holds the server's packets back). Skipped where the Debian packages
are missing (``make rtsp`` installs them)."""

from __future__ import annotations

import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from ioc.cli import main
from ioc.settings import Settings
from vision.catalogue import ViolationCatalogue
from vision.config import StreamTiming, load_cameras
from vision.detector import UltralyticsDetector
from vision.pipeline import Pipeline, PipelineOptions
from vision.publish import MemoryPublisher
from vision.source import CAPTURE_OPTIONS, CameraSource, Frame, Grabber, use_rtsp_transport

CpuDetector = Callable[..., UltralyticsDetector]  # the conftest fixture cpu_detector

CLIP = Settings().shared_dir / "data" / "video" / "vn_cctv_junction_a.mp4"
SERVER = Path(__file__).with_name("rtsp_server.py")
DEBIAN_PYTHON = "/usr/bin/python3"


def _has_rtsp_server() -> bool:
    """Debian's python3 has gst-rtsp-server and the elements the server's pipeline needs."""
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "names = ('filesrc', 'tsdemux', 'h264parse', 'rtph264pay', 'identity');"
        "raise SystemExit(0 if all(Gst.ElementFactory.find(n) for n in names) else 1)"
    )
    try:
        done = subprocess.run([DEBIAN_PYTHON, "-c", probe], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


pytestmark = pytest.mark.skipif(
    not _has_rtsp_server(), reason="gst-rtsp-server not installed (make rtsp)"
)


def _serve(tmp: Path, loss: float = 0.0) -> Iterator[str]:
    """``rtsp://127.0.0.1:PORT/cam``: 7 s of junction A (320 px, H.264, 20 frames/s on
    average) at its own pace, from the start for each client; ``loss``: the share of RTP
    packets the server drops."""
    import imageio_ffmpeg  # type: ignore[import-untyped]

    clip = tmp / "cam.ts"
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(CLIP),
        "-t", "7", "-an", "-vf", "scale=320:-2", "-c:v", "libx264", "-preset", "ultrafast",
        "-g", "10", "-f", "mpegts", str(clip),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=60)
    proc = subprocess.Popen(
        [DEBIAN_PYTHON, str(SERVER), str(clip), str(loss)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline().split()  # readiness: the server prints its port
    assert line[:1] == ["PORT"], f"RTSP server did not start: {line}"
    try:
        yield f"rtsp://127.0.0.1:{line[1]}/cam"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def rtsp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(tmp_path_factory.mktemp("rtsp"))


@pytest.fixture(scope="module")
def lossy_rtsp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same stream with 5 % of its RTP packets lost."""
    yield from _serve(tmp_path_factory.mktemp("rtsp-lossy"), loss=0.05)


class StallingProxy:
    """A TCP proxy in front of the RTSP server; :meth:`stall` holds back what the server
    sends for a while (a congested link: with RTP over TCP, nothing is lost, all is late)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.hold_until = 0.0
        self.down = 0  # bytes forwarded from the server to the client
        self.stalled = threading.Event()
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self, seconds: float) -> None:
        self.hold_until = time.monotonic() + seconds
        self.stalled.set()

    def close(self) -> None:
        self.closing = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        with client, server:
            while not self.closing:
                ready, _, _ = select.select([client, server], [], [], 0.05)
                for sock in ready:
                    if sock is server and time.monotonic() < self.hold_until:
                        continue  # held: the bytes wait in the kernel's buffers
                    try:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (server if sock is client else client).sendall(data)
                    except OSError:  # one side hung up
                        return
                    self.down += len(data) if sock is server else 0
                if time.monotonic() < self.hold_until:
                    time.sleep(0.01)


def _read(src: CameraSource, until_s: float, on_frame: int | None = None,
          then: object = None) -> list[Frame]:  # fmt: skip
    frames: list[Frame] = []
    deadline = time.monotonic() + until_s
    while time.monotonic() < deadline:
        frame = src.read()
        if frame is None:
            if src.failures:
                break
            time.sleep(0.005)
            continue
        frames.append(frame)
        if on_frame is not None and len(frames) == on_frame and callable(then):
            then()
    return frames


@pytest.mark.parametrize("clock", ["auto", "wall"])
def test_the_burst_at_connection_keeps_its_filmed_spacing(rtsp_url: str, clock: str) -> None:
    src = CameraSource("rtsp", rtsp_url, timing=StreamTiming.model_validate({"clock": clock}))
    frames = _read(src, until_s=4.0)
    src.close()
    assert len(frames) >= 40
    first = frames[:20]  # FFmpeg probed about a second of the stream before handing these
    arrived = first[-1].wall - first[0].wall
    span = first[-1].t - first[0].t
    assert arrived < 0.3, f"no burst at connection ({arrived:.3f} s)"
    if clock == "auto":
        assert src.clock_kind == "pts"
        assert span == pytest.approx(0.9, abs=0.08)  # as filmed (33 and 67 ms steps)
        steps = np.diff([f.t for f in frames])
        assert steps.max() < 0.1 and np.median(steps) == pytest.approx(0.05, abs=0.02)
    else:
        assert src.clock_kind == "wall"
        assert span < 0.3  # the burst squeezed: what live cameras got before
    assert {f.segment for f in frames} == {0}


@pytest.mark.parametrize("clock", ["auto", "wall"])
def test_a_stall_on_the_network_keeps_times_and_continuity(
    rtsp_url: str, monkeypatch: pytest.MonkeyPatch, clock: str
) -> None:
    monkeypatch.delenv(CAPTURE_OPTIONS, raising=False)  # restored after the test
    use_rtsp_transport("tcp")  # the default (IOC_VISION_RTSP_TRANSPORT)
    host, port = rtsp_url.split("//")[1].split("/")[0].split(":")
    proxy = StallingProxy((host, int(port)))
    try:
        src = CameraSource(
            "rtsp",
            f"rtsp://127.0.0.1:{proxy.port}/cam",
            timing=StreamTiming.model_validate({"clock": clock}),
        )
        frames = _read(src, until_s=20.0, on_frame=50, then=lambda: proxy.stall(1.8))
        src.close()
    finally:
        proxy.close()
    assert proxy.stalled.is_set() and len(frames) >= 120  # to the end of the clip
    arrivals = np.diff([f.wall for f in frames])
    assert arrivals.max() > 1.2, "the proxy did not hold the stream back"
    steps = np.diff([f.t for f in frames])
    if clock == "wall":  # arrival: a hole where nothing was lost, then the late frames
        assert src.breaks == 1 and steps.max() > 1.2  # squeezed together (the old way)
        assert (steps[int(np.argmax(steps)) + 1 :][:10] < 0.02).sum() >= 5
        return
    assert steps.max() < 0.1  # the frames' own spacing (33 and 67 ms) across the stall
    assert np.median(steps) == pytest.approx(0.05, abs=0.02)
    assert {f.segment for f in frames} == {0} and src.breaks == 0


@pytest.mark.vision
def test_the_pipeline_runs_a_camera_over_rtsp(
    rtsp_url: str, catalogue: ViolationCatalogue, cpu_detector: CpuDetector, tmp_path: Path
) -> None:
    # junction A's camera as shipped, its source a live RTSP substream (320 px wide: the
    # geometry drawn on the 1006x720 frame is scaled to it), the real detector
    cam = load_cameras(Settings().cameras_dir)["vn-junction-a"]
    cam = cam.model_copy(update={"source": rtsp_url})
    feed = Grabber(CameraSource(cam.id, rtsp_url, timing=cam.stream))  # live: drops oldest
    pub = MemoryPublisher()
    opts = PipelineOptions(evidence_root=tmp_path / "ev", device="cpu")
    pipe = Pipeline.build([cam], catalogue, {cam.id: feed}, cpu_detector(tmp_path / "y"), pub, opts)
    stats = pipe.run(until_s=3.0, max_wall_s=60.0)[cam.id]  # 3 s of stream, by its RTP clock
    health = [m for m in pub.of(opts.topic_dashboard, "camera") if m["connected"]]
    assert health, "never connected"
    assert health[-1]["clock"] == "pts" and health[-1]["stream_breaks"] == 0
    assert health[-1]["decoded_fps"] > 0 and health[-1]["error"] is None
    assert health[-1]["ring_mb"] > 0  # ~1.5 s of 320 px JPEGs at the last report
    assert health[-1]["evidence_backlog"] == 0 and health[-1]["evidence_dropped"] == 0
    assert pipe.workers[cam.id].camera.frame.width == 320  # fitted to the substream
    assert stats.last_t is not None and stats.first_t is not None
    assert stats.last_t - stats.first_t == pytest.approx(3.0, abs=0.2)
    assert stats.ticks >= 3 and stats.detections > 0  # fewer under load: frames are dropped


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_lossy_network_smears_frames_but_never_breaks_or_reconnects(
    lossy_rtsp_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    transport: str,
) -> None:
    """5 % of the RTP packets never arrive: FFmpeg conceals the damaged pictures (and
    says so on stderr) and the camera goes on. Lost frames show as longer steps in the RTP
    times (a lost keyframe takes its group of pictures, 0.5 s here, with it), below the 1 s
    that would break the stream; nothing reconnects."""
    monkeypatch.delenv(CAPTURE_OPTIONS, raising=False)
    use_rtsp_transport(transport)
    src = CameraSource("rtsp", lossy_rtsp_url)
    frames = _read(src, until_s=15.0)  # to the end of the clip, where the server stops
    src.close()
    damaged = capfd.readouterr().err.count("error while decoding")
    assert damaged > 0, "no packet was lost"  # the control: the loss really happened
    assert 100 <= len(frames) <= 145  # of ~140; whole frames lost too
    assert src.reconnects == 0 and src.breaks == 0 and src.clock_kind == "pts"
    assert {f.segment for f in frames} == {0}
    steps = np.diff([f.t for f in frames])
    assert steps.max() < 1.0 and frames[-1].t - frames[0].t == pytest.approx(6.9, abs=0.3)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_the_rtsp_transport_setting_decides_where_the_video_flows(
    rtsp_url: str, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    # the proxy carries the RTSP connection only: RTP over TCP passes through it, RTP over
    # UDP goes to the ports SETUP agreed on, past it
    monkeypatch.delenv(CAPTURE_OPTIONS, raising=False)
    use_rtsp_transport(transport)
    host, port = rtsp_url.split("//")[1].split("/")[0].split(":")
    proxy = StallingProxy((host, int(port)))
    try:
        src = CameraSource("rtsp", f"rtsp://127.0.0.1:{proxy.port}/cam")
        frames = _read(src, until_s=4.0)
        src.close()
    finally:
        proxy.close()
    assert len(frames) >= 30
    if transport == "tcp":
        assert proxy.down > 100_000  # the video itself
    else:
        assert proxy.down < 20_000  # RTSP replies only


def test_the_transport_joins_the_operators_own_ffmpeg_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CAPTURE_OPTIONS, "analyzeduration;500000")
    assert use_rtsp_transport("tcp") == "analyzeduration;500000|rtsp_transport;tcp"
    assert use_rtsp_transport("udp") == "analyzeduration;500000|rtsp_transport;tcp"  # kept
    monkeypatch.setenv(CAPTURE_OPTIONS, "rtsp_transport;udp")
    assert use_rtsp_transport("tcp") == "rtsp_transport;udp"  # the operator's own wins
    monkeypatch.delenv(CAPTURE_OPTIONS)
    assert use_rtsp_transport("auto") == ""


def test_check_config_probes_each_camera_and_says_what_is_wrong(
    rtsp_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # junction A's camera as shipped but pointed at the RTSP server's 320 px stream (a
    # substream picked by mistake), and a camera whose address answers nothing
    shipped = load_cameras(Settings().cameras_dir)["vn-junction-a"]
    for name, url in (("sub", rtsp_url), ("dead", "rtsp://127.0.0.1:9/none")):
        doc = shipped.model_copy(update={"id": f"cam-{name}", "source": url})
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump(doc.model_dump(mode="json", exclude_none=True)), encoding="utf-8"
        )
    assert main(["vision", "check-config", str(tmp_path), "--probe", "--seconds", "2"]) == 1
    out, err = capsys.readouterr()
    (sub,) = [line for line in out.splitlines() if line.startswith("ok  probe cam-sub")]
    assert "320x230, frame times pts, 0 break(s)" in sub
    assert "geometry was drawn on 1006x720" in sub
    (dead,) = [line for line in err.splitlines() if "probe cam-dead" in line]
    assert dead.startswith("FAIL") and "cannot open" in dead
