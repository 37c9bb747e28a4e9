"""``--max-detect-fps auto``: the cap from measured detection costs (pure), the measuring
itself on a stand-in detector, and the command line on the real one."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from fixtures.processes import ioc_command

from ioc.cli.vision import _auto_cap, cpu_share, rate_cap
from ioc.settings import Settings
from vision.config import load_cameras
from vision.detector import ClassMap, Frame
from vision.device import DevicePlan, plan_device
from vision.sizing import (
    DECODE_CORES_720P,
    MIN_FPS,
    RATE_FLOOR,
    CameraLoad,
    RateCap,
    prefer_smaller,
    scaled_imgsz,
    size_rate,
)
from vision.sizing_probe import ROUNDS, WARMUP, host_cores, measure_loads
from vision.tracks import Detections

REPO = Path(__file__).resolve().parents[2]
P720 = 1280 * 720


def test_cameras_that_fit_keep_their_own_rates() -> None:
    loads = [CameraLoad("a", 10, 0.02, P720), CameraLoad("b", 6, 0.02, P720)]
    cap = size_rate(loads, cores=2.0)
    assert cap.fits and cap.fps == 10  # b keeps its own 6: it is not raised
    # 10 x (20 + 4 ms) + 6 x 24 ms + two 720p streams
    assert cap.needed == pytest.approx(0.24 + 0.144 + 2 * DECODE_CORES_720P, abs=1e-3)


def test_the_cap_steps_down_until_the_cameras_fit() -> None:
    loads = [CameraLoad(f"c{i}", 10, 0.036, P720) for i in range(4)]  # 40 ms a tick
    streams = 4 * DECODE_CORES_720P
    cap = size_rate(loads, cores=streams + 0.641)
    # 4 x r x 0.04 <= 0.64  ->  r <= 4.0
    assert cap.fits and cap.fps == 4.0 and cap.needed <= streams + 0.641
    assert size_rate(loads, cores=streams + 0.70).fps == 4.0  # 4.5/s would need 0.72 more
    assert size_rate(loads, cores=streams + 0.721).fps == 4.5


def test_a_camera_below_the_cap_costs_its_own_rate_only() -> None:
    slow = CameraLoad("slow", 2, 0.2, P720)
    fast = CameraLoad("fast", 10, 0.02, P720)
    assert slow.cores(8) == pytest.approx(slow.cores(2))
    cap = size_rate([slow, fast], cores=2 * DECODE_CORES_720P + 0.408 + 0.114)
    # slow: 2 x 0.204 (its own rate); fast: r x 0.024 <= 0.114 -> r <= 4.75 -> 4.5
    assert cap.fps == 4.5 and cap.fits


def test_a_bigger_frame_costs_more_to_decode() -> None:
    small = CameraLoad("s", 5, 0.02, 640 * 360)
    big = CameraLoad("b", 5, 0.02, 1920 * 1080)
    assert big.stream_cores() == pytest.approx(9 * small.stream_cores())


def test_a_host_too_small_gets_the_lowest_cap_and_says_so() -> None:
    loads = [CameraLoad(f"c{i}", 10, 0.1, P720) for i in range(8)]
    cap = size_rate(loads, cores=0.5)
    assert cap.fps == MIN_FPS and not cap.fits and cap.needed > 0.5


@pytest.mark.parametrize(
    ("loads", "cores"),
    [
        ([], 1.0),
        ([CameraLoad("a", 5, 0.02, P720)], 0.0),
        ([CameraLoad("a", 0, 0.02, P720)], 1.0),
        ([CameraLoad("a", 5, -0.1, P720)], 1.0),
        ([CameraLoad("a", 5, 0.02, 0)], 1.0),
    ],
)
def test_nonsense_is_refused(loads: list[CameraLoad], cores: float) -> None:
    with pytest.raises(ValueError):
        size_rate(loads, cores)


def _by_pixels(width: int, height: int, size: int | None) -> float:
    return width * height / 1e8  # 1 ms per 100,000 pixels of the frame


class BusyDetector:
    """Spends CPU on each call: ``cost(width, height, input size)`` seconds (by default in
    proportion to the frame's pixels)."""

    def __init__(self, cost: Callable[[int, int, int | None], float] = _by_pixels) -> None:
        self.plan: DevicePlan = plan_device(
            "cpu", cuda_devices=0, model_suffix=".pt", cameras=1, max_batch=1
        )
        self.cost = cost
        self.calls: list[tuple[int, int, int | None]] = []

    def detect(
        self,
        frames: Sequence[Frame],
        ts: Sequence[float],
        sizes: Sequence[int | None] | None = None,
        class_maps: Sequence[ClassMap | None] | None = None,
    ) -> list[Detections]:
        h, w = frames[0].shape[:2]
        size = None if sizes is None else sizes[0]
        self.calls.append((w, h, size))
        end = time.process_time() + self.cost(w, h, size)
        while time.process_time() < end:
            pass
        return []


def test_one_measurement_per_frame_and_input_size() -> None:
    cams = load_cameras(Settings().cameras_dir)
    a = cams["vn-junction-a"]
    chosen = [a, a.model_copy(update={"id": "a-copy"}), cams["vn-junction-b"]]
    det = BusyDetector()
    loads = measure_loads(det, chosen)
    # junction A once for both copies, junction B (another size, 960 px input) once
    assert len(det.calls) == 2 * (WARMUP + ROUNDS)
    assert {c for c in det.calls} == {(1006, 720, None), (1018, 720, 960)}
    assert [(x.camera_id, x.own_fps, x.pixels) for x in loads] == [
        ("vn-junction-a", a.detect_fps, 1006 * 720),
        ("a-copy", a.detect_fps, 1006 * 720),
        ("vn-junction-b", cams["vn-junction-b"].detect_fps, 1018 * 720),
    ]
    assert loads[0].detect_s == loads[1].detect_s > 0 and loads[2].detect_s > 0
    assert 1 <= host_cores() <= (os.cpu_count() or 1)


def test_smaller_input_sizes_only_below_the_floor_and_for_a_higher_rate() -> None:
    assert [scaled_imgsz(s, 0.8) for s in (640, 960, 416, 320, 64)] == [512, 768, 320, 256, 64]
    assert scaled_imgsz(1280, 0.5) == 640

    def cap(fps: float) -> RateCap:
        return RateCap(fps, 1.0, 0.9, True)

    assert prefer_smaller(cap(3.0), cap(4.5))
    assert prefer_smaller(cap(RATE_FLOOR - 0.5), cap(RATE_FLOOR))
    assert not prefer_smaller(cap(3.0), cap(3.0))  # nothing bought: the own size stays
    assert not prefer_smaller(cap(RATE_FLOOR), cap(6.0))  # enough detections already


def input_busy() -> BusyDetector:
    """Spends CPU with the square of the input size: 60 ms at 640 px, 38 ms at 512."""
    return BusyDetector(lambda w, h, size: 0.06 * ((size or 640) / 640) ** 2)


def test_a_host_short_of_cpu_detects_smaller_pictures_more_often(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cam = load_cameras(Settings().cameras_dir)["vn-junction-a"]  # 10/s of its own, 640 px
    stream = CameraLoad("a", 10, 0.0, cam.frame.width * cam.frame.height).stream_cores()
    share = (stream + 0.2) / host_cores()  # 0.2 cores to detect in: ~3/s at 640, ~4.5 at 512
    sized = _auto_cap(input_busy(), [cam], share, default_imgsz=640)
    out = capsys.readouterr().out
    own = re.search(r"at their own sizes the cap would be ([\d.]+)/s", out)
    assert own is not None and float(own.group(1)) < RATE_FLOOR, out
    assert sized[0].detect_imgsz == 512 and sized[0].detect_fps > float(own.group(1))
    assert "vn-junction-a 512 px" in out
    # a camera whose own rate the cap does not hold back keeps its picture
    slow = cam.model_copy(update={"id": "slow", "detect_fps": 1.0})
    both = _auto_cap(input_busy(), [cam, slow], share + (stream + 0.064) / host_cores(), 640)
    assert [c.detect_imgsz for c in both] == [512, None] and both[1].detect_fps == 1.0
    assert "slow" not in capsys.readouterr().out.split("detector input")[1]
    # not with --keep-input-size, nor where the own size already gives enough detections
    kept = _auto_cap(input_busy(), [cam], share, 640, keep_input_size=True)
    assert kept[0].detect_imgsz is None and kept[0].detect_fps < RATE_FLOOR
    roomy = _auto_cap(input_busy(), [cam], (stream + 0.8) / host_cores(), 640)
    assert roomy[0].detect_imgsz is None and roomy[0].detect_fps == 10
    assert "detector input" not in capsys.readouterr().out


def test_the_command_line_takes_a_rate_or_auto_and_a_share() -> None:
    assert rate_cap("auto") == "auto" and rate_cap(" AUTO ") == "auto"
    assert rate_cap("2.5") == 2.5
    for bad in ("fast", "0", "-1", "61"):
        with pytest.raises(argparse.ArgumentTypeError):
            rate_cap(bad)
    assert cpu_share("0.5") == 0.5 and cpu_share("1") == 1.0
    for bad in ("0", "1.5", "half"):
        with pytest.raises(argparse.ArgumentTypeError):
            cpu_share(bad)


def test_ioc_vision_run_sizes_its_cameras_with_the_real_detector(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        "IOC_HOME": str(tmp_path / "home"),
        "IOC_VISION_TORCH_THREADS": "1",
    }
    for key in ("IOC_SHARED_DIR", "IOC_MODEL_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    argv = [*ioc_command(), "vision", "run", "--camera", "vn-junction-a"]
    argv += ["--camera", "us-residential-street", "--no-kafka", "--fast", "--no-loop"]
    argv += ["--seconds", "1", "--max-detect-fps", "auto", "--cpu-share", "0.5"]
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sized = re.search(
        r"detections/s capped at ([\d.]+) per camera for 2 camera\(s\) in ([\d.]+) of (\d+) "
        r"cores .*one detection's CPU: vn-junction-a (\d+) ms, us-residential-street (\d+) ms",
        done.stdout,
    )
    assert sized is not None, done.stdout[-3000:]
    cap, cores, host = float(sized.group(1)), float(sized.group(2)), int(sized.group(3))
    assert MIN_FPS <= cap <= 10 and cores == pytest.approx(0.5 * host, abs=0.01)
    assert int(sized.group(4)) > 0 and int(sized.group(5)) > 0
    # the cameras ticked at most at the cap over their second of stream (the first frame
    # ticks too)
    for cid in ("vn-junction-a", "us-residential-street"):
        ran = re.search(rf"^{cid}: \d+ frames, (\d+) processed", done.stdout, re.MULTILINE)
        assert ran is not None and int(ran.group(1)) <= cap + 1, done.stdout[-2000:]


def test_a_wrong_cap_is_a_usage_error() -> None:
    done = subprocess.run(
        [*ioc_command(), "vision", "run", "--all", "--max-detect-fps", "fast"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "neither a number nor 'auto'" in done.stderr
