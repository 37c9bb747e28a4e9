"""YOLO weights → an OpenVINO IR model for CPU inference, exported once and cached.

On a CPU, OpenVINO runs the same YOLOv8n graph faster than PyTorch (one 1006x720 frame, one
AVX2 core: 99-104 ms against 126-131 ms; 64 ms on two threads; ``bench/vision.py`` runs the
plain tracker on both), so the camera pipeline uses it when the ``openvino`` package is present
(``IOC_VISION_CPU_RUNTIME``). The export is ultralytics' own
(``YOLO.export(format="openvino")``), fp32 and with dynamic input shapes, so a 16:9 camera
frame is letterboxed to 640x384 instead of 640x640, as with PyTorch.

The shared weights are read in place and never copied: the export reads them through a
symbolic link inside the cache folder (ultralytics writes its output beside the file it
loaded). The result goes to ``<cache>/<stem>-<key>_openvino_model/``; the key is a hash of the
weights' bytes and of the ultralytics and OpenVINO versions, so new weights or an upgrade export
again and an old export is never used by mistake. The export is built in a private temporary
folder and renamed into place in one step, so concurrent camera workers never read a half
written model; the loser of a race simply discards its copy.

Example::

    folder = openvino_model(Path("yolov8n.pt"), Path(".ioc/models"))
    YOLO(str(folder), task="detect")          # ultralytics' OpenVINO backend
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from ioc.cache import cache_root

logger = logging.getLogger(__name__)

_SUFFIX = "_openvino_model"


class ExportError(RuntimeError):
    """The OpenVINO export failed; the message says why (weights, package, converter)."""


def default_cache_dir() -> Path:
    """``~/.cache/ioc/models``: one export serves every ``IOC_HOME`` of the user."""
    return cache_root() / "models"


def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported (checked without importing it)."""
    return find_spec("openvino") is not None


def cache_key(weights: Path) -> str:
    """Hash of the weights' bytes and of the exporter's versions (12 hex digits)."""
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    for package in ("ultralytics", "openvino"):
        digest.update(f"\x00{package}={version(package)}".encode())
    return digest.hexdigest()[:12]


def openvino_model(weights: Path, cache_dir: Path) -> Path:
    """The folder of the OpenVINO export of ``weights`` (``.pt``), exporting it first if the
    cache has none. Raises :class:`ExportError` with the cause when that is not possible."""
    if weights.suffix.lower() not in {".pt", ".pth"}:
        raise ExportError(f"{weights}: only PyTorch weights (.pt) are exported to OpenVINO")
    if not weights.is_file():
        raise ExportError(f"detector weights not found: {weights}")
    if not openvino_available():
        raise ExportError("the OpenVINO runtime needs the package: pip install openvino")
    target = cache_dir / f"{weights.stem}-{cache_key(weights)}{_SUFFIX}"
    return build_once(target, lambda work: _export(weights, work))


def build_once(target: Path, build: Callable[[Path], Path]) -> Path:
    """``target`` if it holds a complete model; else ``build(work)`` in a private folder
    beside it, whose result is renamed to ``target`` in one step (a lost race with another
    process keeps the winner's copy)."""
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        built = build(work)
        if target.exists() and not _complete(target):  # left by a killed copy: replace it
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(built, target)
        except OSError:
            if not _complete(target):  # not a lost race: a real failure
                raise
            logger.info("another process built %s first; using its copy", target.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _export(weights: Path, work: Path) -> Path:
    from ultralytics.models import YOLO
    from ultralytics.utils import LOGGER

    LOGGER.setLevel(logging.WARNING)  # its export report goes to stdout; ours to the log
    link = work / f"{weights.stem}.pt"
    link.symlink_to(weights.resolve())
    logger.info("exporting %s to OpenVINO (once; cached in %s) ...", weights.name, work.parent)
    started = time.monotonic()
    try:
        out = YOLO(str(link), task="detect").export(
            format="openvino", dynamic=True, half=False, imgsz=640, verbose=False
        )
    except Exception as exc:  # ultralytics wraps converter failures in several types
        raise ExportError(f"OpenVINO export of {weights} failed: {exc}") from exc
    built = Path(str(out))
    if not _complete(built):
        raise ExportError(f"OpenVINO export of {weights} produced no model in {built}")
    logger.info("exported %s in %.1f s", weights.name, time.monotonic() - started)
    return built


def _complete(folder: Path) -> bool:
    """An export folder holds the graph, its weights and ultralytics' metadata."""
    xml = next(folder.glob("*.xml"), None) if folder.is_dir() else None
    return (
        xml is not None
        and xml.with_suffix(".bin").is_file()
        and (folder / "metadata.yaml").is_file()
    )


def version(package: str) -> str:
    """The installed version of ``package``, or ``none``."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"
