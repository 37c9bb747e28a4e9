"""The ingest agent's bulk take (streams.bulk) and the consumer's eager delivery
(streams.transport.deliver), on real Faust objects (no broker needed: nothing connects)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from mode import Service

from streams.agents.ingest import TakeLimit
from streams.bulk import ack_events, take_events
from streams.transport import deliver

TOPIC = "bulk-raw"


@pytest.fixture
def app() -> faust.App:
    app = faust.App("test-bulk", broker="kafka://127.0.0.1:1", store="memory://")
    app.flow_control.resume()
    return app


def event(app: faust.App, offset: int, generation: int | None = None) -> faust.EventT[Any]:
    message = ConsumerMessage(
        TOPIC,
        0,
        offset,
        0.0,
        0,
        [],
        None,
        b"{}",
        None,
        tp=TP(TOPIC, 0),
        generation_id=app.consumer_generation_id if generation is None else generation,
    )
    message.refcount += 1  # one channel, as the conductor counts it
    return faust.Event(app, None, b"{}", [], message)


def stream_of(app: faust.App) -> faust.StreamT[Any]:
    return app.stream(app.topic(TOPIC, value_type=bytes, value_serializer="raw"))


async def take_one(batches: AsyncIterator[list[faust.EventT[Any]]]) -> list[int]:
    events = await anext(batches)
    return [e.message.offset for e in events]


async def test_takes_what_is_there_in_lists_of_at_most_max(app: faust.App) -> None:
    stream = stream_of(app)
    for offset in range(7):
        stream.channel.queue.put_nowait(event(app, offset))  # type: ignore[attr-defined]
    batches = take_events(stream, 3, within=30.0)
    assert await take_one(batches) == [0, 1, 2]
    assert await take_one(batches) == [3, 4, 5]
    # fewer than max_: handed out when `within` has passed since the first one arrived
    short = take_events(stream, 1000, within=0.05)
    assert await take_one(short) == [6]


async def test_a_list_waits_for_more_events_within_the_window(app: faust.App) -> None:
    stream = stream_of(app)
    queue = stream.channel.queue  # type: ignore[attr-defined]
    batches = take_events(stream, 2, within=30.0)
    pending = asyncio.ensure_future(take_one(batches))
    queue.put_nowait(event(app, 0))
    while queue.qsize():  # the first event has been taken ...
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not pending.done()  # ... and the list waits for a second one
    queue.put_nowait(event(app, 1))
    assert await pending == [0, 1]


async def test_events_from_before_a_rebalance_are_skipped_unacked(app: faust.App) -> None:
    stream = stream_of(app)
    queue = stream.channel.queue  # type: ignore[attr-defined]
    stale = event(app, 0, generation=app.consumer_generation_id + 1)
    queue.put_nowait(stale)
    queue.put_nowait(event(app, 1))
    assert await take_one(take_events(stream, 10, within=0.01)) == [1]
    assert not stale.message.tracked and not stale.message.acked


async def test_nothing_is_taken_while_flow_control_is_stopped(app: faust.App) -> None:
    stream = stream_of(app)
    queue = stream.channel.queue  # type: ignore[attr-defined]
    app.flow_control.suspend()
    queue.put_nowait(event(app, 0))
    app.flow_control.resume()
    queue.put_nowait(event(app, 1))
    assert await take_one(take_events(stream, 10, within=0.01)) == [1]


async def test_taken_events_are_tracked_and_acked_only_by_ack_events(app: faust.App) -> None:
    stream = stream_of(app)
    queue = stream.channel.queue  # type: ignore[attr-defined]
    await cast(Any, app.topics)._update_indices()  # as subscribing does: the topic acks
    assert app.topics.acks_enabled_for(TOPIC)
    consumer: Any = app.consumer  # its private ack bookkeeping is what is checked
    tp = TP(TOPIC, 0)
    consumer._committed_offset[tp] = None
    for offset in range(3):
        queue.put_nowait(event(app, offset))
    events = await anext(take_events(stream, 10, within=0.01))
    assert all(e.message.tracked and not e.message.acked for e in events)
    assert {e.message for e in events} <= set(consumer.unacked)
    assert not consumer._acked[tp]
    ack_events(app, events)
    assert all(e.message.acked for e in events)
    assert sorted(consumer._acked[tp]) == [0, 1, 2]
    assert not set(consumer.unacked) & {e.message for e in events}
    ack_events(app, events)  # twice is harmless
    assert sorted(consumer._acked[tp]) == [0, 1, 2]


async def test_errors_thrown_into_the_channel_reach_the_taker(app: faust.App) -> None:
    stream = stream_of(app)
    await stream.channel.queue.throw(KeyError("boom"))  # type: ignore[attr-defined]
    with pytest.raises(KeyError):
        await anext(take_events(stream, 10, within=0.01))


# --- deliver ------------------------------------------------------------------------------


class Waiter(Service):
    """A real mode service, for its ``wait_first``; counts how often it is used."""

    calls = 0

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        self.calls += 1
        return await super().wait_first(*coros, timeout=timeout)


async def test_a_callback_that_finishes_at_once_needs_no_wait_first() -> None:
    done: list[int] = []

    async def callback() -> None:
        done.append(1)

    waiter = Waiter()
    await deliver(callback(), waiter.wait_first, asyncio.Event())
    assert done == [1] and waiter.calls == 0


async def test_a_callback_that_suspends_is_finished_through_wait_first() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    got: list[int] = []

    async def callback() -> None:
        got.append(await gate)
        await asyncio.sleep(0)
        got.append(2)

    waiter = Waiter()
    delivery = asyncio.ensure_future(deliver(callback(), waiter.wait_first, asyncio.Event()))
    while waiter.calls == 0:
        await asyncio.sleep(0)
    assert not delivery.done()
    gate.set_result(1)
    await delivery
    assert got == [1, 2] and waiter.calls == 1


async def test_suspending_the_flow_abandons_a_blocked_delivery() -> None:
    cancelled = asyncio.Event()

    async def callback() -> None:
        try:
            await asyncio.get_running_loop().create_future()  # never resolved
        except asyncio.CancelledError:
            cancelled.set()
            raise

    suspend = asyncio.Event()
    waiter = Waiter()
    delivery = asyncio.ensure_future(deliver(callback(), waiter.wait_first, suspend))
    while waiter.calls == 0:
        await asyncio.sleep(0)
    suspend.set()
    await delivery  # returns, as Faust's wait_first(callback, suspend_flow.wait()) does
    await cancelled.wait()


async def test_errors_of_the_callback_propagate_before_and_after_suspending() -> None:
    async def at_once() -> None:
        raise ValueError("early")

    async def later() -> None:
        await asyncio.sleep(0)
        raise ValueError("late")

    waiter = Waiter()
    with pytest.raises(ValueError, match="early"):
        await deliver(at_once(), waiter.wait_first, asyncio.Event())
    with pytest.raises(ValueError, match="late"):
        await deliver(later(), waiter.wait_first, asyncio.Event())


async def test_the_limit_may_change_from_one_list_to_the_next(app: faust.App) -> None:
    stream = stream_of(app)
    for offset in range(6):
        stream.channel.queue.put_nowait(event(app, offset))  # type: ignore[attr-defined]
    limits = iter([1, 3, 2])
    batches = take_events(stream, lambda: next(limits), within=30.0)
    assert [await take_one(batches) for _ in range(3)] == [[0], [1, 2, 3], [4, 5]]


def test_a_take_holds_about_the_batch_size_in_readings_whatever_the_message_size() -> None:
    take = TakeLimit(5000)
    assert take.messages() == 5000  # single readings until seen otherwise
    take.observe(40, 4000)  # messages of 100 readings
    assert take.messages() == 50
    take.observe(1, 100_000)  # one huge batch message: still at least one message per take
    assert take.messages() == 1
    take.observe(10, 0)  # empty messages (`[]`) count as one reading each
    assert take.messages() == 5000
