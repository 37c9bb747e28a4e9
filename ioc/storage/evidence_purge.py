"""Evidence retention: remove the files of violation cases past their retention period.

The rule (which case is due) is pure: :func:`ioc.review.retention.purge_due`. This module is
the shell around it: candidates from the database, one audited claim per case
(:func:`ioc.storage.review.claim_purge`, which loses to a decision made meanwhile), then the
files. Files are deleted only after the claim has committed, so a crash in between leaves
files of a case marked purged (harmless; ``ioc audit verify`` reports them as purged), never
a case that points at deleted evidence without a record of why.

Run by ``ioc review purge`` and by the ``evidence_retention`` stream timer; several workers
running it at once is harmless (a case is claimed once).

Example::

    done = await purge_expired(conn, settings, datetime.now(UTC))
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg

from ioc.review.case import EvidenceRef
from ioc.review.retention import RetentionPolicy, purge_due
from ioc.settings import Settings
from ioc.storage import review as store

SYSTEM: Final = store.Caller("retention", "system")


def remove_files(root: Path, evidence: tuple[EvidenceRef, ...]) -> None:
    """Delete a case's evidence files under ``root`` and the folders left empty."""
    folders = set()
    for ref in evidence:
        try:
            path = store.evidence_path(root, ref)
        except store.EvidenceMissing:
            continue
        folders.add(path.parent)
        path.unlink()
    for folder in folders:
        if not any(folder.iterdir()):
            folder.rmdir()


async def purge_expired(
    conn: psycopg.AsyncConnection[Any], settings: Settings, now: datetime, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Purge (or with ``dry_run`` only list) every case due at ``now``; returns
    ``[{"event_id", "status"}]`` of the cases purged (or due)."""
    policy = RetentionPolicy(settings.review_unconfirmed_days, settings.review_confirmed_days)
    root = store.evidence_root(settings)
    before = now - timedelta(days=min(policy.unconfirmed_days, policy.confirmed_days))
    async with conn.transaction():  # ends the read, so each claim below commits on its own
        candidates = await store.purge_candidates(conn, before)
    done: list[dict[str, Any]] = []
    for row in candidates:
        if not purge_due(row.status, row.time, row.decided_at, now, policy):
            continue
        if dry_run:
            done.append({"event_id": row.event_id, "status": row.status})
            continue
        unconfirmed = row.status in ("pending", "rejected")
        reason = "unconfirmed_retention" if unconfirmed else "confirmed_retention"
        if await store.claim_purge(conn, SYSTEM, row, reason):
            await asyncio.to_thread(remove_files, root, row.evidence)
            done.append({"event_id": row.event_id, "status": row.status})
    return done
