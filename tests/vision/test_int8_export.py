"""The int8 detector (``IOC_VISION_CPU_PRECISION=int8``): calibration frames read and
letterboxed as the predictor does, the head's class branch kept in floating point, the real
YOLOv8n weights quantised once into a cache, and boxes close to the fp32 detector's on real
junction frames.

The quantisation tests are skipped with the reason when ``openvino`` or ``nncf`` is missing
(both are dependencies of the project, so only a trimmed environment lacks them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures.video import clip_frames

from ioc.settings import Settings
from vision.detector import UltralyticsDetector
from vision.int8_export import (
    calibration_files,
    head_scope,
    int8_model,
    letterbox,
    nncf_available,
    read_frames,
    spread,
)
from vision.openvino_export import ExportError, openvino_available

CpuDetector = Callable[..., UltralyticsDetector]
SETTINGS = Settings()
CLIP = SETTINGS.shared_dir / "data" / "video" / "vn_cctv_junction_a.mp4"
needs_nncf = pytest.mark.skipif(
    not (openvino_available() and nncf_available()), reason="openvino or nncf is not installed"
)


def _frames(count: int) -> list[np.ndarray]:
    return clip_frames(CLIP, count)


def test_spread_picks_evenly_and_never_out_of_range() -> None:
    assert spread(10, 5) == [1, 3, 5, 7, 9]
    assert spread(3, 10) == [0, 1, 2]
    assert spread(0, 4) == [] and spread(5, 0) == []
    picked = spread(1001, 160)
    assert len(set(picked)) == 160 and 0 <= min(picked) and max(picked) < 1001


def test_letterbox_is_the_predictors_input() -> None:
    frame = np.zeros((720, 1006, 3), np.uint8)
    frame[:, :, 0] = 255  # pure blue in BGR
    x = letterbox(frame)
    assert x.shape == (1, 3, 480, 640) and x.dtype == np.float32  # 640x458 padded to 480
    assert x[0, 2, 240, 320] == 1.0 and x[0, 0, 240, 320] == 0.0  # RGB order
    assert x[0, 0, 0, 0] == pytest.approx(114 / 255)  # grey padding above the image
    square = letterbox(np.zeros((50, 50, 3), np.uint8), size=64, stride=32)
    assert square.shape == (1, 3, 64, 64)


def test_calibration_files_come_from_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "b.mp4").write_bytes(b"")
    (tmp_path / "a.JPG").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("skipped")
    assert calibration_files([tmp_path]) == [tmp_path / "a.JPG", tmp_path / "b.mp4"]
    assert calibration_files([tmp_path / "b.mp4"]) == [tmp_path / "b.mp4"]
    with pytest.raises(ExportError, match="not a video or an image"):
        calibration_files([tmp_path / "notes.txt"])
    with pytest.raises(ExportError, match="does not exist"):
        calibration_files([tmp_path / "missing"])


def test_frames_are_spread_over_each_video_and_unreadable_files_are_an_error(
    tmp_path: Path,
) -> None:
    frames = read_frames([CLIP], 6)
    assert len(frames) == 6 and all(f.shape == (1, 3, 480, 640) for f in frames)
    assert not np.array_equal(frames[0], frames[-1])  # not the same moment six times
    image = tmp_path / "still.png"
    cv2.imwrite(str(image), np.full((100, 200, 3), 40, np.uint8))
    assert [f.shape for f in read_frames([image], 4)] == [(1, 3, 320, 640)]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(ExportError, match="no frame could be read"):
        read_frames([broken], 4)


def test_head_scope_keeps_the_class_branch_and_decoding_of_the_last_module() -> None:
    names = [
        "__module.model.0.conv/aten::_convolution/Convolution",
        "__module.model.21.cv1.conv/aten::_convolution/Convolution",
        "__module.model.22.cv3.2.2/aten::_convolution/Convolution",
        "__module.model.22/aten::sigmoid/Sigmoid",
    ]
    scope = head_scope(names)
    kept = [n for n in names if re.fullmatch(scope, n)]
    assert kept == names[2:]
    assert not re.fullmatch(scope, "__module.model.22.cv2.0.2/aten::_convolution/Convolution")
    with pytest.raises(ExportError, match="no ultralytics module names"):
        head_scope(["Parameter_1", "Result_2"])


@pytest.mark.vision
@needs_nncf
def test_int8_model_is_built_once_and_finds_the_fp32_vehicles(
    tmp_path_factory: pytest.TempPathFactory, cpu_detector: CpuDetector
) -> None:
    cache = tmp_path_factory.mktemp("models")
    folder = int8_model(SETTINGS.model_path, cache, [CLIP], max_drop=None)  # plain, fast
    xml = next(folder.glob("*.xml"))
    assert (folder / "metadata.yaml").is_file() and "-int8-" in folder.name
    before = xml.stat().st_mtime_ns
    assert int8_model(SETTINGS.model_path, cache, [CLIP], max_drop=None) == folder
    assert xml.stat().st_mtime_ns == before  # cached, not quantised again
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no leftovers

    yolo = tmp_path_factory.mktemp("yolo")
    q = cpu_detector(yolo, runtime="auto", cache_dir=cache, precision="int8", calibration=(CLIP,))
    assert q.weights == folder and "int8" in q.plan.reason
    fp = cpu_detector(yolo, runtime="auto", cache_dir=cache)
    frames = _frames(3)
    ts = [0.0, 1.0, 2.0]
    matched = total = 0
    for a, b in zip(q.detect(frames, ts), fp.detect(frames, ts), strict=True):
        for box, cls, conf in zip(b.xyxy, b.class_id, b.conf, strict=True):
            if conf < 0.5:  # near the threshold either may drop a box
                continue
            total += 1
            if len(a.xyxy) == 0:
                continue
            lo = np.maximum(a.xyxy[:, :2], box[:2])
            hi = np.minimum(a.xyxy[:, 2:], box[2:])
            inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
            area = np.prod(a.xyxy[:, 2:] - a.xyxy[:, :2], axis=1)
            iou = inter / (area + np.prod(box[2:] - box[:2]) - inter)
            j = int(np.argmax(iou))
            matched += int(iou[j] >= 0.7 and a.class_id[j] == cls)
    assert total >= 10  # a busy junction
    assert matched >= 0.9 * total


@pytest.mark.vision
@needs_nncf
def test_int8_asked_for_without_calibration_frames_is_a_clear_error(
    tmp_path: Path, cpu_detector: CpuDetector
) -> None:
    empty = tmp_path / "calibration"
    empty.mkdir()
    with pytest.raises(ExportError, match="no video or image in"):
        cpu_detector(
            tmp_path / "yolo",
            runtime="auto",
            cache_dir=tmp_path / "models",
            precision="int8",
            calibration=(empty,),
        )
