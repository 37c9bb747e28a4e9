"""The pipeline's line counts on the real clips against the hand counts (``hand_counts.yaml``):
within each clip's tolerance, 5 % (absolute errors over every line, direction and class /
vehicles counted by hand). On the top-down parking clip the camera maps the COCO classes the
model gives cars seen from above, such as "cell phone", to ``car``.

Runs the whole pipeline as deployed (motion gate, ticks at the camera's ``detect_fps``,
rider fusion, ByteTrack, fragment merging) with the real YOLOv8n weights on CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ioc.settings import Settings
from vision.catalogue import load_violation_catalogue
from vision.config import CameraConfig, load_cameras, resolve_source
from vision.detector import DetectorSpec, create_detector
from vision.hand_counts import count_error
from vision.openvino_export import default_cache_dir
from vision.pipeline import Pipeline, PipelineOptions
from vision.publish import MemoryPublisher
from vision.source import CameraSource, Grabber

pytestmark = pytest.mark.vision
HAND = yaml.safe_load((Path(__file__).with_name("hand_counts.yaml")).read_text(encoding="utf-8"))


def test_count_error_adds_every_miss_and_extra() -> None:
    hand = {"a": {"forward": {"car": 4}, "backward": {}}}
    assert count_error({"a": {"forward": {"car": 4}}}, hand) == (0, 4)
    assert count_error({"a": {"forward": {"car": 3, "bus": 1}}}, hand) == (2, 4)
    assert count_error({"a": {"backward": {"car": 1}}, "b": {"forward": {"x": 2}}}, hand) == (7, 4)


@pytest.mark.parametrize("clip", sorted(HAND["clips"]))
def test_every_hand_counted_vehicle_has_a_time_it_was_over_its_line(clip: str) -> None:
    spec = HAND["clips"][clip]
    total = sum(n for dirs in spec["lines"].values() for by in dirs.values() for n in by.values())
    times = spec["crossed_by_s"]
    assert len(times) == total and times == sorted(times) and times[0] >= 0


def test_a_vehicle_of_ambiguous_class_counts_under_either() -> None:
    hand = {"a": {"forward": {"car": 2, "car|truck": 1}}}
    assert count_error({"a": {"forward": {"car": 3}}}, hand) == (0, 3)
    assert count_error({"a": {"forward": {"car": 2, "truck": 1}}}, hand) == (0, 3)
    assert count_error({"a": {"forward": {"car": 1, "truck": 2}}}, hand) == (2, 3)  # one car
    assert count_error({"a": {"forward": {"car": 2}}}, hand) == (1, 3)  # missed
    assert count_error({"a": {"forward": {"car": 2, "bus": 1}}}, hand) == (2, 3)
    assert count_error({"a": {"forward": {"car": 4, "truck": 1}}}, hand) == (2, 3)


def run_counts(
    camera: CameraConfig, settings: Settings, tmp_path: Path
) -> tuple[Pipeline, MemoryPublisher, PipelineOptions]:
    """The whole pipeline as deployed over ``camera``'s clip, once."""
    detector = create_detector(
        DetectorSpec(
            type="ultralytics",
            model_path=settings.model_path,
            conf=settings.detector_conf,
            imgsz=settings.detector_imgsz,
            device="cpu",
            torch_threads=1,
            config_dir=tmp_path / "yolo",
            cpu_runtime=settings.vision_cpu_runtime,  # as deployed: OpenVINO when installed
            cache_dir=settings.model_cache_dir or default_cache_dir(),
        )
    )
    feeds = {
        camera.id: Grabber(
            CameraSource(camera.id, resolve_source(camera.source, settings.shared_dir)),
            size=4,
            drop_oldest=False,
        )
    }
    publisher = MemoryPublisher()
    opts = PipelineOptions(evidence_root=tmp_path / "evidence")
    pipe = Pipeline.build([camera], load_violation_catalogue(), feeds, detector, publisher, opts)
    pipe.run()
    return pipe, publisher, opts


@pytest.mark.parametrize(
    "clip", sorted(c for c, spec in HAND["clips"].items() if spec["tolerance"] is not None)
)
def test_line_counts_match_the_hand_counts(clip: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    spec = HAND["clips"][clip]
    camera = load_cameras(settings.cameras_dir)[spec["camera"]]
    assert camera.source.endswith(clip)
    pipe, publisher, opts = run_counts(camera, settings, tmp_path)
    assert pipe.workers[camera.id].stats.frames > 100
    found = pipe.workers[camera.id].counter.report()
    err, total = count_error(found, spec["lines"])
    assert total > 0
    assert err / total <= spec["tolerance"], f"{clip}: pipeline {found} vs hand {spec['lines']}"
    flows = [m for topic, _, m in publisher.messages if topic == opts.topic_flow]
    assert flows and {m["type"] for m in flows} == {"TrafficFlowObserved"}
    assert sum(m["intensity"] for m in flows) >= total


def test_geometry_drawn_on_another_frame_size_is_fitted_to_the_stream(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The junction A camera as if its geometry had been drawn on a 1.5x larger picture
    (the main stream) while the clip is the 1006x720 substream: the pipeline scales the
    geometry down on the first frame and counts what the hand counts say."""
    settings = Settings(home=tmp_path / "home")
    clip = "vn_cctv_junction_a.mp4"
    spec = HAND["clips"][clip]
    drawn = load_cameras(settings.cameras_dir)[spec["camera"]].scaled(1509, 1080)
    with caplog.at_level("WARNING", logger="vision.pipeline"):
        pipe, _, _ = run_counts(drawn, settings, tmp_path)
    worker = pipe.workers[drawn.id]
    assert (worker.camera.frame.width, worker.camera.frame.height) == (1006, 720)
    assert worker.drawn.frame.width == 1509
    assert "stream is 1006x720, geometry was drawn on 1509x1080" in caplog.text
    err, total = count_error(worker.counter.report(), spec["lines"])
    assert total > 0 and err / total <= spec["tolerance"]
