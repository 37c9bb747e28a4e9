"""uvicorn's sans-I/O websocket protocol (``websockets`` library) plus one fan-out hook.

Broadcasting one update to 10,000 sockets through ASGI costs, per socket, an ASGI message,
a frame built by the protocol and a write: ~20 µs, ~200 ms per update for 10,000 walls. The
frame of a server→client text message is the same bytes for every socket (servers do not
mask; we do not negotiate per-message compression, see :data:`SETTINGS`), so the hub builds
it **once** (:func:`text_frame`, with ``websockets.frames.Frame``) and hands it to each
socket's :meth:`FanoutWebSocketProtocol.write_frame`, which writes it to the transport.

The hook is offered to the application as an ASGI scope extension
(``scope["extensions"]["ioc.websocket.frame"]["write"]``); an application that finds no
such extension (another server, the test client) simply sends through ASGI.

``write_frame`` refuses (returns ``False``) unless the socket is open and writable: before
the handshake, after a close was sent or received, and while the transport's buffer is over
its high-water mark (a slow reader). The caller then queues the message for the ordinary
``websocket.send`` path, which waits for the socket and keeps the bounded-queue rules of the
hub. Writes are synchronous and whole frames, so they never interleave with the protocol's
own frames (pings, close).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

FRAME_EXTENSION: Final = "ioc.websocket.frame"


def frame_writer(scope: Mapping[str, Any]) -> Callable[[bytes], bool] | None:
    """The socket's ``write_frame`` from an ASGI websocket scope; ``None`` when the server
    does not offer it (then everything goes through ``websocket.send``)."""
    offered = scope.get("extensions", {}).get(FRAME_EXTENSION) or {}
    writer: Callable[[bytes], bool] | None = offered.get("write")
    return writer


def text_frame(text: str) -> bytes:
    """The wire bytes of an unmasked, unfragmented, uncompressed text frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class FanoutWebSocketProtocol(WebSocketsSansIOProtocol):
    """:class:`WebSocketsSansIOProtocol` that offers :meth:`write_frame` to the app."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # set only when the handshake is going on to the app
            scope["extensions"][FRAME_EXTENSION] = {"write": self.write_frame}

    def write_frame(self, frame: bytes) -> bool:
        """Write a frame built by :func:`text_frame` now; ``False`` if the socket is not open
        and writable (the caller then falls back to ``websocket.send``)."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True


# uvicorn.Config keyword arguments for the dashboard's websockets: our protocol class, and no
# per-message deflate (small JSON compressed per socket per message would cost more CPU than
# the whole fan-out, and would make a shared frame impossible).
SETTINGS: Final[dict[str, Any]] = {"ws": FanoutWebSocketProtocol, "ws_per_message_deflate": False}
