"""Evidence clip writing: H.264 that decodes, and an encoder that yields to the cameras."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision import clips


def test_encoder_runs_below_the_camera_priority() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        clips.below_cameras(child.pid)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, own + clips.ENCODER_NICENESS)
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_a_lowered_thread_leaves_the_cameras_at_their_priority() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    seen: list[int] = []

    def work() -> None:
        clips.lower_this_thread()
        seen.append(os.getpriority(os.PRIO_PROCESS, 0))  # 0: the calling thread on Linux
        clips.lower_this_thread()  # again: relative to the cameras, not to itself
        seen.append(os.getpriority(os.PRIO_PROCESS, 0))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [min(19, own + clips.ENCODER_NICENESS)] * 2
    assert os.getpriority(os.PRIO_PROCESS, 0) == own


def test_lowering_a_finished_process_is_not_an_error() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    clips.below_cameras(child.pid)  # reaped: ESRCH is logged at debug level, not raised


def test_ffmpeg_clip_decodes_with_every_frame(tmp_path: Path) -> None:
    if clips._ffmpeg_x264() is None:
        pytest.skip("no ffmpeg with libx264 on this machine")
    frames = [np.full((120, 161, 3), 10 * i, np.uint8) for i in range(12)]  # odd width: padded
    path = tmp_path / "clip.mp4"
    assert clips.write_mp4(path, frames, 10.0, backend="ffmpeg-libx264") == "h264"
    back = _decoded(path)
    assert [img.shape[:2] for img in back] == [(120, 162)] * len(frames)


def _decoded(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    cap.release()
    return out


def test_the_clip_keeps_the_cameras_colours_and_follows_its_preset_and_crf(
    tmp_path: Path,
) -> None:
    """Lamp-like patches (red, amber, green, blue) on grey come back within a few grey
    levels of each channel; a lower CRF gives a larger file, a faster preset too."""
    if clips._ffmpeg_x264() is None:
        pytest.skip("no ffmpeg with libx264 on this machine")
    rng = np.random.default_rng(3)
    base = np.full((240, 320, 3), 110, np.uint8)
    patches = {(0, 0, 230): (40, 40), (0, 170, 250): (40, 140), (60, 220, 0): (140, 40)}
    patches[(220, 60, 0)] = (140, 140)
    for bgr, (y, x) in patches.items():
        base[y : y + 60, x : x + 60] = bgr
    frames = [
        np.clip(base.astype(int) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
        for _ in range(10)
    ]
    sizes = {}
    for preset, crf in [("ultrafast", 18), ("ultrafast", 30), ("veryfast", 30)]:
        path = tmp_path / f"{preset}-{crf}.mp4"
        encoding = clips.ClipEncoding(preset, crf)  # type: ignore[arg-type]
        assert clips.write_mp4(path, frames, 10.0, "ffmpeg-libx264", encoding) == "h264"
        back = _decoded(path)
        assert len(back) == 10
        sizes[(preset, crf)] = path.stat().st_size
        for bgr, (y, x) in patches.items():  # the middle of each patch, every channel
            seen = back[5][y + 20 : y + 40, x + 20 : x + 40].reshape(-1, 3).mean(axis=0)
            assert np.abs(seen - np.array(bgr)).max() < 8, (preset, crf, bgr, seen)
    assert sizes[("ultrafast", 18)] > sizes[("ultrafast", 30)] > sizes[("veryfast", 30)]
    with pytest.raises(ValueError, match="crf"):
        clips.ClipEncoding("ultrafast", 52)
