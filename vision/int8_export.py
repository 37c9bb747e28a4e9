"""The detector's OpenVINO export quantised to int8 with NNCF, for CPUs with int8 instructions.

On a CPU with AVX-512 VNNI (or AMX) an int8 YOLOv8n runs much faster than fp32: on the
2-core Xeon of session 9, one 640x480 inference on one thread took 57 ms in fp32 and 32 ms in
int8 (1.8x; ``docs/VISION.md``). Post-training quantisation (``nncf.quantize``) needs
*calibration* frames: real frames of the cameras, so the activations' ranges match what the
detector will see. They are read from ``IOC_VISION_INT8_CALIBRATION`` (video or image files, or
folders of them; by default the shared sample clips), spread evenly over each video,
letterboxed as ultralytics' predictor does (long side 640, sides padded to a multiple of 32,
grey 114, RGB, 0..1).

What stays in floating point: the detection head's class branch (``cv3``) and its box
decoding (``dfl``, the anchors' arithmetic). Quantising them too was 2.4x faster than fp32
but junction A then counted 6 motorbikes of 5. Even so, int8 moves the counts: with the
default calibration (160 frames spread over the four sample clips) junction B counted 3 of
its 5 motorbikes and the US street 7 of 8 cars, while other frame samples counted them
right. That is why it is opt-in (``IOC_VISION_CPU_PRECISION=int8``): calibrate on the
cameras' own recordings and check their counts before relying on it (``docs/VISION.md``).

The result is cached beside the fp32 export, keyed by the fp32 export's name, the NNCF
version, the calibration files (names, sizes, modification times) and the number of frames;
it is written in a private folder and renamed into place (see :mod:`vision.openvino_export`).

Example::

    folder = int8_model(Path("yolov8n.pt"), cache, [Path("../shared/data/video")])
    YOLO(str(folder), task="detect")
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.openvino_export import ExportError, build_once, openvino_model, version

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".ts"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES
CALIBRATION_FRAMES = 160
# what stays in floating point, {head} being the detection head's module index
KEEP_FLOAT = r".*__module\.model\.{head}(/|\.dfl|\.cv3\.).*"
_MODULE = re.compile(r"__module\.model\.(\d+)[./]")


def nncf_available() -> bool:
    """Whether the ``nncf`` package can be imported (checked without importing it)."""
    return find_spec("nncf") is not None


def calibration_files(paths: Iterable[Path]) -> list[Path]:
    """The video and image files named by ``paths`` (files, or folders read one level
    deep), sorted within each folder; other files are skipped. ``ExportError`` for a path
    that does not exist."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES)
        elif path.is_file():
            if path.suffix.lower() not in _SUFFIXES:
                raise ExportError(f"int8 calibration: {path} is not a video or an image")
            out.append(path)
        else:
            raise ExportError(f"int8 calibration: {path} does not exist")
    return out


def spread(total: int, want: int) -> list[int]:
    """``want`` indices spread evenly over ``range(total)`` (all of them when fewer)."""
    if total <= 0 or want <= 0:
        return []
    if want >= total:
        return list(range(total))
    step = total / want
    return [int(i * step + step / 2) for i in range(want)]


