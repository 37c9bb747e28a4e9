"""Duplicate linking: is a new report the same case as an open one? (pure)

A new report is linked to an open report of the *same category* within the category's
radius and time window (catalogue ``duplicates`` + per-category overrides) whose text is
similar enough (Jaccard similarity of the diacritic-free word sets, so "ngap sau" and
"ngập sâu" meet). The closest match wins; a candidate that is itself a duplicate points to
its case, so every reporter of one problem shares one case.

Example::

    find_case(new, candidates, catalogue)   # -> "HP-7K3M-9QX2" or None
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ioc.feedback.catalogue import FeedbackCatalogue
from ioc.feedback.text import folded_view

_WORD = re.compile(r"\w+", re.UNICODE)
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open report near the new one (what storage returns)."""

    report_id: str
    case_id: str | None
    service_code: str
    lat: float
    lon: float
    received_at: datetime
    description: str


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(folded_view(text)) if len(w) > 1)


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the folded word sets, in [0, 1]."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def window(catalogue: FeedbackCatalogue, code: str) -> tuple[float, timedelta]:
    """(radius in metres, time window) of a category."""
    cat, cfg = catalogue.categories[code], catalogue.duplicates
    radius = cat.duplicate_radius_m or cfg.radius_m
    hours = cat.duplicate_window_h or cfg.window_h
    return radius, timedelta(hours=hours)


def find_case(
    *,
    service_code: str | None,
    lat: float | None,
    lon: float | None,
    received_at: datetime,
    description: str,
    candidates: Iterable[Candidate],
    catalogue: FeedbackCatalogue,
) -> str | None:
    """The case id the new report belongs to, ``None`` when it is a new case."""
    if service_code is None or lat is None or lon is None:
        return None
    if service_code not in catalogue.categories:
        return None
    radius, span = window(catalogue, service_code)
    best: tuple[float, str] | None = None
    for c in candidates:
        if c.service_code != service_code:
            continue
        if not (received_at - span <= c.received_at <= received_at):
            continue
        d = distance_m(lat, lon, c.lat, c.lon)
        if (
            d > radius
            or similarity(description, c.description) < catalogue.duplicates.min_similarity
        ):
            continue
        if best is None or d < best[0]:
            best = (d, c.case_id or c.report_id)
    return None if best is None else best[1]
