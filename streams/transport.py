"""Faust's aiokafka transport with a short fetch wait - the one place we reach into Faust.

Why: Faust 0.15 hard-codes ``fetch_max_wait_ms=1500`` for its consumer
(``AIOKafkaConsumerThread._create_worker_consumer``). Kafka brokers answer a fetch as soon as
``fetch_min_bytes`` (1) arrived, so the value rarely matters there - but the embedded broker
(Tansu) does not: it answers a fetch that found nothing only after the full wait, even when
records arrive meanwhile. Measured with aiokafka against Tansu: median produce→consume latency
385 ms at 1500 ms wait, 104 ms at 500 ms, 4 ms at 50 ms. With Faust's default every reading
would sit up to 1.5 s in the broker before the worker sees it.

The subclasses below only change that one number (:data:`FETCH_MAX_WAIT_MS`); everything else
is Faust's. The price of a short wait is an idle worker sending ~20 fetch requests per second
per broker connection, which costs next to nothing. ``faust-streaming`` is pinned in
``pyproject.toml``; re-check ``_create_worker_consumer`` when upgrading.

Second change, in :meth:`_Consumer._drain_messages` (a copy of Faust's loop, one line
different): Faust delivers *every* fetched message with ``await self.wait_first(callback(msg),
self.suspend_flow.wait())``, which creates four tasks and an ``asyncio.wait`` per message -
about 25 µs each here, a quarter of Faust's whole per-message cost with small messages. The
callback (the conductor: flow control, decode, put into the agents' queues) almost always
finishes without suspending, so it is now *started eagerly* (:func:`deliver`): when it
finishes at once nothing else happens; when it suspends (a full stream buffer, flow control
stopped for a rebalance) the already started coroutine is handed to the very same
``wait_first`` with ``suspend_flow``, so a rebalance still abandons a blocked delivery exactly
as before. Re-check ``Consumer._drain_messages`` when upgrading Faust.

Third change: the producer buffer's ``wait_until_ebb``, which the conductor awaits for every
consumed message, read ``app.conf.producer_threaded`` through Faust's settings object each time
(about 3 % of the worker's CPU with single-reading messages); :class:`_ProducerBuffer` checks
the same queue length directly. The worker never threads its producer; with
``producer_threaded`` on, Faust's own buffer is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Final, cast

import aiokafka
from faust.transport import consumer as base
from faust.transport.drivers import aiokafka as driver
from faust.transport.producer import ProducerBuffer
from faust.types import Message
from mode import Service, ServiceT

FETCH_MAX_WAIT_MS: Final = 50


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read once, by AIOKafkaConsumer.start(), when it builds its Fetcher.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class Resume:
    """Awaitable that drives an already started coroutine to its end.

    ``coro.send(None)`` returned ``pending`` (what the coroutine waits on, usually a future):
    awaiting this object hands ``pending`` to the awaiting task and then forwards every resume
    (``send``) and every exception thrown in (``throw``, e.g. a cancellation) to ``coro`` -
    what ``await coro`` would have done had the coroutine not been started yet.
    """

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, None, Any]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                yield pending
            except BaseException as exc:  # thrown in by the task: forward it
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(None)
                except StopIteration as stop:
                    return stop.value


async def deliver(
    coro: Awaitable[Any],
    wait_first: Callable[..., Awaitable[Any]],
    suspend: asyncio.Event,
) -> None:
    """Run ``coro`` eagerly; only if it suspends, ``await wait_first(rest, suspend.wait())``.

    The same outcome as Faust's ``await wait_first(coro, suspend.wait())``, without creating
    tasks when ``coro`` completes at once. Exceptions raised by ``coro`` propagate either way.
    An awaitable that is not a coroutine takes Faust's path unchanged.
    """
    if not isinstance(coro, Coroutine):
        await wait_first(coro, suspend.wait())
        return
    try:
        pending = coro.send(None)
    except StopIteration:
        return
    await wait_first(Resume(coro, pending), suspend.wait())


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover
        """Faust 0.15.3's ``Consumer._drain_messages``; only the delivery line differs."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = base.CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        wait_first = self.wait_first
        suspend_flow = self.suspend_flow

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    message: Message
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset:
                                if acks_enabled_for(message.topic):
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None:
                                if self._n_acked >= commit_every:
                                    self._n_acked = 0
                                    await self.commit()
                            # Faust: await self.wait_first(callback(message), suspend_flow.wait())
                            await deliver(callback(message), wait_first, suspend_flow)
                            set_read_offset(tp, offset)
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


class _ProducerBuffer(ProducerBuffer):
    async def wait_until_ebb(self) -> None:
        # Faust's ``size`` reads app.conf per call; unthreaded, it is this queue's length.
        if len(self.pending._queue) > self.max_messages:  # type: ignore[attr-defined]
            await super().wait_until_ebb()


class _Producer(driver.Producer):
    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        if not transport.app.conf.producer_threaded:
            buffer = _ProducerBuffer(loop=self.loop, beacon=self.beacon)
            buffer.app = self.app
            self.buffer = buffer


class Transport(driver.Transport):
    """The aiokafka transport, with :data:`FETCH_MAX_WAIT_MS` for the worker's consumer."""

    Consumer = _Consumer
    Producer = _Producer
