"""The violation catalogue as the review pages need it: names, and legal bases for
reclassification. Read once per process (lazily, not at import)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from vision.catalogue import ViolationCatalogue, load_violation_catalogue


@functools.cache
def catalogue() -> ViolationCatalogue:
    return load_violation_catalogue()


def rule_names() -> dict[str, tuple[str, str]]:
    """rule key -> (Vietnamese name, English name)."""
    return {k: (v.names.vi, v.names.en) for k, v in catalogue().data.violations.items()}


def legal_for(
    rule: str, vehicle_class: str, measured: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The legal basis of ``rule`` for this vehicle, as stored in ``violations.legal``."""
    if rule not in catalogue():
        return None
    numeric = {k: v for k, v in measured.items() if isinstance(v, int | float | str)}
    ref = catalogue().resolve(rule, vehicle_class, numeric)
    if ref is None:
        return None
    return {
        "decree": ref.decree,
        "category": ref.category,
        "article": ref.article,
        "clause": ref.clause,
        "point": ref.point,
        "citation": ref.citation,
        "fine_min_vnd": ref.fine_min_vnd,
        "fine_max_vnd": ref.fine_max_vnd,
        "points": ref.points,
    }
