"""The OpenVINO runtime on a CPU: the real YOLOv8n weights exported once into a cache, the
same boxes as PyTorch on real frames, the export reused, and clear errors.

Skipped with the reason when the ``openvino`` package is not installed (it is a dependency of
the project, so only a trimmed environment lacks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fixtures.video import clip_frames

from ioc.settings import Settings
from vision.detector import DetectorSpec, UltralyticsDetector, prepare_weights
from vision.device_batch import canvas_size
from vision.openvino_batch import OpenVinoBatch
from vision.openvino_export import ExportError, openvino_available, openvino_model
from vision.tracks import Detections

CpuDetector = Callable[..., UltralyticsDetector]  # the conftest fixture cpu_detector

pytestmark = [
    pytest.mark.vision,
    pytest.mark.skipif(not openvino_available(), reason="openvino is not installed"),
]
SETTINGS = Settings()
CLIP = SETTINGS.shared_dir / "data" / "video" / "vn_cctv_junction_a.mp4"


def _frames(count: int) -> list[np.ndarray]:
    return clip_frames(CLIP, count)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_openvino_finds_the_same_boxes_as_pytorch(
    cache: Path, tmp_path_factory: pytest.TempPathFactory, cpu_detector: CpuDetector
) -> None:
    yolo = tmp_path_factory.mktemp("yolo")
    ov = cpu_detector(yolo, runtime="auto", cache_dir=cache)
    pt = cpu_detector(yolo, runtime="torch", cache_dir=cache)
    assert ov.plan.runtime == "openvino" and ov.weights.is_dir()
    assert pt.plan.runtime == "torch" and pt.weights == SETTINGS.model_path
    frames = _frames(3)
    seen = 0
    for a, b in zip(
        ov.detect(frames, [0.0, 1.0, 2.0]), pt.detect(frames, [0.0, 1.0, 2.0]), strict=True
    ):
        assert a.t == b.t
        # the same graph in fp32: the same boxes, up to float rounding near the threshold
        assert abs(len(a.xyxy) - len(b.xyxy)) <= 1
        seen += _twins(a, b)
    assert seen >= 10  # busy junction: many vehicles matched box for box


def test_export_is_cached_and_reused(cache: Path) -> None:
    first = openvino_model(SETTINGS.model_path, cache)
    xml = next(first.glob("*.xml"))
    before = xml.stat().st_mtime_ns
    again = openvino_model(SETTINGS.model_path, cache)
    assert again == first and xml.stat().st_mtime_ns == before
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_an_incomplete_export_is_replaced(tmp_path: Path, cache: Path) -> None:
    good = openvino_model(SETTINGS.model_path, cache)
    target = tmp_path / good.name
    target.mkdir()
    (target / "half-written.xml").write_text("<net")  # a copy killed mid-write
    rebuilt = openvino_model(SETTINGS.model_path, tmp_path)
    assert rebuilt == target and (rebuilt / "metadata.yaml").is_file()
    assert not (rebuilt / "half-written.xml").exists()


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not found"):
        openvino_model(tmp_path / "missing.pt", tmp_path)
    with pytest.raises(ExportError, match=r"only PyTorch weights"):
        openvino_model(SETTINGS.shared_dir / "models" / "yolov8n.onnx", tmp_path)
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(ExportError, match=r"export of .*bogus\.pt failed"):
        openvino_model(bogus, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())  # the failed attempt left nothing


def test_frames_of_several_input_sizes_come_back_in_order(
    cache: Path, tmp_path_factory: pytest.TempPathFactory, cpu_detector: CpuDetector
) -> None:
    det = cpu_detector(tmp_path_factory.mktemp("yolo"), runtime="auto", cache_dir=cache)
    a, b, c = _frames(3)
    mixed = det.detect([a, b, c], [0.0, 1.0, 2.0], [None, 960, None])
    assert [d.t for d in mixed] == [0.0, 1.0, 2.0]
    alone_960 = det.detect([b], [1.0], [960])[0]
    alone_640 = det.detect([b], [1.0])[0]
    np.testing.assert_allclose(mixed[1].xyxy, alone_960.xyxy, atol=1e-3)
    np.testing.assert_allclose(mixed[0].xyxy, det.detect([a], [0.0])[0].xyxy, atol=1e-3)
    assert len(alone_960.xyxy) != len(alone_640.xyxy)  # the size really changed the input


def test_a_limited_thread_count_is_not_pinned_to_the_first_cores(
    cache: Path, tmp_path_factory: pytest.TempPathFactory, cpu_detector: CpuDetector
) -> None:
    # Several camera processes on one host each limit their threads; pinned, they would all
    # run on core 0 (two 1-thread processes measured at half speed each). OpenCV's pool
    # (resizing, colour conversion) gets the same share.
    cores = cv2.getNumThreads()
    try:
        for preprocess in ("auto", "host"):  # vision.openvino_batch, ultralytics' predictor
            cv2.setNumThreads(-1)  # OpenCV's default: a thread per core
            det = cpu_detector(
                tmp_path_factory.mktemp("yolo"),
                runtime="auto",
                preprocess=preprocess,
                cache_dir=cache,
            )
            det.detect(_frames(1), [0.0])  # the thread counts are set on the first call
            (compiled,) = _compiled(det)
            assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
            assert compiled.get_property("ENABLE_CPU_PINNING") is False
            assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(cores)


def test_the_precision_openvino_computes_in_is_reported(
    cache: Path, tmp_path_factory: pytest.TempPathFactory, cpu_detector: CpuDetector
) -> None:
    # The fp32 export runs in bf16 on CPUs with native bf16 (AMX, AVX512_BF16): the bench
    # and the log say which, since it moves speed and, rarely, a class vote.
    for preprocess in ("auto", "host"):
        det = cpu_detector(
            tmp_path_factory.mktemp("yolo"), runtime="auto", preprocess=preprocess, cache_dir=cache
        )
        assert det.inference_precision is None  # not compiled before the first detection
        det.detect(_frames(1), [0.0])
        (compiled,) = _compiled(det)
        expected = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        assert det.inference_precision == expected
        assert expected in {"f32", "bf16", "f16"}


def test_the_direct_openvino_path_finds_the_predictors_boxes(
    cache: Path, tmp_path_factory: pytest.TempPathFactory, cpu_detector: CpuDetector
) -> None:
    # vision.openvino_batch (static canvas, scaling in the graph, the GPU path's NMS) against
    # ultralytics' predictor on the same export, on two frame shapes and two input sizes.
    yolo = tmp_path_factory.mktemp("yolo")
    direct = cpu_detector(yolo, runtime="auto", preprocess="auto", cache_dir=cache)
    predictor = cpu_detector(yolo, runtime="auto", preprocess="host", cache_dir=cache)
    assert direct.plan.preprocess == "device" and predictor.plan.preprocess == "host"
    street = clip_frames(
        SETTINGS.shared_dir / "data" / "video" / "us_residential_street_cam.mp4", 1
    )
    junction = _frames(2)
    frames = [junction[0], street[0], junction[1]]
    ts = [0.0, 1.0, 2.0]
    matched = 0
    for sizes in (None, [640, 960, 640]):
        for a, b in zip(
            direct.detect(frames, ts, sizes), predictor.detect(frames, ts, sizes), strict=True
        ):
            assert a.t == b.t and a.names == b.names
            # bf16 kernels differ between a static and a dynamic compile: a box near the
            # confidence threshold may come and go, the others agree to within 2 px
            assert abs(len(a.xyxy) - len(b.xyxy)) <= 2
            matched += _twins(a, b)
    canvases = {canvas_size([f.shape[:2]], size, 32) for f in frames for size in (640, 960)}
    canvases.discard(canvas_size([junction[0].shape[:2]], 960, 32))  # junction: 640 only
    assert len(_compiled(direct)) == len(canvases)  # compiled once per canvas shape
    assert matched >= 40


def _twins(a: Detections, b: Detections) -> int:
    """How many of ``b``'s boxes have a twin in ``a`` within 2 px; a twin must have the same
    class."""
    found = 0
    for box, cls in zip(b.xyxy, b.class_id, strict=True):
        gap = np.abs(a.xyxy - box).max(axis=1) if len(a.xyxy) else np.array([np.inf])
        j = int(np.argmin(gap))
        if gap[j] < 2.0:
            assert a.class_id[j] == cls
            found += 1
    return found


def _compiled(det: UltralyticsDetector) -> list[Any]:
    """The OpenVINO models the detector compiled: one per canvas on the direct path, the
    predictor's one otherwise."""
    if isinstance(det._on_device, OpenVinoBatch):
        return det._on_device.compiled
    model: Any = det._model
    return [model.predictor.model.backend.ov_compiled_model]


