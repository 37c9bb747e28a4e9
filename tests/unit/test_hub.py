"""Websocket fan-out back-pressure: a slow client never stalls a fast one; full → resync → drop.

The hub is transport-agnostic; these tests give it plain coroutines as sockets. Waiting is by
events with generous deadlines, never by fixed sleeps.
"""

from __future__ import annotations

import asyncio
import json

from dashboard.hub import CLOSE_SERVER_ERROR, CLOSE_TOO_SLOW, RESYNC, Hub

DEADLINE_S = 10.0


class Socket:
    """Records what was sent; optionally blocks every send until released."""

    def __init__(self, blocked: bool = False) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.release = asyncio.Event()
        if not blocked:
            self.release.set()
        self.got_first = asyncio.Event()
        self.changed = asyncio.Event()

    async def send(self, text: str) -> None:
        self.got_first.set()
        await self.release.wait()
        self.sent.append(text)
        self.changed.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.changed.set()

    async def wait_for(self, predicate: object) -> None:
        async def loop() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), DEADLINE_S)


snapshots = 0


async def snapshot(channels: frozenset[str]) -> str:
    global snapshots
    snapshots += 1
    return json.dumps({"type": "snapshot", "channels": sorted(channels), "n": snapshots})


def msg(i: int) -> str:
    return json.dumps({"type": "readings", "i": i})


async def test_slow_client_does_not_stall_a_fast_one_and_is_resynced() -> None:
    hub = Hub(queue_size=8)
    fast, slow = Socket(), Socket(blocked=True)
    c_fast = hub.add("fast", fast.send, fast.close, snapshot)
    c_slow = hub.add("slow", slow.send, slow.close, snapshot)
    hub.subscribe(c_fast, frozenset({"sensors"}))
    hub.subscribe(c_slow, frozenset({"sensors"}))
    await asyncio.wait_for(slow.got_first.wait(), DEADLINE_S)  # slow is stuck in its snapshot send
    await fast.wait_for(lambda: len(fast.sent) == 1)

    total = 20
    for i in range(total):  # a burst bigger than the queue, with the fast one draining
        hub.broadcast("sensors", msg(i))
        await fast.wait_for(lambda i=i: len(fast.sent) == i + 2)
    assert [json.loads(t).get("i") for t in fast.sent[1:]] == list(range(total))
    assert c_slow.queue.qsize() <= hub.queue_size
    assert len(c_slow.resyncs) == 2 and not c_slow.dropped  # overflowed at the 9th and 17th

    slow.release.set()  # the slow one catches up: snapshot, then only what came after it
    await slow.wait_for(lambda: c_slow.queue.empty() and len(slow.sent) >= 2)
    kinds = [json.loads(t)["type"] for t in slow.sent]
    assert kinds[0] == "snapshot" and kinds.count("snapshot") == 2
    resent = [json.loads(t)["i"] for t in slow.sent if json.loads(t)["type"] == "readings"]
    assert resent == sorted(resent) and len(resent) < total
    await hub.close_all()


async def test_overflow_clears_the_backlog_for_one_snapshot_marker() -> None:
    hub = Hub(queue_size=4)
    sock = Socket(blocked=True)
    client = hub.add("c", sock.send, sock.close, snapshot)
    hub.subscribe(client, frozenset({"alerts"}))
    await asyncio.wait_for(sock.got_first.wait(), DEADLINE_S)
    for i in range(4):
        assert hub.broadcast("alerts", msg(i)) == 1
    assert hub.broadcast("alerts", msg(4)) == 0  # full: resync instead of blocking
    assert client.queue.qsize() == 1 and client.queue.get_nowait() is RESYNC
    await hub.close_all()


async def test_client_that_keeps_overflowing_is_dropped_with_1013() -> None:
    hub = Hub(queue_size=2, max_resyncs=2)
    sock, other = Socket(blocked=True), Socket()
    client = hub.add("stuck", sock.send, sock.close, snapshot)
    healthy = hub.add("ok", other.send, other.close, snapshot)
    hub.subscribe(client, frozenset({"sensors"}))
    hub.subscribe(healthy, frozenset({"sensors"}))
    await asyncio.wait_for(sock.got_first.wait(), DEADLINE_S)
    for i in range(10):
        hub.broadcast("sensors", msg(i))
        await other.wait_for(lambda i=i: len(other.sent) == i + 2)  # the healthy one drains
    await sock.wait_for(lambda: sock.closed is not None)
    assert sock.closed is not None and sock.closed[0] == CLOSE_TOO_SLOW
    assert client.dropped and client not in hub.clients and healthy in hub.clients
    await other.wait_for(lambda: len(other.sent) == 11)  # snapshot + every message
    await hub.close_all()


async def test_only_subscribers_of_a_channel_get_its_messages() -> None:
    hub = Hub(queue_size=16)
    a, b = Socket(), Socket()
    ca = hub.add("a", a.send, a.close, snapshot)
    cb = hub.add("b", b.send, b.close, snapshot)
    hub.subscribe(ca, frozenset({"sensors", "system"}))
    hub.subscribe(cb, frozenset({"alerts"}))
    assert hub.broadcast("system", msg(1)) == 1
    assert hub.broadcast("alerts", msg(2)) == 1
    assert hub.broadcast("nobody", msg(3)) == 0
    await a.wait_for(lambda: len(a.sent) == 2)
    await b.wait_for(lambda: len(b.sent) == 2)
    assert json.loads(a.sent[0])["channels"] == ["sensors", "system"]
    assert json.loads(a.sent[1])["i"] == 1 and json.loads(b.sent[1])["i"] == 2
    await hub.close_all()


async def test_failed_snapshot_closes_the_client_so_it_reconnects() -> None:
    async def broken(channels: frozenset[str]) -> str:
        raise ConnectionError("database away")

    hub = Hub(queue_size=4)
    sock = Socket()
    client = hub.add("c", sock.send, sock.close, broken)
    hub.subscribe(client, frozenset({"sensors"}))
    await sock.wait_for(lambda: sock.closed is not None)
    assert sock.closed is not None and sock.closed[0] == CLOSE_SERVER_ERROR
    await hub.close_all()
