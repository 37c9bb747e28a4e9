"""The feedback catalogue: departments, categories (Open311 service codes), tiers, calendar.

City data, not code: ``infra/data/feedback_catalogue.yaml`` says which department handles
which kind of report, how urgent it is and how many working hours/days it may take. It is
validated once at load; unknown keys, unknown departments or tiers and bad durations are
errors that name the entry, so a typo fails at start instead of misrouting reports.

Example::

    cat = load_feedback_catalogue()
    cat.categories["flooding"].department           # -> "drainage"
    cat.deadlines("flooding")   # -> (WorkingDuration(4.0, "h"), WorkingDuration(1.0, "d"))
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.feedback.calendar import CalendarConfig, WorkingDuration

logger = logging.getLogger(__name__)

_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def _duration(value: str) -> str:
    WorkingDuration.parse(value)
    return value


class Names(BaseModel):
    """A name in Vietnamese and English."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    vi: str = Field(min_length=1, description="Vietnamese name, shown to citizens and staff.")
    en: str = Field(min_length=1, description="English name.")


class Department(BaseModel):
    """A unit that receives and handles reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    names: Names = Field(description="Official name in Vietnamese and English.")
    kind: str = Field(
        default="department", description="Free label: department, company, police, committee …"
    )


class Tier(BaseModel):
    """An urgency tier and its default service levels (working time from receipt)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    names: Names = Field(description="Tier name in Vietnamese and English.")
    rank: int = Field(ge=1, le=9, description="1 = most urgent; orders queues.")
    ack: str = Field(description="Acknowledgement deadline, e.g. '4h', '8h', '1d'.")
    resolve: str = Field(description="Resolution deadline, e.g. '1d', '3d'.")

    @field_validator("ack", "resolve")
    @classmethod
    def _durations(cls, value: str) -> str:
        return _duration(value)


class Category(BaseModel):
    """A kind of report (an Open311 service) and where it goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    names: Names = Field(description="Category name in Vietnamese and English.")
    group: str = Field(default="", description="Open311 group, e.g. 'Giao thông / Transport'.")
    department: str = Field(description="Key of the department that handles it.")
    tier: str = Field(description="Key of its urgency tier.")
    ack: str | None = Field(default=None, description="Overrides the tier's ack deadline.")
    resolve: str | None = Field(default=None, description="Overrides the tier's resolve deadline.")
    keywords: tuple[str, ...] = Field(
        default=(), description="Words/phrases typical of it (vi or en); also training text."
    )
    examples: tuple[str, ...] = Field(
        default=(), description="Example reports (vi or en) the default model is trained on."
    )
    duplicate_radius_m: float | None = Field(
        default=None, gt=0, description="Overrides duplicates.radius_m for this category."
    )
    duplicate_window_h: float | None = Field(
        default=None, gt=0, description="Overrides duplicates.window_h for this category."
    )

    @field_validator("ack", "resolve")
    @classmethod
    def _durations(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value)


class TriageConfig(BaseModel):
    """When a report goes to the operators' triage queue instead of a department."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_confidence: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Below this classifier confidence: triage."
    )
    ack: str = Field(default="4h", description="Time operators have to route a triaged report.")

    @field_validator("ack")
    @classmethod
    def _durations(cls, value: str) -> str:
        return _duration(value)


class DuplicateConfig(BaseModel):
    """When a new report is linked to an open one as the same case."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    radius_m: float = Field(default=200.0, gt=0, description="Farthest distance of a duplicate.")
    window_h: float = Field(default=72.0, gt=0, description="Oldest open report considered (h).")
    min_similarity: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Least text similarity (0 = any text)."
    )


class FeedbackCatalogue(BaseModel):
    """The whole catalogue file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(description="Edition of the catalogue, e.g. '2025-06-01'.")
    calendar: CalendarConfig = Field(default_factory=CalendarConfig, description="Office hours.")
    triage: TriageConfig = Field(default_factory=TriageConfig, description="Triage policy.")
    duplicates: DuplicateConfig = Field(
        default_factory=DuplicateConfig, description="Duplicate linking policy."
    )
    tiers: dict[str, Tier] = Field(description="Urgency tiers by key.")
    departments: dict[str, Department] = Field(description="Handling units by key.")
    categories: dict[str, Category] = Field(description="Categories by Open311 service code.")

    @model_validator(mode="after")
    def _references(self) -> FeedbackCatalogue:
        for key in (*self.tiers, *self.departments, *self.categories):
            if not _CODE.match(key):
                raise ValueError(f"key {key!r}: use lower-case letters, digits, '_', '.', '-'")
        for code, cat in self.categories.items():
            if cat.department not in self.departments:
                raise ValueError(f"category {code!r}: unknown department {cat.department!r}")
            if cat.tier not in self.tiers:
                raise ValueError(f"category {code!r}: unknown tier {cat.tier!r}")
        if not self.categories:
            raise ValueError("the catalogue needs at least one category")
        return self

    def deadlines(self, service_code: str) -> tuple[WorkingDuration, WorkingDuration]:
        """(acknowledge, resolve) working durations of a category; ``KeyError`` if unknown."""
        cat = self.categories[service_code]
        tier = self.tiers[cat.tier]
        return (
            WorkingDuration.parse(cat.ack or tier.ack),
            WorkingDuration.parse(cat.resolve or tier.resolve),
        )

    def training_examples(self) -> list[tuple[str, str]]:
        """(text, service_code) from names, keywords and examples: the default model's data."""
        pairs: list[tuple[str, str]] = []
        for code, cat in self.categories.items():
            texts = (cat.names.vi, cat.names.en, *cat.keywords, *cat.examples)
            pairs.extend((text, code) for text in texts)
        return pairs

    def open311_services(self) -> list[dict[str, Any]]:
        """The Open311 GeoReport v2 ``services`` list (``GET services.json``)."""
        return [
            {
                "service_code": code,
                "service_name": cat.names.vi,
                "description": cat.names.en,
                "metadata": False,
                "type": "realtime",
                "keywords": ",".join(cat.keywords),
                "group": cat.group,
            }
            for code, cat in self.categories.items()
        ]


def load_feedback_catalogue(path: Path | None = None) -> FeedbackCatalogue:
    """Read and validate the catalogue (the shipped one unless ``path`` is given)."""
    if path is None:
        text = (
            resources.files("infra").joinpath("data", "feedback_catalogue.yaml").read_text("utf-8")
        )
    else:
        text = path.read_text(encoding="utf-8")
    catalogue = FeedbackCatalogue.model_validate(yaml.safe_load(text))
    logger.debug(
        "feedback catalogue %s: %d categories, %d departments",
        catalogue.version,
        len(catalogue.categories),
        len(catalogue.departments),
    )
    return catalogue
