"""The fan-out fast path: one frame built per update, written straight to each idle socket.

First against plain callables (order and fall-back rules of :class:`dashboard.hub.Hub`), then
end to end: a real uvicorn server with :class:`dashboard.ws_protocol.FanoutWebSocketProtocol`
on a free loopback port and a ``websockets`` client, which must decode the hub's frames
(short, 16-bit and 64-bit lengths, Vietnamese text) exactly as if they had been sent through
ASGI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from dashboard import ws_protocol
from dashboard.hub import Client, Hub
from dashboard.ws_protocol import frame_writer, text_frame

DEADLINE_S = 10.0


async def _snapshot(channels: frozenset[str]) -> str:
    return json.dumps({"type": "snapshot", "channels": sorted(channels)})


def test_text_frame_is_an_unmasked_final_text_frame() -> None:
    for text in ("x", "Cảnh báo ngập " * 10, "é" * 70_000):
        frame = text_frame(text)
        assert frame[0] == 0x81  # FIN + text opcode, no RSV bits (not compressed)
        assert frame[1] & 0x80 == 0  # server frames are not masked
        payload = text.encode()
        assert frame.endswith(payload)
        expected = Frame(Opcode.TEXT, payload).serialize(mask=False)
        assert frame == expected


async def test_idle_clients_get_the_shared_frame_and_busy_ones_the_queue() -> None:
    sent: list[str] = []
    frames: list[bytes] = []
    accept = {"on": True}

    async def send(text: str) -> None:
        sent.append(text)

    async def close(code: int, reason: str) -> None:
        return None

    def write(frame: bytes) -> bool:
        if accept["on"]:
            frames.append(frame)
        return accept["on"]

    hub = Hub(queue_size=8, encode_frame=text_frame)
    client = hub.add("a", send, close, _snapshot, write_frame=write)
    hub.subscribe(client, frozenset({"alarms"}))
    await _until(lambda: len(sent) == 1 and client.idle)  # the snapshot, through send

    assert hub.broadcast("alarms", '{"n":1}') == 1
    assert frames == [text_frame('{"n":1}')]
    assert client.frames_written == 1

    accept["on"] = False  # the socket's buffer is full: the text is queued instead
    hub.broadcast("alarms", '{"n":2}')
    accept["on"] = True
    hub.broadcast("alarms", '{"n":3}')  # not idle while n=2 waits: queued behind it
    await _until(lambda: len(sent) == 3 and client.idle)
    assert sent[1:] == ['{"n":2}', '{"n":3}']
    assert len(frames) == 1

    hub.broadcast("alarms", '{"n":4}')  # idle again: the fast path
    assert frames[-1] == text_frame('{"n":4}')
    await hub.close_all()


async def test_a_hub_without_an_encoder_ignores_frame_writers() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    async def close(code: int, reason: str) -> None:
        return None

    def write(frame: bytes) -> bool:
        raise AssertionError("no frames without encode_frame")

    hub = Hub(queue_size=8)
    client = hub.add("a", send, close, _snapshot, write_frame=write)
    hub.subscribe(client, frozenset({"alarms"}))
    hub.broadcast("alarms", '{"n":1}')
    await _until(lambda: len(sent) == 2)
    assert client.write_frame is None
    await hub.close_all()


async def _until(predicate: Any) -> None:
    async def loop() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(loop(), DEADLINE_S)


# --- end to end through uvicorn --------------------------------------------------------


class _Served:
    def __init__(self, hub: Hub, url: str) -> None:
        self.hub = hub
        self.url = url
        self.clients: list[Client] = []
        self.writers: list[Any] = []


@contextlib.asynccontextmanager
async def _server() -> AsyncIterator[_Served]:
    hub = Hub(queue_size=64, encode_frame=text_frame)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    served = _Served(hub, f"ws://127.0.0.1:{sock.getsockname()[1]}/ws")

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        writer = frame_writer(ws.scope)
        served.writers.append(writer)

        async def close(code: int, reason: str) -> None:
            await ws.close(code, reason)

        client = hub.add("e2e", ws.send_text, close, _snapshot, write_frame=writer)
        served.clients.append(client)
        hub.subscribe(client, frozenset({"alarms"}))
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        except WebSocketDisconnect:
            pass
        finally:
            await hub.remove(client)

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        ws_ping_interval=None,
        **ws_protocol.SETTINGS,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _until(lambda: server.started)
        yield served
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, DEADLINE_S)
        sock.close()


@pytest.mark.parametrize("size", [1, 300, 8_000])  # 7-bit, 16-bit, 64-bit lengths
async def test_frames_written_by_the_hub_decode_in_a_real_client(size: int) -> None:
    texts = [
        json.dumps({"type": "alarm.raised", "seq": i, "title": "Ngập úng " * size})
        for i in range(3)
    ]
    async with _server() as served, connect(served.url, compression=None) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE_S))
        assert first["type"] == "snapshot"
        client = served.clients[0]
        await _until(lambda: client.idle)
        for text in texts:
            served.hub.broadcast("alarms", text)
        got = [await asyncio.wait_for(ws.recv(), DEADLINE_S) for _ in texts]
        assert got == texts
        assert client.frames_written >= 1, "the idle client got no frame through the fast path"


async def test_write_frame_refuses_once_the_socket_is_closed() -> None:
    async with _server() as served:
        async with connect(served.url, compression=None) as ws:
            await asyncio.wait_for(ws.recv(), DEADLINE_S)
            writer = served.writers[0]
            assert writer is not None
            assert writer(text_frame('{"type":"ping"}')) is True
            assert json.loads(await asyncio.wait_for(ws.recv(), DEADLINE_S)) == {"type": "ping"}
        await _until(lambda: not served.hub.clients)
        assert writer(text_frame('{"type":"late"}')) is False


async def test_compression_is_not_negotiated() -> None:
    async with _server() as served, connect(served.url) as ws:  # the client offers deflate
        await asyncio.wait_for(ws.recv(), DEADLINE_S)
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
