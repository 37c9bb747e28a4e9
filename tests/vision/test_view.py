"""The view check (``vision/view.py``): a camera that was moved or covered judges nothing.

The state machine on hand-made readings; the measurement on a real frame of junction B
shifted, rotated and blanked by known amounts; learning a reference, or taking it from the
configuration (``ioc vision reference`` writes one); and a real
:class:`CameraWorker` whose camera is moved while a car crosses its stop line on red: the
violation judged on the displaced geometry is withdrawn, counts and rules stop until the view
is back, and the same frames with the check off are the control.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from ioc.cli import main
from ioc.domain.alarm_sources import from_camera
from ioc.domain.alarms import Raise, Resolve
from ioc.settings import Settings
from vision.catalogue import ViolationCatalogue
from vision.config import CameraConfig, StreamTiming, ViewTuning, load_cameras
from vision.detector import UltralyticsDetector, prepare_ultralytics_env
from vision.pipeline import CameraWorker, Pipeline, PipelineOptions
from vision.publish import MemoryPublisher
from vision.rules import Violation
from vision.source import CameraSource, Frame, Grabber
from vision.tracks import Detections
from vision.view import (
    Reading,
    ViewCheck,
    ViewConfig,
    ViewWatch,
    compare,
    features,
    load_reference,
)

OK = Reading("ok", 0.5, 80, 300)
MOVED = Reading("moved", 40.0, 60, 300)
COVERED = Reading("obstructed", None, 0, 3)
UNSURE = Reading("unsure", None, 5, 60)


def test_a_change_needs_confirming_readings_in_a_row() -> None:
    watch = ViewWatch(confirm=2)
    assert watch.state == "learning"
    first = watch.observe(OK, 1.0)
    assert first is not None and (first.old, first.new) == ("learning", "ok")
    assert watch.observe(OK, 3.0) is None and watch.last_ok_t == 3.0
    assert watch.observe(MOVED, 5.0) is None and watch.state == "ok"  # one reading is not enough
    assert watch.observe(OK, 7.0) is None  # ... and a good one breaks the streak
    assert watch.observe(MOVED, 9.0) is None
    assert watch.observe(UNSURE, 11.0) is None  # cannot tell: the streak goes on
    change = watch.observe(MOVED, 13.0)
    assert change is not None and (change.old, change.new) == ("ok", "moved")
    assert change.last_ok_t == 7.0  # violations judged after this are suspect
    assert watch.observe(MOVED, 15.0) is None and watch.state == "moved"
    assert watch.observe(OK, 17.0) is None and watch.state == "moved"
    back = watch.observe(OK, 19.0)
    assert back is not None and (back.old, back.new) == ("moved", "ok")
    assert watch.last_ok_t == 19.0


def test_a_covered_lens_is_its_own_state() -> None:
    watch = ViewWatch(confirm=3)
    watch.observe(OK, 0.0)
    for t in (2.0, 4.0):
        assert watch.observe(COVERED, t) is None
    change = watch.observe(COVERED, 6.0)
    assert change is not None and change.new == "obstructed" and change.last_ok_t == 0.0
    with pytest.raises(ValueError, match="confirm"):
        ViewWatch(confirm=0)


@pytest.fixture(scope="module")
def junction_b() -> NDArray[np.uint8]:
    path = Settings().shared_dir / "data" / "video" / "vn_cctv_junction_b.mp4"
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
        ok, frame = cap.read()
    finally:
        cap.release()
    assert ok, f"cannot read {path}"
    return np.asarray(frame, dtype=np.uint8)


def _warp(img: NDArray[np.uint8], matrix: NDArray[np.float64]) -> NDArray[np.uint8]:
    h, w = img.shape[:2]
    return np.asarray(cv2.warpAffine(img, matrix, (w, h)), dtype=np.uint8)


def _shift(dx: float, dy: float = 0.0) -> NDArray[np.float64]:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def test_shift_rotation_and_cover_on_a_real_frame(junction_b: NDArray[np.uint8]) -> None:
    cfg = ViewConfig()
    h, w = junction_b.shape[:2]
    anchors = np.array([[100.0, 600.0], [900.0, 600.0], [500.0, 300.0]])
    ref = features(junction_b, cfg)
    assert len(ref.points) >= cfg.min_reference_features

    def read(img: NDArray[np.uint8]) -> Reading:
        return compare(ref, features(img, cfg), anchors, cfg, frame_area=w * h)[0]

    same = read(junction_b)
    assert same.verdict == "ok" and same.shift_px is not None and same.shift_px < 1
    small = read(_warp(junction_b, _shift(8, 4)))  # within the tolerance of 20 px
    assert small.verdict == "ok" and small.shift_px is not None and 7 <= small.shift_px <= 13
    moved = read(_warp(junction_b, _shift(35)))
    assert moved.verdict == "moved" and moved.shift_px is not None and 31 <= moved.shift_px <= 39
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0, 1.0)
    turned = read(_warp(junction_b, np.asarray(rot, dtype=np.float64)))
    # 3 degrees about the centre (509, 360) move the anchor at (100, 600) by 24.8 px
    assert turned.verdict == "moved" and turned.shift_px is not None and 21 <= turned.shift_px <= 29
    assert read(np.full_like(junction_b, 35)).verdict == "obstructed"
    noise = np.random.default_rng(1).integers(0, 256, junction_b.shape, dtype=np.uint8)
    assert read(noise).verdict == "unsure"  # texture, but not this scene: no verdict


def test_a_new_aspect_within_one_connection(junction_b: NDArray[np.uint8]) -> None:
    """Within one connection OpenCV scales every frame to the size the connection began with
    (``test_clock.py``). A camera switched to another aspect ratio by scaling its whole
    picture therefore comes back as the old picture, and the geometry still fits; one switched
    by cropping (a 4:3 cut of a 16:9 sensor) is stretched to the old size, and the view check
    sees the scene move, so rules and counts pause instead of judging on wrong lines."""
    cfg = ViewConfig()
    h, w = junction_b.shape[:2]
    anchors = np.array([[100.0, 600.0], [900.0, 600.0], [500.0, 300.0]])
    ref = features(junction_b, cfg)

    def read(img: NDArray[np.uint8]) -> Reading:
        return compare(ref, features(img, cfg), anchors, cfg, frame_area=w * h)[0]

    scaled = cv2.resize(cv2.resize(junction_b, (w, h * 7 // 9)), (w, h))  # 1018x560 and back
    assert read(scaled).verdict == "ok"
    x0 = (w - h * 4 // 3) // 2  # the middle 960x720 of the picture, stretched to 1018x720
    cropped = cv2.resize(junction_b[:, x0 : w - x0], (w, h))
    moved = read(cropped)
    # the anchor at x = 100 lands 409 x (1018 / 960 - 1) = 24.7 px further out
    assert moved.verdict == "moved" and moved.shift_px is not None and moved.shift_px > 20


def test_boxes_are_left_out_of_the_scene(junction_b: NDArray[np.uint8]) -> None:
    cfg = ViewConfig()
    h, w = junction_b.shape[:2]
    everything = np.array([[0.0, 0.0, float(w), float(h)]])
    assert len(features(junction_b, cfg, everything).points) == 0
    left = np.array([[0.0, 0.0, w / 2, float(h)]])  # grown by box_pad on each side
    pts = features(junction_b, cfg, left).points
    assert len(pts) > 50 and pts[:, 0].min() >= w / 2 * (1 + cfg.box_pad) - 2
    # a reference image's transparent pixels are left out the same way
    bgra = np.asarray(cv2.cvtColor(junction_b, cv2.COLOR_BGR2BGRA), dtype=np.uint8)
    bgra[:, : w // 2, 3] = 0
    pts = features(bgra, cfg).points
    assert len(pts) > 50 and pts[:, 0].min() >= w / 2 - 2


def test_matches_bunched_on_one_object_are_no_camera_move() -> None:
    # a textured patch (a car the detector missed) on a flat scene, 120 px further on in the
    # second frame: its features agree on a transform, but they span a tenth of the frame
    rng = np.random.default_rng(7)
    patch = np.kron(rng.integers(0, 256, (12, 12)), np.ones((8, 8))).astype(np.uint8)
    a = np.full((360, 640), 90, np.uint8)
    b = a.copy()
    a[100:196, 100:196] = patch
    b[100:196, 220:316] = patch
    cfg = ViewConfig(width=640, min_inliers=10)
    anchors = np.array([[320.0, 180.0]])
    fa, fb = features(a, cfg), features(b, cfg)
    assert compare(fa, fb, anchors, cfg)[0].verdict == "moved"  # the object moved 120 px
    assert compare(fa, fb, anchors, cfg, frame_area=640 * 360)[0].verdict == "unsure"


def _scene(seed: int = 3, size: tuple[int, int] = (420, 300)) -> NDArray[np.uint8]:
    """A textured 'street' (blocks of random grey) larger than the 320x240 frames cut from
    it, so a camera that moves shows another part of it."""
    w, h = size
    blocks = np.random.default_rng(seed).integers(0, 256, (h // 6, w // 6))
    grey = np.kron(blocks, np.ones((6, 6))).astype(np.uint8)
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def test_a_reference_needs_texture_and_later_frames_that_agree() -> None:
    scene = _scene()
    check = ViewCheck(ViewConfig(interval_s=1.0), [(10.0, 10.0)], (320, 240))
    flat = np.full((240, 320, 3), 90, np.uint8)
    assert check.check(flat, 0.0) is None and check.check(flat, 1.0) is None
    assert check.reference is None  # too little texture: never a reference
    assert check.check(scene[0:240, 0:320], 2.0) is None  # a candidate
    assert check.check(scene[0:240, 60:380], 3.0) is None  # disagrees: a new candidate
    assert check.check(scene[0:240, 60:380], 3.5) is None  # not due (1 s interval)
    assert check.check(scene[0:240, 60:380], 4.0) is None  # agrees once
    change = check.check(scene[0:240, 60:380], 5.0)  # twice: taken
    assert change is not None and change.new == "ok" and check.reference_t == 3.0


# --- a moved camera through a real CameraWorker -------------------------------------------

CarAt = Callable[[float, float], Detections]  # the conftest's car_at
CpuDetector = Callable[..., UltralyticsDetector]  # the conftest's cpu_detector
RED = (40, 30, 235)
WALL0 = 1_767_225_600.0


@pytest.fixture(scope="module", autouse=True)
def _offline_ultralytics(tmp_path_factory: pytest.TempPathFactory) -> None:
    prepare_ultralytics_env(Path(tmp_path_factory.mktemp("yolo")))


def _camera(stop_line_camera: CameraConfig, check: bool) -> CameraConfig:
    """The conftest's stop-line camera, the view checked every 0.5 s (or not at all), and a
    shorter travel past the line deciding "straight" (so the crossing is judged at once)."""
    return stop_line_camera.model_copy(
        update={
            "id": "cam-v",
            "name": "V",
            "tuning": stop_line_camera.tuning.model_copy(update={"straight_min_px": 60}),
            "view": stop_line_camera.view.model_copy(
                update={"interval_s": 0.5, "confirm": 2, "enabled": check}
            ),
        }
    )


def _run(worker: CameraWorker, car_at: CarAt) -> tuple[list[str], list[str]]:
    """Red all along. 0-1.9 s: the camera as drawn, a car waits below the stop line.
    2.0-3.9 s: the camera turned 50 px (another part of the scene under the same pixels);
    the car drives up over the line (judged red-light on the drawn geometry at 2.2 s).
    4.0-5.9 s: the camera back, the car waits again. Each violation opens its evidence as the
    pipeline does. Returns the rules fired and the view state, per tick."""
    scene = _scene()
    fired: list[str] = []
    states: list[str] = []
    for k in range(60):
        t = round(0.1 * k, 3)
        dx = 50 if 20 <= k < 40 else 0
        img = np.ascontiguousarray(scene[20:260, dx : dx + 320])
        img[10:60, 280:310] = RED
        frame = Frame("cam-v", img, t, WALL0 + t, k, 0, 0)
        assert worker.offer(frame) is True
        bottom = 170.0 - 40 * (k - 20) if 20 <= k < 25 else 170.0
        for v in worker.apply(frame, car_at(t, max(bottom, 45.0))):
            fired.append(v.rule)
            worker.recorder.open(v, f"e{k}", WALL0 + v.time, worker.view_extra())
        states.append("off" if worker.view is None else worker.view.state)
    return fired, states


def test_a_moved_camera_withdraws_what_it_judged_and_judges_nothing(
    catalogue: ViolationCatalogue, stop_line_camera: CameraConfig, car_at: CarAt
) -> None:
    off = _camera(stop_line_camera, check=False)
    control = CameraWorker(off, catalogue, PipelineOptions(gate=False))
    fired, _ = _run(control, car_at)
    assert fired == ["red_light"] and control.recorder.pending == 1
    assert control.ring.segment_of(3.0) == (-math.inf, math.inf)

    worker = CameraWorker(_camera(stop_line_camera, True), catalogue, PipelineOptions(gate=False))
    fired, states = _run(worker, car_at)
    # learned at 1.0 s; the move at 2.0 s confirmed by the second reading (2.5 s); back at
    # 4.0 s, confirmed at 4.5 s
    assert states[9] == "learning" and states[10] == "ok"
    assert states[24] == "ok" and states[25] == "moved" and states[44] == "moved"
    assert states[45] == "ok"
    # the crossing was judged at 2.2 s, before the move was confirmed, on geometry no longer
    # on the road: withdrawn, so never written or published
    assert fired == ["red_light"]
    assert worker.stats.withdrawn == 1 and worker.recorder.pending == 0
    assert worker.ring.segment_of(3.0) == (2.5, 4.5)  # no clip spans either change
    # nothing was tracked on the moved view: the book starts at the return
    points = [p.t for tr in worker.book.tracks.values() for p in tr.points]
    assert min(points) == 4.5 and max(points) == 5.9


def test_a_moved_view_raises_a_camera_alarm(
    stop_line_camera: CameraConfig, health_of: Callable[..., dict[str, Any]]
) -> None:
    msg = health_of(_camera(stop_line_camera, True), view="moved", view_shift_px=50.0)
    raised = from_camera(msg)
    assert isinstance(raised, Raise) and raised.severity == 3
    assert raised.title == "camera view moved: V"
    assert isinstance(from_camera({**msg, "view": "learning"}), Resolve)
    assert isinstance(from_camera({**msg, "view": None}), Resolve)  # check off


# --- a reference image from the configuration ---------------------------------------------


def test_a_configured_reference_catches_a_camera_turned_before_the_start(
    junction_b: NDArray[np.uint8], tmp_path: Path
) -> None:
    png = tmp_path / "ref.png"
    assert cv2.imwrite(str(png), junction_b)
    h, w = junction_b.shape[:2]
    anchors = [(100.0, 600.0), (900.0, 600.0)]
    turned = _warp(junction_b, _shift(40))
    check = ViewCheck(ViewConfig(), anchors, (w, h), load_reference(png, (w, h)))
    assert check.configured and check.state == "learning"
    assert check.check(turned, 0.0) is None  # the first reading is not enough
    change = check.check(turned, 2.0)
    assert change is not None and change.new == "moved" and change.last_ok_t is None
    right = ViewCheck(ViewConfig(), anchors, (w, h), load_reference(png, (w, h)))
    first = right.check(junction_b, 0.0)
    assert first is not None and first.new == "ok"  # no learning: judged at once
    # a stream at half the size: the reference is scaled to it, the anchors with it
    half = (w // 2, h // 2)
    small = np.asarray(cv2.resize(junction_b, half, interpolation=cv2.INTER_AREA), np.uint8)
    scaled = ViewCheck(ViewConfig(), [(50.0, 300.0)], half, load_reference(png, half))
    assert scaled.check(small, 0.0) is not None and scaled.state == "ok"


def test_unusable_references_are_refused_with_their_cause(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_reference(tmp_path / "missing.png", (320, 240))
    (tmp_path / "notes.png").write_text("not an image", encoding="utf-8")
    with pytest.raises(ValueError, match="not an 8-bit PNG or JPEG"):
        load_reference(tmp_path / "notes.png", (320, 240))
    flat = np.full((240, 320, 3), 90, np.uint8)
    with pytest.raises(ValueError, match="0 features"):
        ViewCheck(ViewConfig(), [], (320, 240), flat)
    with pytest.raises(ValidationError, match="not a URL"):
        ViewTuning.model_validate({"reference": "http://cams.example/ref.png"})


def test_a_camera_whose_reference_cannot_be_read_learns_its_view(
    catalogue: ViolationCatalogue,
    stop_line_camera: CameraConfig,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    opts = PipelineOptions(gate=False, view_references={"cam-b": tmp_path / "gone.png"})
    with caplog.at_level(logging.ERROR, logger="vision.pipeline"):
        worker = CameraWorker(stop_line_camera, catalogue, opts)
    assert worker.view is not None and not worker.view.configured
    assert "cam-b: view.reference: cannot read" in caplog.text


CAMERA_YAML = """
id: cam-jb
name: Junction B
location: {lat: 20.86, lon: 106.68}
source: "shared:data/video/vn_cctv_junction_b.mp4"
detect_fps: 5
frame: {width: 1018, height: 720}
count_lines:
  - {id: across, line: [[100, 500], [900, 500]], direction: [0, -1]}
