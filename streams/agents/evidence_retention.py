"""The ``evidence_retention`` timer: purge violation evidence past its retention period.

Every ``review_purge_interval_s`` each worker runs :func:`ioc.storage.evidence_purge.purge_expired`
(unconfirmed cases after ``review_unconfirmed_days``, confirmed ones after
``review_confirmed_days``, at least the one-year limitation period); each purge is audited.
Several workers doing it at once is harmless: a case is claimed once. ``ioc review purge``
does the same by hand (with ``--dry-run``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from ioc.storage.evidence_purge import purge_expired
from streams.runtime import Runtime

logger = logging.getLogger(__name__)


def register(app: faust.App, rt: Runtime) -> None:
    async def evidence_retention() -> None:
        if not rt.is_started:
            return
        now = datetime.now(UTC)
        done = await rt.with_db(
            "evidence retention", lambda conn: purge_expired(conn, rt.settings, now)
        )
        if done:
            logger.info("evidence retention purged %d case(s)", len(done))

    app.timer(rt.settings.review_purge_interval_s, name="evidence_retention")(evidence_retention)
