"""How closely an int8 detector follows its fp32 original, for NNCF's accuracy control.

Plain post-training quantisation moved the hand counts of the sample clips by one vehicle
either way, depending on the calibration frames (``docs/VISION.md``): a few layers of
YOLOv8n are sensitive to int8. ``nncf.quantize_with_accuracy_control`` finds them by
measuring a metric after each change and keeps in floating point the layers that cost the
most, until the metric is within ``max_drop`` of the original's. No labelled data is needed
here: the metric is the *agreement* of the int8 model's detections with the fp32 export's on
the same calibration frames (the F1 score of one-to-one matches of the same class with an IoU
of at least 0.5, over the classes the pipeline keeps, at ByteTrack's new-track confidence:
the boxes that start tracks and so make counts), so a camera's own recordings are enough to
calibrate and check it.

Example::

    check = Agreement(fp32_compiled, frames, conf=0.25)
    score, per_frame = check(int8_compiled, [(i, f) for i, f in enumerate(frames)])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torchvision.ops import box_iou

from vision.coco import COCO_NAMES
from vision.detector import COCO_TO_CLASS

# the COCO ids of the classes the pipeline keeps: agreement on the others does not matter
KEPT_COCO_IDS: tuple[int, ...] = tuple(i for i, n in enumerate(COCO_NAMES) if n in COCO_TO_CLASS)
IOU_MATCH = 0.5
NMS_IOU = 0.7  # ultralytics' predictor default

Boxes = NDArray[np.float32]  # (n, 6): x1, y1, x2, y2, confidence, COCO class id
Model = Callable[[Any], Any]  # an OpenVINO compiled model: model(frame)[0] is the raw output


def detections(raw: Any, conf: float) -> Boxes:
    """The kept classes' boxes of one frame's raw YOLOv8 output (1, 4 + classes, anchors),
    after ultralytics' own NMS, as the predictor gives them (letterboxed coordinates)."""
    from ultralytics.utils.nms import non_max_suppression

    out = non_max_suppression(
        torch.from_numpy(np.asarray(raw, dtype=np.float32)),
        conf,
        NMS_IOU,
        classes=list(KEPT_COCO_IDS),
    )[0]
    return np.asarray(out.numpy(), dtype=np.float32).reshape(-1, 6)


def agreement(reference: Boxes, candidate: Boxes, iou_min: float = IOU_MATCH) -> float:
    """F1 score of ``candidate`` against ``reference``: each reference box, the most
    confident first, takes the unmatched candidate box of its class with the highest IoU,
    when that IoU is at least ``iou_min``. 1.0 when neither has a box."""
    if len(reference) == 0 and len(candidate) == 0:
        return 1.0
    if len(reference) == 0 or len(candidate) == 0:
        return 0.0
    iou = box_iou(torch.from_numpy(reference[:, :4]), torch.from_numpy(candidate[:, :4])).numpy()
    iou[reference[:, 5][:, None] != candidate[:, 5][None, :]] = 0.0
    matched = 0
    for i in np.argsort(-reference[:, 4], kind="stable"):
        j = int(np.argmax(iou[i]))
        if iou[i, j] >= iou_min:
            matched += 1
            iou[:, j] = 0.0  # taken
    return 2.0 * matched / (len(reference) + len(candidate))


class Agreement:
    """NNCF's validation function: ``check(model, items)`` scores ``model`` on the items
    (``(index, frame)`` pairs of the frames given here) against the reference model's
    detections, computed once; returns the mean and each item's score."""

    def __init__(self, reference: Model, frames: Sequence[NDArray[np.float32]], conf: float):
        self.conf = conf
        self._reference = [detections(reference(f)[0], conf) for f in frames]

    def __call__(self, model: Model, items: Iterable[tuple[int, Any]]) -> tuple[float, list[float]]:
        scores = [
            agreement(self._reference[i], detections(model(frame)[0], self.conf))
            for i, frame in items
        ]
        return (float(np.mean(scores)) if scores else 1.0), scores
