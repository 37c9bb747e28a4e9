"""Websocket fan-out benchmark (issue #6): 10,000 clients on loopback, hub vs naive loop.

Not a test. One run, on this machine:

1. a server process: uvicorn with the dashboard's websocket protocol
   (``dashboard.ws_protocol.FanoutWebSocketProtocol``, sans-I/O ``websockets``, no
   compression) and a Starlette websocket route that does what ``dashboard/ws.py`` does per
   connection: ``Hub.add`` (bounded queue + sender task + the frame writer of the protocol),
   subscribe, receive loop. Auth and the database snapshot are left out (a constant
   snapshot): the subject is the fan-out. The naive baseline runs on the same protocol;
2. client processes (``--client-procs``) holding ``--clients`` websocket connections between
   them (the fd limit is raised with ``resource.setrlimit``). By default (``--client-impl
   epoll``) each connection is a plain non-blocking socket on one ``epoll`` per process: a
   fixed upgrade request, then the server's frames split by their length header; the load
   generator shares the 2 cores with the server, and this one costs the least of them
   (``clients_cpu_ms_per_update`` in the output: ~140 ms per update to 10,000 clients against
   ~380 ms for ``sansio``, the ``websockets`` library's sans-I/O ``ClientProtocol`` in an
   ``asyncio.Protocol``). ``--client-impl asyncio`` uses the library's asyncio client (a task
   per connection). Browsers of a real wall run elsewhere and cost the server nothing;
3. phases, for the hub and then for a naive server that ``await``s ``send`` to each client in
   turn: connect everyone (server RSS before/after → memory per connection); ``--seconds`` of
   1 alarm update per second to all (delivery latency per message = event-to-browser for
   alarms, broadcast pass = time until the *last* client has an update); then ``--seconds`` at
   ``--burst-rate`` updates/s to all (delivered messages per second per server CPU core;
   the hub batches a backlog into one frame, the naive loop cannot).

Latencies are taken at the clients with the wall clock of the same machine (one clock). The
clients share the 2 cores with the server, so all figures are lower bounds of the server.
Ends by printing ONE JSON line.

    .venv/bin/python bench/fanout.py                   # 10,000 clients (about 3-4 min)
    .venv/bin/python bench/fanout.py --clients 2000    # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing as mp
import os
import resource
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOALS = {"mb_per_10k": 1024, "pass_p99_ms": 250, "msgs_per_s_per_core": 25_000, "alarm_p99_ms": 500}


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- server ------------------------------------------------------------------------------


def server_main(
    mode: str,
    sock: socket.socket,
    ctl: Connection,
    queue_size: int,
    freeze: bool,
    ws_impl: str,
    tick_s: float,
    eager: bool,
    frames: bool,
    gc_gen0: int,
) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from dashboard import ws_protocol
    from dashboard.hub import Hub
    from dashboard.ws_protocol import frame_writer, text_frame

    raise_fd_limit()
    hub = Hub(queue_size, tick_s=tick_s, eager=eager, encode_frame=text_frame if frames else None)
    naive: set[WebSocket] = set()
    sends = {"n": 0, "target": -1, "done_at": 0.0}
    all_sent = asyncio.Event()

    def count_one() -> None:
        sends["n"] += 1
        if sends["n"] == sends["target"]:
            sends["done_at"] = time.perf_counter()
            all_sent.set()

    async def counted(ws: WebSocket, text: str) -> None:
        await ws.send_text(text)
        count_one()

    snapshot_text = json.dumps({"type": "snapshot", "channels": ["alarms"]})

    async def snapshot(channels: frozenset[str]) -> str:
        return snapshot_text

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        if mode == "naive":
            naive.add(ws)
            await ws.send_text(snapshot_text)
            try:
                while (await ws.receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                naive.discard(ws)
            return

        async def close(code: int, reason: str) -> None:
            await ws.close(code, reason)

        async def send(text: str) -> None:
            await counted(ws, text)

        writer = frame_writer(ws.scope)

        def write_frame(frame: bytes) -> bool:
            assert writer is not None
            written: bool = writer(frame)
            if written:
                count_one()
            return written

        client = hub.add(
            "bench", send, close, snapshot, write_frame=write_frame if writer else None
        )
        hub.subscribe(client, frozenset({"alarms"}))
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        except WebSocketDisconnect:
            pass
        finally:
            await hub.remove(client)

    def message(seq: int) -> str:
        return json.dumps(
            {
                "type": "alarm.raised",
                "seq": seq,
                "t": time.time(),
                "alarm": {
                    "id": "6f1d0c7e-5b7a-4f3e-9a0d-2c4b8e1f7a55",
                    "severity": 4,
                    "state": "active_unacked",
                    "title": "PM2.5 very bad: hp-aq-haian",
                },
            },
            separators=(",", ":"),
        )

    async def broadcast(seq: int) -> float:
        text = message(seq)
        sends["target"] = sends["n"] + hub.subscribers("alarms")
        all_sent.clear()
        started = time.perf_counter()
        if mode == "naive":
            for ws in list(naive):
                with contextlib.suppress(Exception):
                    await ws.send_text(text)
        else:
            hub.broadcast("alarms", text)
        return time.perf_counter() - started

    async def run_phase(rate: float, seconds: float, first_seq: int) -> dict[str, Any]:
        calls: list[float] = []
        sent: list[float] = []
        server_passes: list[float] = []
        if freeze:
            gc.collect()
            gc.freeze()
        seq = first_seq
        start = time.perf_counter()
        cpu0 = time.process_time()
        while time.perf_counter() - start < seconds:
            target = start + (seq - first_seq) / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.append(time.time())
            began = time.perf_counter()
            calls.append(await broadcast(seq))
            if rate <= 2 and mode == "hub":  # the last send of this update, server side
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_sent.wait(), 0.95 / rate)
                if sends["done_at"] >= began:
                    server_passes.append(sends["done_at"] - began)
            elif rate <= 2:
                server_passes.append(calls[-1])
            seq += 1
        # let queued messages drain (hub senders) before the CPU time is read
        drain_until = time.perf_counter() + 30
        while time.perf_counter() < drain_until:
            if all(c.queue.empty() for c in hub.clients):
                break
            await asyncio.sleep(0.05)
        return {
            "broadcasts": seq - first_seq,
            "sent_at": sent,
            "server_pass_p50_ms": 1000 * (percentile(server_passes, 50) or 0),
            "server_pass_p99_ms": 1000 * (percentile(server_passes, 99) or 0),
            "server_pass_missed": (seq - first_seq) - len(server_passes),
            "call_p50_ms": 1000 * (percentile(calls, 50) or 0),
            "call_p99_ms": 1000 * (percentile(calls, 99) or 0),
            "cpu_s": time.process_time() - cpu0,
            "wall_s": time.perf_counter() - start,
            "resyncs": sum(len(c.resyncs) for c in hub.clients),
            "eager": sum(c.eager_sent for c in hub.clients),
            "frames": sum(c.frames_written for c in hub.clients),
            "batches": sum(c.batches for c in hub.clients),
            "tick_batches": hub.ticks_batched,
        }

    async def control() -> None:
        loop = asyncio.get_running_loop()
        while True:
            cmd = await loop.run_in_executor(None, ctl.recv)
            if cmd[0] == "count":
                ctl.send(len(naive) if mode == "naive" else hub.subscribers("alarms"))
            elif cmd[0] == "phase":
                ctl.send(await run_phase(cmd[1], cmd[2], cmd[3]))
            elif cmd[0] == "stop":
                server.should_exit = True
                return

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    protocol = ws_protocol.SETTINGS if ws_impl == "ioc" else {**ws_protocol.SETTINGS, "ws": ws_impl}
    config = uvicorn.Config(
        app, log_level="error", lifespan="off", ws_ping_interval=None, backlog=4096, **protocol
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(control())
        await server.serve(sockets=[sock])
        task.cancel()

    import warnings

    from ioc.heap import settle

    warnings.filterwarnings("ignore")
    settle(gc_gen0)  # as `ioc dashboard` does before it serves
    asyncio.run(main())


# --- clients -----------------------------------------------------------------------------


class Tally:
    """What a client process saw: per-message latencies and the last arrival of each update
    (only while recording, the 1/s phase) and a count of delivered messages."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.last_at: dict[int, float] = {}
        self.delivered = 0
        self.recording = False

    def on_text(self, text: bytes) -> None:
        now = time.time()
        if text.startswith(b'{"type":"batch"'):
            self.delivered += text.count(b'"seq":')
            return
        if not text.startswith(b'{"type":"alarm.raised"'):
            return
        self.delivered += 1
        if self.recording:
            doc = json.loads(text)
            self.latencies.append(now - doc["t"])
            seq = doc["seq"]
            if now > self.last_at.get(seq, 0.0):
                self.last_at[seq] = now

    def command(self, cmd: str) -> Any:
        """The reply to a command of the orchestrator (``stop`` is the caller's)."""
        if cmd == "record":
            self.latencies.clear()
            self.last_at.clear()
            self.recording = True
        elif cmd == "count":
            self.recording = False
        elif cmd == "report":
            return {
                "latencies": self.latencies,
                "last_at": self.last_at,
                "delivered": self.delivered,
            }
        self.delivered = 0
        return "ok"


