"""The camera loop: source -> motion gate -> detector (batched across cameras) -> tracker ->
rules -> evidence + messages.

Every decoded frame the camera's evidence ring wants (``evidence_fps``) goes into it. At most
``detect_fps`` times a second a frame is *processed* (a tick): its signal heads are read and, when the motion gate
saw movement, it joins one detector batch with the other cameras' ticks (one GPU forward for
all of them); a still tick lets the tracker carry its objects instead. Tracked points feed
the pure rules; a violation opens an evidence job, written by a background thread, after
which the violation is published. Frames come through :class:`~vision.source.Grabber`
threads with small queues and Kafka through a non-blocking publisher, so neither a stalled
camera nor a slow broker holds the loop. Each grabber runs its camera's cadence
(:func:`vision.cadence.frame_filter`: the tick and ring rules, on stream times alone) and
passes over the frames neither takes before their BGR conversion (``skip_unused``), which
spares a fifth of decoding each frame it passes over. A live camera (``drop_oldest``) whose
queue already holds a newer frame when a tick is due ticks on the newer one (the stale frame
only goes to the ring): detections stay fresh when the loop falls behind. A break in the
stream (``Frame.segment``: a looping file wrapped, a camera reconnected) finishes the
vehicles in view and starts tracks and image-read signal lights over. So does a change of
the camera's view (:mod:`vision.view`: moved, re-aimed or covered); while the view is wrong,
no rule judges and nothing is counted, and violations judged since its last good check are
withdrawn; likewise while the picture is frozen (:mod:`vision.freeze`).

Example::

    feeds = {c.id: Grabber(CameraSource(c.id, url_of(c), loop=True), realtime=True)
             for c in cameras}
    pipe = Pipeline.build(cameras, catalogue, feeds, detector, KafkaPublisher(bootstrap),
                          PipelineOptions(topic_violations=settings.topic("violations"), ...))
    stats = pipe.run(stop_event)        # {camera id: CameraStats}
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from vision.annotate import draw
from vision.cadence import TickClock, frame_filter
from vision.catalogue import ViolationCatalogue
from vision.clips import DEFAULT_ENCODING, ClipEncoding
from vision.config import CameraConfig, Movement
from vision.counting import TrafficCounter
from vision.detector import Detector
from vision.evidence import (
    EvidenceFile,
    EvidenceJob,
    EvidenceRecorder,
    EvidenceWriter,
    FrameRing,
    Overlay,
)
from vision.flow import flow_messages
from vision.freeze import FreezeWatch
from vision.motion import MotionConfig, MotionGate, roi_mask
from vision.provenance import (
    calibration_record,
    camera_provenance,
    detector_provenance,
    weights_sha256,
)
from vision.publish import (
    Publisher,
    counts_message,
    event_id,
    flow_observation,
    frame_message,
    health_message,
    violation_message,
    violation_notice,
    violation_withdrawn,
)
from vision.riders import fuse_riders
from vision.rules import SpeedingRule, Violation, build_rules
from vision.signal_feed import SignalFeed
from vision.signals import Light, SignalHistory, SignalReader
from vision.source import Frame, Grabber, RateMeter
from vision.tracking import ObjectTracker, TrackerConfig
from vision.tracks import Detections, TrackBook
from vision.vehicles import VehicleLedger
from vision.view import BAD_STATES, ViewChange, ViewCheck, ViewConfig, load_reference

logger = logging.getLogger(__name__)

# A camera's first connection may take this long before its health is sent anyway (an
# opener that neither connects nor fails: offline is then the truth to report).
STARTING_GRACE_S = 30.0


class SignalInbox(Protocol):
    """Phase-feed messages received since the last call (``vision.feed_consumer``)."""

    def drain(self) -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Knobs of the loop; ``gate=False`` and ``every_frame=True`` give the brute-force
    baseline (detector on every frame) the benchmark compares with."""

    topic_violations: str = "ioc.violations"
    topic_dashboard: str = "ioc.dashboard"
    topic_observations: str = "ioc.observations.raw"
    topic_flow: str = "ioc.traffic.flow"
    evidence_root: Path = Path(".ioc/evidence")
    gate: bool = True
    every_frame: bool = False
    motion: MotionConfig = field(default_factory=MotionConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    evidence_fps: float = 10.0
    clip_encoding: ClipEncoding = DEFAULT_ENCODING  # x264 preset and CRF of evidence clips
    skip_unused: bool = True  # frames neither a tick nor the ring wants: decoded, not converted
    health_interval_s: float = 2.0
    frame_interval_s: float = 2.0
    device: str = "cpu"
    count_sensors: Mapping[str, str] = field(default_factory=dict)  # camera id -> sensor id
    view_references: Mapping[str, Path] = field(default_factory=dict)  # camera id -> image


@dataclass
class CameraStats:
    frames: int = 0
    ticks: int = 0
    detections: int = 0
    violations: int = 0
    withdrawn: int = 0  # judged on a moved view or a frozen picture; never published
    view_changes: list[tuple[float, str]] = field(default_factory=list)  # (stream s, state)
    freezes: list[tuple[float, float]] = field(default_factory=list)  # (since, found) stream s
    first_t: float | None = None
    last_t: float | None = None


class CameraWorker:
    """Everything one camera needs except the detector; fed by :class:`Pipeline`."""

    def __init__(
        self, camera: CameraConfig, catalogue: ViolationCatalogue, opts: PipelineOptions
    ) -> None:
        self.opts, self.catalogue = opts, catalogue
        self.drawn = camera  # as configured; ``camera`` is it fitted to the stream's size
        self._configure(camera)
        self._last_tick_t: float | None = None
        self.tracked: Detections | None = None
        self.lights: Mapping[Movement, Light] = {}
        self.stats = CameraStats()
        self.processed, self.detected = RateMeter(), RateMeter()
        self.lag_s: float | None = None
        self._untimed_warned = False  # the "speeding not judged" warning was logged
        frozen_s = camera.stream.frozen_s
        self.freeze = FreezeWatch(frozen_s) if frozen_s is not None else None
        self.clock = TickClock(self.period)
        self.segment = 0  # of the frames taken so far (``Frame.segment``)
        # withdrawn violations whose dashboard notice must be taken back (the pipeline sends it)
        self.retracted: list[tuple[Violation, str, float, str]] = []
        self._resized: list[EvidenceJob] = []  # evidence of the frame size before a change

    def _configure(self, camera: CameraConfig) -> None:
        """Build everything that depends on the camera's configuration and geometry."""
        self.camera = camera
        self.period = 0.0 if self.opts.every_frame else 1.0 / camera.detect_fps
        ticks_per_s = 30.0 if self.opts.every_frame else camera.detect_fps
        self.gate = (
            MotionGate(self.opts.motion, roi_mask(camera, self.opts.motion.width))
            if self.opts.gate
            else None
        )
        self.tracker = ObjectTracker(self.opts.tracker, ticks_per_s=ticks_per_s)
        self.book = TrackBook(horizon_s=60.0, max_gap_s=max(2.0, 3.0 / ticks_per_s))
        self.history = SignalHistory()
        sig = camera.signal
        self.reader = SignalReader(sig) if sig is not None and sig.source == "image" else None
        self.feed = (
            SignalFeed(self.history, sig.feed_junction)
            if sig is not None and sig.source == "feed"
            else None
        )
        self.rules = build_rules(camera, self.catalogue, self.history)
        window = max(
            (
                vt.evidence.before_s + vt.evidence.after_s
                for vt in self.catalogue.data.violations.values()
            ),
            default=10.0,
        )
        self.ring = FrameRing(
            window + camera.tuning.movement_timeout_s + 2.0, self.opts.evidence_fps
        )
        self.recorder = EvidenceRecorder(camera, self.ring)
        self.ledger = VehicleLedger(camera)
        self.counter = TrafficCounter(
            grace_s=camera.counting.max_gap_s + 2.0, min_move_px=camera.tuning.min_move_px
        )
        self.view = self._view_check(camera) if camera.view.enabled else None

    def _view_check(self, camera: CameraConfig) -> ViewCheck:
        """The camera's view check, on its reference image when it has one; a reference that
        cannot be used is reported and the view learned from the stream instead (the
        camera goes on)."""
        vt = camera.view
        cfg = ViewConfig(interval_s=vt.interval_s, confirm=vt.confirm, max_shift_px=vt.max_shift_px)
        size = (camera.frame.width, camera.frame.height)
        path = self.opts.view_references.get(camera.id)
        if path is not None:
            try:
                image = load_reference(path, size)
                return ViewCheck(cfg, camera.geometry_points(), size, image)
            except ValueError as exc:
                logger.error(
                    "%s: view.reference: %s; learning the view from the stream instead",
                    camera.id,
                    exc,
                )
        return ViewCheck(cfg, camera.geometry_points(), size)

    def _fit(self, frame: Frame) -> None:
        """Geometry drawn on another frame size than the stream's (a substream, a camera
        reconfigured) is scaled to the stream (``CameraConfig.scaled``), with a warning, so
        lines and zones stay on the road. Counts already made are kept, and so are the
        violations still waiting for their evidence: a new size comes after a reconnection
        (a break), so their clips end there (``evidence_ready``)."""
        h, w = frame.image.shape[:2]
        if (w, h) == (self.camera.frame.width, self.camera.frame.height):
            return
        size = self.drawn.frame
        logger.warning(
            "%s: stream is %dx%d, geometry was drawn on %dx%d; scaling it to the stream",
            self.camera.id,
            w,
            h,
            size.width,
            size.height,
        )
        counter, waiting = self.counter, self.recorder.ready(flush=True)
        same = (w, h) == (size.width, size.height)
        self._configure(self.drawn if same else self.drawn.scaled(w, h))
        self.counter = counter
        self._resized.extend(waiting)

    def evidence_ready(self, t: float | None = None, flush: bool = False) -> list[EvidenceJob]:
        """Evidence jobs whose window has passed stream time ``t`` (all when ``flush``),
        with those cut short by a change of frame size."""
        jobs, self._resized = [*self._resized, *self.recorder.ready(t, flush)], []
        return jobs

    def offer(self, frame: Frame, newer_waiting: bool = False) -> bool | None:
        """Take a decoded frame. ``None``: not a tick (stored for evidence only); ``True``:
        a tick that needs the detector; ``False``: a still tick (the tracker carries).
        ``newer_waiting``: a live camera has a newer frame queued behind this one, so this
        one is not a tick even when one is due: the next frame is (the freshest frame is
        detected, not the stale one)."""
        st = self.stats
        if frame.segment != self.segment:
            self._restart(frame)
        self._fit(frame)
        st.frames += 1 + frame.skipped
        st.first_t = frame.t if st.first_t is None else st.first_t
        st.last_t = frame.t
        if newer_waiting or not self.clock.take(frame.t):
            self.ring.add(frame.t, frame.wall, frame.image, Overlay(self.tracked, self.lights))
            return None
        if self.reader is not None:
            state = self.reader.read(frame.image, frame.t, bgr=True)
            self.history.add(state)
            self.lights = dict(state.lights)
        if self.feed is not None:
            self.feed.advance(frame.t, frame.wall)
            self.lights = dict(self.feed.lights)
        return True if self.gate is None else self.gate.check(frame.image, frame.t).detect

    def _restart(self, frame: Frame) -> None:
        """The picture broke before ``frame`` (a looping file wrapped, a camera
        reconnected): what was on screen before says nothing about what is on screen now.
        Vehicles in view are finished and counted, tracks and the signal lights start over
        (a track carried over the break would jump, and a light read before it would judge
        vehicles after it), and no evidence clip spans the break; counts are kept."""
        logger.debug("%s: stream break; tracks and signal lights start over", self.camera.id)
        self.segment = frame.segment
        self._start_over(frame.t)

    def _start_over(self, t: float) -> None:
        self.ring.mark_break(t)
        self.counter.add(self.ledger.flush())
        self.tracker.reset()
        self.book.clear()
        self.tracked = None
        self._last_tick_t = None
        self.clock.restart()  # the first frame of the new picture is a tick
        if self.reader is not None:  # a phase feed is not part of the picture: it goes on
            self.reader.reset()
            self.history.clear()
            self.lights = {}

    def apply(self, frame: Frame, detections: Detections | None) -> list[Violation]:
        """Track (or carry), run the rules, store the frame; returns new violations."""
        now = time.monotonic()
        self.stats.ticks += 1
        self.processed.tick(now)
        if detections is not None:
            self.stats.detections += 1
            self.detected.tick(now)
        if (self.freeze is not None and not self._picture_moves(frame)) or (
            self.view is not None and not self._view_allows(frame, detections)
        ):
            self.ring.add(frame.t, frame.wall, frame.image, Overlay(None, self.lights))
            self.lag_s = time.time() - frame.wall
            return []
        if detections is not None:
            self.tracked = self.tracker.update(fuse_riders(detections))
        else:
            self.tracked = self.tracker.carry(frame.t)
        points = self.tracked.points() if self.tracked is not None else []
        tracks = self.book.update(points, frame.t)
        self.counter.add(self.ledger.observe(tracks, frame.t, frame.wall))
        dt = 0.0 if self._last_tick_t is None else min(1.0, max(0.0, frame.t - self._last_tick_t))
        self._last_tick_t = frame.t
        self.counter.presence(self.ledger.present(frame.t), dt, frame.wall)
        timed = self._speeds_timed(frame)
        out = [
            v
            for rule in self.rules
            if timed or rule.key != SpeedingRule.key
            for v in rule.evaluate(tracks, frame.t)
        ]
        self.ring.add(frame.t, frame.wall, frame.image, Overlay(self.tracked, self.lights))
        self.lag_s = time.time() - frame.wall
        self.stats.violations += len(out)
        return out

    def _speeds_timed(self, frame: Frame) -> bool:
        """Whether a speed may be judged on ``frame``: its time is its own timestamp, or the
        camera's YAML chose arrival times (``stream.clock: wall``) knowingly. A stream
        without timestamps (MJPEG) is timed by arrival, and a burst after a stall would read
        as a car several times too fast: no fine rests on that."""
        if frame.clock != "wall" or self.camera.stream.clock == "wall":
            return True
        if not self._untimed_warned and self.camera.speed is not None:
            self._untimed_warned = True
            logger.warning(
                "%s: the stream has no frame timestamps (MJPEG?): speeding is not judged; "
                "set stream.clock: wall in its YAML to judge it on arrival times",
                self.camera.id,
            )
        return False

    def _picture_moves(self, frame: Frame) -> bool:
        """Whether the picture is live (:mod:`vision.freeze`). When it froze: the vehicles
        in view are finished, tracks start over, no clip spans it, and what was judged
        since its first unchanged frame is withdrawn; when it moves again, tracks start
        over once more (the frozen stretch is a hole in the footage)."""
        assert self.freeze is not None
        change = self.freeze.update(frame.t, frame.image)
        if change is not None:
            if change.frozen:
                self.stats.freezes.append((round(change.since_t, 3), round(change.t, 3)))
                gone = self._withdraw_since(change.since_t, "stream_frozen")
                logger.warning(
                    "%s: the picture has not changed for %.1f s while frames keep coming "
                    "(a frozen camera or recorder); rules and counts stop until it moves; "
                    "%d violation(s) judged on it withdrawn",
                    self.camera.id,
                    change.t - change.since_t,
                    gone,
                )
            else:
                logger.warning(
                    "%s: the picture moves again after %.1f s frozen; rules and counts resume",
                    self.camera.id,
                    change.t - change.since_t,
                )
            self._start_over(frame.t)
        return not self.freeze.frozen

    def _withdraw_since(self, after_t: float | None, reason: str) -> int:
        """Withdraw the violations judged after stream time ``after_t`` whose evidence is
        still open (never written or published); their wall notices are taken back with
        ``reason``. Returns how many."""
        gone = self.recorder.withdraw(after_t)
        self.stats.withdrawn += len(gone)
        self.retracted += [(v, eid, wall, reason) for v, eid, wall in gone]
        return len(gone)

    def _view_allows(self, frame: Frame, detections: Detections | None) -> bool:
        """Check the view when due (what the detector found, or else the tracked boxes, left
        out of the scene); whether tracks, counts and rules may use the geometry now."""
        assert self.view is not None
        found = detections if detections is not None else self.tracked
        boxes = found.xyxy if found is not None else None
        change = self.view.check(frame.image, frame.t, boxes)
        if change is not None:
            self._view_changed(change, frame)
        return self.view.judging

    def _view_changed(self, change: ViewChange, frame: Frame) -> None:
        """Into a bad state: the vehicles in view are finished, tracks start over, no clip
        spans the change, and violations judged since the last good reading are withdrawn.
        Back to ``ok``: tracks start over again on the right geometry."""
        r = change.reading
        self.stats.view_changes.append((round(change.t, 3), change.new))
        if change.new not in BAD_STATES and change.old not in BAD_STATES:
            assert self.view is not None
            logger.info(
                "%s: view %s (shift %s px, %d matches)",
                self.camera.id,
                "matches its reference" if self.view.configured else "learned from the stream",
                _px(r.shift_px),
                r.inliers,
            )
            return
        if change.new in BAD_STATES:
            gone = self._withdraw_since(change.last_ok_t, f"view_{change.new}")
            logger.warning(
                "%s: view %s (geometry shifted %s px, %d matches, %d features); rules and "
                "counts stop until it is back; %d violation(s) judged since the last good "
                "check withdrawn",
                self.camera.id,
                change.new,
                _px(r.shift_px),
                r.inliers,
                r.features,
                gone,
            )
        else:
            logger.warning(
                "%s: view back (shift %s px); rules and counts resume",
                self.camera.id,
                _px(r.shift_px),
            )
        self._start_over(frame.t)

    def view_extra(self) -> dict[str, object]:
        """The view check as the evidence metadata records it."""
        v = self.view
        if v is None:
            return {"view": None}
        last = v.last
        return {
            "view": {
                "state": v.state,
                "last_ok_s": v.watch.last_ok_t,
                "shift_px": None if last is None else last.shift_px,
                "max_shift_px": v.config.max_shift_px,
            }
        }


def _px(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


class Pipeline:
    """Round-robin over the cameras' grabbers, one detector for all."""

    def __init__(
        self,
        workers: Sequence[CameraWorker],
        feeds: Mapping[str, Grabber],
        detector: Detector,
        publisher: Publisher,
        opts: PipelineOptions,
    ) -> None:
        self.workers = {w.camera.id: w for w in workers}
        self.feeds, self.detector = dict(feeds), detector
        if opts.skip_unused:  # the grabbers run the cameras' cadence on their own threads
            for cid, feed in self.feeds.items():
                feed.want = frame_filter(self.workers[cid].period, opts.evidence_fps)
        self.publisher, self.opts = publisher, opts
        self.writer = EvidenceWriter(
            opts.evidence_root,
            self._evidence_done,
            opts.evidence_fps,
            encoding=opts.clip_encoding,
        )
        self._last_health: dict[str, float] = {}
        self._started = time.monotonic()
        self._last_frame_msg: dict[str, float] = {}
        self._latest: dict[str, Frame] = {}
        self.signal_inbox: SignalInbox | None = None
        self._detector_info: dict[str, object] | None = None  # after the first detection
        spec = getattr(detector, "spec", None)
        weights, imgsz = getattr(spec, "model_path", None), getattr(spec, "imgsz", None)
        if isinstance(weights, Path):  # hashed now, not on the loop at the first violation
            weights_sha256(weights)
        self._default_imgsz = imgsz if isinstance(imgsz, int) else None

    def signal_message(self, topic: str, raw: bytes) -> int:
        """Hand one phase-feed message to every camera reading ``topic``; returns how many
        took it (a malformed message is logged and skipped, the cameras go on)."""
        took = 0
        for w in self.workers.values():
            sig = w.camera.signal
            if w.feed is None or sig is None or sig.feed_topic != topic:
                continue
            try:
                took += w.feed.receive(raw) is not None
            except ValueError as exc:
                logger.warning("%s: signal feed message refused: %s", w.camera.id, exc)
        return took

    @classmethod
    def build(
        cls,
        cameras: Sequence[CameraConfig],
        catalogue: ViolationCatalogue,
        feeds: Mapping[str, Grabber],
        detector: Detector,
        publisher: Publisher,
        opts: PipelineOptions,
    ) -> Pipeline:
        workers = [CameraWorker(c, catalogue, opts) for c in cameras]
        return cls(workers, feeds, detector, publisher, opts)

    def run(
        self,
        stop: threading.Event | None = None,
        until_s: float | None = None,
        max_wall_s: float | None = None,
    ) -> dict[str, CameraStats]:
        """Process until every feed ends, ``stop`` is set, each camera has covered
        ``until_s`` seconds of stream time, or ``max_wall_s`` passed; then flush evidence."""
        stop = stop or threading.Event()
        start = self._started = time.monotonic()
        live = set(self.feeds)
        for g in self.feeds.values():
            g.start()
        try:
            while live and not stop.is_set():
                if max_wall_s is not None and time.monotonic() - start > max_wall_s:
                    break
                if not self.step(live, until_s):
                    stop.wait(0.005)
        finally:
            self._housekeeping(force=True, counts=False)  # health while sources are still open
            for g in self.feeds.values():
                g.stop()
            self._finish()
        return {cid: w.stats for cid, w in self.workers.items()}

    def step(self, live: set[str], until_s: float | None = None) -> bool:
        """One round: each camera advances to its next tick (frames in between only go to
        its evidence ring), then one detector batch for every tick that needs it."""
        if self.signal_inbox is not None:
            for topic, raw in self.signal_inbox.drain():
                self.signal_message(topic, raw)
        todo: list[tuple[CameraWorker, Frame, bool]] = []
        for cid in sorted(live):
            tick = self._next_tick(cid, live, until_s)
            if tick is not None:
                todo.append(tick)
        if not todo:
            self._housekeeping()
            return False
        need = [(w, f) for w, f, detect in todo if detect]
        found = (
            self.detector.detect(
                [f.image for _, f in need],
                [f.t for _, f in need],
                [w.camera.detect_imgsz for w, _ in need],
                [w.camera.class_map or None for w, _ in need],
            )
            if need
            else []
        )
        by_cam = {w.camera.id: d for (w, _), d in zip(need, found, strict=True)}
        for w, f, _ in todo:
            for v in w.apply(f, by_cam.get(w.camera.id)):
                self._open_evidence(w, f, v)
            for v, eid, wall, reason in w.retracted:
                self.publisher.send(
                    self.opts.topic_dashboard,
                    violation_withdrawn(v, eid, wall, reason),
                    key=v.camera_id,
                )
            w.retracted.clear()
            for job in w.evidence_ready(f.t):
                self.writer.submit(job)
        self._housekeeping()
        return True

    def _next_tick(
        self, cid: str, live: set[str], until_s: float | None, max_frames: int = 64
    ) -> tuple[CameraWorker, Frame, bool] | None:
        w, feed = self.workers[cid], self.feeds[cid]
        for _ in range(max_frames):
            frame = feed.get()
            if frame is None:
                if feed.finished:
                    live.discard(cid)
                    w.stats.frames += feed.unreported  # passed over after the last
                return None
            if (
                until_s is not None
                and w.stats.first_t is not None
                and frame.t - w.stats.first_t > until_s
            ):
                live.discard(cid)
                return None
            decision = w.offer(frame, feed.newer_waiting)
            self._latest[cid] = frame
            if decision is not None:
                return w, frame, decision
        return None

    def _open_evidence(self, w: CameraWorker, f: Frame, v: Violation) -> None:
        eid = str(event_id(v.camera_id, v.track_id, v.rule, v.time))
        wall = f.wall - (f.t - v.time)
        w.recorder.open(
            v, eid, wall, {**w.view_extra(), **self._provenance(w, v), "timing": {"clock": f.clock}}
        )
        self.publisher.send(
            self.opts.topic_dashboard, violation_notice(v, eid, wall), key=v.camera_id
        )

    def _provenance(self, w: CameraWorker, v: Violation) -> dict[str, object]:
        """What judged ``v``, for its metadata (:mod:`vision.provenance`): the camera's
        configuration as it ran, the detector, and a speed's calibration."""
        if self._detector_info is None:
            self._detector_info = detector_provenance(self.detector)
        extra: dict[str, object] = {
            "provenance": {
                "camera": camera_provenance(w.camera, self._default_imgsz),
                "detector": self._detector_info,
            }
        }
        if w.camera.speed is not None and "speed_kmh" in v.measured:
            extra["calibration"] = calibration_record(w.camera.speed)
        return extra

    def _evidence_done(self, job: EvidenceJob, files: list[EvidenceFile] | None) -> None:
        msg = violation_message(
            job.violation, job.event_id, job.event_wall, job.camera, files, job.complete
        )
        self.publisher.send(self.opts.topic_violations, msg, key=job.camera.id, urgent=True)

    def _housekeeping(self, force: bool = False, counts: bool = True) -> None:
        now = time.time()
        mono = time.monotonic()
        for cid, w in self.workers.items():
            due = now - self._last_health.get(cid, 0.0) >= self.opts.health_interval_s
            if force or (due and not self._opening(cid, mono)):
                self._last_health[cid] = now
                self._send_health(w, now, mono)
            frame = self._latest.get(cid)
            if frame is not None and (
                force or now - self._last_frame_msg.get(cid, 0.0) >= self.opts.frame_interval_s
            ):
                self._last_frame_msg[cid] = now
                img = draw(frame.image, w.camera, w.tracked, w.lights)
                self.publisher.send(
                    self.opts.topic_dashboard, frame_message(cid, img, frame.wall), key=cid
                )
            for minute in w.counter.closed(now, flush=force) if counts else []:
                self.publisher.send(
                    self.opts.topic_dashboard,
                    counts_message(cid, minute.start, minute.vehicles),
                    key=cid,
                )
                for msg in flow_messages(w.camera, minute):
                    self.publisher.send(self.opts.topic_flow, msg, key=cid)
                sensor = self.opts.count_sensors.get(cid)
                if sensor is not None:
                    self.publisher.send(
                        self.opts.topic_observations,
                        flow_observation(sensor, minute.start, minute.vehicles),
                        key=sensor,
                    )

    def _opening(self, cid: str, mono: float) -> bool:
        """Whether camera ``cid`` is still opening its first connection (for at most
        ``STARTING_GRACE_S`` after the run began): its health then says nothing yet, and a
        message with ``connected: false`` would raise an offline alarm on the wall at every
        start, cleared a moment later."""
        feed = self.feeds.get(cid)
        return feed is not None and feed.source.starting and mono - self._started < STARTING_GRACE_S

    def _send_health(self, w: CameraWorker, now: float, mono: float) -> None:
        feed = self.feeds.get(w.camera.id)
        src = feed.source if feed is not None else None
        self.publisher.send(
            self.opts.topic_dashboard,
            health_message(
                w.camera,
                now_wall=now,
                connected=bool(src and src.connected),
                decoded_fps=src.decoded.rate(mono) if src else 0.0,
                processed_fps=w.processed.rate(mono),
                detector_fps=w.detected.rate(mono),
                lag_s=w.lag_s,
                last_frame_wall=src.last_frame_wall if src else None,
                reconnects=src.reconnects if src else 0,
                dropped=feed.dropped if feed else 0,
                error=src.last_error if src else None,
                device=self.opts.device,
                view=None if w.view is None else w.view.state,
                view_shift_px=None
                if w.view is None or w.view.last is None
                else w.view.last.shift_px,
                clock=src.clock_kind if src else None,
                breaks=src.breaks if src else 0,
                frozen=w.freeze is not None and w.freeze.frozen,
                ring_mb=w.ring.nbytes / 1e6,
                evidence_backlog=self.writer.backlog,
                evidence_dropped=self.writer.dropped,
            ),
            key=w.camera.id,
        )

    def _finish(self) -> None:
        for w in self.workers.values():
            w.counter.add(w.ledger.flush())
            for job in w.evidence_ready(flush=True):
                self.writer.submit(job)
        self.writer.close()
        self._housekeeping(force=True)
