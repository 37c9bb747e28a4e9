"""View check: does the camera still show the scene its geometry was drawn on?

Stop lines, lanes and zones are drawn in image pixels. A camera that was knocked, re-aimed or
left on another PTZ preset shows another scene under the same pixels, and every rule would
then judge vehicles against lines that are no longer on the road: false fines. A covered or
painted-over lens judges nothing and should not pass for a quiet street.

Every ``interval_s`` of stream time the check finds ORB features (OpenCV) on a small grey copy
of the frame, matches them with the reference frame's (ratio test), fits a similarity
transform with RANSAC (moving traffic is outliers) and asks how far the transform moves the
camera's geometry (its anchor points). The reference is an image of the view the geometry
was drawn on (``view.reference`` in the camera's YAML) or else the first textured frame of
the stream that later readings find unchanged. While the view is right it is renewed every
``refresh_s`` so light that changes over the day is followed, and the anchors are carried
through each renewal so a slow drift still adds up against the geometry as drawn.

:class:`ViewWatch` is the pure state machine over the readings (``learning``, ``ok``,
``moved``, ``obstructed``); a verdict needs ``confirm`` readings in a row, either way. A
reading that cannot tell (too few matches in a scene with few features, such as an empty,
evenly lit car park) changes nothing.

Example::

    check = ViewCheck(ViewConfig(), [(120, 400), (880, 410)], frame_size=(1006, 720))
    change = check.check(frame_bgr, t=12.0, boxes=detections.xyxy)  # a ViewChange, or None
    if check.state in ("moved", "obstructed"):
        ...  # judge nothing on this camera
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

State = Literal["learning", "ok", "moved", "obstructed"]
Verdict = Literal["ok", "moved", "obstructed", "unsure"]
BAD_STATES: frozenset[State] = frozenset({"moved", "obstructed"})


@dataclass(frozen=True, slots=True)
class ViewConfig:
    """``max_shift_px``: how far (frame pixels) the geometry may appear displaced before the
    view counts as moved; ``width``: of the grey copy features are found on; ``features``: at
    most this many per frame; ``min_inliers``: matches a transform needs to be believed;
    ``min_spread``: share of the frame those matches must span; ``min_reference_features``: a
    frame with fewer is no reference (too little texture to judge); a frame with at most
    ``obstructed_features`` features, fewer than ``obstructed_share`` of the reference's, and
    no match, is a covered or blinded lens."""

    interval_s: float = 2.0
    confirm: int = 2
    max_shift_px: float = 20.0
    refresh_s: float = 300.0
    width: int = 320
    features: int = 400
    min_inliers: int = 20
    min_spread: float = 0.1
    min_reference_features: int = 150
    obstructed_share: float = 0.15
    obstructed_features: int = 25
    ratio: float = 0.8
    ransac_px: float = 3.0
    box_pad: float = 0.15


@dataclass(frozen=True, slots=True)
class Features:
    points: NDArray[np.float32]  # N x 2, frame pixels
    descriptors: NDArray[np.uint8] | None  # N x 32 ORB descriptors


@dataclass(frozen=True, slots=True)
class Reading:
    """One comparison with the reference. ``shift_px``: largest displacement of an anchor
    point under the fitted transform (``None`` without a transform)."""

    verdict: Verdict
    shift_px: float | None
    inliers: int
    features: int


@dataclass(frozen=True, slots=True)
class ViewChange:
    t: float
    old: State
    new: State
    reading: Reading
    last_ok_t: float | None  # last reading that found the view right, before this change


class ViewWatch:
    """The state machine over readings; pure."""

    def __init__(self, confirm: int = 2) -> None:
        if confirm < 1:
            raise ValueError("confirm must be at least 1")
        self.confirm = confirm
        self.state: State = "learning"
        self.last_ok_t: float | None = None
        self._pending: Verdict | None = None
        self._streak = 0

    def observe(self, reading: Reading, t: float) -> ViewChange | None:
        """Take a reading at stream time ``t``; returns the change it confirms, if any."""
        verdict = reading.verdict
        if verdict == "unsure":
            return None  # neither confirms nor breaks a streak
        last_ok = self.last_ok_t
        if verdict == "ok" and self.state in ("learning", "ok"):
            self.last_ok_t, self._pending, self._streak = t, None, 0
            if self.state == "learning":
                self.state = "ok"
                return ViewChange(t, "learning", "ok", reading, last_ok)
            return None
        if verdict == self.state:
            self._pending, self._streak = None, 0
            return None
        self._streak = self._streak + 1 if verdict == self._pending else 1
        self._pending = verdict
        if self._streak < self.confirm:
            return None
        old, new = self.state, verdict
        self.state, self._pending, self._streak = new, None, 0
        if new == "ok":
            self.last_ok_t = t
        return ViewChange(t, old, new, reading, last_ok)


def features(
    frame: NDArray[np.uint8], config: ViewConfig, boxes: NDArray[np.float64] | None = None
) -> Features:
    """ORB features of ``frame``, found on a ``config.width`` grey copy outside ``boxes`` (N x
    4, x1 y1 x2 y2 frame pixels: the vehicles and people in view, grown by ``config.box_pad``
    of their size, which move and are no part of the scene) and given back in frame pixels.
    ``frame`` is BGR, grey, or BGRA: a reference image whose transparent pixels are left out
    too (:func:`load_reference`)."""
    keep = frame[:, :, 3] if frame.ndim == 3 and frame.shape[2] == 4 else None
    code = cv2.COLOR_BGRA2GRAY if keep is not None else cv2.COLOR_BGR2GRAY
    grey = cv2.cvtColor(frame, code) if frame.ndim == 3 else frame
    scale = config.width / grey.shape[1]
    size = (config.width, max(1, round(grey.shape[0] * scale)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    mask = None
    if keep is not None and not (keep > 127).all():
        opaque = cv2.resize(keep, size, interpolation=cv2.INTER_NEAREST) > 127
        mask = opaque.astype(np.uint8) * 255
    if boxes is not None and len(boxes):
        mask = np.full(small.shape, 255, np.uint8) if mask is None else mask
        for x1, y1, x2, y2 in np.round(grow(boxes, config.box_pad) * scale).astype(np.int64):
            mask[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = 0
    orb = cv2.ORB.create(nfeatures=config.features, fastThreshold=12)
    keypoints, desc = orb.detectAndCompute(small, mask)
    pts = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2) / scale
    return Features(pts.astype(np.float32), None if desc is None else np.asarray(desc, np.uint8))


def grow(boxes: NDArray[np.float64], pad: float) -> NDArray[np.float64]:
    """``boxes`` (N x 4, x1 y1 x2 y2) grown by ``pad`` of their width and height each side."""
    wh = boxes[:, 2:4] - boxes[:, 0:2]
    out: NDArray[np.float64] = np.hstack([boxes[:, 0:2] - pad * wh, boxes[:, 2:4] + pad * wh])
    return out


def compare(
    ref: Features,
    cur: Features,
    anchors: NDArray[np.float64],
    config: ViewConfig,
    drawn: NDArray[np.float64] | None = None,
    frame_area: float | None = None,
) -> tuple[Reading, NDArray[np.float64] | None]:
    """Read ``cur`` against ``ref``: the verdict and the 2x3 similarity transform that maps
    reference pixels to current ones (``None`` when no transform could be believed).

    The shift is how far the transform takes ``anchors`` (points of the reference frame) from
    ``drawn`` (where the geometry was drawn; ``anchors`` when not given). A transform is
    believed with ``min_inliers`` matches that agree with it, spread over at least
    ``min_spread`` of ``frame_area`` (their bounding box): matches bunched on one object (a
    car the detector missed, in both frames) say where that object went, not the camera."""
    n_ref, n_cur = len(ref.points), len(cur.points)
    matrix: NDArray[np.float64] | None = None
    inliers = 0
    if ref.descriptors is not None and cur.descriptors is not None and n_cur >= 2:
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref.descriptors, cur.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < config.ratio * p[1].distance]
        if len(good) >= 3:
            src = ref.points[[m.queryIdx for m in good]]
            dst = cur.points[[m.trainIdx for m in good]]
            found, mask = cv2.estimateAffinePartial2D(
                src, dst, method=cv2.RANSAC, ransacReprojThreshold=config.ransac_px
            )
            if found is not None and mask is not None:
                kept = dst[mask.ravel().astype(bool)]
                inliers = len(kept)
                spread = float(np.prod(kept.max(axis=0) - kept.min(axis=0))) if inliers else 0.0
                if frame_area is None or spread >= config.min_spread * frame_area:
                    matrix = np.asarray(found, dtype=np.float64)
    if matrix is None or inliers < config.min_inliers:
        few = n_cur <= config.obstructed_features and n_cur < config.obstructed_share * n_ref
        return Reading("obstructed" if few else "unsure", None, inliers, n_cur), None
    target = anchors if drawn is None else drawn
    shift = float(np.max(np.linalg.norm(transform(matrix, anchors) - target, axis=1)))
    verdict: Verdict = "moved" if shift > config.max_shift_px else "ok"
    return Reading(verdict, round(shift, 1), inliers, n_cur), matrix


def transform(matrix: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = points @ matrix[:, :2].T + matrix[:, 2]
    return out


class ViewCheck:
    """One camera's view check: reference, anchors and :class:`ViewWatch`."""

    def __init__(
        self,
        config: ViewConfig,
        anchors: Sequence[tuple[float, float]],
        frame_size: tuple[int, int],
        reference: NDArray[np.uint8] | None = None,
    ) -> None:
        """``reference``: the view the geometry was drawn on, at ``frame_size``, BGRA with
        what is no part of the scene transparent (:func:`load_reference`); without one the
        view is learned from the stream."""
        self.config = config
        w, h = frame_size
        pts = list(anchors) or [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]  # no geometry: corners
        self.drawn = np.array(pts, dtype=np.float64).reshape(-1, 2)
        self.anchors = self.drawn.copy()  # where the drawn points lie in the reference frame
        self.watch = ViewWatch(config.confirm)
        self.area = float(w * h)
        self.reference: Features | None = None
        self.reference_t: float | None = None
        self.last: Reading | None = None
        self._next_t: float | None = None
        self._candidate: tuple[Features, float] | None = None
        self._seconded = 0  # later readings that agreed with the candidate
        self.configured = False  # the reference came with the camera's configuration
        if reference is not None:
            found = features(reference, config)
            if len(found.points) < config.min_reference_features:
                raise ValueError(
                    f"the reference image has {len(found.points)} features, fewer than the "
                    f"{config.min_reference_features} a view can be judged on"
                )
            self.reference, self.configured = found, True

    @property
    def state(self) -> State:
        return self.watch.state

    @property
    def judging(self) -> bool:
        """Whether rules and counts may use this camera's geometry now."""
        return self.watch.state not in BAD_STATES

    def due(self, t: float) -> bool:
        """Whether a check is due at stream time ``t`` (also when time went backwards)."""
        nxt = self._next_t
        return nxt is None or t >= nxt or t < nxt - 2 * self.config.interval_s

    def check(
        self, frame: NDArray[np.uint8], t: float, boxes: NDArray[np.float64] | None = None
    ) -> ViewChange | None:
        """Read ``frame`` at stream time ``t`` when a check is due (``boxes``: what the
        detector found on it, left out of the scene); the change, if any."""
        if not self.due(t):
            return None
        self._next_t = t + self.config.interval_s
        cur = features(frame, self.config, boxes)
        if self.reference is None:
            return self._learn(cur, t)
        if self.reference_t is None:
            # a configured reference is renewed at the first reading that finds the view
            # right: from then on the traffic in it is left out as it is in every frame
            self.reference_t = t - self.config.refresh_s
        # the displacement that counts is against the geometry as drawn, not the reference
        reading, matrix = compare(
            self.reference, cur, self.anchors, self.config, self.drawn, self.area
        )
        self.last = reading
        change = self.watch.observe(reading, t)
        if (
            reading.verdict == "ok"
            and matrix is not None
            and self.watch.state == "ok"
            and self.reference_t is not None
            and t - self.reference_t >= self.config.refresh_s
            and len(cur.points) >= self.config.min_reference_features
        ):
            self.reference, self.reference_t = cur, t
            self.anchors = transform(matrix, self.anchors)
        return change

    def _learn(self, cur: Features, t: float) -> ViewChange | None:
        """Take the reference: a textured frame that ``confirm`` later readings find
        unchanged (a frame whose features sat on passing traffic the detector missed is
        not one)."""
        cfg = self.config
        rich = len(cur.points) >= cfg.min_reference_features
        if self._candidate is None:
            self._candidate, self._seconded = ((cur, t) if rich else None), 0
            return None
        cand, cand_t = self._candidate
        reading, _ = compare(cand, cur, self.drawn, cfg, None, self.area)
        if reading.verdict != "ok" or (reading.shift_px or 0.0) > cfg.max_shift_px / 4:
            self._candidate, self._seconded = ((cur, t) if rich else None), 0
            return None
        self._seconded += 1
        self.last = reading
        if self._seconded < cfg.confirm:
            return None
        self.reference, self.reference_t, self._candidate = cand, cand_t, None
        logger.debug("view reference taken at %.1f s (%d features)", cand_t, len(cand.points))
        return self.watch.observe(reading, t)


def load_reference(path: Path, size: tuple[int, int]) -> NDArray[np.uint8]:
    """The reference image at ``path`` as BGRA, scaled to ``size`` (width, height) when the
    stream's frames have another size than the image; ``ValueError`` naming the file when it
    cannot be used. Transparent pixels (alpha below 128: where ``ioc vision reference`` found
    vehicles, or what an editor masked, such as a screen with changing text) are no part of
    the scene; an image without alpha is opaque."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.dtype != np.uint8:
        raise ValueError(f"{path} is not an 8-bit PNG or JPEG image")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    if (image.shape[1], image.shape[0]) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(image, dtype=np.uint8)
