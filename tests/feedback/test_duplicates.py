"""Duplicate linking: same category, within radius and window, similar text (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.feedback.catalogue import load_feedback_catalogue
from ioc.feedback.duplicates import Candidate, distance_m, find_case, similarity

CAT = load_feedback_catalogue()
NOW = datetime(2025, 6, 2, 9, tzinfo=UTC)


def cand(
    rid: str,
    code: str = "streetlight-out",
    dlat: float = 0.0,
    hours: float = 1.0,
    text: str = "đèn đường hỏng tối om",
    case: str | None = None,
) -> Candidate:
    return Candidate(rid, case, code, 20.85 + dlat, 106.68, NOW - timedelta(hours=hours), text)


def find(
    cands: list[Candidate], code: str = "streetlight-out", text: str = "Den duong hong, toi om"
) -> str | None:
    return find_case(
        service_code=code,
        lat=20.85,
        lon=106.68,
        received_at=NOW,
        description=text,
        candidates=cands,
        catalogue=CAT,
    )


def test_distance() -> None:
    assert distance_m(20.85, 106.68, 20.86, 106.68) == pytest.approx(1112, rel=0.01)


def test_similarity_ignores_diacritics() -> None:
    assert similarity("Đèn đường hỏng", "den duong hong") == 1.0
    assert similarity("đèn hỏng", "rác thải") == 0.0


def test_links_the_nearest_matching_open_report_and_follows_its_case() -> None:
    near, nearer = cand("A", dlat=0.0015), cand("B", dlat=0.0005, case="A0")
    assert find([near, nearer]) == "A0"


@pytest.mark.parametrize(
    "other",
    [
        cand("X", code="garbage-uncollected"),  # other category
        cand("X", dlat=0.01),  # ~1.1 km: outside 200 m
        cand("X", hours=100),  # outside 72 h
        cand("X", hours=-1),  # newer than the report
        cand("X", text="cột điện nghiêng sắp đổ"),  # unrelated text
    ],
)
def test_no_link(other: Candidate) -> None:
    assert find([other]) is None


def test_per_category_window_overrides() -> None:
    # flooding: 500 m / 24 h in the shipped catalogue
    flood = "Đường ngập sâu sau mưa"
    assert find([cand("F", "flooding", dlat=0.004, text=flood)], "flooding", flood) == "F"
    assert find([cand("F", "flooding", hours=30, text=flood)], "flooding", flood) is None


def test_without_location_or_category_nothing_is_linked() -> None:
    assert find([cand("A")], code="no-such") is None
    assert (
        find_case(
            service_code=None,
            lat=20.85,
            lon=106.68,
            received_at=NOW,
            description="x",
            candidates=[cand("A")],
            catalogue=CAT,
        )
        is None
    )
