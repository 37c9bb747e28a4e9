"""Where the detector runs: device, precision and how many frames go into one inference.

Pure: :func:`plan_device` is a function of what was asked for and what is present, so the GPU
path is unit-tested on a CPU-only machine. A GPU gets half precision (YOLO loses no useful
accuracy in fp16 and runs about twice as fast) and frames from several cameras batched into
one forward pass (one launch per batch instead of per camera keeps the GPU busy). A CPU gets
fp32 and batches of one: there batching only adds latency, since the work is the same.

Example::

    plan = plan_device("auto", cuda_devices=cuda_device_count(), model_suffix=".pt",
                       cameras=4, max_batch=8)
    plan.device, plan.half, plan.batch      # -> ('cuda:0', True, 4) on a GPU machine
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_CUDA = re.compile(r"^cuda(?::(\d+))?$")
# Formats whose graph accepts any batch size and an fp16 switch at load time.
_FLEXIBLE = frozenset({".pt", ".pth"})


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """The decision: torch device string, fp16 or not, frames per inference, and why."""

    device: str
    half: bool
    batch: int
    reason: str

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


def plan_device(
    requested: str, *, cuda_devices: int, model_suffix: str, cameras: int, max_batch: int
) -> DevicePlan:
    """Choose device, precision and batch size.

    ``requested`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (``IOC_VISION_DEVICE``);
    ``cuda_devices`` is how many CUDA devices torch sees. Exported graphs (``.onnx``; the
    shared one is fixed at 1x3x640x640 fp32) always get fp32 and batch 1.

    Example: ``plan_device("auto", cuda_devices=0, model_suffix=".pt", cameras=4,
    max_batch=8)`` -> ``DevicePlan('cpu', False, 1, ...)``.
    """
    if cameras < 1 or max_batch < 1 or cuda_devices < 0:
        raise ValueError("cameras and max_batch must be >= 1, cuda_devices >= 0")
    req = requested.strip().lower()
    flexible = model_suffix.lower() in _FLEXIBLE
    if req == "cpu" or (req == "auto" and cuda_devices == 0):
        why = "asked for" if req == "cpu" else "no CUDA device"
        return DevicePlan("cpu", False, 1, f"CPU ({why}): fp32, one frame per inference")
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
        return DevicePlan(
            f"cuda:{index}", False, 1, f"CUDA, {model_suffix} graph: fp32, one frame per inference"
        )
    batch = min(cameras, max_batch)
    return DevicePlan(
        f"cuda:{index}", True, batch, f"CUDA: fp16, up to {batch} camera frame(s) per inference"
    )


def cuda_device_count() -> int:
    """CUDA devices torch can use (0 when torch has no working CUDA)."""
    import torch

    try:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except RuntimeError as exc:  # a broken driver: fall back to the CPU rather than fail
        logger.warning("CUDA present but unusable (%s); using the CPU", exc)
        return 0