def letterbox(image: NDArray[Any], size: int = 640, stride: int = 32) -> NDArray[np.float32]:
    """A BGR frame as the predictor's input: long side ``size``, each side padded to a
    multiple of ``stride`` with grey 114 around the centred image, RGB, NCHW, 0..1."""
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    nw, nh = round(w * r), round(h * r)
    pw, ph = -(-nw // stride) * stride, -(-nh // stride) * stride
    out = np.full((ph, pw, 3), 114, np.uint8)
    top, left = (ph - nh) // 2, (pw - nw) // 2
    out[top : top + nh, left : left + nw] = cv2.resize(
        image, (nw, nh), interpolation=cv2.INTER_LINEAR
    )
    rgb = out[:, :, ::-1].transpose(2, 0, 1)[None]
    return np.ascontiguousarray(rgb, dtype=np.float32) / np.float32(255.0)


def read_frames(files: Sequence[Path], count: int, size: int = 640) -> list[NDArray[np.float32]]:
    """About ``count`` letterboxed frames: an equal share from each file, spread evenly
    over each video. ``ExportError`` when no frame could be read at all."""
    frames: list[NDArray[np.float32]] = []
    share = max(1, -(-count // max(1, len(files))))
    for path in files:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            img = cv2.imread(str(path))
            if img is not None:
                frames.append(letterbox(img, size))
            continue
        cap = cv2.VideoCapture(str(path))
        try:
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            wanted = set(spread(total, share))
            index = 0
            while wanted and index <= max(wanted):
                ok, img = cap.read()
                if not ok:
                    break
                if index in wanted:
                    frames.append(letterbox(img, size))
                index += 1
        finally:
            cap.release()
    if not frames:
        raise ExportError(f"int8 calibration: no frame could be read from {len(files)} file(s)")
    return frames[:count]


def head_scope(op_names: Iterable[str]) -> str:
    """The NNCF ignore pattern for the detection head's class branch and box decoding:
    the head is the graph's last ``__module.model.N`` (22 for YOLOv8)."""
    indices = [int(m.group(1)) for name in op_names if (m := _MODULE.search(name))]
    if not indices:
        raise ExportError("int8: the graph has no ultralytics module names (not a YOLO export?)")
    return KEEP_FLOAT.format(head=max(indices))


def _key(fp32: Path, files: Sequence[Path], count: int) -> str:
    digest = hashlib.sha256(
        f"{fp32.name}\x00nncf={version('nncf')}\x00{count}\x00{KEEP_FLOAT}".encode()
    )
    for path in files:
        st = path.stat()
        digest.update(f"\x00{path.name}\x00{st.st_size}\x00{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def int8_model(
    weights: Path,
    cache_dir: Path,
    calibration: Sequence[Path],
    frames: int = CALIBRATION_FRAMES,
) -> Path:
    """The folder of the int8 OpenVINO model of ``weights``, quantising it first (about a
    minute on 2 cores) when the cache has none. ``ExportError`` says why it cannot."""
    if not nncf_available():
        raise ExportError("int8 needs the NNCF package: pip install nncf")
    files = calibration_files(calibration)
    if not files:
        raise ExportError(
            "int8 calibration: no video or image in " + ", ".join(str(p) for p in calibration)
        )
    fp32 = openvino_model(weights, cache_dir)
    stem = fp32.name.removesuffix("_openvino_model")
    target = cache_dir / f"{stem}-int8-{_key(fp32, files, frames)}_openvino_model"
    return build_once(target, lambda work: _quantize(fp32, files, frames, work))


def _quantize(fp32: Path, files: Sequence[Path], count: int, work: Path) -> Path:
    import nncf
    import openvino as ov

    started = time.monotonic()
    logger.info("quantising %s to int8 on %d calibration file(s) (once) ...", fp32.name, len(files))
    data = read_frames(files, count)
    model = ov.Core().read_model(str(next(fp32.glob("*.xml"))))
    scope = head_scope(op.get_friendly_name() for op in model.get_ops())
    try:
        quantised = nncf.quantize(
            model,
            nncf.Dataset(data),
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(data),
            ignored_scope=nncf.IgnoredScope(patterns=[scope], validate=False),
        )
    except Exception as exc:  # NNCF raises several types; the cause is in the message
        raise ExportError(f"int8 quantisation of {fp32.name} failed: {exc}") from exc
    out = work / "model_openvino_model"
    out.mkdir()
    ov.save_model(quantised, str(out / "model.xml"), compress_to_fp16=False)
    shutil.copy2(fp32 / "metadata.yaml", out / "metadata.yaml")
    logger.info(
        "quantised %s on %d frames in %.1f s", fp32.name, len(data), time.monotonic() - started
    )
    return out