def test_a_supervisor_prepares_the_export_the_detector_then_runs(
    cache: Path, tmp_path: Path, cpu_detector: CpuDetector
) -> None:
    # `ioc vision run --processes P` builds the model once before its children start
    spec = DetectorSpec(
        type="ultralytics",
        model_path=SETTINGS.model_path,
        conf=0.25,
        imgsz=640,
        device="cpu",
        cpu_runtime="auto",
        cache_dir=cache,  # the module's export, not made again
    )
    folder = prepare_weights(spec)
    assert folder.is_dir() and folder.parent == cache
    det = cpu_detector(tmp_path / "yolo", runtime="auto", cache_dir=cache)
    assert det.weights == folder
    on_torch = replace(spec, cpu_runtime="torch")
    assert prepare_weights(on_torch) == SETTINGS.model_path  # nothing to build
    with pytest.raises(FileNotFoundError, match="weights not found"):
        prepare_weights(replace(spec, model_path=tmp_path / "missing.pt"))


def test_frames_of_another_shape_leave_no_picture_in_the_padding(cache: Path) -> None:
    # One 640x480 canvas serves a 1006x720 junction frame (a 640x458 picture, grey bands)
    # and a 640x480 frame (no bands): after the second, the first's bands are grey again.
    batch = OpenVinoBatch.load(openvino_model(SETTINGS.model_path, cache), threads=1)
    junction = _frames(1)[0]
    full = np.full((480, 640, 3), 200, np.uint8)
    for frame in (junction, full, junction):
        batch.detect([frame], 640, 0.25)
    (canvas,) = batch._canvases.values()
    p = canvas.placement
    assert p is not None and p.top > 0 and p.new_h + 2 * p.top <= 480
    assert (canvas.image[0, : p.top] == 114).all() and (
        canvas.image[0, p.top + p.new_h :] == 114
    ).all()
    with pytest.raises(ValueError, match="frame 0: expected uint8 BGR"):
        batch.detect([junction[:, :, 0]], 640, 0.25)
