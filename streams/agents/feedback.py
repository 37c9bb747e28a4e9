"""Agent ``feedback``: citizen reports from Kafka into PostgreSQL, classified and routed.

Each message of ``<prefix>.feedback.reports`` (:class:`ioc.feedback.intake.ReportMessage`)
is validated; then, in one transaction per report: the classifier's guess (or the citizen's
category) goes through the pure lifecycle (routed to a department, or to triage when
unsure), a matching open report of the same category nearby makes it a duplicate of that
case (:mod:`ioc.feedback.duplicates`), the nearest cameras and latest nearby sensor readings
are attached, and everything is inserted with ``ON CONFLICT (report_id) DO NOTHING``. A
message delivered twice stores one report; an unusable one goes to ``dead_letters`` with
its reason. Messages are acked only after their transaction committed.

The classifier is loaded from ``IOC_FEEDBACK_MODEL_PATH`` or trained when the worker starts
from the catalogue plus every operator's reassignment (``feedback_labels``): retraining
uses the manual labels. Contact details are never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

import faust
import psycopg
from pydantic import ValidationError

from ioc.feedback.catalogue import FeedbackCatalogue, load_feedback_catalogue
from ioc.feedback.duplicates import find_case, window
from ioc.feedback.intake import ReportMessage
from ioc.feedback.lifecycle import Policy
from ioc.feedback.routing import first_route
from ioc.storage import feedback as store
from streams.runtime import Runtime
from streams.schema import bytes_topic

if TYPE_CHECKING:
    from ioc.feedback.classifier import TextClassifier

logger = logging.getLogger(__name__)

TOPIC: Final = "feedback.reports"
_DEAD = (
    "INSERT INTO dead_letters (source, reason, detail, payload, dedup_key) "
    "VALUES ('feedback', 'invalid_feedback', %s, %s, %s) ON CONFLICT (dedup_key) DO NOTHING"
)


def parse_report(raw: bytes) -> ReportMessage:
    """Validate one message; ``ValueError`` says why it is unusable (never echoes values)."""
    try:
        return ReportMessage.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(".".join(str(p) for p in first["loc"]) + f": {first['msg']}") from None


def judge(batch: Sequence[bytes | None]) -> tuple[list[ReportMessage], list[tuple[bytes, str]]]:
    """Split raw messages into valid reports and (payload, reason) dead letters; pure."""
    good: list[ReportMessage] = []
    bad: list[tuple[bytes, str]] = []
    for raw in batch:
        try:
            good.append(parse_report(raw or b""))
        except ValueError as exc:
            logger.warning("feedback: unusable message (%s)", exc)
            bad.append((raw or b"", str(exc)))
    return good, bad


class FeedbackRuntime:
    """The agent's own state: catalogue, lifecycle policy and the (lazily built) classifier."""

    def __init__(self, rt: Runtime, catalogue: FeedbackCatalogue | None = None) -> None:
        self.rt = rt
        self.catalogue = catalogue or load_feedback_catalogue()
        self.policy = Policy.from_catalogue(self.catalogue)
        self.model: TextClassifier | None = None
        self._lock = asyncio.Lock()

    async def classifier(self) -> TextClassifier:
        async with self._lock:
            if self.model is None:
                self.model = await self._build()
            return self.model

    async def _build(self) -> TextClassifier:
        from ioc.feedback.classifier import TextClassifier, catalogue_model

        path = self.rt.settings.feedback_model_path
        if path is not None:
            return await asyncio.to_thread(TextClassifier.load, path)

        async def labels(conn: psycopg.AsyncConnection[Any]) -> list[tuple[str, str]]:
            rows = await store.training_labels(conn)
            await conn.rollback()
            return [(t, c) for t, c in rows if c in self.catalogue.categories]

        pairs = await self.rt.with_db("feedback labels", labels)
        model = await asyncio.to_thread(
            catalogue_model, self.catalogue, [t for t, _ in pairs], [c for _, c in pairs]
        )
        logger.info(
            "feedback classifier %s trained (%d operator labels)",
            model.metadata.get("model_version"),
            len(pairs),
        )
        return model


async def store_one(
    conn: psycopg.AsyncConnection[Any],
    fb: FeedbackRuntime,
    msg: ReportMessage,
    predicted: tuple[str, float] | None,
    model_version: str | None,
) -> bool:
    """Route, link, enrich and insert one report in one transaction; False if not new."""
    state, effects = first_route(msg, predicted, fb.policy)
    async with conn.transaction():
        if await store.get_report(conn, msg.report_id) is not None:
            return False
        case_id: str | None = None
        context: dict[str, Any] = {}
        if msg.lat is not None and msg.lon is not None:
            if state.category is not None:
                radius, span = window(fb.catalogue, state.category)
                since: datetime = msg.received_at - span
                candidates = await store.open_candidates(
                    conn, state.category, msg.lat, msg.lon, since, radius
                )
                case_id = find_case(
                    service_code=state.category,
                    lat=msg.lat,
                    lon=msg.lon,
                    received_at=msg.received_at,
                    description=msg.description,
                    candidates=[c for c in candidates if c.report_id != msg.report_id],
                    catalogue=fb.catalogue,
                )
            context = await store.nearby_context(conn, msg.lat, msg.lon, msg.received_at)
        guess = store.Classification(
            predicted[0] if predicted else None, predicted[1] if predicted else None, model_version
        )
        return await store.store_report(
            conn, msg, state, effects, guess, case_id=case_id, context=context
        )


async def dead_letter(conn: psycopg.AsyncConnection[Any], bad: Iterable[tuple[bytes, str]]) -> None:
    async with conn.transaction():
        await conn.cursor().executemany(
            _DEAD,
            [
                (reason, raw.decode("utf-8", errors="replace"), hashlib.sha256(raw).hexdigest())
                for raw, reason in bad
            ],
        )


async def process(fb: FeedbackRuntime, values: Sequence[bytes | None]) -> int:
    """Validate, classify and store one batch; returns how many reports were new."""
    rt = fb.rt
    good, bad = judge(values)
    if bad:
        await rt.with_db("feedback dead letters", lambda conn: dead_letter(conn, bad))
    new = 0
    if good:
        model = await fb.classifier()
        version = str(model.metadata.get("model_version") or "") or None
        for msg in good:
            p = model.predict(msg.description)
            predicted = (p.category, p.confidence)

            async def write(
                conn: psycopg.AsyncConnection[Any],
                m: ReportMessage = msg,
                guess: tuple[str, float] = predicted,
            ) -> bool:
                return await store_one(conn, fb, m, guess, version)

            if await rt.with_db("store feedback", write):
                new += 1
                logger.info("feedback: stored report %s", msg.report_id)
    rt.counters.messages += len(values)
    rt.counters.dead_letters += len(bad)
    return new


def register(app: faust.App, rt: Runtime) -> None:
    """Declare the ``feedback`` agent on ``app`` (acks only after the rows are durable)."""
    fb = FeedbackRuntime(rt)
    topic = bytes_topic(app, rt.settings.topic(TOPIC), partitions=rt.settings.topic_partitions)

    @app.agent(topic, name="feedback")
    async def feedback(stream: faust.StreamT[Any]) -> None:
        await rt.started()
        source = cast("faust.Stream[bytes]", stream)
        async for buffered in source.noack_take(50, within=rt.settings.sink_batch_within_s):
            events = cast(Sequence[faust.EventT[Any]], buffered)
            await process(fb, [e.message.value for e in events])
            for event in events:
                await source.ack(event)