def split_frames(buf: bytes, pos: int, on_text: Callable[[bytes], None]) -> int:
    """Hand the complete server frames of ``buf[pos:]`` (unmasked, RFC 6455 section 5.2) to
    ``on_text`` (text frames; the server never fragments them), skip the others; returns where
    the first incomplete frame starts."""
    size = len(buf)
    while size - pos >= 2:
        length, head = buf[pos + 1] & 0x7F, 2
        if length >= 126:
            head = 4 if length == 126 else 10
            if size - pos < head:
                break
            length = int.from_bytes(buf[pos + 2 : pos + head], "big")
        end = pos + head + length
        if end > size:
            break
        if buf[pos] & 0x0F == 1:
            on_text(buf[pos + head : end])
        pos = end
    return pos


def clients_main(url: str, n: int, ctl: Connection, impl: str, nice: int) -> None:
    raise_fd_limit()
    if nice:
        os.nice(nice)  # the load generator yields the CPU to the server under test
    tally = Tally()
    if impl == "epoll":
        clients_epoll(url, n, ctl, tally)
    else:
        asyncio.run(clients_asyncio(url, n, ctl, impl, tally))


def clients_epoll(url: str, n: int, ctl: Connection, tally: Tally) -> None:
    """The cheapest load generator: plain non-blocking sockets on one ``epoll``, a fixed
    upgrade request, frames split by hand. The server under test is the same; less of the
    shared CPU goes to the clients (``clients_cpu_ms_per_update`` in the output)."""
    import select

    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    poller = select.epoll()
    poller.register(ctl.fileno(), select.EPOLLIN)
    socks: dict[int, socket.socket] = {}
    buffers: dict[int, bytes] = {}
    upgraded: set[int] = set()

    def pump(timeout: float) -> bool:
        """Read what is ready; False once the orchestrator said stop."""
        for fd, _ in poller.poll(timeout):
            if fd == ctl.fileno():
                cmd = ctl.recv()
                if cmd == "stop":
                    ctl.send("ok")
                    return False
                ctl.send(tally.command(cmd))
                continue
            try:
                data = socks[fd].recv(16_384)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                socks.pop(fd).close()
                continue
            buf = buffers.pop(fd) + data if fd in buffers else data
            pos = 0
            if fd not in upgraded:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    buffers[fd] = buf
                    continue
                if not buf.startswith(b"HTTP/1.1 101"):
                    print(f"[fanout] handshake refused: {buf[:40]!r}", file=sys.stderr)
                upgraded.add(fd)
                pos = end + 4
            pos = split_frames(buf, pos, tally.on_text)
            if pos < len(buf):
                buffers[fd] = buf[pos:]
        return True

    for i in range(n):
        for attempt in range(20):
            try:
                sock = socket.create_connection((host, int(port)), timeout=30)
                break
            except OSError:
                time.sleep(0.2 * (attempt + 1))
        else:
            continue
        sock.sendall(request)
        sock.setblocking(False)
        socks[sock.fileno()] = sock
        poller.register(sock.fileno(), select.EPOLLIN)
        if i % 200 == 199:
            pump(0.05)  # pace the handshakes (accept backlog), read the snapshots
    while pump(1.0):
        pass
    for sock in socks.values():
        sock.close()


