"""The replay loop: merge every feed in send order, batch what is due, hand it to a sink.

Feeds are read lazily and merged with :func:`heapq.merge` (each feed is already ordered),
so a replay of all data sets streams through ~770,000 readings without holding them (only
the one file that is not in time order is held, sorted).
Readings due within ``batch_window_s`` of each other travel in one batch (at most
``max_batch`` items); a replay that falls behind (slow sink) catches up with full batches
and keeps the scheduled event times.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ioc.replay.progress import Counters, Progress
from ioc.replay.schedule import Schedule, TimeMode
from ioc.replay.sinks import Item, Sink
from ioc.replay.sources import FeedReader, SensorFeed, SourceRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Due:
    """A reading with its place in the replay."""

    offset: float  # seconds after the start of the run
    event_time: datetime
    record: SourceRecord

    def item(self) -> Item:
        """The native observation sent to the centre."""
        r = self.record
        item: Item = {
            "sensor_id": r.sensor_id,
            "time": self.event_time.isoformat(),
            "quantity": r.quantity,
            "value": r.value,
            "unit": r.unit,
            "event_id": str(r.event_id),
        }
        if r.quality != "good":
            item["quality"] = r.quality
        return item


def open_feeds(feeds: Sequence[SensorFeed], data_dir: Path) -> list[FeedReader]:
    """Readers of the feeds that have any reading (an empty feed is logged and left out)."""
    readers = []
    for feed in feeds:
        reader = FeedReader(feed, data_dir)
        if reader.first() is None:
            logger.warning(
                "feed %s (%s) has no usable readings; skipped", feed.sensor_id, feed.source
            )
        else:
            readers.append(reader)
    return readers


def make_schedule(
    feeds: Sequence[FeedReader],
    mode: TimeMode,
    speed: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Schedule:
    """The schedule of these feeds, starting at ``clock()`` (read after any file pass)."""
    if mode == "compressed":
        origins = {f.feed.sensor_id: f.first() for f in feeds}
        return Schedule.compressed(clock(), speed, {k: v for k, v in origins.items() if v})
    newest = {f.feed.sensor_id: f.last() for f in feeds}
    start = clock()
    return Schedule.original_shifted(start, {k: v for k, v in newest.items() if v}, start)


def due_stream(feeds: Sequence[FeedReader], schedule: Schedule) -> Iterator[Due]:
    """All readings of all feeds, ordered by send offset then event time."""

    def one(feed: FeedReader) -> Iterator[Due]:
        key = feed.feed.sensor_id
        for rec in feed.records():
            yield Due(
                schedule.send_offset(key, rec.data_time),
                schedule.event_time(key, rec.data_time),
                rec,
            )

    return heapq.merge(*(one(f) for f in feeds), key=lambda d: (d.offset, d.event_time))


async def replay(
    stream: Iterator[Due],
    sink: Sink,
    progress: Progress,
    *,
    limit: int | None = None,
    batch_window_s: float = 0.25,
    max_batch: int = 5000,
    not_before: datetime | None = None,
    speed: float | None = None,
) -> Counters:
    """Send ``stream`` through ``sink`` on schedule; stop after ``limit`` readings.

    ``not_before``: readings whose event time is older are skipped (the centre would refuse
    them as ``too_old``). ``speed`` (compressed mode) lets progress show data time covered.
    """
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    counters = progress.counters
    pending = next(stream, None)
    while pending is not None and (limit is None or counters.sent < limit):
        now_off = loop.time() - t0
        if pending.offset > now_off:
            await asyncio.sleep(min(pending.offset - now_off, 0.5))
            progress.update()
            continue
        room = max_batch if limit is None else min(max_batch, limit - counters.sent)
        batch: list[Due] = []
        horizon = now_off + batch_window_s
        while pending is not None and pending.offset <= horizon and len(batch) < room:
            if not_before is not None and pending.event_time < not_before:
                counters.skipped += 1
            else:
                batch.append(pending)
            pending = next(stream, None)
        if not batch:
            continue
        outcome = await sink.send([d.item() for d in batch])
        last = batch[-1]
        counters.sent += outcome.sent
        counters.rejected += outcome.rejected
        counters.reasons.update(outcome.reasons)
        counters.batches += 1
        counters.data_time = last.record.data_time
        counters.event_time = last.event_time
        if speed is not None:
            counters.data_elapsed = timedelta(seconds=last.offset * speed)
        progress.update()
    return counters
