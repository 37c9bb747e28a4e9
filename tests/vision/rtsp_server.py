"""A real RTSP server for the camera tests: GStreamer's gst-rtsp-server (Debian packages
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good and -bad; ``make rtsp`` installs them)
streaming an MPEG-TS file's H.264 at its own pace, its RTP timestamps from the file's.

Run with Debian's Python (``/usr/bin/python3``, which has PyGObject), not the project's venv::

    /usr/bin/python3 tests/vision/rtsp_server.py clip.ts     # prints "PORT 41234" when ready
    /usr/bin/python3 tests/vision/rtsp_server.py clip.ts 0.05   # drops 5 % of RTP packets

Each client gets its own playback from the start of the file (``rtsp://127.0.0.1:PORT/cam``);
the server stops on SIGTERM or when its stdin closes. With a loss, each RTP packet is dropped
with that probability after payloading (``identity drop-probability``), as a lossy network
would, whatever the transport.
"""

import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main(path: str, loss: float = 0.0) -> int:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")  # a free port, read back below
    factory = GstRtspServer.RTSPMediaFactory()
    pay = "rtph264pay pt=96 config-interval=1"
    last = f"{pay} ! identity drop-probability={loss} name=pay0" if loss else f"{pay} name=pay0"
    factory.set_launch(f'( filesrc location="{path}" ! tsdemux ! h264parse ! {last} )')
    factory.set_shared(False)
    server.get_mount_points().add_factory("/cam", factory)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print("ERROR cannot attach the RTSP server", flush=True)
        return 1
    print(f"PORT {server.get_bound_port()}", flush=True)

    def watch_stdin() -> None:  # the test ended (or died): stop
        sys.stdin.read()
        GLib.idle_add(loop.quit)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.0))
