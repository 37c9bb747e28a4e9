"""The ``evidence_retention`` stream timer purges on its own: a real worker, real evidence.

The cases carry the evidence time of :mod:`review.cases` (2026-01-01), so with the default
periods a pending case is long past ``review_unconfirmed_days`` (90) while a confirmed one is
within ``review_confirmed_days`` (400). ``ioc review purge`` (the same code by hand) is tested
in ``test_review_api.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fixtures.dashboard import Dashboard
from fixtures.streams import wait_for
from review.cases import real_case

from streams.agents.violations import ViolationIn, store_violations

pytestmark = pytest.mark.integration


def _store(url: str, messages: list[dict[str, Any]]) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await store_violations(conn, [ViolationIn.model_validate(m) for m in messages])

    asyncio.run(go())


def test_the_worker_purges_due_evidence_and_keeps_confirmed(
    dashboard: Dashboard, worker_factory: Callable[..., Any]
) -> None:
    settings = dashboard.settings
    root = settings.home / "evidence"
    pending = real_case(root, "cam-ret", 11, "red_light", "car", "303")
    confirmed = real_case(root, "cam-ret", 12, "red_light", "car", "303")
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    _store(url, [pending, confirmed])
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE violations SET status = 'confirmed' WHERE event_id = %s",
            (confirmed["event_id"],),
        )
    pending_file = root / pending["evidence"]["files"][0]["path"]
    kept_file = root / confirmed["evidence"]["files"][0]["path"]
    assert pending_file.exists() and kept_file.exists()
    assert (datetime.now(UTC) - datetime(2026, 1, 1, tzinfo=UTC)).days > 90  # due by default

    worker_factory(settings=settings, review_purge_interval_s=1.0)

    def purged() -> bool:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT evidence_purged_at IS NOT NULL FROM violations WHERE event_id = %s",
                (pending["event_id"],),
            ).fetchone()
        return bool(row and row[0])

    wait_for(purged, "the timer purged the pending case", deadline_s=120)
    assert not pending_file.exists()
    assert kept_file.exists()
    with psycopg.connect(url) as conn:
        audit = conn.execute(
            "SELECT actor, event_id::text, detail->>'reason' FROM audit_log WHERE action = 'purge'"
        ).fetchall()
    assert audit == [("retention", str(pending["event_id"]), "unconfirmed_retention")]
    assert Path(kept_file).stat().st_size > 0