view: {reference: cam-jb.png}
"""


def test_the_reference_command_takes_a_textured_frame_and_says_what_to_configure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cam.yaml"
    config.write_text(CAMERA_YAML, encoding="utf-8")
    assert main(["vision", "check-config", str(config)]) == 0
    assert "(file missing)" in capsys.readouterr().out
    args = ["vision", "reference", "--config", str(config), "--camera", "cam-jb", "--at", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "view: {reference: cam-jb.png}" in out
    image = cv2.imread(str(tmp_path / "cam-jb.png"), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape == (720, 1018, 4)
    assert 0.02 < (image[:, :, 3] == 0).mean() < 0.6  # the traffic in it is transparent
    assert main(["vision", "check-config", str(config)]) == 0
    assert "(file missing)" not in capsys.readouterr().out
    # a blank source has nothing to judge a view on: refused, nothing written
    blank = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter.fourcc(*"mp4v"), 10, (320, 240))
    for _ in range(5):
        writer.write(np.full((240, 320, 3), 90, np.uint8))
    writer.release()
    config.write_text(
        CAMERA_YAML.replace('"shared:data/video/vn_cctv_junction_b.mp4"', "blank.mp4"),
        encoding="utf-8",
    )
    args = ["vision", "reference", "--config", str(config), "--camera", "cam-jb"]
    assert main([*args, "--out", str(tmp_path / "b.png")]) == 1
    assert "fewer than the 150 the view check needs" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()


def test_the_pipeline_takes_back_the_notice_of_a_withdrawn_violation(
    catalogue: ViolationCatalogue,
    junction_b: NDArray[np.uint8],
    cpu_detector: CpuDetector,
    tmp_path: Path,
) -> None:
    # junction B as shipped (view checked every 2 s, 2 readings to confirm); frames queued by
    # hand: the view learned by 4 s, a violation noticed on the wall at 4.5 s, the camera
    # turned by 40 px from 6 s (confirmed at 8 s): the wall gets the notice taken back, and
    # no violation message is ever sent
    cam = load_cameras(Settings().cameras_dir)["vn-junction-b"]
    # one still frame stands for the live view here: the frozen-picture check is off
    cam = cam.model_copy(update={"stream": StreamTiming(frozen_s=None)})
    src = CameraSource(cam.id, "unused.mp4")
    feed = Grabber(src, size=8, drop_oldest=False)
    detector = cpu_detector(tmp_path / "yolo")
    pub = MemoryPublisher()
    opts = PipelineOptions(evidence_root=tmp_path / "ev", device="cpu", gate=False)
    pipe = Pipeline.build([cam], catalogue, {cam.id: feed}, detector, pub, opts)
    turned = _warp(junction_b, _shift(40))
    for t, image in ((0.0, junction_b), (2.0, junction_b), (4.0, junction_b)):
        feed._put(Frame(cam.id, image, t, WALL0 + t, round(t * 10)))
        assert pipe.step({cam.id})
    worker = pipe.workers[cam.id]
    view = worker.view
    assert view is not None and view.state == "ok"
    legal = catalogue.resolve("red_light", "motorbike")
    assert legal is not None
    v = Violation(
        rule="red_light",
        camera_id=cam.id,
        track_id=7,
        vehicle_class="motorbike",
        time=4.5,
        evidence_from=0.0,
        evidence_to=9.5,
        where="approach",
        legal=legal,
    )
    pipe._open_evidence(worker, Frame(cam.id, junction_b, 4.5, WALL0 + 4.5, 45), v)
    for t in (6.0, 8.0):
        feed._put(Frame(cam.id, turned, t, WALL0 + t, round(t * 10)))
        assert pipe.step({cam.id})
    assert str(view.state) == "moved" and worker.stats.withdrawn == 1
    notice = pub.of(opts.topic_dashboard, "camera_violation")
    taken_back = pub.of(opts.topic_dashboard, "camera_violation_withdrawn")
    assert [m["event_id"] for m in taken_back] == [notice[0]["event_id"]]
    assert taken_back[0]["reason"] == "view_moved"
    pipe._housekeeping(force=True)
    health = pub.of(opts.topic_dashboard, "camera")[-1]
    assert (health["view"], health["view_shift_px"]) == ("moved", pytest.approx(40, abs=4))
    pipe._finish()
    assert pub.of(opts.topic_violations) == []
