"""Camera configs: the shipped examples load; bad files fail naming file, camera and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from vision.catalogue import load_violation_catalogue
from vision.config import CameraConfigError, load_cameras, resolve_source
from vision.rules import build_rules
from vision.signals import SignalHistory

EXAMPLES = Path(__file__).resolve().parents[2] / "vision" / "cameras"

BASE: dict[str, Any] = {
    "id": "cam-1",
    "name": "Test camera",
    "location": {"lat": 20.86, "lon": 106.68, "area": "304"},
    "source": "shared:data/video/vn_cctv_junction_a.mp4",
    "detect_fps": 10,
    "frame": {"width": 1000, "height": 700},
    "lanes": [
        {
            "id": "l1",
            "polygon": [[0, 400], [300, 400], [300, 700], [0, 700]],
            "flow": [[150, 690], [150, 410]],
        }
    ],
}


def write(tmp_path: Path, doc: Any, name: str = "cam.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def load_error(tmp_path: Path, doc: Any) -> CameraConfigError:
    with pytest.raises(CameraConfigError) as info:
        load_cameras(write(tmp_path, doc))
    return info.value


def test_example_cameras_load_and_match_the_clip_sizes() -> None:
    cams = load_cameras(EXAMPLES)
    sizes = {cid: (c.frame.width, c.frame.height) for cid, c in cams.items()}
    assert sizes == {
        "vn-junction-a": (1006, 720),
        "vn-junction-b": (1018, 720),
        "us-residential-street": (640, 352),
        "parking-lot-aisle": (768, 432),
    }
    for cam in cams.values():
        assert cam.source.startswith("shared:data/video/")


def test_example_cameras_build_their_rules() -> None:
    cams = load_cameras(EXAMPLES)
    catalogue = load_violation_catalogue()
    keys = {
        cid: [r.key for r in build_rules(c, catalogue, SignalHistory())] for cid, c in cams.items()
    }
    assert keys["vn-junction-a"] == [
        "red_light",
        "wrong_way",
        "wrong_lane",
        "illegal_stop",
        "restricted_zone",
    ]
    assert keys["parking-lot-aisle"] == ["illegal_stop", "speeding"]
    with pytest.raises(ValueError, match="SignalHistory"):
        build_rules(cams["vn-junction-a"], catalogue)


def test_shared_source_resolves_under_the_shared_dir() -> None:
    assert (
        resolve_source("shared:data/video/a.mp4", Path("/srv/shared"))
        == "/srv/shared/data/video/a.mp4"
    )
    assert resolve_source("rtsp://10.0.0.5/stream1", Path("/x")) == "rtsp://10.0.0.5/stream1"
    assert resolve_source("clips/a.mp4", Path("/x"), Path("/etc/ioc")) == "/etc/ioc/clips/a.mp4"


def test_unknown_top_level_key_names_camera_and_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, {**BASE, "zoom": 2})
    assert err.camera_id == "cam-1"
    assert "cam.yaml" in str(err) and "'cam-1'" in str(err)
    assert "zoom: Extra inputs are not permitted" in str(err)


def test_unknown_nested_key_names_the_field_path(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["lanes"][0]["colour"] = "blue"
    assert "lanes[0].colour" in str(load_error(tmp_path, doc))


def test_self_intersecting_polygon_names_the_field(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["lanes"][0]["polygon"] = [[0, 400], [300, 700], [300, 400], [0, 700]]
    err = load_error(tmp_path, doc)
    assert "lanes[0].polygon" in str(err) and "cross" in str(err)


def test_missing_field_is_named(tmp_path: Path) -> None:
    doc = {k: v for k, v in BASE.items() if k != "detect_fps"}
    err = load_error(tmp_path, doc)
    assert err.problems == ["detect_fps: Field required"]


def test_geometry_outside_the_frame_is_refused(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["lanes"][0]["flow"] = [[150, 690], [1500, 410]]
    assert "lanes[0].flow[1]: point (1500, 410) is outside the 1000x700 frame" in str(
        load_error(tmp_path, doc)
    )


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        (
            {"stop_lines": [{"id": "s", "line": [[0, 300], [900, 300]], "direction": [0, -1]}]},
            "stop_lines: a stop line needs a `signal` section",
        ),
        (
            {
                "stop_lines": [{"id": "s", "line": [[0, 300], [900, 300]], "direction": [1, 0]}],
                "signal": {"source": "feed", "feed_topic": "sig"},
            },
            "stop_lines[0]: direction",
        ),
        (
            {
                "signal": {
                    "source": "image",
                    "heads": [
                        {"kind": "arrow", "box": [1, 1, 20, 40], "movements": ["left", "right"]}
                    ],
                }
            },
            "signal.heads[0]: an arrow head governs exactly one movement",
        ),
        ({"signal": {"source": "feed"}}, "signal: source 'feed' needs feed_topic"),
        ({"source": "shared:../secrets.txt"}, "without '..'"),
        (
            {
                "lanes": [
                    {
                        "id": "l1",
                        "polygon": [[0, 400], [300, 400], [300, 700]],
                        "flow": [[150, 690], [150, 410]],
                        "allowed_classes": ["lorry"],
                    }
                ]
            },
            "lanes[0].allowed_classes[0]",
        ),
        (
            {
                "speed": {
                    "image_points": [[0, 0], [50, 0], [100, 0], [0, 100]],
                    "ground_points_m": [[0, 0], [5, 0], [10, 1], [0, 10]],
                    "limit_kmh": 50,
                }
            },
            "speed: image points 0, 1, 2 lie on one line",
        ),
        (
            {
                "no_stopping_zones": [
                    {"id": "z", "polygon": [[0, 0], [10, 0], [10, 10]], "max_dwell_s": 5},
                    {"id": "z", "polygon": [[0, 0], [10, 0], [10, 10]], "max_dwell_s": 5},
                ]
            },
            "no_stopping_zones: duplicate ids ['z']",
        ),
        ({"detect_imgsz": 1000}, "detect_imgsz: Input should be a multiple of 32"),
        ({"detect_imgsz": 32}, "detect_imgsz: Input should be greater than or equal to 64"),
        ({"class_map": {"phone": "car"}}, "'phone' is not a COCO class"),
        ({"class_map": {"cell phone": "lorry"}}, "class_map.cell phone: Input should be 'car'"),
    ],
)
def test_invalid_sections_are_explained(
    tmp_path: Path, patch: dict[str, Any], fragment: str
) -> None:
    assert fragment in str(load_error(tmp_path, {**copy.deepcopy(BASE), **patch}))


def test_many_cameras_in_one_file_name_the_bad_one(tmp_path: Path) -> None:
    good = copy.deepcopy(BASE)
    bad = {**copy.deepcopy(BASE), "id": "cam-2", "detect_fps": 0}
    err = load_error(tmp_path, {"cameras": [good, bad]})
    assert err.camera_id == "cam-2" and "detect_fps" in str(err)
    cams = load_cameras(write(tmp_path, {"cameras": [good, {**good, "id": "cam-3"}]}))
    assert sorted(cams) == ["cam-1", "cam-3"]


def test_duplicate_camera_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, BASE, "a.yaml")
    write(tmp_path, BASE, "b.yaml")
    with pytest.raises(CameraConfigError, match=r"b\.yaml: camera 'cam-1': id: already defined"):
        load_cameras(tmp_path)


def test_unreadable_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(CameraConfigError, match="cannot read YAML"):
        load_cameras(path)
    with pytest.raises(CameraConfigError, match="expected a camera mapping"):
        load_cameras(write(tmp_path, ["not", "a", "mapping"]))


def test_scaled_redraws_the_geometry_for_another_stream_resolution() -> None:
    cam = load_cameras(EXAMPLES)["vn-junction-a"]  # drawn on 1006x720
    big = cam.scaled(1920, 1080)
    sx, sy = 1920 / 1006, 1.5
    assert (big.frame.width, big.frame.height) == (1920, 1080)
    (a, b), (c, d) = cam.count_lines[0].line, big.count_lines[0].line
    assert c == pytest.approx((a[0] * sx, a[1] * sy)) and d == pytest.approx((b[0] * sx, b[1] * sy))
    assert big.stop_lines[0].direction == pytest.approx((0, -1.5))
    assert big.lanes[2].flow[0] == pytest.approx((830 * sx, 715 * sy))
    assert big.stop_lines[0].exits["right"][2] == pytest.approx((1920, 300 * sy))
    assert big.signal is not None and cam.signal is not None
    x1, y1, x2, y2 = big.signal.heads[0].box  # [978, 126, 1004, 190], grown to whole pixels
    assert (x1, y1, x2, y2) == (1866, 189, 1917, 285)
    assert big.counting.link_px == pytest.approx(40 * (sx + sy) / 2)
    assert big.tuning.wrong_way_min_px == pytest.approx(cam.tuning.wrong_way_min_px * (sx + sy) / 2)
    assert big.tuning.wrong_way_min_points == cam.tuning.wrong_way_min_points  # not pixels
    back = big.scaled(1006, 720)
    for got, want in (
        (back.lanes[0].polygon, cam.lanes[0].polygon),
        (back.no_stopping_zones[0].polygon, cam.no_stopping_zones[0].polygon),
    ):
        assert [p for xy in got for p in xy] == pytest.approx([p for xy in want for p in xy])
    assert (back.id, back.source, back.detect_fps) == (cam.id, cam.source, cam.detect_fps)
