"""Object detectors as plugins chosen by a ``type`` key, and the one ultralytics adapter.

A detector turns BGR frames into :class:`~vision.tracks.Detections` with this project's class
names (``motorbike``, not COCO's ``motorcycle``). Plugins register under a ``type``
(``IOC_DETECTOR_TYPE``, default ``ultralytics``) so another runtime (TensorRT, a remote
inference server) can be added without touching the pipeline. :func:`from_ultralytics` is the
only place that reads ultralytics' result objects; everything after it sees numpy arrays. On
a GPU (``IOC_VISION_PREPROCESS=auto``) the predictor is bypassed: :mod:`vision.device_batch`
letterboxes, infers and runs NMS on the GPU and hands back plain rows (:func:`from_rows`);
on OpenVINO :mod:`vision.openvino_batch` does the same on the CPU (``host``: the predictor).

ultralytics is imported lazily, after :func:`prepare_ultralytics_env` has set
``YOLO_OFFLINE=1`` (no DNS probes, no pip auto-install) and ``YOLO_CONFIG_DIR`` under
``IOC_HOME`` (it writes its settings file on import). On a CPU with the ``openvino`` package
the ``.pt`` weights run as their OpenVINO export (:mod:`vision.openvino_export`, cached in
``~/.cache/ioc/models``): ultralytics' letterbox and NMS rules, the same boxes, less time.

Example::

    detector = create_detector(DetectorSpec.from_settings(settings), cameras=2)
    dets = detector.detect([frame_a, frame_b], [t_a, t_b])   # one Detections per frame
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from ioc.settings import Settings
from vision.config import CameraConfigError, load_cameras
from vision.device import DevicePlan, cuda_device_count, plan_device
from vision.device_batch import DeviceBatch
from vision.int8_export import MAX_DROP, int8_model
from vision.openvino_batch import OpenVinoBatch
from vision.openvino_export import (
    ExportError,
    default_cache_dir,
    openvino_available,
    openvino_model,
)
from vision.tracks import OBJECT_CLASSES, Detections

logger = logging.getLogger(__name__)

# Project class names; ``Detections.class_id`` indexes this tuple.
CLASS_NAMES: tuple[str, ...] = (*OBJECT_CLASSES, "traffic_light")
# COCO names the pipeline keeps, mapped to project names; every other class is dropped.
COCO_TO_CLASS: dict[str, str] = {
    "person": "person",
    "bicycle": "bicycle",
    "car": "car",
    "motorcycle": "motorbike",
    "bus": "bus",
    "truck": "truck",
    "traffic light": "traffic_light",
}

Frame = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """Everything a detector plugin needs (built from settings, or by hand in tests)."""

    type: str
    model_path: Path
    conf: float
    imgsz: int
    device: str = "auto"
    max_batch: int = 8
    torch_threads: int = 0
    config_dir: Path = Path(".ioc/ultralytics")
    cpu_runtime: str = "torch"
    cache_dir: Path = Path(".ioc/models")
    preprocess: str = "auto"
    precision: str = "fp32"
    calibration: tuple[Path, ...] = ()
    int8_sizes: tuple[int, ...] = ()  # calibration input sizes; empty: imgsz
    int8_max_drop: float | None = MAX_DROP

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectorSpec:
        return cls(
            type=settings.detector_type,
            model_path=settings.model_path,
            conf=settings.detector_conf,
            imgsz=settings.detector_imgsz,
            device=settings.vision_device,
            max_batch=settings.vision_max_batch,
            torch_threads=settings.vision_torch_threads,
            config_dir=settings.home / "ultralytics",
            cpu_runtime=settings.vision_cpu_runtime,
            cache_dir=settings.model_cache_dir or default_cache_dir(),
            preprocess=settings.vision_preprocess,
            precision=settings.vision_cpu_precision,
            calibration=tuple(settings.vision_int8_calibration)
            or (settings.shared_dir / "data" / "video",),
            int8_sizes=int8_sizes(settings),
            int8_max_drop=settings.vision_int8_max_drop,
        )


def int8_sizes(settings: Settings) -> tuple[int, ...]:
    """The input sizes the int8 detector is calibrated at: ``IOC_VISION_INT8_SIZES``, else
    ``IOC_DETECTOR_IMGSZ`` and, for int8, every configured camera's ``detect_imgsz`` (a
    camera config that does not load adds nothing here: the cameras' own loading says why)."""
    if settings.vision_int8_sizes:
        return tuple(sorted(set(settings.vision_int8_sizes)))
    sizes = {settings.detector_imgsz}
    if settings.vision_cpu_precision == "int8":
        try:
            cameras = load_cameras(settings.cameras_dir)
        except (CameraConfigError, OSError):
            cameras = {}
        sizes |= {c.detect_imgsz for c in cameras.values() if c.detect_imgsz}
    return tuple(sorted(sizes))


