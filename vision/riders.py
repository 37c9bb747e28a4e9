"""Rider fusion: a person riding a motorbike or bicycle becomes part of that vehicle's box.

On elevated Vietnamese CCTV the nano detector often sees the rider (``person``, conf 0.6-0.8)
far better than the motorbike under them (conf 0.1-0.4). Tracked separately, the pair gives
two identities for one vehicle, and a motorbike whose own box is weak never starts a track.
Fusing before the tracker fixes both: each person box sitting on a two-wheeler box is merged
into it (union box, the higher confidence, the two-wheeler's class), so the vehicle is one
confident detection whose bottom edge is still the wheels on the road.

Pure (numpy only). Example::

    fused = fuse_riders(detections)     # same frame, riders folded into their motorbikes
"""

from __future__ import annotations

import numpy as np

from vision.tracks import Detections

TWO_WHEELERS = ("motorbike", "bicycle")


def _is_rider(p: np.ndarray, m: np.ndarray, min_overlap: float) -> float:
    """Overlap score (0 = not a rider) of person box ``p`` on two-wheeler box ``m``."""
    iw = min(p[2], m[2]) - max(p[0], m[0])
    if iw <= 0:
        return 0.0
    share = iw / max(1e-6, min(p[2] - p[0], m[2] - m[0]))
    hm = m[3] - m[1]
    # the rider's top is above the vehicle's and their feet/seat lie within the vehicle's height
    if share < min_overlap or p[1] > m[1] + 0.25 * hm or not (m[1] <= p[3] <= m[3] + 0.2 * hm):
        return 0.0
    return float(share)


def fuse_riders(d: Detections, min_overlap: float = 0.5) -> Detections:
    """Fold every rider (``person`` on a two-wheeler) into the two-wheeler's detection."""
    names = d.names
    if "person" not in names or len(d) == 0:
        return d
    person = names.index("person")
    wheels = [names.index(n) for n in TWO_WHEELERS if n in names]
    pi = np.flatnonzero(d.class_id == person)
    mi = np.flatnonzero(np.isin(d.class_id, wheels))
    if pi.size == 0 or mi.size == 0:
        return d
    xyxy, conf = d.xyxy.copy(), d.conf.copy()
    drop: list[int] = []
    fused: set[int] = set()
    for i in pi:
        scores = [_is_rider(d.xyxy[i], d.xyxy[j], min_overlap) for j in mi]
        best = int(np.argmax(scores))
        if scores[best] <= 0.0:
            continue
        j = int(mi[best])
        p, m = d.xyxy[i], xyxy[j]
        xyxy[j] = (min(p[0], m[0]), min(p[1], m[1]), max(p[2], m[2]), max(p[3], m[3]))
        conf[j] = max(conf[j], d.conf[i])
        drop.append(int(i))
        fused.add(j)
    if not drop:
        return d
    for k in mi.tolist():  # weaker duplicates of a fused vehicle (another box of it) go too
        if k in fused:
            continue
        b = xyxy[k]
        area = max(1e-6, (b[2] - b[0]) * (b[3] - b[1]))
        for f in fused:
            u = xyxy[f]
            inter = max(0.0, min(b[2], u[2]) - max(b[0], u[0])) * max(
                0.0, min(b[3], u[3]) - max(b[1], u[1])
            )
            if inter / area >= 0.7 and conf[k] < conf[f]:
                drop.append(k)
                break
    keep = np.setdiff1d(np.arange(len(d)), np.asarray(drop))
    return Detections(
        d.t,
        xyxy[keep],
        conf[keep],
        d.class_id[keep],
        names,
        None if d.track_id is None else d.track_id[keep],
    )
