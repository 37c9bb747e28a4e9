"""Websocket fan-out with back-pressure: a slow client never stalls the others.

Each client has a bounded queue and its own sender task. :meth:`Hub.broadcast` never awaits
a socket: it starts a send that can finish at once (see below) or enqueues (``put_nowait``). A client whose queue is full is
*resynced*: its queue is cleared and replaced by one marker, on which its sender sends a fresh
snapshot instead of the stale backlog (snapshots are built from the database, where every
message's data already is). A client that overflows again and again within
``resync_window_s`` is dropped (closed with 1013 "try again later"); its page reconnects and
starts from a fresh snapshot.

With ``encode_frame`` (the dashboard passes ``dashboard.ws_protocol.text_frame``) and a client
that was given a ``write_frame`` (the server's socket writer), the wire frame of a message is
built once per broadcast and written straight to every idle client's socket; a socket that
refuses (closing, or its buffer over the high-water mark) gets the message queued instead.
Without them, an idle client (nothing queued, nothing being sent) gets a message *eagerly*: the send
coroutine is started inside ``broadcast`` and, when the socket is writable, finishes there
without waking the client's task (half the cost per client at low rates; a send that has
to wait is finished by a small task, and the order of messages is kept). When the rate of a
channel is high (messages closer than ``tick_s``), its messages are collected for one tick
and go out as one ``batch`` frame built once for all subscribers. And when a client still
falls behind, its sender finds several messages waiting; it then sends them as one
frame, ``{"type": "batch", "items": [...]}`` (built by joining the JSON texts, no re-encoding),
so the per-frame cost is paid once per tick instead of once per message. Subscribers are
indexed by channel, so a broadcast touches only the clients of that channel.

Transport-agnostic: a client is given ``send``/``close`` coroutines and a ``snapshot``
builder, so the same code serves Starlette websockets and the unit tests.

Example::

    hub = Hub(queue_size=256)
    client = hub.add("lan", send=ws.send_text, close=close_ws, snapshot=build_snapshot)
    hub.subscribe(client, {"sensors"})     # queues a snapshot for the new channel set
    hub.broadcast("sensors", message_text) # → number of clients it was queued for
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

logger = logging.getLogger(__name__)

SendFn = Callable[[str], Coroutine[Any, Any, None]]
FrameWriter = Callable[[bytes], bool]
FrameEncoder = Callable[[str], bytes]
CloseFn = Callable[[int, str], Awaitable[None]]
SnapshotFn = Callable[[frozenset[str]], Awaitable[str]]


class _Resync:
    """Queue marker: send a fresh snapshot here."""


RESYNC: Final = _Resync()
CLOSE_TOO_SLOW: Final = 1013
CLOSE_SERVER_ERROR: Final = 1011


class Client:
    def __init__(
        self,
        name: str,
        send: SendFn,
        close: CloseFn,
        snapshot: SnapshotFn,
        queue_size: int,
        batch_after: int = 4,
        max_batch: int = 256,
        write_frame: FrameWriter | None = None,
    ) -> None:
        self.name = name
        self.write_frame = write_frame
        self.frames_written = 0
        self.batch_after = batch_after
        self.max_batch = max_batch
        self.batches = 0
        self.channels: frozenset[str] = frozenset()
        self.queue: asyncio.Queue[str | _Resync] = asyncio.Queue(maxsize=queue_size)
        self.resyncs: deque[float] = deque()
        self.dropped = False
        self.sent = 0
        self._send = send
        self._close = close
        self._snapshot = snapshot
        self.task: asyncio.Task[None] | None = None
        self.busy = False  # the sender holds an item (snapshot being built or sent)
        self.eager_sent = 0
        self._inflight: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing being sent: a message may go out right now, in order."""
        return not (
            self.busy or self._inflight is not None or not self.queue.empty() or self.dropped
        )

    def try_write_frame(self, frame: bytes) -> bool:
        """Fast path: write the shared, pre-built frame straight to this idle client's socket.

        ``False`` when the client has no frame writer, is not idle, or its socket refused
        (closing, or its buffer is full: a slow reader); the caller then queues the text.
        """
        if self.write_frame is None or not self.idle:
            return False
        try:
            written = self.write_frame(frame)
        except Exception as exc:  # a broken transport: the receive loop removes the client
            logger.debug("frame write to %s failed: %s", self.name, exc)
            return False
        if written:
            self.sent += 1
            self.frames_written += 1
        return written

    def try_send_now(self, text: str) -> bool:
        """Eager path of an idle client: start ``send`` right here; most sends finish without
        suspending (the socket is writable), which saves the wake-up of the sender task.

        If the send does suspend, a small task finishes it and the sender waits for that
        task before its next item, so the order of messages is kept. ``False``: not idle,
        the caller queues the message instead.
        """
        if not self.idle:
            return False
        coro = self._send(text)
        try:
            yielded = coro.send(None)
        except StopIteration:
            self.sent += 1
            self.eager_sent += 1
            return True
        except Exception as exc:  # a closed socket: the receive loop will remove the client
            logger.debug("eager send to %s failed: %s", self.name, exc)
            return True
        self._inflight = asyncio.get_running_loop().create_task(self._finish(coro, yielded))
        return True

    async def _finish(self, coro: Coroutine[Any, Any, None], yielded: Any) -> None:
        """Drive a send coroutine that suspended in :meth:`try_send_now` to its end: wait for
        the future it yielded (``asyncio.wait``, which does not re-await it), then resume."""
        try:
            while True:
                if isinstance(yielded, asyncio.Future):
                    await asyncio.wait({yielded})
                else:  # a bare yield (asyncio.sleep(0))
                    await asyncio.sleep(0)
                yielded = coro.send(None)
        except StopIteration:
            self.sent += 1
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception as exc:  # a closed socket: the receive loop removes the client
            logger.debug("send to %s failed: %s", self.name, exc)
        finally:
            self._inflight = None

    def request_snapshot(self) -> None:
        """Replace whatever is queued by one snapshot marker (it supersedes the backlog)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(RESYNC)

    def _drain(self, first: str) -> str | _Resync:
        """Everything waiting, as one ``batch`` frame (a waiting resync supersedes it all)."""
        texts = [first]
        while len(texts) < self.max_batch and not self.queue.empty():
            nxt = self.queue.get_nowait()
            if isinstance(nxt, _Resync):  # always first in the queue: the backlog is stale
                return nxt
            texts.append(nxt)
        self.batches += 1
        return '{"type":"batch","items":[' + ",".join(texts) + "]}"

    async def run(self) -> None:
        """The sender: the only coroutine that writes to this client's socket."""
        try:
            while True:
                self.busy = False
                item = await self.queue.get()
                self.busy = True
                if self._inflight is not None:  # an eager send still finishing: keep order
                    await asyncio.wait({self._inflight})
                if not isinstance(item, _Resync) and self.queue.qsize() >= self.batch_after - 1:
                    item = self._drain(item)
                if isinstance(item, _Resync):
                    try:
                        item = await self._snapshot(self.channels)
                    except Exception:
                        logger.warning(
                            "snapshot for %s failed; closing it so it reconnects",
                            self.name,
                            exc_info=True,
                        )
                        await self._close(CLOSE_SERVER_ERROR, "snapshot unavailable")
                        return
                await self._send(item)
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a closed socket ends this client only
            logger.debug("sender of %s stopped: %s", self.name, exc)


