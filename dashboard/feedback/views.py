"""Public views of reports (no contact, no internal notes): Open311 and the status page.

A duplicate shows its case's status, department and answers: every citizen who reported the
same problem sees the shared progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ioc.feedback.catalogue import FeedbackCatalogue
from ioc.storage import feedback as store

CLOSED = frozenset({"resolved", "rejected"})


def media_url(base_url: str, sha256: str) -> str:
    return f"{base_url.rstrip('/')}/feedback/media/{sha256}"


async def public_requests(
    conn: psycopg.AsyncConnection[Any],
    rows: Sequence[dict[str, Any]],
    base_url: str,
    catalogue: FeedbackCatalogue,
) -> list[dict[str, Any]]:
    """Open311 ``service_request`` objects for ``rows`` (newest first, as given)."""
    case_ids = sorted({r["case_id"] for r in rows if r["case_id"]})
    cases = {
        c["report_id"]: c
        for c in await store.list_reports(conn, store.ReportFilter(report_ids=tuple(case_ids)))
    } if case_ids else {}  # fmt: skip
    ids = [r["report_id"] for r in rows]
    notes = await store.last_notes(conn, [*ids, *case_ids])
    media = await store.media_of(conn, ids)
    out = []
    for r in rows:
        eff = cases.get(r["case_id"], r) if r["case_id"] else r
        code = eff["service_code"] or r["requested_code"]
        cat = catalogue.categories.get(code) if code else None
        dept = catalogue.departments.get(eff["department"]) if eff["department"] else None
        photos = media.get(r["report_id"], [])
        out.append(
            {
                "service_request_id": r["report_id"],
                "status": "closed" if eff["status"] in CLOSED else "open",
                "status_notes": notes.get(eff["report_id"]) or None,
                "service_name": cat.names.vi if cat else None,
                "service_code": code,
                "description": r["description"],
                "agency_responsible": dept.names.vi if dept else None,
                "service_notice": None,
                "requested_datetime": r["received_at"].isoformat(),
                "updated_datetime": max(r["updated_at"], eff["updated_at"]).isoformat(),
                "expected_datetime": eff["resolve_due"].isoformat() if eff["resolve_due"] else None,
                "address": r["address"] or None,
                "address_id": None,
                "zipcode": None,
                "lat": r["lat"],
                "long": r["lon"],
                "media_url": media_url(base_url, photos[0]["sha256"]) if photos else None,
                # Extensions (Open311 allows extra fields): the detailed workflow state.
                "detailed_status": eff["status"],
                "case_id": r["case_id"],
            }
        )
    return out


async def status_view(
    conn: psycopg.AsyncConnection[Any],
    report_id: str,
    base_url: str,
    catalogue: FeedbackCatalogue,
) -> dict[str, Any] | None:
    """The citizen's status page: the request, its (case's) public timeline and photos."""
    row = await store.get_report(conn, report_id)
    if row is None:
        return None
    (request,) = await public_requests(conn, [row], base_url, catalogue)
    case = row["case_id"] or row["report_id"]
    events = await store.timeline(conn, row["report_id"], public_only=True)
    if case != row["report_id"]:
        events += [e for e in await store.timeline(conn, case, public_only=True) if e["seq"] > 0]
        events.sort(key=lambda e: e["at"])
    photos = await store.media_of(conn, list(dict.fromkeys([row["report_id"], case])))
    timeline = [
        {
            "at": e["at"].isoformat(),
            "kind": e["kind"],
            "status": e["new_status"],
            "note": e["note"],
            "by": "citizen"
            if e["actor"] == "citizen"
            else ("system" if e["actor"] in ("system", "classifier") else "staff"),
        }
        for e in events
    ]
    return {
        **request,
        "timeline": timeline,
        "photos": [
            {"url": media_url(base_url, m["sha256"]), "role": m["role"]}
            for ms in photos.values()
            for m in ms
        ],
    }
