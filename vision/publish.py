"""What the camera pipeline tells the rest of the centre, and the Kafka producer that says it.

Messages (JSON; formats in docs/CONTRACTS.md, "Vision"):

* ``violations``: one per violation, sent when its evidence is on disk; ``event_id`` is a
  UUID5 of camera, track, rule and stream time, so re-processing the same footage after a
  restart yields the same ids and the store ignores the repeats.
* ``dashboard``: ``{"type": "camera"}`` health, ``{"type": "camera_frame"}`` a small
  annotated JPEG every few seconds, ``{"type": "camera_counts"}`` vehicles per minute and
  ``{"type": "camera_violation"}`` a short notice (no image, no personal data).
* ``observations.raw``: ``traffic_flow`` (veh/h) per camera minute, only for cameras with a
  registered sensor ``cam-<camera id>`` (the registry refuses unknown sensors anyway).

:class:`KafkaPublisher` never blocks the camera loop: messages go to a bounded queue that a
thread drains; dashboard messages are dropped (and counted) when it is full, violations wait
in their own larger queue and are retried until Kafka takes them.

Example::

    pub = KafkaPublisher(bootstrap)
    pub.send(settings.topic("dashboard"), health_message(...), key=camera_id)
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import queue
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.config import CameraConfig
from vision.evidence import EvidenceFile, iso
from vision.rules.base import Violation

logger = logging.getLogger(__name__)

VIOLATION_NAMESPACE: Final = uuid.UUID("3b6f0c2e-9d4a-5e1f-8a7b-2c5d9e0f1a64")
SCHEMA: Final = 1
Message = Mapping[str, Any]


def event_id(camera_id: str, track_id: int, rule: str, stream_time_s: float) -> uuid.UUID:
    """Stable id of one violation (time rounded to the millisecond)."""
    return uuid.uuid5(VIOLATION_NAMESPACE, f"{camera_id}|{track_id}|{rule}|{stream_time_s:.3f}")


def camera_info(camera: CameraConfig) -> dict[str, Any]:
    return {
        "id": camera.id,
        "name": camera.name,
        "lat": camera.location.lat,
        "lon": camera.location.lon,
        "area_id": camera.location.area,
    }


def violation_message(
    v: Violation,
    eid: str,
    event_wall: float,
    camera: CameraConfig,
    files: Sequence[EvidenceFile] | None,
    complete: bool,
) -> dict[str, Any]:
    lg = v.legal
    return {
        "schema": SCHEMA,
        "event_id": eid,
        "camera_id": v.camera_id,
        "camera": camera_info(camera),
        "rule": v.rule,
        "track_id": v.track_id,
        "vehicle_class": v.vehicle_class,
        "time": iso(event_wall),
        "stream_time_s": round(v.time, 3),
        "where": v.where,
        "legal": {
            "decree": lg.decree,
            "category": lg.category,
            "article": lg.article,
            "clause": lg.clause,
            "point": lg.point,
            "citation": lg.citation,
            "fine_min_vnd": lg.fine_min_vnd,
            "fine_max_vnd": lg.fine_max_vnd,
            "points": lg.points,
        },
        "measured": dict(v.measured),
        "status": "pending",
        "evidence": {
            "complete": complete and files is not None,
            "files": [
                {"path": f.path, "kind": f.kind, "sha256": f.sha256, "bytes": f.bytes}
                for f in files or []
            ],
        },
    }


def violation_notice(v: Violation, eid: str, event_wall: float) -> dict[str, Any]:
    return {
        "type": "camera_violation",
        "event_id": eid,
        "camera_id": v.camera_id,
        "rule": v.rule,
        "vehicle_class": v.vehicle_class,
        "where": v.where,
        "time": iso(event_wall),
        "citation": v.legal.citation,
    }


def violation_withdrawn(v: Violation, eid: str, event_wall: float, reason: str) -> dict[str, Any]:
    """A notice sent for ``v`` is taken back: its camera's view turned out to have moved
    before it was judged, or its picture was frozen, so it is never written or published
    (``reason``: ``view_moved``, ``view_obstructed``, ``stream_frozen``)."""
    return {
        "type": "camera_violation_withdrawn",
        "event_id": eid,
        "camera_id": v.camera_id,
        "rule": v.rule,
        "time": iso(event_wall),
        "reason": reason,
    }


def health_message(
    camera: CameraConfig,
    *,
    now_wall: float,
    connected: bool,
    decoded_fps: float,
    processed_fps: float,
    detector_fps: float,
    lag_s: float | None,
    last_frame_wall: float | None,
    reconnects: int,
    dropped: int,
    error: str | None,
    device: str,
    view: str | None = None,
    view_shift_px: float | None = None,
    clock: str | None = None,
    breaks: int = 0,
    frozen: bool = False,
    ring_mb: float = 0.0,
    evidence_backlog: int = 0,
    evidence_dropped: int = 0,
) -> dict[str, Any]:
    """``target_fps``: the detections/s the camera is meant to tick at (its ``detect_fps``
    after any cap, ``--max-detect-fps``): ``processed_fps`` below it is a camera falling
    behind. ``view``: the view check's state (``learning``, ``ok``, ``moved``, ``obstructed``;
    ``None`` when it is off), ``view_shift_px`` its last measured displacement; ``clock``:
    where frame times come from (``file``, ``pts``, ``wall``; ``None`` before the first
    connection), ``breaks``: gaps and timestamp restarts in the stream so far; ``frozen``:
    the picture stopped changing while frames keep coming (:mod:`vision.freeze`);
    ``ring_mb``: the memory its evidence ring holds; ``evidence_backlog``: evidence jobs of
    this process waiting to be written, ``evidence_dropped``: violations of this process
    published without clips because that queue was full."""
    return {
        "type": "camera",
        "camera_id": camera.id,
        "name": camera.name,
        "time": iso(now_wall),
        "connected": connected,
        "decoded_fps": round(decoded_fps, 2),
        "target_fps": round(camera.detect_fps, 2),
        "processed_fps": round(processed_fps, 2),
        "detector_fps": round(detector_fps, 2),
        "lag_s": None if lag_s is None else round(lag_s, 3),
        "last_frame_time": None if last_frame_wall is None else iso(last_frame_wall),
        "reconnects": reconnects,
        "dropped_frames": dropped,
        "error": error,
        "device": device,
        "view": view,
        "view_shift_px": view_shift_px,
        "clock": clock,
        "stream_breaks": breaks,
        "frozen": frozen,
        "ring_mb": round(ring_mb, 1),
        "evidence_backlog": evidence_backlog,
        "evidence_dropped": evidence_dropped,
    }


def frame_message(
    camera_id: str, image: NDArray[np.uint8], wall: float, max_width: int = 640, quality: int = 70
) -> dict[str, Any]:
    """A small annotated JPEG for the wall (base64; a few tens of kB)."""
    h, w = image.shape[:2]
    if w > max_width:
        image = np.asarray(
            cv2.resize(image, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return {
        "type": "camera_frame",
        "camera_id": camera_id,
        "time": iso(wall),
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "jpeg_b64": base64.b64encode(buf.tobytes()).decode("ascii"),
    }


def counts_message(
    camera_id: str, minute_wall: float, counts: Mapping[str, int], bucket_s: float = 60.0
) -> dict[str, Any]:
    return {
        "type": "camera_counts",
        "camera_id": camera_id,
        "minute": iso(minute_wall),
        "bucket_s": bucket_s,
        "counts": dict(counts),
        "total": sum(counts.values()),
    }


def flow_observation(
    sensor_id: str, minute_wall: float, counts: Mapping[str, int], bucket_s: float = 60.0
) -> dict[str, Any]:
    """Native observation: vehicles of the minute as an hourly rate (``traffic_flow``)."""
    return {
        "sensor_id": sensor_id,
        "time": iso(minute_wall + bucket_s),
        "quantity": "traffic_flow",
        "value": sum(counts.values()) * 3600.0 / bucket_s,
        "unit": "veh/h",
    }


class Publisher(Protocol):
    def send(
        self, topic: str, value: Message, key: str | None = None, urgent: bool = False
    ) -> None: ...

    def close(self) -> None: ...


class MemoryPublisher:
    """Keeps messages in a list (tests, ``--no-kafka`` runs)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str | None, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def send(
        self, topic: str, value: Message, key: str | None = None, urgent: bool = False
    ) -> None:
        with self._lock:
            self.messages.append((topic, key, json.loads(json.dumps(value))))

    def close(self) -> None:
        return None

    def of(self, topic: str, type_: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                v
                for t, _, v in self.messages
                if t == topic and (type_ is None or v.get("type") == type_)
            ]


