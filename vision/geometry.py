"""Plane geometry of a camera scene, in image pixels (x right, y down) and ground metres.

Pure functions and small immutable values, numpy only: the rules ask "is this point in that
zone", "did this step cross that line, and which way", "which way does this lane flow here",
and "where is this pixel on the ground". Validation lives here too, so the camera config and
the tests share one definition of a bad polygon or a degenerate calibration.

Example::

    zone = Polygon.of([(0, 0), (100, 0), (100, 50), (0, 50)])
    zone.contains((10, 10))                                  # -> True
    h = Homography.from_points(img4, ground4)
    h.to_ground((320, 240))                                  # -> (x_m, y_m)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

Point = tuple[float, float]
_EPS = 1e-9


def cross(a: Point, b: Point) -> float:
    """z of the 2-D cross product; > 0 means b is clockwise of a on screen (y down)."""
    return a[0] * b[1] - a[1] * b[0]


def sub(a: Point, b: Point) -> Point:
    return (a[0] - b[0], a[1] - b[1])


def dot(a: Point, b: Point) -> float:
    return a[0] * b[0] + a[1] * b[1]


def norm(v: Point) -> float:
    return math.hypot(v[0], v[1])


def unit(v: Point) -> Point:
    """``v`` scaled to length 1; raises ``ValueError`` for a zero vector."""
    n = norm(v)
    if n < _EPS:
        raise ValueError("zero-length vector has no direction")
    return (v[0] / n, v[1] / n)


def segment_distance(p: Point, a: Point, b: Point) -> float:
    """Distance from ``p`` to the segment ``a``-``b`` (to ``a`` when the segment is a point)."""
    ab = sub(b, a)
    den = dot(ab, ab)
    k = 0.0 if den <= _EPS else min(1.0, max(0.0, dot(sub(p, a), ab) / den))
    return math.dist(p, (a[0] + k * ab[0], a[1] + k * ab[1]))


def signed_angle_deg(reference: Point, v: Point) -> float:
    """Angle from ``reference`` to ``v`` in degrees, positive clockwise on screen (a right turn).

    Example: ``signed_angle_deg((0, -1), (1, 0))`` -> 90.0 (heading up, then moving right).
    """
    return math.degrees(math.atan2(cross(reference, v), dot(reference, v)))


def _orient(a: Point, b: Point, c: Point) -> float:
    return cross(sub(b, a), sub(c, a))


def segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segment ab and segment cd share a point (touching counts)."""
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if (
        (o1 > 0) != (o2 > 0)
        and abs(o1) > _EPS
        and abs(o2) > _EPS
        and (o3 > 0) != (o4 > 0)
        and abs(o3) > _EPS
        and abs(o4) > _EPS
    ):
        return True

    def on(p: Point, q: Point, r: Point) -> bool:  # r on segment pq, given collinear
        return (
            min(p[0], q[0]) - _EPS <= r[0] <= max(p[0], q[0]) + _EPS
            and min(p[1], q[1]) - _EPS <= r[1] <= max(p[1], q[1]) + _EPS
        )

    return (
        (abs(o1) <= _EPS and on(a, b, c))
        or (abs(o2) <= _EPS and on(a, b, d))
        or (abs(o3) <= _EPS and on(c, d, a))
        or (abs(o4) <= _EPS and on(c, d, b))
    )