async def clients_asyncio(url: str, n: int, ctl: Connection, impl: str, tally: Tally) -> None:
    """``sansio``: the ``websockets`` library's sans-I/O client in an ``asyncio.Protocol``;
    ``asyncio``: the library's asyncio client, a task per connection."""
    from websockets.asyncio.client import connect
    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response
    from websockets.uri import parse_uri

    class Lean(asyncio.Protocol):
        """One connection: the library's sans-I/O client driven from ``data_received``."""

        def __init__(self) -> None:
            self.ws = ClientProtocol(parse_uri(url), max_size=2**20)
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.ws.send_request(self.ws.connect())
            self.flush()

        def data_received(self, data: bytes) -> None:
            self.ws.receive_data(data)
            for event in self.ws.events_received():
                if isinstance(event, Frame):
                    if event.opcode is Opcode.TEXT:
                        tally.on_text(bytes(event.data))
                elif isinstance(event, Response) and event.status_code != 101:
                    print(f"[fanout] handshake refused: {event.status_code}", file=sys.stderr)
            self.flush()

        def flush(self) -> None:
            out = self.ws.data_to_send()
            if out and self.transport is not None:
                self.transport.write(b"".join(out))

    async def one() -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(20):
            try:
                if impl == "sansio":
                    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
                    await loop.create_connection(Lean, host, int(port))
                    return
                ws = await connect(
                    url, open_timeout=120, ping_interval=None, max_queue=64, compression=None
                )
                break
            except OSError:
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            return
        async for frame in ws:
            tally.on_text(frame.encode() if isinstance(frame, str) else frame)

    tasks = []
    for _ in range(n):
        tasks.append(asyncio.create_task(one()))
        if len(tasks) % 200 == 0:
            await asyncio.sleep(0.05)  # pace the handshakes (accept backlog)
    loop = asyncio.get_running_loop()
    while True:
        cmd = await loop.run_in_executor(None, ctl.recv)
        if cmd == "stop":
            for t in tasks:
                t.cancel()
            ctl.send("ok")
            return
        ctl.send(tally.command(cmd))