class LogPublisher:
    """Logs what would be sent (``ioc vision run --no-kafka``); keeps nothing."""

    def send(
        self, topic: str, value: Message, key: str | None = None, urgent: bool = False
    ) -> None:
        kind = value.get("type") or value.get("rule") or "message"
        level = logging.INFO if urgent or kind == "camera_violation" else logging.DEBUG
        logger.log(level, "would send %s to %s (key %s)", kind, topic, key)

    def close(self) -> None:
        return None


Item = tuple[str, bytes | None, bytes]


class KafkaPublisher:
    """aiokafka producer on its own thread; ``send`` only enqueues."""

    def __init__(self, bootstrap: str, max_queue: int = 1000, max_urgent: int = 10_000) -> None:
        self.bootstrap = bootstrap
        self._q: queue.Queue[Item] = queue.Queue(maxsize=max_queue)
        self._urgent: queue.Queue[Item] = queue.Queue(maxsize=max_urgent)
        self._stop = threading.Event()
        self.dropped = 0
        self.sent = 0
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="kafka-publisher", daemon=True
        )
        self._thread.start()

    def send(
        self, topic: str, value: Message, key: str | None = None, urgent: bool = False
    ) -> None:
        item = (
            topic,
            key.encode() if key else None,
            json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(),
        )
        try:
            (self._urgent if urgent else self._q).put_nowait(item)
        except queue.Full:
            self.dropped += 1
            level = logging.ERROR if urgent else logging.DEBUG
            logger.log(level, "Kafka queue full: dropped a message for %s", topic)

    def close(self, timeout: float = 15.0) -> None:
        """Send what is queued (up to ``timeout``), then stop."""
        self._stop.set()
        self._thread.join(timeout)

    def _next(self) -> tuple[Item, bool] | None:
        for q, urgent in ((self._urgent, True), (self._q, False)):
            try:
                return q.get_nowait(), urgent
            except queue.Empty:
                continue
        return None

    async def _main(self) -> None:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        delay = 0.5
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                linger_ms=5,
                max_request_size=4 * 1024 * 1024,
            )
            try:
                await producer.start()
                break
            except KafkaError as exc:
                await producer.stop()
                if self._stop.is_set():
                    return
                logger.warning(
                    "Kafka at %s not available (%s); retrying in %.1f s", self.bootstrap, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(15.0, delay * 2)
        try:
            while True:
                nxt = self._next()
                if nxt is None:
                    if self._stop.is_set():
                        return
                    await asyncio.sleep(0.02)
                    continue
                (topic, key, value), urgent = nxt
                try:
                    await producer.send_and_wait(topic, value, key=key)
                    self.sent += 1
                except KafkaError as exc:
                    logger.warning("Kafka send to %s failed: %s", topic, exc)
                    if urgent and not self._stop.is_set():
                        self._urgent.put((topic, key, value))
                        await asyncio.sleep(1.0)
        finally:
            await producer.stop()
