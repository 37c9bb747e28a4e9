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
but junction A then counted 6 motorbikes of 5. Plain quantisation of the rest still moved the
counts by one vehicle either way, depending on the calibration frames (junction B 3 or 4 of
its 5 motorbikes, the US street 7 of 8 cars). So by default the quantisation runs with
*accuracy control* (``nncf.quantize_with_accuracy_control``, :mod:`vision.int8_accuracy`):
the layers whose int8 costs the most agreement with the fp32 detections are kept in floating
point until the drop is within ``IOC_VISION_INT8_MAX_DROP`` (0.02). On session 11's VM (bf16
EPYC) it kept 22 of 62 layers in floating point (14 min, once), ran 34.3 ms per 640x480
inference against plain int8's 30.0 and the bf16 export's 41.3, and counted all four sample
clips right (plain int8: junction B 4 of 5 motorbikes). Calibration frames are letterboxed at
each input size the cameras use (``IOC_VISION_INT8_SIZES``). It stays opt-in
(``IOC_VISION_CPU_PRECISION=int8``): calibrate on the cameras' own recordings and check their
counts before relying on it (``docs/VISION.md``).

The result is cached beside the fp32 export, keyed by the fp32 export's name, the NNCF
version, the calibration files (names, sizes, modification times), the number of frames,
their input sizes, the accuracy drop and the confidence it is scored at;
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
from vision.tracking import TrackerConfig

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".ts"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES
CALIBRATION_FRAMES = 160
MAX_DROP = 0.02  # accuracy control: the int8 detections' agreement with fp32 may fall this much
# the confidence the agreement is scored at: ByteTrack's new-track threshold, so the boxes
# that start tracks (and so counts); scored at the detector's 0.1, junction A counted 6
# motorbikes of 5
AGREEMENT_CONF = TrackerConfig().new_track_thresh
RANKING_FRAMES = 48  # frames NNCF ranks the layers on (each ranking pass runs them per layer)
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


def frames_at(files: Sequence[Path], count: int, sizes: Sequence[int]) -> list[NDArray[np.float32]]:
    """About ``count`` letterboxed frames in all, an equal share at each input size (the
    cameras' ``detect_imgsz``: activations differ with the scale of the vehicles)."""
    share = max(1, -(-count // max(1, len(sizes))))
    return [f for size in sizes for f in read_frames(files, share, size)]


def head_scope(op_names: Iterable[str]) -> str:
    """The NNCF ignore pattern for the detection head's class branch and box decoding:
    the head is the graph's last ``__module.model.N`` (22 for YOLOv8)."""
    indices = [int(m.group(1)) for name in op_names if (m := _MODULE.search(name))]
    if not indices:
        raise ExportError("int8: the graph has no ultralytics module names (not a YOLO export?)")
    return KEEP_FLOAT.format(head=max(indices))


def _key(
    fp32: Path,
    files: Sequence[Path],
    count: int,
    sizes: Sequence[int],
    max_drop: float | None,
    conf: float,
) -> str:
    digest = hashlib.sha256(
        f"{fp32.name}\x00nncf={version('nncf')}\x00{count}\x00{KEEP_FLOAT}\x00{list(sizes)}"
        f"\x00{max_drop}\x00{RANKING_FRAMES}\x00{conf}".encode()
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
    sizes: Sequence[int] = (640,),
    max_drop: float | None = MAX_DROP,
    conf: float = AGREEMENT_CONF,
) -> Path:
    """The folder of the int8 OpenVINO model of ``weights``, quantising it first when the
    cache has none, on ``frames`` calibration frames letterboxed at each of ``sizes``.

    With ``max_drop`` (accuracy control, :mod:`vision.int8_accuracy`) the layers whose int8
    costs the most agreement with the fp32 detections (at confidence ``conf``) stay in
    floating point until the drop is at most ``max_drop``: about 14 minutes once on 2 cores.
    ``None``: plain quantisation, about a minute. ``ExportError`` says why it cannot."""
    if not nncf_available():
        raise ExportError("int8 needs the NNCF package: pip install nncf")
    if max_drop is not None and not 0.0 <= max_drop < 1.0:
        raise ExportError(f"int8: the accuracy drop must be in [0, 1), not {max_drop}")
    if not sizes or min(sizes) < 32:
        raise ExportError(f"int8: calibration input sizes must be >= 32 px, not {list(sizes)}")
    files = calibration_files(calibration)
    if not files:
        raise ExportError(
            "int8 calibration: no video or image in " + ", ".join(str(p) for p in calibration)
        )
    fp32 = openvino_model(weights, cache_dir)
    stem = fp32.name.removesuffix("_openvino_model")
    at = sorted(set(sizes))
    key = _key(fp32, files, frames, at, max_drop, conf)
    target = cache_dir / f"{stem}-int8-{key}_openvino_model"
    return build_once(
        target, lambda work: _quantize(fp32, frames_at(files, frames, at), max_drop, conf, work)
    )


def _quantize(
    fp32: Path,
    data: list[NDArray[np.float32]],
    max_drop: float | None,
    conf: float,
    work: Path,
) -> Path:
    import nncf
    import openvino as ov

    started = time.monotonic()
    how = "plain" if max_drop is None else f"accuracy control, drop <= {max_drop}"
    logger.warning(
        "quantising %s to int8 on %d calibration frames (%s; once, cached) ...",
        fp32.name,
        len(data),
        how,
    )
    core = ov.Core()
    model = core.read_model(str(next(fp32.glob("*.xml"))))
    scope = head_scope(op.get_friendly_name() for op in model.get_ops())
    common: dict[str, Any] = {
        "preset": nncf.QuantizationPreset.MIXED,
        "subset_size": len(data),
        "ignored_scope": nncf.IgnoredScope(patterns=[scope], validate=False),
    }
    try:
        if max_drop is None:
            quantised = nncf.quantize(model, nncf.Dataset(data), **common)
        else:
            from vision.int8_accuracy import Agreement

            check = Agreement(core.compile_model(model, "CPU"), data, conf)
            quantised = nncf.quantize_with_accuracy_control(
                model,
                nncf.Dataset(data),
                nncf.Dataset(list(enumerate(data)), lambda item: item[1]),
                check,
                max_drop=max_drop,
                advanced_accuracy_restorer_parameters=nncf.AdvancedAccuracyRestorerParameters(
                    ranking_subset_size=min(RANKING_FRAMES, len(data))
                ),
                **common,
            )
    except Exception as exc:  # NNCF raises several types; the cause is in the message
        raise ExportError(f"int8 quantisation of {fp32.name} failed: {exc}") from exc
    out = work / "model_openvino_model"
    out.mkdir()
    ov.save_model(quantised, str(out / "model.xml"), compress_to_fp16=False)
    shutil.copy2(fp32 / "metadata.yaml", out / "metadata.yaml")
    logger.warning(
        "quantised %s on %d frames in %.1f s", fp32.name, len(data), time.monotonic() - started
    )
    return out