class Detector(Protocol):
    """What the pipeline needs: a device plan (for batching) and batched detection."""

    plan: DevicePlan

    def detect(
        self,
        frames: Sequence[Frame],
        ts: Sequence[float],
        sizes: Sequence[int | None] | None = None,
        class_maps: Sequence[ClassMap | None] | None = None,
    ) -> list[Detections]: ...


DetectorFactory = Callable[[DetectorSpec, int], Detector]
_REGISTRY: dict[str, DetectorFactory] = {}


def register_detector(type_: str) -> Callable[[DetectorFactory], DetectorFactory]:
    """Decorator: make ``factory(spec, cameras)`` available as detector ``type_``."""

    def wrap(factory: DetectorFactory) -> DetectorFactory:
        if type_ in _REGISTRY:
            raise ValueError(f"detector type {type_!r} is already registered")
        _REGISTRY[type_] = factory
        return factory

    return wrap


def detector_types() -> list[str]:
    return sorted(_REGISTRY)


def create_detector(spec: DetectorSpec, cameras: int = 1) -> Detector:
    """Build the detector ``spec.type`` for ``cameras`` cameras (sizes the GPU batch)."""
    factory = _REGISTRY.get(spec.type)
    if factory is None:
        raise ValueError(f"detector type {spec.type!r}: known types are {detector_types()}")
    return factory(spec, cameras)


def empty_detections(t: float) -> Detections:
    return Detections(t, np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), CLASS_NAMES)


ClassMap = Mapping[str, str]  # a camera's COCO name -> project class (``class_map``)
MAPPED_NMS_IOU = 0.7  # ultralytics' own NMS threshold
# Four-wheelers suppress each other: a pickup comes back as a "car" and a "truck" box of the
# same spot from the per-class NMS, and the second box starts or steals a track.
_FOUR_WHEELERS = ("car", "truck", "bus")
_NMS_GROUP = {CLASS_NAMES.index(n): CLASS_NAMES.index("car") for n in _FOUR_WHEELERS}


def from_ultralytics(result: Any, t: float, extra: ClassMap | None = None) -> Detections:
    """The adapter: one ultralytics ``Results`` (one frame) -> :class:`Detections` at ``t``.

    Boxes become float64 pixel ``xyxy`` of the original frame, COCO classes are renamed to
    project classes (``extra``, a camera's ``class_map``, first), and classes the pipeline
    does not use are dropped.
    """
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return empty_detections(t)
    return from_rows(np.asarray(boxes.data.cpu().numpy()), result.names, t, extra)


