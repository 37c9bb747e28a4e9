"""Batched detection with pre- and post-processing on the inference device (the GPU path).

ultralytics' predictor letterboxes each frame on the CPU with OpenCV, one after another, and
builds a ``Results`` object per frame. On a GPU, which runs the network on a batch of 32
images in a few milliseconds, that serial CPU work - not the network - sets the pace. Here a
batch of BGR frames is uploaded as uint8, resized, padded, normalised and run through the
network, and NMS runs on the device for the whole batch at once (torchvision's
``batched_nms``; ultralytics' loops over the images in Python, about 1 ms each on a GPU);
only the kept boxes come back to the host, in one copy.

The letterbox is ultralytics' own arithmetic (same gain, same centred padding of grey 114,
the minimum stride-aligned rectangle when every frame has the same shape, a square canvas
otherwise), resampled bilinearly by torch instead of OpenCV, so boxes agree with
``YOLO.predict`` to within resampling noise. The code is device-agnostic torch: the tests run
it on the CPU against ``predict``; ``bench/vision_gpu.py`` measures it on a GPU.

Example::

    batch = DeviceBatch.load(Path("yolov8n.pt"), device="cuda:0", half=True)
    found = batch.detect([frame_a, frame_b], imgsz=640, conf=0.25, classes=[0, 2, 3])
    found[0]        # float32 array (n, 6): x1, y1, x2, y2, confidence, COCO class id
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

PAD_VALUE = 114  # ultralytics' letterbox grey
IOU = 0.7  # ultralytics' predict default
MAX_DET = 300


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one frame sits on the batch canvas: scale ``gain`` (same on both axes, as
    ultralytics rounds each side: ``gain_x``/``gain_y`` are the exact ratios), resized size
    and the top-left offset of the picture."""

    gain_x: float
    gain_y: float
    new_w: int
    new_h: int
    left: int
    top: int


def canvas_size(shapes: Sequence[tuple[int, int]], imgsz: int, stride: int) -> tuple[int, int]:
    """``(height, width)`` of the batch canvas for frames of ``shapes`` (``(h, w)`` each):
    the smallest ``stride``-aligned rectangle around the letterboxed frame when every frame
    has the same shape (ultralytics' ``auto`` letterbox), else the ``imgsz`` square."""
    if not shapes or imgsz < stride or imgsz % stride:
        raise ValueError(f"imgsz {imgsz} must be a positive multiple of {stride}; frames needed")
    if len(set(shapes)) > 1:
        return imgsz, imgsz
    h, w = shapes[0]
    r = min(imgsz / h, imgsz / w)
    new_h, new_w = max(round(h * r), 1), max(round(w * r), 1)
    return (
        new_h + (imgsz - new_h) % stride,
        new_w + (imgsz - new_w) % stride,
    )


def place(shape: tuple[int, int], canvas: tuple[int, int]) -> Placement:
    """Fit a frame of ``shape`` ``(h, w)`` into ``canvas`` ``(h, w)``: keep the aspect ratio,
    centre it (ultralytics' rounding of the two padding halves)."""
    h, w = shape
    r = min(canvas[0] / h, canvas[1] / w)
    new_h, new_w = max(round(h * r), 1), max(round(w * r), 1)
    top = round((canvas[0] - new_h) / 2 - 0.1)
    left = round((canvas[1] - new_w) / 2 - 0.1)
    return Placement(new_w / w, new_h / h, new_w, new_h, left, top)


def to_frame(boxes: NDArray[np.float32], p: Placement, shape: tuple[int, int]) -> None:
    """Map canvas ``xyxy`` boxes (columns 0-3, in place) back to frame pixels, clipped."""
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - p.left) / p.gain_x
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - p.top) / p.gain_y
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, shape[1])
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, shape[0])


def check_frames(frames: Sequence[NDArray[np.uint8]]) -> None:
    """Raise ``ValueError`` naming the first frame that is not a uint8 BGR ``(h, w, 3)`` array."""
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"frame {i}: expected uint8 BGR (h, w, 3), got {frame.dtype} {frame.shape}"
            )


