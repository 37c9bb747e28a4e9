"""Scene geometry and the frame-level values built on it (anchor, windows, ground speed)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from vision.geometry import (
    DirectedLine,
    Homography,
    Polygon,
    Polyline,
    polygon_problem,
    segment_distance,
    segments_intersect,
    signed_angle_deg,
)
from vision.tracks import Detections, Track, TrackBook, TrackPoint, ground_speed_kmh, velocity_px

SQUARE = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]


def test_polygon_contains_inside_outside_and_edge() -> None:
    poly = Polygon.of(SQUARE)
    assert poly.contains((50, 50))
    assert not poly.contains((150, 50))
    assert not poly.contains((-0.5, 50))
    assert poly.contains((100, 30))  # on the outline
    assert poly.area == pytest.approx(10_000)


def test_concave_polygon_excludes_its_notch() -> None:
    u_shape = Polygon.of(
        [(0, 0), (30, 0), (30, 80), (70, 80), (70, 0), (100, 0), (100, 100), (0, 100)]
    )
    assert not u_shape.contains((50, 40))
    assert u_shape.contains((15, 40))


@pytest.mark.parametrize(
    ("points", "fragment"),
    [
        ([(0, 0), (10, 10), (10, 0), (0, 10)], "cross"),
        ([(0, 0), (10, 0)], "at least 3"),
        ([(0, 0), (10, 0), (10, 0), (0, 10)], "same"),
        ([(0, 0), (10, 0), (20, 0)], "area"),
        ([(0, 0), (math.nan, 0), (0, 10)], "finite"),
    ],
)
def test_bad_polygons_are_explained(points: list[tuple[float, float]], fragment: str) -> None:
    problem = polygon_problem(points)
    assert problem is not None and fragment in problem
    with pytest.raises(ValueError, match=fragment):
        Polygon.of(points)


def test_segments_intersect_cases() -> None:
    assert segments_intersect((0, 0), (10, 10), (0, 10), (10, 0))
    assert not segments_intersect((0, 0), (10, 0), (0, 5), (10, 5))
    assert segments_intersect((0, 0), (10, 0), (10, 0), (10, 10))  # touching end points
    assert not segments_intersect((0, 0), (4, 0), (5, 0), (9, 0))  # collinear, apart


def test_segment_distance_to_the_nearest_point_of_the_segment() -> None:
    assert segment_distance((5, 3), (0, 0), (10, 0)) == pytest.approx(3.0)  # beside it
    assert segment_distance((13, 4), (0, 0), (10, 0)) == pytest.approx(5.0)  # past an end
    assert segment_distance((3, 4), (0, 0), (0, 0)) == pytest.approx(5.0)  # a point


def test_directed_line_signs_follow_direction_of_travel() -> None:
    up = DirectedLine.of((100, 400), (600, 400), direction=(0, -1))
    assert up.signed_distance((300, 420)) == pytest.approx(-20)
    assert up.signed_distance((300, 390)) == pytest.approx(10)
    down = DirectedLine.of((100, 400), (600, 400), direction=(0, 1))
    assert down.signed_distance((300, 420)) == pytest.approx(20)
    assert up.along((350, 0)) == pytest.approx(250)


def test_directed_line_refuses_direction_along_the_line() -> None:
    with pytest.raises(ValueError, match="parallel"):
        DirectedLine.of((0, 0), (100, 0), direction=(1, 0.1))


def test_signed_angle_is_positive_for_a_right_turn_on_screen() -> None:
    assert signed_angle_deg((0, -1), (1, 0)) == pytest.approx(90)
    assert signed_angle_deg((0, -1), (-1, 0)) == pytest.approx(-90)
    assert signed_angle_deg((0, -1), (0, -5)) == pytest.approx(0)


def test_polyline_direction_uses_the_nearest_segment() -> None:
    bend = Polyline.of([(0, 100), (0, 0), (100, 0)])
    assert bend.direction_at((5, 60)) == pytest.approx((0, -1))
    assert bend.direction_at((60, 5)) == pytest.approx((1, 0))
    with pytest.raises(ValueError):
        Polyline.of([(1, 1)])


def test_homography_recovers_a_known_perspective_mapping() -> None:
    truth = np.array([[0.02, 0.004, -3.0], [0.001, 0.05, -2.0], [0.0002, 0.003, 1.0]])

    def apply(p: tuple[float, float]) -> tuple[float, float]:
        v = truth @ np.array([p[0], p[1], 1.0])
        return (float(v[0] / v[2]), float(v[1] / v[2]))

    image = [(100.0, 300.0), (500.0, 300.0), (600.0, 700.0), (50.0, 700.0)]
    h = Homography.from_points(image, [apply(p) for p in image])
    assert h.to_ground((320.0, 480.0)) == pytest.approx(apply((320.0, 480.0)), abs=1e-6)


def test_homography_refuses_three_collinear_points() -> None:
    with pytest.raises(ValueError, match="image points 0, 1, 2 lie on one line"):
        Homography.from_points(
            [(0, 0), (50, 0), (100, 0), (0, 100)], [(0, 0), (5, 0), (10, 0.5), (0, 10)]
        )


def _point(t: float, x: float, y: float, tid: int = 1, cls: str = "car") -> TrackPoint:
    return TrackPoint(t, tid, cls, (x - 20, y - 30, x + 20, y), 0.9)


def test_anchor_is_bottom_centre_and_bad_boxes_are_refused() -> None:
    assert _point(0, 50, 80).anchor == (50, 80)
    with pytest.raises(ValueError, match="x1<=x2"):
        TrackPoint(0, 1, "car", (10, 0, 5, 10), 0.5)


def test_track_ignores_out_of_order_points_and_trims_to_horizon() -> None:
    tr = Track(1, horizon_s=2.0)
    for t in (0.0, 1.0, 2.0, 1.5, 3.0):
        tr.add(_point(t, 0, 0))
    assert [p.t for p in tr.points] == [1.0, 2.0, 3.0]


def test_window_and_velocity_use_timestamps_not_frame_counts() -> None:
    tr = Track(1)
    # Variable frame rate with a repeated frame: positions follow 100 px/s upwards.
    for t in (0.0, 0.05, 0.2, 0.21, 0.6, 1.0):
        tr.add(_point(t, 100, 500 - 100 * t))
    assert velocity_px(tr, 1.0) == pytest.approx((0.0, -100.0))
    assert tr.window(2.0) is None


def test_ground_speed_of_twenty_metres_in_a_second_is_72_kmh() -> None:
    h = Homography.from_points(SQUARE, [(0, 0), (10, 0), (10, 10), (0, 10)])  # 10 px per m
    pts = [_point(0.0, 10, 50), _point(0.4, 90, 50), _point(1.0, 210, 50)]
    assert ground_speed_kmh([pts[0], pts[-1]], h) == pytest.approx(72.0)


def test_track_class_is_the_majority_over_history() -> None:
    tr = Track(1)
    for t, cls in ((0, "car"), (1, "truck"), (2, "car")):
        tr.add(_point(t, 0, 0, cls=cls))
    assert tr.cls == "car"


def test_track_class_votes_follow_the_horizon_and_ties_go_to_the_latest() -> None:
    tr = Track(1, horizon_s=2.0)
    for t, cls in ((0, "car"), (1, "car"), (1.5, "truck"), (2.0, "truck"), (2.5, "truck")):
        tr.add(_point(t, 0, 0, cls=cls))
    assert tr.cls == "truck"  # the two cars: one left the 2 s horizon, one vote against three
    tr.add(_point(3.5, 0, 0, cls="car"))  # window 1.5..3.5: truck x3, car x1
    tr.add(_point(3.6, 0, 0, cls="car"))
    tr.add(_point(4.1, 0, 0, cls="car"))  # window 2.1..4.1: truck x1 (2.5), car x3
    assert tr.cls == "car"
    tr.add(_point(4.6, 0, 0, cls="truck"))  # window 2.6..4.6: car x3, truck x1
    tr.add(_point(4.7, 0, 0, cls="truck"))
    tr.add(_point(4.8, 0, 0, cls="truck"))  # car x3, truck x3: the latest class wins the tie
    assert tr.cls == "truck"
    assert tr._classes == Counter(p.cls for p in tr.points)  # no stale or zero votes kept


def test_detections_validate_once_and_yield_tracked_points() -> None:
    names = ("car", "motorbike")
    det = Detections(
        1.5,
        np.array([[0, 0, 10, 20], [5, 5, 15, 25]], dtype=np.float64),
        np.array([0.9, 0.4]),
        np.array([1, 0]),
        names,
        np.array([7, -1]),
    )
    pts = det.points()
    assert len(det) == 2 and [(p.track_id, p.cls, p.anchor) for p in pts] == [
        (7, "motorbike", (5.0, 20.0))
    ]
    with pytest.raises(ValueError, match="shape"):
        Detections(0, np.zeros((2, 3)), np.zeros(2), np.zeros(2, dtype=np.int64), names)
    with pytest.raises(ValueError, match="class ids"):
        Detections(0, np.zeros((1, 4)), np.ones(1), np.array([5]), names)


def test_track_book_drops_tracks_unseen_for_max_gap() -> None:
    book = TrackBook(max_gap_s=1.0)
    book.update([_point(0.0, 0, 0, tid=1), _point(0.0, 9, 9, tid=2)], 0.0)
    tracks = book.update([_point(1.5, 1, 1, tid=2)], 1.5)
    assert set(tracks) == {2}
