"""Camera sources: a file (looping for demos), an RTSP or an HTTP/MJPEG URL, via OpenCV/FFmpeg.

:class:`CameraSource` never raises and never sleeps: :meth:`~CameraSource.read` returns the
next :class:`Frame`, or ``None`` while the camera is down (it then reconnects on later calls,
after an exponential back-off, so a dead camera costs nothing and a flapping one does not
hammer the recorder). :class:`Grabber` runs a source on its own thread into a small queue:
live cameras drop their oldest frame when the pipeline falls behind (the newest picture is
the one that matters), files can instead wait for the pipeline (nothing lost, for tests).

Timestamps: a file frame's time is its own presentation time (``CAP_PROP_POS_MSEC``), never
``frame_number / fps`` - the sample clips have a variable frame rate; a looping file adds
the previous passes' duration so time keeps increasing. A live frame's time comes from
:class:`vision.clock.StreamClock`: its PTS mapped onto the wall clock where the stream has
real timestamps (RTSP, MPEG-TS over HTTP), else the wall clock when it was decoded (MJPEG),
so a burst of delayed frames keeps the spacing it was filmed with.
Each wrap of a looping file, each lost connection and each break in the stream's timing (a
gap longer than the camera's ``stream.max_gap_s``, a PTS that restarts) starts a new
``segment``: the frames after it do not continue the picture before it (the camera pipeline
restarts its tracks and signal lights there).

Example::

    src = CameraSource("vn-junction-a", "/data/clip.mp4", loop=True)
    grabber = Grabber(src, realtime=True); grabber.start()
    frame = grabber.get(timeout=1.0)      # Frame(camera_id, image, t, wall, seq) or None
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.clock import ClockKind, StreamClock, fourcc_text, uses_pts
from vision.config import StreamTiming

logger = logging.getLogger(__name__)

SourceKind = Literal["file", "rtsp", "http"]


def source_kind(url: str) -> SourceKind:
    low = url.lower()
    if low.startswith(("rtsp://", "rtsps://")):
        return "rtsp"
    if low.startswith(("http://", "https://")):
        return "http"
    return "file"


def redact(url: str) -> str:
    """URL without credentials (``rtsp://user:pw@host`` -> ``rtsp://***@host``) for logs."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded BGR frame: stream time ``t`` (s), wall clock ``wall`` (epoch s), ``seq``;
    ``skipped``: frames decoded just before it that nobody wanted (never converted to BGR);
    ``segment``: breaks in the stream before it (a looping file's wrap, a reconnection, a
    gap): frames of different segments do not continue each other's picture; ``clock``:
    where ``t`` comes from (``file`` or ``pts``: the frame's own timestamp; ``wall``: its
    arrival, for streams without timestamps)."""

    camera_id: str
    image: NDArray[np.uint8]
    t: float
    wall: float
    seq: int
    skipped: int = 0
    segment: int = 0
    clock: ClockKind = "file"


class Backoff:
    """Exponential back-off delays: ``initial``, x``factor`` each failure, capped; pure."""

    def __init__(self, initial: float = 0.5, factor: float = 2.0, maximum: float = 30.0) -> None:
        if initial <= 0 or factor < 1 or maximum < initial:
            raise ValueError("need initial > 0, factor >= 1, maximum >= initial")
        self.initial, self.factor, self.maximum = initial, factor, maximum
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class RateMeter:
    """Events per second over the last ``window_s`` seconds of a given clock; pure."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()


Opener = Callable[[str], Any]  # returns a cv2.VideoCapture-like object


def open_capture(url: str, timeout_ms: int = 5000, threads: int = 1) -> Any:
    """cv2.VideoCapture through FFmpeg, with open/read time-outs so a dead camera returns.

    ``threads`` decode threads (0: FFmpeg's default, one per core). One is the default: a
    camera needs ~20 frames/s, which one thread decodes in a fraction of a core, and every
    extra thread per camera only adds hand-offs (measured: 3.4-3.6 ms CPU per 720p frame
    with one thread, 3.7-4.5 ms with two) and, on a big host, cores-many threads per camera.
    """
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        timeout_ms,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        timeout_ms,
    ]
    if threads > 0:
        params += [cv2.CAP_PROP_N_THREADS, threads]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