class Hub:
    def __init__(
        self,
        queue_size: int,
        max_resyncs: int = 3,
        resync_window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        batch_after: int = 4,
        eager: bool = True,
        tick_s: float = 0.0,
        encode_frame: FrameEncoder | None = None,
    ) -> None:
        self.queue_size = queue_size
        self.encode_frame = encode_frame
        self.eager = eager
        self.tick_s = tick_s
        self.ticks_batched = 0
        self._last_at: dict[str, float] = {}
        self._pending: dict[str, list[str]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self.max_resyncs = max_resyncs
        self.resync_window_s = resync_window_s
        self._clock = clock
        self.batch_after = batch_after
        self.clients: set[Client] = set()
        self._by_channel: dict[str, set[Client]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def add(
        self,
        name: str,
        send: SendFn,
        close: CloseFn,
        snapshot: SnapshotFn,
        write_frame: FrameWriter | None = None,
    ) -> Client:
        """Register a client; ``write_frame`` (optional) takes frames built by the hub's
        ``encode_frame`` and writes them at once (see :meth:`Client.try_write_frame`)."""
        client = Client(
            name,
            send,
            close,
            snapshot,
            self.queue_size,
            self.batch_after,
            write_frame=write_frame if self.encode_frame is not None else None,
        )
        client.task = asyncio.create_task(client.run(), name=f"ws-sender-{name}")
        self.clients.add(client)
        return client

    def _forget(self, client: Client) -> None:
        self.clients.discard(client)
        for channel in client.channels:
            members = self._by_channel.get(channel)
            if members is not None:
                members.discard(client)
                if not members:
                    del self._by_channel[channel]

    async def remove(self, client: Client) -> None:
        self._forget(client)
        if client._inflight is not None:
            client._inflight.cancel()
        if client.task is not None and not client.task.done():
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.task

    def subscribe(self, client: Client, channels: frozenset[str]) -> None:
        """Set the client's channels and queue a snapshot of them (also used for resync)."""
        if client in self.clients:
            for gone in client.channels - channels:
                self._by_channel.get(gone, set()).discard(client)
            for new in channels - client.channels:
                self._by_channel.setdefault(new, set()).add(client)
        client.channels = channels
        client.request_snapshot()

    def subscribers(self, channel: str) -> int:
        return len(self._by_channel.get(channel, ()))

    def broadcast(self, channel: str, text: str) -> int:
        """Send or queue ``text`` for every subscriber of ``channel``; never blocks.

        Returns the number of clients it was sent to or queued for. With ``tick_s`` > 0, a
        message that comes within ``tick_s`` of the end of the channel's previous delivery
        (the rate is high, or delivering takes long: 10,000 clients) opens a tick:
        it and every further message of that channel are sent together, as one ``batch``
        frame built once for all subscribers, when the tick ends (at most ``tick_s`` later).
        """
        members = self._by_channel.get(channel)
        if not members:
            return 0
        if self.tick_s > 0:
            pending = self._pending.get(channel)
            if pending is not None:
                pending.append(text)
                return len(members)
            last = self._last_at.get(channel)
            if last is not None and self._clock() - last < self.tick_s:
                self._pending[channel] = [text]
                if self._flush_handle is None:
                    loop = asyncio.get_running_loop()
                    self._flush_handle = loop.call_later(self.tick_s, self._flush)
                return len(members)
        delivered = self._deliver(members, text)
        self._last_at[channel] = self._clock()  # measured from the end of the delivery
        return delivered

    def _flush(self) -> None:
        """End of a tick: one frame per channel with everything that arrived during it."""
        self._flush_handle = None
        pending, self._pending = self._pending, {}
        for channel, texts in pending.items():
            members = self._by_channel.get(channel)
            if not members:
                continue
            if len(texts) == 1:
                self._deliver(members, texts[0])
            else:
                self.ticks_batched += 1
                self._deliver(members, '{"type":"batch","items":[' + ",".join(texts) + "]}")
            self._last_at[channel] = self._clock()

    def _deliver(self, members: set[Client], text: str) -> int:
        queued = 0
        frame: bytes | None = None
        for client in list(members):
            if client.dropped:
                continue
            if client.write_frame is not None and self.encode_frame is not None:
                if frame is None:
                    frame = self.encode_frame(text)  # once for every subscriber
                if client.try_write_frame(frame):
                    queued += 1
                    continue
            elif self.eager and client.try_send_now(text):
                queued += 1
                continue
            try:
                client.queue.put_nowait(text)
                queued += 1
            except asyncio.QueueFull:
                self._overflow(client)
        return queued

    def _overflow(self, client: Client) -> None:
        now = self._clock()
        while client.resyncs and now - client.resyncs[0] > self.resync_window_s:
            client.resyncs.popleft()
        if len(client.resyncs) >= self.max_resyncs:
            self._drop(client)
            return
        client.resyncs.append(now)
        logger.info("websocket client %s fell behind; resyncing", client.name)
        client.request_snapshot()

    def _drop(self, client: Client) -> None:
        logger.warning("websocket client %s dropped: too slow", client.name)
        client.dropped = True
        self._forget(client)
        if client.task is not None:
            client.task.cancel()
        task = asyncio.create_task(self._close_quietly(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_quietly(client: Client) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client._close(CLOSE_TOO_SLOW, "too slow; reconnect"), 5.0)

    async def close_all(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for client in list(self.clients):
            await self.remove(client)
        for task in list(self._closing):
            with contextlib.suppress(Exception):
                await task
