"""The shipped catalogue is valid, and mistakes in a city-edited one fail loudly at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from ioc.feedback.calendar import WorkingDuration
from ioc.feedback.catalogue import FeedbackCatalogue, load_feedback_catalogue

SHIPPED = load_feedback_catalogue()


def minimal() -> dict[str, Any]:
    return {
        "version": "test",
        "tiers": {
            "normal": {
                "names": {"vi": "Thường", "en": "Normal"},
                "rank": 3,
                "ack": "8h",
                "resolve": "5d",
            }
        },
        "departments": {"drainage": {"names": {"vi": "Thoát nước", "en": "Drainage"}}},
        "categories": {
            "flooding": {
                "names": {"vi": "Ngập", "en": "Flooding"},
                "department": "drainage",
                "tier": "normal",
                "ack": "4h",
            }
        },
    }


def test_shipped_catalogue_covers_the_departments_of_the_issue() -> None:
    wanted = {
        "transport",
        "environment",
        "construction",
        "health",
        "education",
        "police",
        "drainage",
        "lighting",
        "sanitation",
        "electricity",
        "water",
        "ward_committee",
    }
    assert wanted <= set(SHIPPED.departments)
    assert {c.department for c in SHIPPED.categories.values()} <= set(SHIPPED.departments)
    assert len(SHIPPED.categories) >= 20


def test_every_shipped_category_has_training_text() -> None:
    for code, cat in SHIPPED.categories.items():
        assert len(cat.keywords) + len(cat.examples) >= 5, code
    pairs = SHIPPED.training_examples()
    assert {label for _, label in pairs} == set(SHIPPED.categories)


def test_deadlines_come_from_the_tier_unless_overridden() -> None:
    assert SHIPPED.deadlines("flooding") == (WorkingDuration(4, "h"), WorkingDuration(1, "d"))
    cat = FeedbackCatalogue.model_validate(minimal())
    assert cat.deadlines("flooding") == (WorkingDuration(4, "h"), WorkingDuration(5, "d"))
    with pytest.raises(KeyError):
        cat.deadlines("nothing")


def test_open311_services_list() -> None:
    services = SHIPPED.open311_services()
    assert len(services) == len(SHIPPED.categories)
    flooding = next(s for s in services if s["service_code"] == "flooding")
    assert flooding["service_name"] == "Ngập úng" and flooding["metadata"] is False


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("categories", "flooding", "department"), "drains", "unknown department 'drains'"),
        (("categories", "flooding", "tier"), "asap", "unknown tier 'asap'"),
        (("categories", "flooding", "ack"), "soon", "duration"),
        (("categories", "flooding", "colour"), "blue", "Extra inputs"),
        (("tiers", "normal", "resolve"), "5 days", "duration"),
        (("triage", "min_confidence"), 1.5, "less than or equal"),
        (("calendar", "holidays"), ["2025-13-01"], "holidays"),
    ],
)
def test_mistakes_are_refused_with_the_entry_named(
    path: tuple[str, ...], value: object, message: str
) -> None:
    data = minimal()
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(ValidationError, match=message):
        FeedbackCatalogue.model_validate(data)


def test_bad_keys_are_refused() -> None:
    data = minimal()
    data["categories"]["Flooding Now"] = data["categories"]["flooding"]
    with pytest.raises(ValidationError, match="lower-case"):
        FeedbackCatalogue.model_validate(data)


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(minimal(), allow_unicode=True), encoding="utf-8")
    assert set(load_feedback_catalogue(path).categories) == {"flooding"}
