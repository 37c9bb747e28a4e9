"""Websocket fan-out with back-pressure: a slow client never stalls the others.

Each client has a bounded queue and its own sender task. :meth:`Hub.broadcast` only
enqueues (``put_nowait``), so it never awaits a socket. A client whose queue is full is
*resynced*: its queue is cleared and replaced by one marker, on which its sender sends a fresh
snapshot instead of the stale backlog (snapshots are built from the database, where every
message's data already is). A client that overflows again and again within
``resync_window_s`` is dropped (closed with 1013 "try again later"); its page reconnects and
starts from a fresh snapshot.

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
from collections.abc import Awaitable, Callable
from typing import Final

logger = logging.getLogger(__name__)

SendFn = Callable[[str], Awaitable[None]]
CloseFn = Callable[[int, str], Awaitable[None]]
SnapshotFn = Callable[[frozenset[str]], Awaitable[str]]


class _Resync:
    """Queue marker: send a fresh snapshot here."""


RESYNC: Final = _Resync()
CLOSE_TOO_SLOW: Final = 1013
CLOSE_SERVER_ERROR: Final = 1011


class Client:
    def __init__(
        self, name: str, send: SendFn, close: CloseFn, snapshot: SnapshotFn, queue_size: int
    ) -> None:
        self.name = name
        self.channels: frozenset[str] = frozenset()
        self.queue: asyncio.Queue[str | _Resync] = asyncio.Queue(maxsize=queue_size)
        self.resyncs: deque[float] = deque()
        self.dropped = False
        self.sent = 0
        self._send = send
        self._close = close
        self._snapshot = snapshot
        self.task: asyncio.Task[None] | None = None

    def request_snapshot(self) -> None:
        """Replace whatever is queued by one snapshot marker (it supersedes the backlog)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(RESYNC)

    async def run(self) -> None:
        """The sender: the only coroutine that writes to this client's socket."""
        try:
            while True:
                item = await self.queue.get()
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
    ) -> None:
        self.queue_size = queue_size
        self.max_resyncs = max_resyncs
        self.resync_window_s = resync_window_s
        self._clock = clock
        self.clients: set[Client] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def add(self, name: str, send: SendFn, close: CloseFn, snapshot: SnapshotFn) -> Client:
        client = Client(name, send, close, snapshot, self.queue_size)
        client.task = asyncio.create_task(client.run(), name=f"ws-sender-{name}")
        self.clients.add(client)
        return client

    async def remove(self, client: Client) -> None:
        self.clients.discard(client)
        if client.task is not None and not client.task.done():
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.task

    def subscribe(self, client: Client, channels: frozenset[str]) -> None:
        """Set the client's channels and queue a snapshot of them (also used for resync)."""
        client.channels = channels
        client.request_snapshot()

    def broadcast(self, channel: str, text: str) -> int:
        """Queue ``text`` for every subscriber of ``channel``; never blocks."""
        queued = 0
        for client in list(self.clients):
            if channel not in client.channels or client.dropped:
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
        self.clients.discard(client)
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
        for client in list(self.clients):
            await self.remove(client)
        for task in list(self._closing):
            with contextlib.suppress(Exception):
                await task