def from_rows(
    rows: NDArray[np.floating[Any]],
    names: dict[int, str],
    t: float,
    extra: ClassMap | None = None,
) -> Detections:
    """``(n, 6)`` rows ``x1, y1, x2, y2, confidence, COCO class id`` (frame pixels) ->
    :class:`Detections` at ``t``, with project classes; other classes are dropped.

    With ``extra`` (a camera's ``class_map``) its COCO classes are read as the vehicle class
    it names. NMS ran per COCO class, so one vehicle can come back as, say, a ``car`` and a
    ``cell phone`` box, or a pickup as a ``car`` and a ``truck``: after renaming, overlapping
    boxes of one project class, and of cars, trucks and buses among each other, are
    suppressed again (OpenCV's batched NMS, IoU 0.7, the higher confidence kept)."""
    if len(rows) == 0:
        return empty_detections(t)
    xyxy = np.asarray(rows[:, :4], dtype=np.float64).reshape(-1, 4)
    conf = np.asarray(rows[:, 4], dtype=np.float64).reshape(-1)
    coco = np.asarray(rows[:, 5], dtype=np.int64).reshape(-1)
    extra = extra or {}
    lookup = {
        i: CLASS_NAMES.index(extra.get(n) or COCO_TO_CLASS[n])
        for i, n in names.items()
        if n in extra or n in COCO_TO_CLASS
    }
    keep = np.array([int(c) in lookup for c in coco], dtype=bool)
    class_id = np.array([lookup[int(c)] for c in coco[keep]], dtype=np.int64)
    xyxy, conf = xyxy[keep], np.clip(conf[keep], 0.0, 1.0)
    if len(class_id) > 1:
        wh = xyxy[:, 2:] - xyxy[:, :2]
        kept = cv2.dnn.NMSBoxesBatched(
            np.hstack([xyxy[:, :2], wh]).tolist(),
            conf.tolist(),
            [_NMS_GROUP.get(int(c), int(c)) for c in class_id],
            0.0,
            MAPPED_NMS_IOU,
        )
        order = np.sort(np.asarray(kept, dtype=np.int64).reshape(-1))
        xyxy, conf, class_id = xyxy[order], conf[order], class_id[order]
    return Detections(t, xyxy, conf, class_id, CLASS_NAMES)


