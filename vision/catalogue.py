"""The violation catalogue: what each rule key means in law, for which vehicle, and its fine.

Loaded from ``infra/data/violations.yaml`` (city data the police and the city can correct
without a code change) and validated once: unknown keys are refused, fine ranges must be
ordered, banded references (speeding) must not overlap. A rule never hard-codes a clause; it
asks :meth:`ViolationCatalogue.resolve` with the vehicle class and its measured values.

Example::

    cat = load_violation_catalogue()
    ref = cat.resolve("speeding", "motorbike", {"overspeed_kmh": 22.0})
    ref.citation      # -> 'Điểm a khoản 8 Điều 7 Nghị định 168/2024/NĐ-CP'
    ref.fine_min_vnd  # -> 6000000
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vision.tracks import VehicleClass

logger = logging.getLogger(__name__)

_POINTS = "a b c d đ e g h i k l m n o p q r s t u v x y".split()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Strict):
    vi: str = Field(min_length=1, description="Vietnamese name shown on notices.")
    en: str = Field(min_length=1, description="English name.")


class Evidence(_Strict):
    before_s: float = Field(ge=0, le=600, description="Seconds of video kept before the event.")
    after_s: float = Field(ge=0, le=600, description="Seconds of video kept after the event.")


class Band(_Strict):
    measure: str = Field(description="Measured value the band applies to, e.g. overspeed_kmh.")
    min: float | None = Field(default=None, description="Lower bound (None: unbounded).")
    max: float | None = Field(default=None, description="Upper bound (None: unbounded).")
    min_inclusive: bool = Field(default=True, description="Whether `min` itself is in the band.")
    max_inclusive: bool = Field(default=False, description="Whether `max` itself is in the band.")

    def contains(self, value: float) -> bool:
        lo_ok = self.min is None or value > self.min or (self.min_inclusive and value == self.min)
        hi_ok = self.max is None or value < self.max or (self.max_inclusive and value == self.max)
        return lo_ok and hi_ok

    def overlaps(self, other: Band) -> bool:
        inf = float("inf")
        lo = max(-inf if self.min is None else self.min, -inf if other.min is None else other.min)
        hi = min(inf if self.max is None else self.max, inf if other.max is None else other.max)
        return lo < hi or (lo == hi and self.contains(lo) and other.contains(lo))


class Reference(_Strict):
    category: str = Field(description="Vehicle category key (see `categories`).")
    clause: int = Field(ge=1, le=30, description="Clause (khoản) of the category's article.")
    point: str = Field(description="Point (điểm) letter, e.g. 'c' or 'đ'.")
    fine_vnd: tuple[int, int] = Field(description="Fine range [min, max] in đồng.")
    points: int = Field(ge=0, le=12, description="Licence points deducted (0: none).")
    band: Band | None = Field(default=None, description="Applies only when a measure is in band.")

    @model_validator(mode="after")
    def _check(self) -> Reference:
        if self.point not in _POINTS:
            raise ValueError(f"point {self.point!r} is not a Vietnamese point letter")
        if not 0 < self.fine_vnd[0] <= self.fine_vnd[1]:
            raise ValueError("fine_vnd must be [min, max] with 0 < min <= max")
        return self


class ViolationType(_Strict):
    names: Names = Field(description="Names of the violation.")
    evidence: Evidence = Field(description="Evidence clip window around the event.")
    references: list[Reference] = Field(min_length=1, description="Legal basis per category.")


class Category(_Strict):
    article: int = Field(ge=1, le=100, description="Article of the decree for this category.")
    classes: list[VehicleClass] = Field(min_length=1, description="Detector classes it covers.")
    names: Names = Field(description="Names of the category.")


class CatalogueFile(_Strict):
    decree: str = Field(min_length=1, description="The decree cited, e.g. '168/2024/NĐ-CP'.")
    categories: dict[str, Category] = Field(min_length=1, description="Vehicle categories.")
    violations: dict[str, ViolationType] = Field(min_length=1, description="Violation types.")

    @model_validator(mode="after")
    def _check(self) -> CatalogueFile:
        seen: dict[str, str] = {}
        for key, cat in self.categories.items():
            for cls in cat.classes:
                if cls in seen:
                    raise ValueError(f"categories.{key}: class {cls!r} also in {seen[cls]}")
                seen[cls] = key
        for key, vt in self.violations.items():
            for i, ref in enumerate(vt.references):
                if ref.category not in self.categories:
                    raise ValueError(
                        f"violations.{key}.references[{i}]: unknown category {ref.category!r}"
                    )
                for j, other in enumerate(vt.references[:i]):
                    if other.category != ref.category:
                        continue
                    if (
                        ref.band is None
                        or other.band is None
                        or (
                            ref.band.measure == other.band.measure and ref.band.overlaps(other.band)
                        )
                    ):
                        raise ValueError(
                            f"violations.{key}.references[{i}] overlaps "
                            f"references[{j}] for {ref.category!r}"
                        )
        return self


@dataclass(frozen=True, slots=True)
class LegalReference:
    """The resolved legal basis of one violation by one vehicle."""

    decree: str
    category: str
    article: int
    clause: int
    point: str
    fine_min_vnd: int
    fine_max_vnd: int
    points: int

    @property
    def citation(self) -> str:
        return f"Điểm {self.point} khoản {self.clause} Điều {self.article} Nghị định {self.decree}"


class CatalogueError(ValueError):
    """The catalogue file is unreadable or invalid; the message names the file and field."""


class ViolationCatalogue:
    """Read-only view of a validated catalogue file."""

    def __init__(self, data: CatalogueFile) -> None:
        self.data = data
        self._category: dict[str, str] = {
            c: k for k, cat in data.categories.items() for c in cat.classes
        }

    def __contains__(self, key: str) -> bool:
        return key in self.data.violations

    def __getitem__(self, key: str) -> ViolationType:
        return self.data.violations[key]

    def category_of(self, vehicle_class: str) -> str | None:
        """Category key of a detector class; ``None`` for classes the decree table skips."""
        return self._category.get(vehicle_class)

    def resolve(
        self, key: str, vehicle_class: str, measured: Mapping[str, float | str] | None = None
    ) -> LegalReference | None:
        """Legal reference for ``key`` and ``vehicle_class``; ``None`` when none applies
        (no category for the class, or a banded measure outside every band)."""
        category = self.category_of(vehicle_class)
        if category is None:
            return None
        for ref in self.data.violations[key].references:
            if ref.category != category:
                continue
            if ref.band is not None:
                value = (measured or {}).get(ref.band.measure)
                if not isinstance(value, int | float) or not ref.band.contains(float(value)):
                    continue
            return LegalReference(
                self.data.decree,
                category,
                self.data.categories[category].article,
                ref.clause,
                ref.point,
                ref.fine_vnd[0],
                ref.fine_vnd[1],
                ref.points,
            )
        return None


def load_violation_catalogue(path: Path | None = None) -> ViolationCatalogue:
    """Read and validate the catalogue (the shipped one unless ``path`` is given)."""
    name = str(path) if path is not None else "infra/data/violations.yaml"
    try:
        if path is None:
            text = resources.files("infra").joinpath("data", "violations.yaml").read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = CatalogueFile.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{name}: cannot read: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors()
        )
        raise CatalogueError(f"{name}: {problems}") from None
    return ViolationCatalogue(data)
