"""Camera configuration: identity, source, detection rate and scene geometry, validated at load.

One YAML file per camera (a mapping with ``id``), one file with many (``cameras: [...]``),
or a folder of such files. Unknown keys are refused and every field is documented here, so a
typo is an error at start rather than a silently ignored zone. Every error names the file,
the camera and the field path (``vn-junction-a: lanes[1].polygon: edges 0 and 2 cross``).

Geometry is in image pixels of the camera's frame (x right, y down); ground points of the
speed calibration are in metres. ``source`` may be ``shared:<path>`` (a file under the IOC
shared data folder, see :func:`resolve_source`), an ``rtsp(s)://``/``http(s)://`` URL, or a
file path (relative paths are relative to the config file).

Example::

    cameras = load_cameras(Path("vision/cameras"))
    cam = cameras["vn-junction-a"]
    resolve_source(cam.source, settings.shared_dir)
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from vision.coco import COCO_NAMES
from vision.geometry import DirectedLine, Homography, Point, Polyline, polygon_problem
from vision.tracks import VEHICLE_CLASSES, VehicleClass

logger = logging.getLogger(__name__)

Movement = Literal["straight", "left", "right"]
MOVEMENTS: tuple[Movement, ...] = ("straight", "left", "right")
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _polygon(points: list[Point]) -> list[Point]:
    problem = polygon_problem(points)
    if problem is not None:
        raise ValueError(problem)
    return points


def _polyline(points: list[Point]) -> list[Point]:
    Polyline.of(points)
    return points


PolygonPx = Annotated[list[Point], AfterValidator(_polygon)]
PolylinePx = Annotated[list[Point], AfterValidator(_polyline)]


def _coco_name(name: str) -> str:
    if name not in COCO_NAMES:
        raise ValueError(f"{name!r} is not a COCO class (e.g. 'cell phone', 'bus', 'suitcase')")
    return name


CocoName = Annotated[str, AfterValidator(_coco_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    lat: float = Field(ge=-90, le=90, description="Latitude of the camera (WGS 84 degrees).")
    lon: float = Field(ge=-180, le=180, description="Longitude of the camera (WGS 84 degrees).")
    area: str | None = Field(default=None, description="Area id from IOC_AREAS_FILE, e.g. '304'.")


class FrameSize(_Strict):
    width: int = Field(gt=0, le=16384, description="Frame width in pixels the geometry refers to.")
    height: int = Field(gt=0, le=16384, description="Frame height in pixels.")


class StopLine(_Strict):
    id: str = Field(pattern=_ID, description="Stop line id, unique in the camera.")
    line: tuple[Point, Point] = Field(description="The line's two end points [[x, y], [x, y]].")
    direction: Point = Field(description="Direction of travel across the line, e.g. [0, -1] = up.")
    exits: dict[Movement, PolygonPx] = Field(
        default_factory=dict,
        description="Optional exit regions per movement; the first one a vehicle enters after "
        "the line decides its movement. Without them the turn angle decides.",
    )

    @model_validator(mode="after")
    def _check(self) -> StopLine:
        DirectedLine.of(self.line[0], self.line[1], self.direction)
        return self


class CountLine(_Strict):
    id: str = Field(pattern=_ID, description="Counting line id, unique in the camera.")
    line: tuple[Point, Point] = Field(description="The line's two end points [[x, y], [x, y]].")
    direction: Point = Field(
        description="Direction counted as 'forward' across the line, e.g. [0, -1] = up the "
        "image; crossings the other way are counted as 'backward'."
    )

    @model_validator(mode="after")
    def _check(self) -> CountLine:
        DirectedLine.of(self.line[0], self.line[1], self.direction)
        return self


class CountingTuning(_Strict):
    """How tracker fragments become vehicles and when a vehicle counts (see vision.counting)."""

    max_gap_s: float = Field(
        default=1.5, gt=0, le=30, description="Longest gap bridged between two fragments."
    )
    link_px: float = Field(
        default=40,
        gt=0,
        description="Largest distance from where a lost fragment was heading "
        "to where a new one starts, pixels (plus a quarter of the box height).",
    )
    min_points: int = Field(
        default=3, ge=1, le=100, description="Detector observations a vehicle needs to count."
    )
    line_margin_px: float = Field(
        default=4, ge=0, description="A side of a counting line counts beyond this distance."
    )
    line_end_px: float = Field(
        default=20, ge=0, description="Crossings this far past a line's ends still count."
    )
    anchor: Literal["bottom", "centre"] = Field(
        default="bottom",
        description="The box point that stands for the vehicle on the ground: the bottom "
        "centre for a camera looking along the road, the centre for one looking straight down "
        "(there the bottom edge is the front or back of the vehicle, which is already past a "
        "line when the vehicle enters the picture).",
    )


class Lane(_Strict):
    id: str = Field(pattern=_ID, description="Lane id, unique in the camera.")
    polygon: PolygonPx = Field(description="Lane outline [[x, y], ...] in pixels.")
    flow: PolylinePx = Field(description="Lane centre drawn in the allowed direction of travel.")
    allowed_classes: list[VehicleClass] = Field(
        default_factory=lambda: list(VEHICLE_CLASSES),
        min_length=1,
        description="Vehicle classes allowed in this lane (default: all).",
    )


class NoStoppingZone(_Strict):
    id: str = Field(pattern=_ID, description="Zone id, unique in the camera.")
    polygon: PolygonPx = Field(description="Zone outline [[x, y], ...] in pixels.")
    max_dwell_s: float = Field(gt=0, le=86400, description="Longest allowed standstill, seconds.")
    violation: str = Field(
        default="illegal_stop",
        pattern=r"^[a-z_]+$",
        description="Violation catalogue key reported, e.g. illegal_stop or stop_on_crosswalk.",
    )


class RestrictedZone(_Strict):
    id: str = Field(pattern=_ID, description="Zone id, unique in the camera.")
    kind: Literal["sidewalk", "restricted"] = Field(description="Sidewalk or restricted area.")
    polygon: PolygonPx = Field(description="Zone outline [[x, y], ...] in pixels.")
    allowed_classes: list[VehicleClass] = Field(
        default_factory=list, description="Vehicle classes allowed to drive here (default none)."
    )


class SignalHead(_Strict):
    kind: Literal["ball", "arrow"] = Field(
        description="ball: round lamps for its movements; arrow: a lit arrow overrides the ball."
    )
    box: tuple[int, int, int, int] = Field(description="Head region [x1, y1, x2, y2] in pixels.")
    movements: list[Movement] = Field(min_length=1, description="Movements this head governs.")

    @model_validator(mode="after")
    def _check(self) -> SignalHead:
        x1, y1, x2, y2 = self.box
        if x2 - x1 < 2 or y2 - y1 < 2:
            raise ValueError("box must be [x1, y1, x2, y2] with x2 > x1 + 1 and y2 > y1 + 1")
        if len(set(self.movements)) != len(self.movements):
            raise ValueError("movements repeat")
        if self.kind == "arrow" and len(self.movements) != 1:
            raise ValueError("an arrow head governs exactly one movement")
        return self


class SignalConfig(_Strict):
    source: Literal["image", "feed"] = Field(
        description="image: read lamp colours from `heads`; feed: a signal-phase topic."
    )
    feed_topic: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,249}$",
        description="Kafka topic (full name) of the signal controller's phase feed; message "
        "format in docs/CONTRACTS.md, Vision.",
    )
    feed_junction: str | None = Field(
        default=None,
        min_length=1,
        description="Only phases whose `junction` is this (several junctions on one topic).",
    )
    heads: list[SignalHead] = Field(default_factory=list, description="Signal heads in the image.")
    confirm_frames: int = Field(
        default=3, ge=1, le=30, description="Readings in a row needed to accept a light change."
    )
    dark_frames: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Readings in a row before a lit lamp counts as dark "
        "(LED flicker and recording glitches drop lamps for a few frames).",
    )
    min_saturation: float = Field(default=0.2, ge=0, le=1, description="HSV S of a lit pixel.")
    min_value: float = Field(default=0.45, ge=0, le=1, description="HSV V of a lit pixel.")
    min_fraction: float = Field(
        default=0.03, gt=0, le=1, description="Share of a head's pixels that must be lit."
    )

    @model_validator(mode="after")
    def _check(self) -> SignalConfig:
        if self.source == "feed" and not self.feed_topic:
            raise ValueError("source 'feed' needs feed_topic")
        if self.source == "image" and not self.heads:
            raise ValueError("source 'image' needs at least one head")
        return self


class SpeedCalibration(_Strict):
    image_points: tuple[Point, Point, Point, Point] = Field(description="4 road points, pixels.")
    ground_points_m: tuple[Point, Point, Point, Point] = Field(
        description="The same 4 points on the ground, metres, in the same order."
    )
    limit_kmh: float = Field(gt=0, le=200, description="Speed limit on this stretch, km/h.")
    zone: PolygonPx | None = Field(
        default=None, description="Where speed is measured (default: the 4 image points)."
    )

    @model_validator(mode="after")
    def _check(self) -> SpeedCalibration:
        Homography.from_points(self.image_points, self.ground_points_m)
        if self.zone is None:
            _polygon(list(self.image_points))
        return self


class RuleTuning(_Strict):
    """Rule thresholds; per camera because pixels mean different distances in each view."""

    line_margin_px: float = Field(
        default=6,
        ge=0,
        description="Distance before/past a stop line "
        "that counts as a crossing (absorbs jitter on the line).",
    )
    red_grace_s: float = Field(default=0.5, ge=0, description="Light must have been red this long.")
    turn_angle_deg: float = Field(default=35, gt=0, lt=90, description="Turn vs straight angle.")
    movement_min_px: float = Field(default=40, gt=0, description="Travel past the line for a turn.")
    straight_min_px: float = Field(default=120, gt=0, description="Travel past it = straight.")
    movement_timeout_s: float = Field(default=8, gt=0, description="Give up deciding a movement.")
    wrong_way_min_s: float = Field(default=1.5, gt=0, description="Sustained wrong-way time.")
    wrong_way_min_px: float = Field(default=40, gt=0, description="Wrong-way travel, pixels.")
    wrong_way_max_angle_deg: float = Field(
        default=60, gt=0, lt=90, description="Largest angle to the reverse of the lane."
    )
    wrong_way_min_points: int = Field(
        default=3,
        ge=2,
        le=100,
        description="Detector observations the wrong-way window needs (two points are one "
        "step: a tracker identity switch looks the same).",
    )
    edge_margin_px: float = Field(
        default=3,
        ge=0,
        description="A box this close to the left, right or bottom frame edge is cut off: its "
        "bottom centre is not where the vehicle is, so wrong-way ignores such points.",
    )
    stationary_radius_px: float = Field(default=10, gt=0, description="Jitter of a standing box.")
    wrong_lane_min_s: float = Field(default=1.0, gt=0, description="Time in a forbidden lane.")
    restricted_min_s: float = Field(default=1.0, gt=0, description="Time in a restricted zone.")
    min_move_px: float = Field(default=20, ge=0, description="Displacement that counts as driving.")
    speed_window_s: float = Field(default=1.0, gt=0, description="Window of a speed measurement.")


class ViewTuning(_Strict):
    """The view check (``vision/view.py``): whether the camera still shows the scene its
    geometry was drawn on. While it does not (moved, re-aimed, covered), no rule judges and
    nothing is counted on this camera."""

    enabled: bool = Field(default=True, description="Check the view at all.")
    interval_s: float = Field(
        default=2.0, gt=0, le=60, description="Stream seconds between two checks."
    )
    max_shift_px: float = Field(
        default=20,
        gt=0,
        description="How far the geometry may appear displaced (frame pixels) before the "
        "view counts as moved.",
    )
    confirm: int = Field(
        default=2, ge=1, le=20, description="Readings in a row a change of state needs."
    )
    reference: str | None = Field(
        default=None,
        description="Image (PNG/JPEG) of the view the geometry was drawn on: a file path "
        "(relative to the config file) or shared:<path>; `ioc vision reference` takes one. "
        "Unset: the view is learned from the stream, so a camera already turned when the "
        "pipeline starts is not caught.",
    )

    @model_validator(mode="after")
    def _check_reference(self) -> ViewTuning:
        if self.reference is not None:
            if "://" in self.reference:
                raise ValueError("reference: a file path or shared:<path>, not a URL")
            _check_source(self.reference)
        return self


class StreamTiming(_Strict):
    """How a camera's frames are timed (``vision/clock.py``) and where the stream counts as
    broken: the pipeline starts tracks, dwell times and evidence over at a break."""

    clock: Literal["auto", "pts", "wall"] = Field(
        default="auto",
        description="Frame times from the stream's own timestamps ('pts') or from their "
        "arrival ('wall'); 'auto': pts for RTSP and for HTTP streams of a real container "
        "(MPEG-TS, FLV, HLS), wall for MJPEG. Files always use their own timestamps.",
    )
    max_gap_s: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="A longer gap between two frames is a hole in the footage: the stream "
        "starts over there. Raise it for cameras that send a frame every few seconds.",
    )
    max_delay_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="A frame whose timestamp strays further from its arrival starts the "
        "stream over (its timing can no longer be trusted).",
    )
    frozen_s: float | None = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="The same picture for this long (stream seconds) while frames keep "
        "coming is a frozen camera: nothing is judged or counted until it moves again, and "
        "what was judged on the frozen picture is withdrawn. null: not checked.",
    )


class CameraConfig(_Strict):
    id: str = Field(pattern=_ID, description="Camera id, unique in the city, e.g. 'vn-junction-a'.")
    name: str = Field(min_length=1, description="Human name shown to operators.")
    location: Location = Field(description="Where the camera stands.")
    source: str = Field(description="shared:<path>, rtsp(s)://, http(s):// URL, or a file path.")
    detect_fps: float = Field(gt=0, le=60, description="Frames per second sent to the detector.")
    detect_imgsz: int | None = Field(
        default=None,
        ge=64,
        le=4096,
        multiple_of=32,
        description="Detector input size for this camera, px (longest side, a multiple of 32); "
        "unset: IOC_DETECTOR_IMGSZ. Larger finds smaller or more distant vehicles, at a cost "
        "that grows with its square.",
    )
    class_map: dict[CocoName, VehicleClass] = Field(
        default_factory=dict,
        description="Detector (COCO) classes read as a vehicle class on this camera only, e.g. "
        "{'cell phone': car} for a top-down view where the COCO model calls cars seen from "
        "above 'cell phone'; also renames a vehicle class ({bus: car}).",
    )
    frame: FrameSize = Field(description="Frame size the geometry is drawn on.")
    stop_lines: list[StopLine] = Field(default_factory=list, description="Signal stop lines.")
    lanes: list[Lane] = Field(default_factory=list, description="Lanes with direction and classes.")
    count_lines: list[CountLine] = Field(
        default_factory=list, description="Lines where vehicles are counted per direction."
    )
    no_stopping_zones: list[NoStoppingZone] = Field(
        default_factory=list, description="Zones with a maximum dwell."
    )
    restricted_zones: list[RestrictedZone] = Field(
        default_factory=list, description="Sidewalks and restricted areas."
    )
    signal: SignalConfig | None = Field(default=None, description="The traffic light, if any.")
    speed: SpeedCalibration | None = Field(default=None, description="Speed calibration, if any.")
    tuning: RuleTuning = Field(default_factory=RuleTuning, description="Rule thresholds.")
    counting: CountingTuning = Field(
        default_factory=CountingTuning, description="Fragment merging and counting thresholds."
    )
    view: ViewTuning = Field(
        default_factory=ViewTuning, description="Checking that the view has not moved."
    )
    stream: StreamTiming = Field(
        default_factory=StreamTiming, description="Frame timing and breaks in the stream."
    )

    @model_validator(mode="after")
    def _check(self) -> CameraConfig:
        _check_source(self.source)
        for name in (
            "stop_lines",
            "lanes",
            "count_lines",
            "no_stopping_zones",
            "restricted_zones",
        ):
            ids = [item.id for item in getattr(self, name)]
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"{name}: duplicate ids {dup}")
        if self.stop_lines and self.signal is None:
            raise ValueError("stop_lines: a stop line needs a `signal` section")
        w, h = self.frame.width, self.frame.height
        for path, pts in self._geometry():
            for i, (x, y) in enumerate(pts):
                if not (0 <= x <= w and 0 <= y <= h):
                    raise ValueError(
                        f"{path}[{i}]: point ({x:g}, {y:g}) is outside the {w}x{h} frame"
                    )
        return self

    def scaled(self, width: int, height: int) -> CameraConfig:
        """This camera with its geometry redrawn for ``width`` x ``height`` frames (the same
        scene streamed at another resolution): every point, signal box and direction scaled
        per axis, pixel thresholds (line margins, link distance) by the mean scale. Speed
        calibration keeps its ground points, so speeds stay in metres."""
        sx, sy = width / self.frame.width, height / self.frame.height
        mean = (sx + sy) / 2
        doc = self.model_dump(mode="json")

        def pts(points: list[list[float]]) -> list[list[float]]:
            return [[x * sx, y * sy] for x, y in points]

        doc["frame"] = {"width": width, "height": height}
        for s in doc["stop_lines"]:
            s["line"] = pts(s["line"])
            s["direction"] = pts([s["direction"]])[0]
            s["exits"] = {m: pts(p) for m, p in s["exits"].items()}
        for c in doc["count_lines"]:
            c["line"], c["direction"] = pts(c["line"]), pts([c["direction"]])[0]
        for ln in doc["lanes"]:
            ln["polygon"], ln["flow"] = pts(ln["polygon"]), pts(ln["flow"])
        for z in doc["no_stopping_zones"] + doc["restricted_zones"]:
            z["polygon"] = pts(z["polygon"])
        for hd in (doc["signal"] or {}).get("heads", []):
            x1, y1, x2, y2 = hd["box"]  # whole pixels, grown outwards, inside the frame
            hd["box"] = [
                math.floor(x1 * sx),
                math.floor(y1 * sy),
                min(math.ceil(x2 * sx), width),
                min(math.ceil(y2 * sy), height),
            ]
        if doc["speed"] is not None:
            doc["speed"]["image_points"] = pts(doc["speed"]["image_points"])
            if doc["speed"]["zone"] is not None:
                doc["speed"]["zone"] = pts(doc["speed"]["zone"])
        for key in ("line_margin_px", "line_end_px", "link_px"):
            doc["counting"][key] *= mean
        for key, value in list(doc["tuning"].items()):
            if key.endswith("_px"):
                doc["tuning"][key] = value * mean
        doc["view"]["max_shift_px"] *= mean
        return CameraConfig.model_validate(doc)

    def geometry_points(self) -> list[Point]:
        """Every point of the drawn geometry (lines, lanes, zones, signal boxes, speed
        calibration), in frame pixels."""
        return [p for _, pts in self._geometry() for p in pts]

    def _geometry(self) -> list[tuple[str, list[Point]]]:
        out: list[tuple[str, list[Point]]] = []
        for i, s in enumerate(self.stop_lines):
            out.append((f"stop_lines[{i}].line", list(s.line)))
            out += [(f"stop_lines[{i}].exits.{m}", list(p)) for m, p in s.exits.items()]
        out += [(f"count_lines[{i}].line", list(c.line)) for i, c in enumerate(self.count_lines)]
        for i, ln in enumerate(self.lanes):
            out += [(f"lanes[{i}].polygon", ln.polygon), (f"lanes[{i}].flow", ln.flow)]
        out += [
            (f"no_stopping_zones[{i}].polygon", z.polygon)
            for i, z in enumerate(self.no_stopping_zones)
        ]
        out += [
            (f"restricted_zones[{i}].polygon", z.polygon)
            for i, z in enumerate(self.restricted_zones)
        ]
        if self.signal is not None:
            out += [
                (f"signal.heads[{i}].box", [(hd.box[0], hd.box[1]), (hd.box[2], hd.box[3])])
                for i, hd in enumerate(self.signal.heads)
            ]
        if self.speed is not None:
            out.append(("speed.image_points", list(self.speed.image_points)))
            if self.speed.zone is not None:
                out.append(("speed.zone", self.speed.zone))
        return out


_SOURCE = re.compile(r"^(shared:[^\s]+|rtsps?://\S+|https?://\S+|[^:\s][^\s]*)$")


def _check_source(source: str) -> None:
    if not _SOURCE.match(source):
        raise ValueError(f"source {source!r}: expected shared:<path>, a URL or a file path")
    if source.startswith("shared:"):
        rel = PurePosixPath(source.removeprefix("shared:"))
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"source {source!r}: a shared path must be relative, without '..'")


def resolve_source(source: str, shared_dir: Path, base_dir: Path | None = None) -> str:
    """Turn a configured ``source`` into what a video reader opens.

    ``shared:data/video/x.mp4`` -> ``<shared_dir>/data/video/x.mp4`` (``Settings.shared_dir``,
    the read-only IOC shared folder); URLs pass through; relative file paths are taken
    relative to ``base_dir`` (the config file's folder).
    """
    _check_source(source)
    if source.startswith("shared:"):
        return str(shared_dir / source.removeprefix("shared:"))
    if "://" in source or base_dir is None or Path(source).is_absolute():
        return source
    return str(base_dir / source)


def resolve_reference(camera: CameraConfig, shared_dir: Path, base_dir: Path) -> Path | None:
    """The file of ``camera``'s ``view.reference`` (``None`` when it has none), resolved like
    ``source`` (``shared:`` paths in the shared folder, relative ones from ``base_dir``)."""
    ref = camera.view.reference
    return None if ref is None else Path(resolve_source(ref, shared_dir, base_dir))


def resolve_references(
    cameras: Iterable[CameraConfig], shared_dir: Path, base_dir: Path
) -> dict[str, Path]:
    """Camera id -> reference image, for the cameras that have one."""
    out = {c.id: resolve_reference(c, shared_dir, base_dir) for c in cameras}
    return {cid: p for cid, p in out.items() if p is not None}


class CameraConfigError(ValueError):
    """A camera config file is unreadable or invalid; ``problems`` are ``field: message``."""

    def __init__(self, file: Path, camera_id: str, problems: list[str]) -> None:
        self.file, self.camera_id, self.problems = file, camera_id, problems
        super().__init__(f"{file}: camera {camera_id!r}: " + "; ".join(problems))


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<camera>"


def parse_camera(raw: Any, file: Path, index: int = 0) -> CameraConfig:
    """Validate one camera mapping; errors become :class:`CameraConfigError`."""
    cam_id = str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") else f"#{index}"
    try:
        return CameraConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{_loc(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        ]
        raise CameraConfigError(file, cam_id, problems) from None


def load_cameras(path: Path) -> dict[str, CameraConfig]:
    """Load every camera from a YAML file or a folder of ``*.yaml``/``*.yml`` files."""
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    cameras: dict[str, CameraConfig] = {}
    origin: dict[str, Path] = {}
    for file in files:
        try:
            doc = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CameraConfigError(file, "?", [f"cannot read YAML: {exc}"]) from None
        if isinstance(doc, dict) and set(doc) == {"cameras"}:
            if not isinstance(doc["cameras"], list):
                raise CameraConfigError(file, "?", ["cameras: expected a list of cameras"])
            raws: list[Any] = doc["cameras"]
        elif isinstance(doc, dict):
            raws = [doc]
        else:
            raise CameraConfigError(file, "?", ["expected a camera mapping or `cameras: [...]`"])
        for i, raw in enumerate(raws):
            cam = parse_camera(raw, file, i)
            if cam.id in cameras:
                raise CameraConfigError(file, cam.id, [f"id: already defined in {origin[cam.id]}"])
            cameras[cam.id], origin[cam.id] = cam, file
    logger.info("loaded %d camera configs from %s", len(cameras), path)
    return cameras