def grab_frame(url: str, at_s: float = 0.0) -> NDArray[np.uint8] | None:
    """One BGR frame of ``url`` (:func:`open_capture`, so a dead camera times out): at
    ``at_s`` seconds into a file, the next frame of a stream; ``None`` when there is none."""
    cap = open_capture(url)
    try:
        if not cap.isOpened():
            return None
        if source_kind(url) == "file":
            cap.set(cv2.CAP_PROP_POS_MSEC, at_s * 1000.0)
        ok, image = cap.read()
    finally:
        cap.release()
    return np.asarray(image, dtype=np.uint8) if ok and image is not None else None


CAPTURE_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"  # FFmpeg options OpenCV reads at each open


def use_rtsp_transport(transport: str) -> str:
    """Have every later RTSP open send its RTP over ``transport`` (``tcp``, ``udp``;
    ``auto``: FFmpeg's choice). OpenCV passes FFmpeg options only through the environment
    (``OPENCV_FFMPEG_CAPTURE_OPTIONS``, ``key;value|key;value``), so this is one setting per
    process, made before the cameras' threads open anything; an ``rtsp_transport`` already
    there (the operator's own) is kept, other options too. Returns the options now set."""
    current = os.environ.get(CAPTURE_OPTIONS, "")
    pairs = [p for p in current.split("|") if p]
    if transport != "auto" and not any(p.split(";", 1)[0] == "rtsp_transport" for p in pairs):
        pairs.append(f"rtsp_transport;{transport}")
        os.environ[CAPTURE_OPTIONS] = "|".join(pairs)
    return os.environ.get(CAPTURE_OPTIONS, "")


def capture_opener(threads: int) -> Opener:
    """:func:`open_capture` with ``threads`` decode threads (``IOC_VISION_DECODE_THREADS``)."""
    return functools.partial(open_capture, threads=threads)