# --- orchestration -----------------------------------------------------------------------


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/ws"
    srv_ctl, srv_end = ctx.Pipe()
    server = ctx.Process(
        target=server_main,
        args=(
            mode,
            sock,
            srv_end,
            args.queue_size,
            args.gc_freeze,
            args.ws,
            args.tick,
            not args.no_eager,
            not args.no_frames,
            args.gc_gen0,
        ),
    )
    server.start()
    time.sleep(2.0)  # benchmark warm-up of the server's imports, not a readiness wait in a test
    assert server.pid is not None
    rss_before = rss_mb(server.pid)
    per = [args.clients // args.client_procs] * args.client_procs
    per[0] += args.clients - sum(per)
    ctls = []
    procs = []
    started = time.perf_counter()
    for n in per:
        a, b = ctx.Pipe()
        p = ctx.Process(target=clients_main, args=(url, n, b, args.client_impl, args.client_nice))
        p.start()
        ctls.append(a)
        procs.append(p)
    connected = 0
    while time.perf_counter() - started < 300:
        srv_ctl.send(("count",))
        connected = srv_ctl.recv()
        if connected >= args.clients:
            break
        time.sleep(0.5)
    connect_s = time.perf_counter() - started
    time.sleep(2.0)  # let the snapshot sends settle before measuring memory
    rss_after = rss_mb(server.pid)
    result: dict[str, Any] = {
        "clients": connected,
        "connect_s": round(connect_s, 1),
        "server_rss_mb_before": round(rss_before, 1),
        "server_rss_mb_after": round(rss_after, 1),
        "kb_per_connection": round((rss_after - rss_before) * 1024 / max(1, connected), 1),
    }

    # phase 1: 1 alarm update per second to everyone
    for c in ctls:
        c.send("record")
        c.recv()
    srv_ctl.send(("phase", 1.0, args.seconds, 0))
    clients_cpu0 = sum(cpu_s(p.pid) for p in procs if p.pid is not None)
    steady = srv_ctl.recv()
    clients_cpu = sum(cpu_s(p.pid) for p in procs if p.pid is not None) - clients_cpu0
    time.sleep(1.0)
    lat: list[float] = []
    last_at: dict[int, float] = {}
    for c in ctls:
        c.send("report")
        rep = c.recv()
        lat += rep["latencies"]
        for seq, at in rep["last_at"].items():
            last_at[seq] = max(at, last_at.get(seq, 0.0))
    expected = steady["broadcasts"] * connected
    result["steady"] = {
        "updates": steady["broadcasts"],
        "delivered": len(lat),
        "expected": expected,
        "alarm_latency_p50_ms": round(1000 * (percentile(lat, 50) or 0), 1),
        "alarm_latency_p99_ms": round(1000 * (percentile(lat, 99) or 0), 1),
        "broadcast_call_p50_ms": round(steady["call_p50_ms"], 2),
        "broadcast_call_p99_ms": round(steady["call_p99_ms"], 2),
        "server_pass_p50_ms": round(steady["server_pass_p50_ms"], 1),
        "server_pass_p99_ms": round(steady["server_pass_p99_ms"], 1),
        "server_pass_missed": steady["server_pass_missed"],
        "server_cpu_ms_per_update": round(1000 * steady["cpu_s"] / max(1, steady["broadcasts"]), 1),
        "clients_cpu_ms_per_update": round(1000 * clients_cpu / max(1, steady["broadcasts"]), 1),
        "eager_sends": steady["eager"],
        "frame_writes": steady["frames"],
        "resyncs": steady["resyncs"],
    }
    # broadcast pass: from the broadcast until the LAST client has the update
    passes = [last_at[i] - t for i, t in enumerate(steady["sent_at"]) if i in last_at]
    result["steady"]["pass_p50_ms"] = round(1000 * (percentile(passes, 50) or 0), 1)
    result["steady"]["pass_p99_ms"] = round(1000 * (percentile(passes, 99) or 0), 1)

    # phase 2: high rate, delivered messages per server CPU second
    for c in ctls:
        c.send("count")
        c.recv()
    cpu0 = cpu_s(server.pid)
    wall0 = time.perf_counter()
    srv_ctl.send(("phase", args.burst_rate, args.seconds, 1_000_000))
    burst = srv_ctl.recv()
    time.sleep(1.0)
    cpu = cpu_s(server.pid) - cpu0
    wall = time.perf_counter() - wall0
    delivered = 0
    for c in ctls:
        c.send("report")
        delivered += c.recv()["delivered"]
    result["burst"] = {
        "rate_per_s": args.burst_rate,
        "updates": burst["broadcasts"],
        "delivered": delivered,
        "expected": burst["broadcasts"] * connected,
        "server_cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "delivered_per_s": round(delivered / wall),
        "delivered_per_s_per_core": round(delivered / max(cpu, 1e-6)),
        "batched_frames": burst["batches"],
        "tick_batches": burst["tick_batches"],
        "resyncs": burst["resyncs"],
    }
    for c in ctls:
        c.send("stop")
        with contextlib.suppress(EOFError):
            c.recv()
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    srv_ctl.send(("stop",))
    server.join(timeout=30)
    if server.is_alive():
        server.kill()
    sock.close()
    return result


def main() -> None:
    from ioc.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--burst-rate", type=float, default=20.0)
    parser.add_argument("--queue-size", type=int, default=256)
    parser.add_argument("--modes", default="hub,naive")
    parser.add_argument("--tick", type=float, default=0.1, help="hub tick (IOC_WS_TICK_S)")
    parser.add_argument("--no-eager", action="store_true", help="hub without the eager path")
    parser.add_argument(
        "--no-frames", action="store_true", help="hub without the shared-frame fast path"
    )
    parser.add_argument(
        "--ws",
        default="ioc",
        choices=["ioc", "websockets", "websockets-sansio", "wsproto"],
        help="uvicorn websocket protocol ('ioc': the dashboard's FanoutWebSocketProtocol)",
    )
    parser.add_argument(
        "--client-impl",
        default="epoll",
        choices=["sansio", "epoll", "asyncio"],
        help="load generator: websockets sans-I/O in an asyncio Protocol, plain sockets on "
        "epoll with frames split by hand (the cheapest), or the library's asyncio client",
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="niceness of the client processes (10: browsers would be on other machines)",
    )
    parser.add_argument(
        "--gc-gen0",
        type=int,
        default=Settings().gc_gen0_threshold,
        help="the server's collector settings at start-up, as `ioc dashboard` (ioc/heap.py); "
        "0: the interpreter's defaults",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() in the server once everyone is connected (long-lived objects)",
    )
    args = parser.parse_args()
    raise_fd_limit()
    out: dict[str, Any] = {
        "bench": "fanout",
        "cpus": os.cpu_count(),
        "ws": args.ws,
        "gc_freeze": args.gc_freeze,
        "gc_gen0": args.gc_gen0,
        "tick_s": args.tick,
        "eager": not args.no_eager,
        "frames": not args.no_frames,
        "client_impl": args.client_impl,
        "client_nice": args.client_nice,
        "goals": GOALS,
    }
    for mode in args.modes.split(","):
        print(f"[fanout] {mode}: {args.clients} clients …", file=sys.stderr, flush=True)
        out[mode] = run_mode(mode, args)
        print(f"[fanout] {mode}: {json.dumps(out[mode])}", file=sys.stderr, flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
