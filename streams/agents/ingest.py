"""The ``ingest`` agent: ``observations.raw`` → validation → TimescaleDB → ``observations`` +
live-page updates, with at-least-once delivery and an idempotent sink.

Offsets and acks (why ``noack_take`` and manual acks): Faust commits, per partition, the offset
after the highest run of *acked* messages (``Consumer._new_offset`` walks the acked offsets up
to the first gap) every ``broker_commit_interval`` and again on shutdown
(``Consumer.on_stop`` → ``commit_and_end_transactions``). ``Stream.take()`` acks its buffered
events in the ``finally:`` of its generator (faust/streams.py, ``take``: ``finally:
buffer.clear(); for event in events: await self.ack(event)``) - that block also runs when the
consuming loop is left by an exception or by cancellation on shutdown, i.e. while the batch's
transaction may have failed or never committed, and the shutdown commit would then move the
offset past rows that are not in the database. This agent takes its events in bulk with
:func:`streams.bulk.take_events` (``noack_take``'s contract - never acks, skips events fetched
before a rebalance - without Faust's per-event stream machinery, which cost more than the
validation and storage of a small reading) and acks each event itself
(:func:`streams.bulk.ack_events`) only after the batch's transaction committed *and* its
``observations``/dashboard messages were delivered. A crash or
``kill -9`` anywhere before that leaves the offsets behind, the messages are consumed again and
the sink's ``ON CONFLICT DO NOTHING`` makes the second pass add nothing. The app also runs with
``stream_wait_empty=False`` so a shutdown never waits on events that will not be acked.

Throughput: batch N+1 is validated while the database works on batch N (one batch of overlap);
storing, publishing and acking stay strictly sequential and in order.

Never lose a message: transient database failures are retried forever (the batch is not acked
meanwhile); a message that cannot be decoded, and every invalid item, becomes a dead letter.
Should the database refuse a batch for a non-transient reason (a bug, a constraint), the batch
is retried message by message and a message that still fails is dead-lettered whole with reason
``sink_error`` instead of blocking the partition forever.

Personal data is never logged: log lines carry counts and reason codes only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import faust
import psycopg

from ioc.storage.readings import SinkResult, write_batch
from streams import records
from streams.bulk import ack_events, take_events
from streams.judge import Judged, judge_message, sink_failure
from streams.runtime import Runtime
from streams.schema import bytes_topic

logger = logging.getLogger(__name__)


Part = list[tuple[Any, Judged]]  # (Kafka message, verdict) pairs stored in one transaction


def chunks(judged: Sequence[tuple[Any, Judged]], size: int) -> list[Part]:
    """Split messages into transactions of about ``size`` readings, at message boundaries."""
    out: list[list[tuple[Any, Judged]]] = []
    current: list[tuple[Any, Judged]] = []
    count = 0
    for pair in judged:
        current.append(pair)
        count += len(pair[1].observations) + len(pair[1].dead_letters)
        if count >= size:
            out.append(current)
            current, count = [], 0
    if current:
        out.append(current)
    return out


def items(part: Part) -> int:
    """Readings and dead letters of a part."""
    return sum(len(j.observations) + len(j.dead_letters) for _, j in part)


class TakeLimit:
    """Messages per take, so that a take holds about ``readings`` readings whatever the
    message size: 5,000 single-reading messages, or 50 messages of 100 readings - not 5,000
    of them (half a million readings validated before the first COPY starts, seconds of
    latency for everything behind them when the worker has a backlog)."""

    def __init__(self, readings: int) -> None:
        self.readings = readings
        self.per_message = 1.0  # readings per message, as last seen

    def messages(self) -> int:
        return max(1, round(self.readings / self.per_message))

    def observe(self, messages: int, readings: int) -> None:
        if messages:
            self.per_message = max(1.0, readings / messages)


async def _write(rt: Runtime, part: list[tuple[Any, Judged]]) -> SinkResult:
    obs = [o for _, j in part for o in j.observations]
    dead = [d for _, j in part for d in j.dead_letters]
    return await rt.with_db(
        "store batch", lambda conn: write_batch(conn, obs, dead, merge_rollups=rt.merge_rollups)
    )


async def _write_isolating(rt: Runtime, part: list[tuple[Any, Judged]]) -> list[SinkResult]:
    """Non-transient failure of a batch: store message by message, dead-letter the poison."""
    results = []
    for message, judged in part:
        try:
            results.append(await _write(rt, [(message, judged)]))
        except psycopg.Error as exc:
            logger.error(
                "database refused message %s:%s:%s (%s); dead-lettered",
                message.topic,
                message.partition,
                message.offset,
                type(exc).__name__,
            )
            letter = sink_failure(
                message.topic,
                message.partition,
                message.offset,
                message.value,
                message.headers,
                type(exc).__name__,
            )
            results.append(await _write(rt, [(message, Judged([], [letter]))]))
    return results


def _dashboard(rt: Runtime, result: SinkResult) -> list[tuple[str, int | None, bytes]]:
    out: list[tuple[str, int | None, bytes]] = []
    topic = rt.topics.dashboard
    if result.inserted:
        out.append((topic, None, records.readings_message(result.latest)))
    if result.area_windows:
        out.append((topic, None, records.rollups_message(result.area_windows)))
    if result.dead_letter_reasons:
        out.append((topic, None, records.deadletter_message(result.dead_letter_reasons)))
    return out


async def prepare(rt: Runtime, events: Sequence[faust.EventT[Any]]) -> list[Part]:
    """Validate a buffered batch (CPU only) and split it into transactions."""
    await rt.refresh_sensors()
    ctx = rt.validation_context()
    judged = [
        (m, judge_message(m.topic, m.partition, m.offset, m.value, m.headers, ctx))
        for m in (event.message for event in events)
    ]
    return chunks(judged, rt.settings.sink_batch_size)


async def store(rt: Runtime, parts: list[Part]) -> None:
    """Store and announce a prepared batch; returns only when it is durable and published."""
    began = time.monotonic()
    publishing = 0.0
    for part in parts:
        try:
            results = [await _write(rt, part)]
        except psycopg.Error as exc:
            logger.error(
                "database refused a batch of %d message(s) (%s); isolating",
                len(part),
                type(exc).__name__,
            )
            results = await _write_isolating(rt, part)
        valid = [o for _, j in part for o in j.observations]
        out: list[tuple[str, int | None, bytes]] = [
            (rt.topics.observations, p, v)
            for p, v in records.observations_messages(valid, rt.settings.topic_partitions)
        ]
        reasons: Counter[str] = Counter()
        for result in results:
            out += _dashboard(rt, result)
            rt.counters.inserted += len(result.inserted)
            reasons.update(result.dead_letter_reasons)
        sent = time.monotonic()
        await rt.publish(out)
        publishing += time.monotonic() - sent
        rt.counters.messages += len(part)
        rt.counters.readings += len(valid)
        rt.counters.dead_letters += sum(reasons.values())
        if reasons:
            logger.info("dead-lettered %s", dict(reasons))
    logger.debug(
        "stored %d message(s) in %d transaction(s) in %.3f s (%.3f s publishing)",
        sum(len(p) for p in parts),
        len(parts),
        time.monotonic() - began,
        publishing,
    )


def register(app: faust.App, rt: Runtime) -> None:
    """Declare the ingest agent on ``app``."""
    topic = bytes_topic(app, rt.topics.raw, partitions=rt.settings.topic_partitions)

    @app.agent(topic, name="ingest")
    async def ingest(stream: faust.StreamT[Any]) -> None:
        await rt.started()
        settings = rt.settings

        async def store_then_ack(parts: list[Part], events: list[faust.EventT[Any]]) -> None:
            await store(rt, parts)
            ack_events(app, events)  # only now may Faust commit past these offsets

        take = TakeLimit(settings.sink_batch_size)
        # take_events hands out *events* (not values) and never acks them: see the docstring.
        batches = take_events(stream, take.messages, settings.sink_batch_within_s)
        pending: asyncio.Future[None] | None = None
        try:
            async for events in batches:
                # Validate batch N+1 while the database works on batch N; batches are still
                # stored, published and acked strictly one after the other, in order.
                parts = await prepare(rt, events)
                take.observe(len(events), sum(items(p) for p in parts))
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(store_then_ack(parts, events))
        finally:
            if pending is not None and not pending.done():
                pending.cancel()  # not acked: consumed again after a restart