def prepare_ultralytics_env(config_dir: Path) -> None:
    """Set what ultralytics reads at import: offline mode and a writable config folder.

    The process environment is the only interface ultralytics offers for these, so this is
    the one place the vision code writes it (it never reads it).
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir.resolve())


def detector_plan(spec: DetectorSpec, cameras: int = 1) -> DevicePlan:
    """Where and how the detector of ``spec`` runs for ``cameras`` cameras on this host."""
    return plan_device(
        spec.device,
        cuda_devices=cuda_device_count(),
        model_suffix=spec.model_path.suffix,
        cameras=cameras,
        max_batch=spec.max_batch,
        cpu_runtime=spec.cpu_runtime,
        openvino=openvino_available(),
        preprocess=spec.preprocess,
    )


def runtime_weights(spec: DetectorSpec, plan: DevicePlan) -> tuple[Path, DevicePlan]:
    """The weights ``plan`` runs - on OpenVINO the export of ``spec``'s weights (int8 when
    asked for), made once into the cache - and the plan, its reason saying what runs (PyTorch
    when an export that was not asked for by name fails)."""
    weights = spec.model_path
    if plan.runtime == "openvino":
        try:
            if spec.precision == "int8":  # asked for: a failure is an error, not a guess
                weights = int8_model(
                    spec.model_path,
                    spec.cache_dir,
                    spec.calibration,
                    sizes=spec.int8_sizes or (spec.imgsz,),
                    max_drop=spec.int8_max_drop,
                )
                why = plan.reason  # "..., openvino, fp32, ..." says what runs
                why = why.replace("fp32", "int8") if "fp32" in why else f"{why}, int8"
                plan = replace(plan, reason=why)
            else:
                weights = openvino_model(spec.model_path, spec.cache_dir)
        except ExportError as exc:
            if spec.cpu_runtime == "openvino" or spec.precision == "int8":
                raise  # asked for by name: say so, do not guess
            logger.warning("%s; the detector runs on PyTorch instead", exc)
            plan = replace(plan, runtime="torch", reason=f"{exc}: PyTorch")
    elif spec.precision == "int8" and not plan.is_cuda:
        logger.warning("int8 needs the OpenVINO runtime; the detector runs fp32 on PyTorch")
    return weights, plan


def prepare_weights(spec: DetectorSpec, cameras: int = 1) -> Path:
    """Build (once) the weights the detector of ``spec`` will run, without loading them: a
    supervisor calls it before starting camera processes, so they do not all export or
    quantise at once (int8 with accuracy control takes minutes)."""
    if not spec.model_path.is_file():
        raise FileNotFoundError(f"detector weights not found: {spec.model_path}")
    return runtime_weights(spec, detector_plan(spec, cameras))[0]


@register_detector("ultralytics")
class UltralyticsDetector:
    """YOLO through ultralytics (``.pt`` or ``.onnx`` weights read in place; on a CPU the
    ``.pt`` weights' OpenVINO export when the plan says so)."""

    def __init__(self, spec: DetectorSpec, cameras: int = 1) -> None:
        if not spec.model_path.is_file():
            raise FileNotFoundError(f"detector weights not found: {spec.model_path}")
        prepare_ultralytics_env(spec.config_dir)
        from ultralytics.models import YOLO
        from ultralytics.utils import LOGGER, SETTINGS

        yolo_settings: Any = SETTINGS
        yolo_settings.update(sync=False)  # no usage events
        # ultralytics writes its INFO lines ("Loading ... for OpenVINO inference") to stdout,
        # where they would mix with a command's own output; its warnings still show.
        LOGGER.setLevel(logging.WARNING)
        self.spec = spec
        weights, self.plan = runtime_weights(spec, detector_plan(spec, cameras))
        self._model = YOLO(str(weights), task="detect")
        self.weights = weights  # what runs: the weights file, or their OpenVINO export folder
        names: dict[int, str] = self._model.names
        self._names = names
        self._on_device: DeviceBatch | OpenVinoBatch | None = None
        if self.plan.preprocess == "device":
            self._on_device = (
                OpenVinoBatch.load(weights, spec.torch_threads)
                if self.plan.runtime == "openvino"
                else DeviceBatch.load(weights, self.plan.device, self.plan.half)
            )
        self._classes = sorted(i for i, n in names.items() if n in COCO_TO_CLASS)
        self._threads_set = False
        self.inference_s = 0.0
        self.calls = 0
        logger.info(
            "detector %s on %s (%s)", spec.model_path.name, self.plan.device, self.plan.reason
        )

    def detect(
        self,
        frames: Sequence[Frame],
        ts: Sequence[float],
        sizes: Sequence[int | None] | None = None,
        class_maps: Sequence[ClassMap | None] | None = None,
    ) -> list[Detections]:
        """Detect in every frame, ``plan.batch`` frames of the same input size per forward
        pass. ``sizes`` gives a frame's input size (a camera's ``detect_imgsz``); ``None``
        means the detector's own. ``class_maps`` gives a frame's camera ``class_map`` (extra
        COCO classes read as vehicles), ``None`` for none."""
        if (
            len(frames) != len(ts)
            or (sizes is not None and len(sizes) != len(frames))
            or (class_maps is not None and len(class_maps) != len(frames))
        ):
            raise ValueError("one timestamp (and one size and class map, if given) per frame")
        maps: Sequence[ClassMap | None] = class_maps or [None] * len(frames)
        groups: dict[int, list[int]] = {}
        for i in range(len(frames)):
            asked = None if sizes is None else sizes[i]
            groups.setdefault(self._size(self.spec.imgsz if asked is None else asked), []).append(i)
        out: dict[int, Detections] = {}
        for imgsz, order in groups.items():
            for at in range(0, len(order), self.plan.batch):
                chunk = order[at : at + self.plan.batch]
                start = time.perf_counter()
                found = self._infer(
                    [frames[i] for i in chunk],
                    [ts[i] for i in chunk],
                    imgsz,
                    [maps[i] for i in chunk],
                )
                self.inference_s += time.perf_counter() - start
                self.calls += 1
                out.update(zip(chunk, found, strict=True))
                self._set_threads()
        return [out[i] for i in range(len(frames))]

    def _infer(
        self, frames: list[Frame], ts: list[float], imgsz: int, maps: list[ClassMap | None]
    ) -> list[Detections]:
        """One inference: :mod:`vision.device_batch` (letterbox and NMS on the device) or
        ultralytics' predictor (on the host). The class filter is the pipeline's classes and
        every extra class a frame's camera maps; each frame keeps only its own."""
        extra = {n for m in maps if m for n in m}
        classes = (
            sorted({*self._classes, *(i for i, n in self._names.items() if n in extra)})
            if extra
            else self._classes
        )
        if self._on_device is not None:
            rows = self._on_device.detect(frames, imgsz, self.spec.conf, classes)
            return [from_rows(r, self._names, t, m) for r, t, m in zip(rows, ts, maps, strict=True)]
        results = self._model.predict(
            frames,
            imgsz=imgsz,
            conf=self.spec.conf,
            device=self.plan.device,
            quantize=16 if self.plan.half else None,
            classes=classes,
            verbose=False,
        )
        return [from_ultralytics(r, t, m) for r, t, m in zip(results, ts, maps, strict=True)]

    @property
    def inference_precision(self) -> str | None:
        """The element type the OpenVINO CPU plugin computes in (``f32``, ``bf16``, ...), once
        the model is compiled (after the first detection); ``None`` on other runtimes.

        The fp32 export is *run* in bf16 where the CPU has native bf16 (AMX, AVX512_BF16):
        that is the plugin's default, and about 1.8x faster per inference there."""
        if self.plan.runtime != "openvino" or isinstance(self._on_device, DeviceBatch):
            return None
        if isinstance(self._on_device, OpenVinoBatch):
            done = self._on_device.compiled
            hint = done[0].get_property("INFERENCE_PRECISION_HINT") if done else None
            return None if hint is None else str(hint.get_type_name())
        predictor = getattr(self._model, "predictor", None)
        backend = getattr(getattr(predictor, "model", None), "backend", None)
        compiled = getattr(backend, "ov_compiled_model", None)
        if compiled is None:
            return None
        return str(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())

    def _size(self, asked: int) -> int:
        # The shared ONNX graph is fixed at 640x640: other sizes would fail at run time.
        return 640 if self.weights.suffix == ".onnx" else asked

    def _set_threads(self) -> None:
        # ultralytics resets torch's thread count when it selects the CPU on the first call,
        # and compiles the OpenVINO model (all cores) when its predictor is built then.
        if self._threads_set or self.plan.is_cuda or self.spec.torch_threads <= 0:
            return
        import torch

        torch.set_num_threads(self.spec.torch_threads)
        # OpenCV's own pool (resizing, colour conversions, the motion gate) gets the same
        # share: by default each camera process would start a thread per core for them too
        cv2.setNumThreads(self.spec.torch_threads)
        if self.plan.runtime == "openvino":
            if self._on_device is None:  # OpenVinoBatch compiled with its threads already
                limit_openvino_threads(self._model, self.weights, self.spec.torch_threads)
            logger.info(
                "OpenVINO: %d thread(s), computing in %s",
                self.spec.torch_threads,
                self.inference_precision,
            )
        self._threads_set = True


def limit_openvino_threads(model: Any, folder: Path, threads: int) -> None:
    """Recompile the OpenVINO model of ultralytics' predictor with ``threads`` inference
    threads (ultralytics compiles it with the CPU plugin's default: every core).

    Thread pinning is turned off: a process that limits its threads shares the host with
    other camera processes (``ioc vision run --processes``), and the CPU plugin pins each
    process's threads to the *same* first cores - two 1-thread processes then share one core
    and leave the other idle (measured: 8.4 inferences/s each instead of 16)."""
    backend = model.predictor.model.backend
    core = backend.ov.Core()
    xml = next(folder.glob("*.xml"))
    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": threads,
        "ENABLE_CPU_PINNING": False,
    }
    backend.ov_compiled_model = core.compile_model(core.read_model(str(xml)), "CPU", config)
