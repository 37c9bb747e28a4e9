"""int8 with accuracy control: the agreement metric on hand-made boxes and raw outputs, the
calibration input sizes, and a real (small) accuracy-controlled quantisation of YOLOv8n.

The quantisation test is skipped with the reason when ``openvino`` or ``nncf`` is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ioc.settings import Settings
from vision.coco import COCO_NAMES
from vision.detector import int8_sizes
from vision.int8_accuracy import Agreement, agreement, detections
from vision.int8_export import frames_at, int8_model, nncf_available
from vision.openvino_export import ExportError, openvino_available, openvino_model

SETTINGS = Settings()
CLIP = SETTINGS.shared_dir / "data" / "video" / "vn_cctv_junction_a.mp4"
CAR, MOTORBIKE, AIRPLANE = (COCO_NAMES.index(n) for n in ("car", "motorcycle", "airplane"))
needs_nncf = pytest.mark.skipif(
    not (openvino_available() and nncf_available()), reason="openvino or nncf is not installed"
)


def boxes(*rows: tuple[float, float, float, float, float, int]) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 6)


def test_agreement_is_the_f1_of_one_to_one_matches_of_the_same_class() -> None:
    ref = boxes((0, 0, 10, 10, 0.9, CAR), (20, 20, 30, 30, 0.8, MOTORBIKE))
    assert agreement(ref, ref.copy()) == 1.0
    assert agreement(boxes(), boxes()) == 1.0
    assert agreement(ref, boxes()) == 0.0 and agreement(boxes(), ref) == 0.0
    shifted = ref.copy()
    shifted[0, :4] += 1.0  # IoU 81/119 = 0.68: still the same car
    assert agreement(ref, shifted) == 1.0
    far = ref.copy()
    far[0, :4] += 5.0  # IoU 25/175: another box
    assert agreement(ref, far) == pytest.approx(2 * 1 / 4)
    relabelled = ref.copy()
    relabelled[1, 5] = CAR  # the motorbike's box called a car does not count
    assert agreement(ref, relabelled) == pytest.approx(2 * 1 / 4)
    # one candidate box cannot stand for two reference boxes
    twins = boxes((0, 0, 10, 10, 0.9, CAR), (0, 0, 10, 9, 0.5, CAR))
    assert agreement(twins, boxes((0, 0, 10, 10, 0.7, CAR))) == pytest.approx(2 * 1 / 3)


def raw(*anchors: tuple[float, float, float, float, int, float]) -> np.ndarray:
    """A YOLOv8 output (1, 84, anchors) with one class score per anchor (cx, cy, w, h)."""
    out = np.zeros((1, 4 + len(COCO_NAMES), len(anchors)), np.float32)
    for k, (cx, cy, w, h, cls, score) in enumerate(anchors):
        out[0, :4, k] = (cx, cy, w, h)
        out[0, 4 + cls, k] = score
    return out


def test_detections_keep_the_pipelines_classes_above_the_confidence() -> None:
    out = raw(
        (50, 50, 20, 10, CAR, 0.8),
        (200, 200, 10, 10, MOTORBIKE, 0.05),  # below conf
        (300, 300, 40, 40, AIRPLANE, 0.9),  # not a class the pipeline keeps
        (51, 50, 20, 10, CAR, 0.6),  # the same car again: suppressed
    )
    got = detections(out, conf=0.1)
    assert got.shape == (1, 6)
    np.testing.assert_allclose(got[0], [40, 45, 60, 55, 0.8, CAR], rtol=1e-6)
    assert detections(raw(), conf=0.1).shape == (0, 6)


def test_agreement_scores_a_model_against_the_reference_per_frame() -> None:
    frames = [np.full((1, 3, 32, 32), i, np.float32) for i in range(3)]
    car = raw((50, 50, 20, 10, CAR, 0.8))
    nothing = raw()
    check = Agreement(lambda frame: [car], frames, conf=0.25)
    assert check(lambda frame: [car], list(enumerate(frames))) == (1.0, [1.0, 1.0, 1.0])
    # the candidate misses the car on frame 1 only (frames are told apart by their value)
    flaky = lambda frame: [nothing if frame[0, 0, 0, 0] == 1 else car]  # noqa: E731
    score, each = check(flaky, [(1, frames[1]), (2, frames[2])])
    assert each == [0.0, 1.0] and score == 0.5


def test_int8_sizes_are_the_setting_or_the_cameras(tmp_path: Path) -> None:
    assert int8_sizes(Settings(vision_int8_sizes=[960, 640, 960])) == (640, 960)
    assert int8_sizes(Settings(detector_imgsz=640)) == (640,)  # fp32: cameras not read
    shipped = Settings(vision_cpu_precision="int8", detector_imgsz=640)
    assert int8_sizes(shipped) == (640, 960)  # junction B's camera detects at 960 px
    broken = tmp_path / "cameras"
    broken.mkdir()
    (broken / "bad.yaml").write_text("cameras: [", encoding="utf-8")
    no_cameras = Settings(vision_cpu_precision="int8", detector_imgsz=512, cameras_dir=broken)
    assert int8_sizes(no_cameras) == (512,)
    with pytest.raises(ValueError, match="vision_int8_sizes"):
        Settings(vision_int8_sizes=[16])
    with pytest.raises(ValueError, match="vision_int8_max_drop"):
        Settings(vision_int8_max_drop=1.5)


def test_calibration_frames_are_shared_between_the_input_sizes() -> None:
    frames = frames_at([CLIP], 6, (320, 640))
    assert [f.shape for f in frames] == [(1, 3, 256, 320)] * 3 + [(1, 3, 480, 640)] * 3


@needs_nncf
def test_bad_accuracy_settings_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="accuracy drop"):
        int8_model(SETTINGS.model_path, tmp_path, [CLIP], max_drop=1.5)
    with pytest.raises(ExportError, match="input sizes"):
        int8_model(SETTINGS.model_path, tmp_path, [CLIP], sizes=(16,))
    assert list(tmp_path.iterdir()) == []  # refused before any export


@pytest.mark.vision
@needs_nncf
def test_accuracy_controlled_int8_is_its_own_cached_model_close_to_fp32(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import openvino as ov

    cache = tmp_path_factory.mktemp("models")
    weights = SETTINGS.model_path
    # a few small frames: seconds, not minutes
    controlled = int8_model(weights, cache, [CLIP], 6, (320,), max_drop=0.5)
    plain = int8_model(weights, cache, [CLIP], 6, (320,), max_drop=None)
    assert controlled != plain and "-int8-" in controlled.name
    assert int8_model(weights, cache, [CLIP], 6, (320,), max_drop=0.5) == controlled
    frames = frames_at([CLIP], 6, (320,))
    core = ov.Core()
    fp32 = core.compile_model(str(next(openvino_model(SETTINGS.model_path, cache).glob("*.xml"))))
    int8 = core.compile_model(str(next(controlled.glob("*.xml"))))
    check = Agreement(fp32, frames, conf=0.25)
    assert check(fp32, enumerate(frames))[0] == 1.0
    score, each = check(int8, enumerate(frames))
    assert len(each) == 6 and score >= 0.5  # what max_drop=0.5 promised