def batched_nms(pred: Any, conf: float, classes: Any | None) -> tuple[Any, Any]:
    """NMS for a whole batch in a few kernels (ultralytics' loops over the images in Python).

    ``pred`` is the network's ``(B, 4 + classes, anchors)`` output (centre-size boxes, class
    scores); ``classes`` a tensor of the class ids to keep, or ``None`` for all. Same rules as
    ultralytics' ``non_max_suppression`` in predict: each anchor takes its best class, scores
    must exceed ``conf``, boxes suppress only boxes of the same class and image (IoU > 0.7),
    at most 300 per image, best first. Returns the kept rows ``(n, 6)`` (``x1, y1, x2, y2,
    score, class``) grouped by image, and the number per image ``(B,)``.
    """
    import torch
    from torchvision.ops import batched_nms as tv_batched_nms

    batch, channels, _ = pred.shape
    table = pred.transpose(1, 2).float()  # (B, anchors, 4 + classes)
    score, cls = table[..., 4:].max(dim=2)
    mask = score > conf
    if classes is not None:
        mask &= torch.isin(cls, classes)
    image, anchor = mask.nonzero(as_tuple=True)
    xywh = table[image, anchor, :4]
    boxes = torch.cat((xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2), dim=1)
    picked_score, picked_cls = score[image, anchor], cls[image, anchor]
    keep = tv_batched_nms(boxes, picked_score, image * (channels - 4) + picked_cls, IOU)
    order = torch.sort(image[keep], stable=True).indices  # by image, best first within one
    keep = keep[order]
    owner = image[keep]
    per_image = torch.bincount(owner, minlength=batch)
    first = torch.cumsum(per_image, 0) - per_image
    rank = torch.arange(keep.numel(), device=keep.device) - first[owner]
    keep = keep[rank < MAX_DET]
    rows = torch.cat((boxes[keep], picked_score[keep, None], picked_cls[keep, None].float()), dim=1)
    return rows, per_image.clamp(max=MAX_DET)


class DeviceBatch:
    """The network (an ultralytics ``AutoBackend``: fused, fp16 when asked) with letterbox
    and NMS around it, all on one torch device."""

    def __init__(self, backend: Any, device: Any, half: bool) -> None:
        import torch

        self.backend = backend
        self.device = torch.device(device)
        self.dtype = torch.float16 if half else torch.float32
        self.stride = max(32, int(getattr(backend, "stride", 32)))
        self.names: dict[int, str] = dict(backend.names)

    @classmethod
    def load(cls, weights: Path, device: str, half: bool) -> DeviceBatch:
        """Load ``.pt`` weights onto ``device`` (ultralytics' loader: Conv+BN fused)."""
        import torch
        from ultralytics.nn.autobackend import AutoBackend

        dev = torch.device(device)
        backend = AutoBackend(str(weights), device=dev, fp16=half, fuse=True, verbose=False)
        backend.eval()
        return cls(backend, dev, half)

    def letterbox(
        self, frames: Sequence[NDArray[np.uint8]], imgsz: int
    ) -> tuple[Any, list[Placement]]:
        """The ``(B, 3, H, W)`` input tensor on the device (RGB, 0-1) and each frame's
        placement on it."""
        import torch
        import torch.nn.functional as F

        check_frames(frames)
        shapes = [(int(f.shape[0]), int(f.shape[1])) for f in frames]
        canvas = canvas_size(shapes, imgsz, self.stride)
        out = torch.full(
            (len(frames), 3, *canvas), PAD_VALUE / 255, dtype=self.dtype, device=self.device
        )
        placements = [place(s, canvas) for s in shapes]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, shape in enumerate(shapes):
            groups.setdefault(shape, []).append(i)
        for (h, w), members in groups.items():  # one upload buffer and one resize per shape
            raw = torch.empty((len(members), h, w, 3), dtype=torch.uint8, device=self.device)
            for k, i in enumerate(members):
                raw[k].copy_(torch.from_numpy(np.ascontiguousarray(frames[i])))
            im = raw.permute(0, 3, 1, 2).flip(1).float()  # BGR NHWC -> RGB NCHW
            p = placements[members[0]]
            if (p.new_h, p.new_w) != (h, w):
                im = F.interpolate(
                    im,
                    size=(p.new_h, p.new_w),
                    mode="bilinear",
                    align_corners=False,
                    antialias=False,
                )
            rows = torch.tensor(members, device=self.device)  # same shape, same placement
            out[rows, :, p.top : p.top + p.new_h, p.left : p.left + p.new_w] = im.div_(255).to(
                self.dtype
            )
        return out, placements

    def detect(
        self,
        frames: Sequence[NDArray[np.uint8]],
        imgsz: int,
        conf: float,
        classes: Sequence[int] | None = None,
    ) -> list[NDArray[np.float32]]:
        """One ``(n, 6)`` float32 array per frame: ``x1, y1, x2, y2`` in frame pixels,
        confidence, COCO class id; boxes below ``conf`` or of other ``classes`` dropped."""
        import torch

        if not frames:
            return []
        with torch.inference_mode():
            x, placements = self.letterbox(frames, imgsz)
            preds = self.backend(x)
            rows_t, counts_t = batched_nms(
                preds[0] if isinstance(preds, (list, tuple)) else preds,
                conf,
                None if classes is None else torch.tensor(list(classes), device=self.device),
            )
            counts = counts_t.cpu().tolist()
            flat = rows_t.cpu().numpy() if sum(counts) else None
        out: list[NDArray[np.float32]] = []
        at = 0
        for n, p, frame in zip(counts, placements, frames, strict=True):
            rows = (
                np.zeros((0, 6), np.float32)
                if flat is None
                else np.array(flat[at : at + n, :6], dtype=np.float32)
            )
            at += n
            to_frame(rows, p, (int(frame.shape[0]), int(frame.shape[1])))
            out.append(rows)
        return out
