"""Where the detector runs: device, precision and how many frames go into one inference.

Pure: :func:`plan_device` is a function of what was asked for and what is present, so the GPU
path is unit-tested on a CPU-only machine. A GPU gets half precision (YOLO loses no useful
accuracy in fp16 and runs about twice as fast) and frames from several cameras batched into
one forward pass (one launch per batch instead of per camera keeps the GPU busy). A CPU gets
fp32 and batches of one: there batching only adds latency, since the work is the same. On a
CPU, PyTorch weights run through OpenVINO when that package is present (``runtime``; the same
graph, exported once by :mod:`vision.openvino_export`: about 0.78x PyTorch's time per frame on
one AVX2 core).

Example::

    plan = plan_device("auto", cuda_devices=cuda_device_count(), model_suffix=".pt",
                       cameras=4, max_batch=8)
    plan.device, plan.half, plan.batch      # -> ('cuda:0', True, 4) on a GPU machine
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

_CUDA = re.compile(r"^cuda(?::(\d+))?$")
# Formats whose graph accepts any batch size and an fp16 switch at load time.
_FLEXIBLE = frozenset({".pt", ".pth"})
CPU_RUNTIMES = ("auto", "torch", "openvino")
PREPROCESS = ("auto", "host", "device")
Runtime = Literal["torch", "openvino"]
Preprocess = Literal["host", "device"]


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """The decision: torch device string, fp16 or not, frames per inference, the inference
    runtime (``torch``: the weights as given; ``openvino``: their OpenVINO export), where the
    letterbox and NMS run (``host``: ultralytics' predictor, OpenCV on the CPU; ``device``:
    beside the network - :mod:`vision.device_batch` in torch on its device, or
    :mod:`vision.openvino_batch` with the scaling compiled into the OpenVINO graph), and why."""

    device: str
    half: bool
    batch: int
    reason: str
    runtime: Runtime = "torch"
    preprocess: Preprocess = "host"

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


def plan_device(
    requested: str,
    *,
    cuda_devices: int,
    model_suffix: str,
    cameras: int,
    max_batch: int,
    cpu_runtime: str = "torch",
    openvino: bool = False,
    preprocess: str = "auto",
) -> DevicePlan:
    """Choose device, precision, batch size and, on a CPU, the runtime.

    ``requested`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (``IOC_VISION_DEVICE``);
    ``cuda_devices`` is how many CUDA devices torch sees. Exported graphs (``.onnx``; the
    shared one is fixed at 1x3x640x640 fp32) always get fp32 and batch 1. ``cpu_runtime``
    (``IOC_VISION_CPU_RUNTIME``) is ``auto`` (OpenVINO when ``openvino`` says the package is
    present and the weights are ``.pt``), ``torch`` or ``openvino`` (an error if impossible).
    ``preprocess`` (``IOC_VISION_PREPROCESS``) is ``auto`` (on the device for a GPU with
    ``.pt`` weights and for OpenVINO, on the host otherwise), ``host`` (ultralytics'
    predictor) or ``device`` (``.pt`` weights only).

    Example: ``plan_device("auto", cuda_devices=0, model_suffix=".pt", cameras=4,
    max_batch=8)`` -> ``DevicePlan('cpu', False, 1, ...)``.
    """
    if cameras < 1 or max_batch < 1 or cuda_devices < 0:
        raise ValueError("cameras and max_batch must be >= 1, cuda_devices >= 0")
    req = requested.strip().lower()
    flexible = model_suffix.lower() in _FLEXIBLE
    if cpu_runtime not in CPU_RUNTIMES:
        raise ValueError(f"CPU runtime {cpu_runtime!r}: expected one of {CPU_RUNTIMES}")
    if preprocess not in PREPROCESS:
        raise ValueError(f"preprocess {preprocess!r}: expected one of {PREPROCESS}")
    if req == "cpu" or (req == "auto" and cuda_devices == 0):
        why = "asked for" if req == "cpu" else "no CUDA device"
        runtime = _cpu_runtime(cpu_runtime, flexible=flexible, openvino=openvino)
        on_openvino = runtime == "openvino"
        where = _preprocess(
            preprocess,
            usable=flexible,
            default="device" if on_openvino else "host",
        )
        how = (
            "ultralytics' predictor"
            if where == "host"
            else "letterbox into a reused canvas, scaling in the OpenVINO graph"
            if on_openvino
            else "letterbox and NMS in torch"
        )
        return DevicePlan(
            "cpu",
            False,
            1,
            f"CPU ({why}): {runtime}, fp32, one frame per inference, {how}",
            runtime,
            where,
        )
    if req == "auto":
        index = 0
    else:
        match = _CUDA.match(req)
        if match is None:
            raise ValueError(f"device {requested!r}: expected auto, cpu, cuda or cuda:N")
        index = int(match.group(1) or 0)
        if index >= cuda_devices:
            raise ValueError(f"device {requested!r}: only {cuda_devices} CUDA device(s) present")
    if not flexible:
        _preprocess(preprocess, usable=False, default="host")
        return DevicePlan(
            f"cuda:{index}", False, 1, f"CUDA, {model_suffix} graph: fp32, one frame per inference"
        )
    batch = min(cameras, max_batch)
    where = _preprocess(preprocess, usable=True, default="device")
    return DevicePlan(
        f"cuda:{index}",
        True,
        batch,
        f"CUDA: fp16, up to {batch} camera frame(s) per inference, letterbox and NMS on the "
        f"{where}",
        "torch",
        where,
    )


def _preprocess(asked: str, *, usable: bool, default: Preprocess) -> Preprocess:
    if asked == "host" or (asked == "auto" and (default == "host" or not usable)):
        return "host"
    if not usable:
        raise ValueError("preprocess 'device' needs .pt weights (run by PyTorch or OpenVINO)")
    return "device"


def _cpu_runtime(asked: str, *, flexible: bool, openvino: bool) -> Runtime:
    if asked == "torch" or (asked == "auto" and not (flexible and openvino)):
        return "torch"
    if not flexible:
        raise ValueError("the OpenVINO runtime is exported from PyTorch weights (.pt)")
    if not openvino:
        raise ValueError("the OpenVINO runtime needs the package: pip install openvino")
    return "openvino"


def cuda_device_count() -> int:
    """CUDA devices torch can use (0 when torch has no working CUDA)."""
    import torch

    try:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except RuntimeError as exc:  # a broken driver: fall back to the CPU rather than fail
        logger.warning("CUDA present but unusable (%s); using the CPU", exc)
        return 0
