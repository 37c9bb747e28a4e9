"""Detection on a CPU through OpenVINO directly: letterbox into a reused buffer, scaling in
the compiled graph, one NMS for the rows (the OpenVINO counterpart of
:mod:`vision.device_batch`).

ultralytics' predictor, run on an OpenVINO export, spends about 3 ms per frame around the
network (measured on a 2-core Zen 4 VM, one thread: 43-44 ms per 1006x720 junction frame at
640 px against 40-41 ms here; 27.6-28.4 against 25.5 at 512 px): a float32 copy of the
letterboxed picture, its transpose and division by 255 in torch, a result object per frame,
and a model compiled for *dynamic* input shapes, which the CPU plugin runs about 6 % slower
than one reshaped to the input it gets. Here:

* the IR is reshaped to each canvas it is given (``1 x 3 x H x W``, H and W from ultralytics'
  letterbox arithmetic, :func:`vision.device_batch.canvas_size`) and compiled once per canvas;
* its input is the uint8 BGR canvas as it lies in memory (``NHWC``): OpenVINO's
  pre-processing converts it to float, swaps the channels and divides by 255 inside the
  compiled graph;
* the frame is resized with OpenCV straight into a reused grey canvas (ultralytics' own
  ``INTER_LINEAR`` resize, placement and padding grey, so boxes agree with ``YOLO.predict``);
* the output goes through :func:`vision.device_batch.batched_nms` (ultralytics' NMS rules:
  best class per anchor, confidence and class filter, IoU 0.7 within a class, 300 at most).

Example::

    batch = OpenVinoBatch.load(Path(".../yolov8n_openvino_model"), threads=1)
    rows = batch.detect([frame], imgsz=640, conf=0.25, classes=[0, 2, 3])[0]
    rows        # float32 (n, 6): x1, y1, x2, y2, confidence, COCO class id, frame pixels
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.device_batch import (
    PAD_VALUE,
    Placement,
    batched_nms,
    canvas_size,
    check_frames,
    place,
    to_frame,
)

STRIDE = 32  # YOLOv8's largest stride: canvas sides are multiples of it


@dataclass(slots=True)
class _Canvas:
    """A compiled model for one input shape, and the buffer frames are letterboxed into."""

    request: Any  # openvino InferRequest
    image: NDArray[np.uint8]  # (1, H, W, 3) BGR, grey where no picture lies
    placement: Placement | None = None  # where the last frame's picture was put


class OpenVinoBatch:
    """An OpenVINO IR (ultralytics' export of YOLO weights) compiled per canvas shape."""

    def __init__(self, core: Any, model_xml: Path, config: dict[str, Any]) -> None:
        self._core, self._xml, self._config = core, model_xml, config
        self._canvases: dict[tuple[int, int], _Canvas] = {}

    @classmethod
    def load(cls, folder: Path, threads: int = 0) -> OpenVinoBatch:
        """The model in ``folder`` (its ``*.xml``), to run on ``threads`` inference threads
        (0: the CPU plugin's default, every core). Threads are not pinned: camera processes
        that share a host each limit theirs, and the plugin would pin every process's threads
        to the same first cores (:func:`vision.detector.limit_openvino_threads`)."""
        import openvino as ov

        xml = next(iter(sorted(folder.glob("*.xml"))), None)
        if xml is None:
            raise FileNotFoundError(f"no OpenVINO model (*.xml) in {folder}")
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
        if threads > 0:
            config["INFERENCE_NUM_THREADS"] = threads
        return cls(ov.Core(), xml, config)

    @property
    def compiled(self) -> list[Any]:
        """The compiled models so far, one per canvas shape."""
        return [c.request.get_compiled_model() for c in self._canvases.values()]

    def _canvas(self, shape: tuple[int, int]) -> _Canvas:
        known = self._canvases.get(shape)
        if known is not None:
            return known
        import openvino as ov
        from openvino.preprocess import ColorFormat, PrePostProcessor

        model = self._core.read_model(str(self._xml))
        model.reshape([1, 3, *shape])
        ppp = PrePostProcessor(model)
        tensor = ppp.input().tensor()
        tensor.set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        tensor.set_color_format(ColorFormat.BGR)
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        steps = ppp.input().preprocess()
        steps.convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
        compiled = self._core.compile_model(ppp.build(), "CPU", self._config)
        canvas = _Canvas(
            compiled.create_infer_request(), np.full((1, *shape, 3), PAD_VALUE, np.uint8)
        )
        self._canvases[shape] = canvas
        return canvas

    def _letterbox(self, frame: NDArray[np.uint8], imgsz: int) -> tuple[_Canvas, Placement]:
        h, w = int(frame.shape[0]), int(frame.shape[1])
        canvas = self._canvas(canvas_size([(h, w)], imgsz, STRIDE))
        p = place((h, w), canvas.image.shape[1:3])
        if canvas.placement != p:  # another frame shape drew on this canvas: grey it again
            canvas.image.fill(PAD_VALUE)
            canvas.placement = p
        area = canvas.image[0, p.top : p.top + p.new_h, p.left : p.left + p.new_w]
        if (p.new_h, p.new_w) == (h, w):
            area[...] = frame
        else:
            cv2.resize(frame, (p.new_w, p.new_h), dst=area, interpolation=cv2.INTER_LINEAR)
        return canvas, p

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

        check_frames(frames)
        keep = None if classes is None else torch.tensor(list(classes))
        out: list[NDArray[np.float32]] = []
        for frame in frames:
            canvas, p = self._letterbox(frame, imgsz)
            pred = canvas.request.infer({0: canvas.image})[0]  # (1, 4 + classes, anchors)
            rows_t, _ = batched_nms(torch.from_numpy(np.asarray(pred)), conf, keep)
            rows = np.array(rows_t.numpy()[:, :6], dtype=np.float32)
            to_frame(rows, p, (int(frame.shape[0]), int(frame.shape[1])))
            out.append(rows)
        return out