def polygon_problem(points: Sequence[Point]) -> str | None:
    """Why ``points`` is not a usable simple polygon, or ``None`` when it is.

    Example: a bow-tie ``[(0,0), (10,10), (10,0), (0,10)]`` -> "edges 0 and 2 cross".
    """
    n = len(points)
    if n < 3:
        return f"a polygon needs at least 3 points, got {n}"
    if any(not (math.isfinite(x) and math.isfinite(y)) for x, y in points):
        return "coordinates must be finite numbers"
    for i in range(n):
        if norm(sub(points[i], points[(i + 1) % n])) < _EPS:
            return f"points {i} and {(i + 1) % n} are the same"
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a vertex
            if segments_intersect(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                return f"edges {i} and {j} cross (the outline intersects itself)"
    if abs(_area(points)) < 1.0:
        return "the polygon has (almost) no area"
    return None


def _area(points: Sequence[Point]) -> float:
    return 0.5 * sum(cross(points[i], points[(i + 1) % len(points)]) for i in range(len(points)))


@dataclass(frozen=True, slots=True)
class Polygon:
    """A simple polygon in image pixels; build it with :meth:`of`, which validates."""

    points: tuple[Point, ...]

    @classmethod
    def of(cls, points: Sequence[Sequence[float]]) -> Polygon:
        pts = tuple((float(p[0]), float(p[1])) for p in points)
        problem = polygon_problem(pts)
        if problem is not None:
            raise ValueError(problem)
        return cls(pts)

    @property
    def area(self) -> float:
        return abs(_area(self.points))

    def contains(self, p: Point) -> bool:
        """Even-odd ray casting; points on the outline count as inside."""
        inside = False
        pts, n = self.points, len(self.points)
        for i in range(n):
            a, b = pts[i], pts[(i + 1) % n]
            if abs(_orient(a, b, p)) <= 1e-6 and segments_intersect(a, b, p, p):
                return True
            if (a[1] > p[1]) != (b[1] > p[1]):
                x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
                if p[0] < x:
                    inside = not inside
        return inside


@dataclass(frozen=True, slots=True)
class DirectedLine:
    """A line segment that traffic crosses in one direction (a stop line).

    ``normal`` is the unit normal pointing the way traffic should travel, so
    :meth:`signed_distance` is negative on the approach side and positive past the line.

    Example::

        line = DirectedLine.of((100, 400), (600, 400), direction=(0, -1))
        line.signed_distance((300, 420))   # -> -20.0 (still before the line)
    """

    a: Point
    b: Point
    normal: Point

    @classmethod
    def of(cls, a: Point, b: Point, direction: Point) -> DirectedLine:
        along = unit(sub(b, a))
        d = unit(direction)
        if abs(cross(along, d)) < 0.3:
            raise ValueError("direction of travel is (almost) parallel to the line")
        n = (-along[1], along[0])
        if dot(n, d) < 0:
            n = (-n[0], -n[1])
        return cls(a, b, n)

    @property
    def length(self) -> float:
        return norm(sub(self.b, self.a))

    def signed_distance(self, p: Point) -> float:
        return dot(sub(p, self.a), self.normal)

    def along(self, p: Point) -> float:
        """Position of ``p``'s foot along the segment, 0 at ``a``, ``length`` at ``b``."""
        return dot(sub(p, self.a), unit(sub(self.b, self.a)))


@dataclass(frozen=True, slots=True)
class Polyline:
    """An open polyline, e.g. a lane's centre drawn in its allowed direction of travel."""

    points: tuple[Point, ...]

    @classmethod
    def of(cls, points: Sequence[Sequence[float]]) -> Polyline:
        pts = tuple((float(p[0]), float(p[1])) for p in points)
        if len(pts) < 2:
            raise ValueError("a polyline needs at least 2 points")
        for i in range(len(pts) - 1):
            if norm(sub(pts[i + 1], pts[i])) < _EPS:
                raise ValueError(f"points {i} and {i + 1} are the same")
        return cls(pts)

    def direction_at(self, p: Point) -> Point:
        """Unit direction of the segment nearest to ``p``."""
        best, best_d = self.points[1], math.inf
        start = self.points[0]
        for a, b in zip(self.points, self.points[1:], strict=False):
            ab = sub(b, a)
            s = max(0.0, min(1.0, ((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1]) / norm(ab) ** 2))
            d = norm(sub(p, (a[0] + s * ab[0], a[1] + s * ab[1])))
            if d < best_d:
                best_d, start, best = d, a, b
        return unit(sub(best, start))


@dataclass(frozen=True, slots=True)
class Homography:
    """Image-pixel to ground-metre mapping of a flat road, from four point pairs.

    Solves the 8x8 direct linear system with ``h33 = 1``. Any three of the four points on
    one line make the system singular, which is refused with a message naming the points.
    """

    matrix: tuple[tuple[float, float, float], ...]

    @classmethod
    def from_points(cls, image: Sequence[Point], ground: Sequence[Point]) -> Homography:
        if len(image) != 4 or len(ground) != 4:
            raise ValueError("a homography needs exactly 4 image points and 4 ground points")
        for name, pts in (("image", image), ("ground", ground)):
            for i in range(4):
                for j in range(i + 1, 4):
                    for k in range(j + 1, 4):
                        if abs(_orient(pts[i], pts[j], pts[k])) < 1e-6 * max(
                            1.0, norm(sub(pts[j], pts[i])) * norm(sub(pts[k], pts[i]))
                        ):
                            raise ValueError(f"{name} points {i}, {j}, {k} lie on one line")
        a = np.zeros((8, 8))
        rhs = np.zeros(8)
        for r, ((x, y), (gx, gy)) in enumerate(zip(image, ground, strict=True)):
            a[2 * r] = [x, y, 1, 0, 0, 0, -x * gx, -y * gx]
            a[2 * r + 1] = [0, 0, 0, x, y, 1, -x * gy, -y * gy]
            rhs[2 * r], rhs[2 * r + 1] = gx, gy
        try:
            h = np.linalg.solve(a, rhs)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"calibration points give no homography: {exc}") from exc
        m = np.append(h, 1.0).reshape(3, 3)
        return cls(tuple((float(r[0]), float(r[1]), float(r[2])) for r in m))

    def to_ground(self, p: Point) -> Point:
        """Ground position in metres of image pixel ``p``; ``ValueError`` at the horizon."""
        m = self.matrix
        w = m[2][0] * p[0] + m[2][1] * p[1] + m[2][2]
        if abs(w) < _EPS:
            raise ValueError(f"pixel {p} maps to infinity (on the horizon)")
        return (
            (m[0][0] * p[0] + m[0][1] * p[1] + m[0][2]) / w,
            (m[1][0] * p[0] + m[1][1] * p[1] + m[1][2]) / w,
        )
