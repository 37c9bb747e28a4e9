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
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape[:2] == (120, 162)
        n += 1
    cap.release()
    assert n == len(frames)
