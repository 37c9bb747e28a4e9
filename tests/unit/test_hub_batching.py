"""Fan-out under a high rate: a sender that finds a backlog sends it as one ``batch`` frame;
subscriptions are indexed by channel (unsubscribe stops delivery at once)."""

from __future__ import annotations

import asyncio
import json

from dashboard.hub import Hub

DEADLINE_S = 10.0


class Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.changed = asyncio.Event()
        self.blocked = asyncio.Event()

    async def send(self, text: str) -> None:
        if not self.gate.is_set():
            self.blocked.set()
        await self.gate.wait()
        self.sent.append(text)
        self.changed.set()

    async def close(self, code: int, reason: str) -> None:
        self.changed.set()

    async def until(self, predicate: object) -> None:
        async def loop() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), DEADLINE_S)


async def snapshot(channels: frozenset[str]) -> str:
    return json.dumps({"type": "snapshot", "channels": sorted(channels)})


def unpack(frames: list[str]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for frame in frames:
        doc = json.loads(frame)
        out += doc["items"] if doc["type"] == "batch" else [doc]
    return out


async def test_backlog_goes_out_as_one_batch_frame_in_order() -> None:
    hub = Hub(queue_size=64, batch_after=4)
    sock = Socket()
    client = hub.add("c", sock.send, sock.close, snapshot)
    hub.subscribe(client, frozenset({"alarms"}))
    await sock.until(lambda: len(sock.sent) == 1)  # the snapshot
    sock.gate.clear()  # the socket stalls while 30 messages arrive
    hub.broadcast("alarms", json.dumps({"type": "alarm.raised", "i": -1}))
    await asyncio.wait_for(sock.blocked.wait(), DEADLINE_S)  # the sender holds the first one
    for i in range(30):
        hub.broadcast("alarms", json.dumps({"type": "alarm.raised", "i": i}))
    sock.gate.set()
    await sock.until(lambda: len(unpack(sock.sent)) == 32)
    items = unpack(sock.sent)
    assert [m["i"] for m in items[1:]] == list(range(-1, 30))
    assert len(sock.sent) == 3 and client.batches == 1  # snapshot, first, one batch of 30
    await hub.close_all()


async def test_a_slow_trickle_is_not_batched() -> None:
    hub = Hub(queue_size=64, batch_after=4)
    sock = Socket()
    client = hub.add("c", sock.send, sock.close, snapshot)
    hub.subscribe(client, frozenset({"sensors"}))
    for i in range(5):
        hub.broadcast("sensors", json.dumps({"type": "readings", "i": i}))
        await sock.until(lambda i=i: len(sock.sent) == i + 2)
    assert client.batches == 0 and all(json.loads(t)["type"] != "batch" for t in sock.sent)
    await hub.close_all()


async def test_unsubscribe_and_remove_update_the_channel_index() -> None:
    hub = Hub(queue_size=8)
    sock = Socket()
    client = hub.add("c", sock.send, sock.close, snapshot)
    hub.subscribe(client, frozenset({"alarms", "cameras"}))
    assert hub.subscribers("alarms") == 1 and hub.subscribers("cameras") == 1
    hub.subscribe(client, frozenset({"alarms"}))
    assert hub.broadcast("cameras", "{}") == 0 and hub.subscribers("cameras") == 0
    assert hub.broadcast("alarms", '{"type":"alarm.raised"}') == 1
    await hub.remove(client)
    assert hub.subscribers("alarms") == 0 and hub.broadcast("alarms", "{}") == 0
    await hub.close_all()


async def test_idle_clients_are_sent_to_eagerly_and_a_failing_one_does_not_stop_others() -> None:
    hub = Hub(queue_size=8)
    good = Socket()
    client = hub.add("good", good.send, good.close, snapshot)

    async def broken(text: str) -> None:
        raise ConnectionError("socket gone")

    bad = hub.add("bad", broken, good.close, snapshot)
    hub.subscribe(client, frozenset({"alarms"}))
    hub.subscribe(bad, frozenset({"alarms"}))
    await good.until(lambda: len(good.sent) == 1)
    for i in range(5):
        assert hub.broadcast("alarms", json.dumps({"type": "alarm.raised", "i": i})) == 2
    assert client.eager_sent == 5 and client.queue.empty()  # no task wake-up was needed
    assert [json.loads(t)["i"] for t in good.sent[1:]] == list(range(5))
    await hub.close_all()


async def test_a_fast_channel_is_batched_per_tick_once_for_all_subscribers() -> None:
    clock = {"now": 0.0}
    hub = Hub(queue_size=64, tick_s=0.05, clock=lambda: clock["now"])
    socks = [Socket() for _ in range(3)]
    clients = [hub.add(f"c{i}", s.send, s.close, snapshot) for i, s in enumerate(socks)]
    for client in clients:
        hub.subscribe(client, frozenset({"sensors"}))
    for sock in socks:
        await sock.until(lambda sock=sock: len(sock.sent) == 1)
    hub.broadcast("sensors", json.dumps({"type": "readings", "i": 0}))  # slow so far: at once
    for sock in socks:
        assert json.loads(sock.sent[1])["i"] == 0
    for i in range(1, 11):  # ten more within one tick
        clock["now"] += 0.001
        assert hub.broadcast("sensors", json.dumps({"type": "readings", "i": i})) == 3
    assert all(len(sock.sent) == 2 for sock in socks)  # held for the tick
    for sock in socks:
        await sock.until(lambda sock=sock: len(sock.sent) == 3)
        batch = json.loads(sock.sent[2])
        assert batch["type"] == "batch" and [m["i"] for m in batch["items"]] == list(range(1, 11))
    assert hub.ticks_batched == 1
    await hub.close_all()