class CameraSource:
    """One camera's frames with reconnection; ``clock`` (monotonic) and ``wall`` injectable."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        loop: bool = False,
        backoff: Backoff | None = None,
        opener: Opener = open_capture,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        timing: StreamTiming | None = None,
    ) -> None:
        self.camera_id, self.url, self.kind = camera_id, url, source_kind(url)
        self.timing = timing or StreamTiming()
        self.stream_clock = StreamClock(
            use_pts=False, max_gap_s=self.timing.max_gap_s, max_delay_s=self.timing.max_delay_s
        )
        self.loop = loop and self.kind == "file"
        self.backoff = backoff or Backoff()
        self._open, self._clock, self._wall = opener, clock, wall
        self._cap: Any = None
        self._retry_at = 0.0
        self._offset = 0.0  # added to file times after each loop
        self._last_t = -1.0
        self._last_wall = 0.0
        self._seq = 0
        self._segment = 0  # breaks so far: wraps of a looping file, lost connections
        self._rewinding = False  # a looping file is being opened again (still connected)
        self.breaks = 0  # of them, breaks in the stream's timing (gaps, PTS restarts)
        self.ended = False
        self.connected = False
        self.reconnects = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_frame_wall: float | None = None
        self._stamped: ClockKind | None = None  # where the last frame's time came from
        self.decoded = RateMeter()

    @property
    def starting(self) -> bool:
        """Its first connection is still being opened: never connected, never failed (an
        RTSP camera takes up to the open time-out to answer either way)."""
        return not self.connected and self.failures == 0 and self._seq == 0 and not self.ended

    @property
    def clock_kind(self) -> ClockKind | None:
        """Where frame times come from: ``file``, ``pts`` or ``wall`` (``None`` before the
        first connection of a live camera)."""
        if self.kind == "file":
            return "file"
        if self._seq == 0 and self._cap is None:
            return None
        if self._stamped is not None:  # the last frame's (a stream whose PTS stopped: wall)
            return self._stamped
        return "pts" if self.stream_clock.use_pts else "wall"

    @property
    def segment(self) -> int:
        """Breaks so far: the segment of the next frame (see :class:`Frame`)."""
        return self._segment

    def read(self) -> Frame | None:
        """Next frame, or ``None`` (down, waiting to retry, or a file that ended)."""
        return None if self.grab() is None else self.retrieve()

    def grab(self) -> float | None:
        """Decode the next frame without converting it; its stream time, or ``None`` as
        :meth:`read`. :meth:`retrieve` then converts it, or the next ``grab`` passes it over
        (the YUV-to-BGR conversion is a fifth of a frame's decoding cost)."""
        if self.ended:
            return None
        if self._cap is None and not self._connect():
            return None
        if not self._cap.grab():
            self._lost()
            return None
        now = self._wall()
        pts = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        if self.kind == "file":
            t = self._offset + pts
            if self._last_t >= 0 and t - self._last_t > self.timing.max_gap_s:
                self._broke("gap", t - self._last_t)
        else:
            stamp = self.stream_clock.stamp(now, pts)
            if stamp.brk is not None:
                self._broke(stamp.brk, stamp.t - self._last_t)
            t = stamp.t
            self._stamped = stamp.kind
        if t <= self._last_t:  # repeated/zero pts: keep time strictly increasing
            t = self._last_t + 1e-3
        self._last_t, self._last_wall = t, now
        self._seq += 1
        self.last_frame_wall = now
        self.decoded.tick(self._clock())
        self.backoff.reset()
        return t

    def arrived(self) -> None:
        """The frame the last :meth:`grab` decoded arrives now: its wall time is now. A file
        paced at its own timestamps (:class:`Grabber` ``realtime``) is decoded a little ahead
        and then held until its time comes; stamped at decoding, it would look older than a
        live camera's frame and every latency measured from it would grow by that much."""
        self._last_wall = self.last_frame_wall = self._wall()

    def retrieve(self, skipped: int = 0) -> Frame | None:
        """The frame the last :meth:`grab` decoded, in BGR (``skipped``: frames grabbed
        and passed over before it), or ``None`` when it cannot be converted."""
        if self._cap is None:
            return None
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            self._lost()
            return None
        return Frame(
            self.camera_id,
            image,
            self._last_t,
            self._last_wall,
            self._seq,
            skipped,
            self._segment,
            self.clock_kind or "wall",
        )

    def retry_in(self) -> float:
        """Seconds until the next reconnection attempt (0 when connected)."""
        return 0.0 if self._cap is not None else max(0.0, self._retry_at - self._clock())

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap, self.connected = None, False

    def _connect(self) -> bool:
        if self._clock() < self._retry_at:
            return False
        cap = self._open(self.url)
        rewound, self._rewinding = self._rewinding, False
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            self.connected = False  # a looping file that cannot be opened again is lost too
            self._fail("cannot open")
            return False
        if self.failures:
            self.reconnects += 1
        self._cap, self.connected = cap, True
        if self.kind != "file":
            self.stream_clock.reset()
            self._stamped = None
            self.stream_clock.use_pts = uses_pts(
                self.timing.clock, self.kind, fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
            )
        logger.log(
            logging.DEBUG if rewound else logging.INFO,
            "camera %s: connected to %s (frame times: %s)",
            self.camera_id,
            redact(self.url),
            self.clock_kind,
        )
        return True

    def _broke(self, why: str, gap: float) -> None:
        """The frame being grabbed does not continue the last one (``why``: ``gap``,
        ``pts_reset``, ``delay``, ``pts_lost``; ``gap`` seconds between them)."""
        self._segment += 1
        self.breaks += 1
        logger.warning(
            "camera %s: break in the stream (%s, %.2f s): tracks start over",
            self.camera_id,
            why,
            gap,
        )

    def _lost(self) -> None:
        self.close()
        self._segment += 1  # whatever comes next does not continue the last picture
        if self.kind == "file" and self._last_t >= 0:
            if not self.loop:
                self.ended = True
                logger.info("camera %s: end of file", self.camera_id)
                return
            self._offset = self._last_t + 0.04  # next pass starts one frame later
            self._retry_at = 0.0
            # a wrap is no lost connection: the file is opened again on the next grab, and
            # health sent in between must not say "offline" (make run's wall raised a
            # camera-offline alarm on a looping sample clip that way)
            self.connected, self._rewinding = True, True
            logger.debug("camera %s: file looped", self.camera_id)
            return
        self._fail("stream lost")

    def _fail(self, what: str) -> None:
        delay = self.backoff.next_delay()
        self.failures += 1
        self.last_error = what
        self._retry_at = self._clock() + delay
        logger.warning(
            "camera %s: %s (%s); retrying in %.1f s", self.camera_id, what, redact(self.url), delay
        )


class Grabber:
    """Reads a source on a daemon thread into a bounded queue.

    ``drop_oldest`` (default for live cameras): a full queue loses its oldest frame, counted
    in ``dropped``; otherwise the thread waits for room. ``realtime`` paces a file at its own
    timestamps: each frame, used or not, is held until its time comes and its wall time is
    stamped then, as a live camera's would be (a file otherwise decodes as fast as the CPU
    allows).

    ``want`` (set before :meth:`start`; the camera pipeline sets it): called on this thread
    with each decoded frame's stream time and segment; a frame it refuses is passed over
    without its BGR conversion and counted in the next frame's ``skipped`` (at most
    ``MAX_SKIP`` in a row, so a refusing ``want`` cannot starve the queue); ``unreported``
    holds those after the last frame once the thread has ended.
    """

    MAX_SKIP = 64

    def __init__(
        self,
        source: CameraSource,
        size: int = 2,
        drop_oldest: bool | None = None,
        realtime: bool = False,
    ) -> None:
        self.source = source
        self.drop_oldest = source.kind != "file" if drop_oldest is None else drop_oldest
        self.realtime = realtime and source.kind == "file"
        self._q: queue.Queue[Frame] = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"grab-{source.camera_id}", daemon=True
        )
        self.dropped = 0
        self.want: Callable[[float, int], bool] | None = None
        self.unreported = 0  # frames passed over since the last one queued

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.source.close()

    @property
    def queued(self) -> int:
        """Frames waiting in the queue."""
        return self._q.qsize()

    @property
    def newer_waiting(self) -> bool:
        """A live camera has a newer frame queued behind the one just taken: the pipeline
        then passes over a tick that is due and detects the fresher frame instead. A file
        read offline waits for room rather than dropping frames, so it never has one."""
        return self.drop_oldest and self.queued > 0

    @property
    def finished(self) -> bool:
        """The source ended (file without loop) and every frame has been taken."""
        return not self._thread.is_alive() and self._q.empty()

    def get(self, timeout: float = 0.0) -> Frame | None:
        try:
            return self._q.get(timeout=timeout) if timeout > 0 else self._q.get_nowait()
        except queue.Empty:
            return None

    def _run(self) -> None:
        start_wall: float | None = None
        start_t = 0.0
        while not self._stop.is_set() and not self.source.ended:
            t = self.source.grab()
            frame = None
            if t is not None:
                if self.realtime:  # every frame when its time comes, as a live camera sends it
                    if start_wall is None:
                        start_wall, start_t = time.monotonic(), t
                    self._stop.wait(max(0.0, start_wall + t - start_t - time.monotonic()))
                    self.source.arrived()
                if (
                    self.want is not None
                    and self.unreported < self.MAX_SKIP
                    and not self.want(t, self.source.segment)
                ):
                    self.unreported += 1
                    continue
                frame = self.source.retrieve(self.unreported)
            if frame is None:
                self._stop.wait(min(1.0, max(0.01, self.source.retry_in())))
                continue
            self.unreported = 0
            self._put(frame)

    def _put(self, frame: Frame) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(frame, timeout=0.2)
                return
            except queue.Full:
                if self.drop_oldest:
                    try:
                        self._q.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass
