"""Signal-phase feed: message validation, phases applied in time order in the camera's stream
time and never before the video reaches them, junction filter, and the Kafka consumer
against the real (embedded) broker feeding a camera worker's signal history."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import numpy as np
import pytest

from ioc.services.broker import create_topics
from vision.catalogue import ViolationCatalogue
from vision.config import CameraConfig, CameraConfigError, parse_camera
from vision.feed_consumer import FeedConsumer
from vision.pipeline import CameraWorker, PipelineOptions
from vision.signal_feed import SignalFeed, parse_phase
from vision.signals import Light, SignalHistory
from vision.source import Frame

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def msg(wall: float, lights: dict[str, str], **extra: Any) -> bytes:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(wall, UTC).isoformat()
    return json.dumps({"schema": 1, "time": when, "lights": lights, **extra}).encode()


def test_parse_a_phase_with_offset_and_all() -> None:
    phase = parse_phase(
        b'{"schema": 1, "time": "2027-01-15T15:00:03.5+07:00", '
        b'"lights": {"all": "red", "right": "green"}}'
    )
    assert phase.wall == T0 + 3.5
    assert phase.lights == {"straight": Light.RED, "left": Light.RED, "right": Light.GREEN}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{", "not JSON"),
        (b"[]", "object"),
        (b'{"schema": 2, "time": "2027-01-15T08:00:00Z", "lights": {"all": "red"}}', "schema"),
        (b'{"schema": 1, "time": "2027-01-15T08:00:00", "lights": {"all": "red"}}', "offset"),
        (b'{"schema": 1, "time": "soon", "lights": {"all": "red"}}', "ISO"),
        (b'{"schema": 1, "time": "2027-01-15T08:00:00Z", "lights": {}}', "lights"),
        (b'{"schema": 1, "time": "2027-01-15T08:00:00Z", "lights": {"all": "blue"}}', "blue"),
        (b'{"schema": 1, "time": "2027-01-15T08:00:00Z", "lights": {"uturn": "red"}}', "uturn"),
    ],
)
def test_bad_messages_are_refused_naming_why(raw: bytes, fragment: str) -> None:
    feed = SignalFeed(SignalHistory())
    with pytest.raises(ValueError, match=fragment):
        feed.receive(raw)
    assert feed.rejected == 1


def test_phases_apply_in_time_order_in_stream_time_when_the_video_gets_there() -> None:
    history = SignalHistory()
    feed = SignalFeed(history)
    # arrive out of order; the stream clock is 100 s behind the wall clock
    feed.receive(msg(T0 + 10, {"all": "green"}))
    feed.receive(msg(T0 + 2, {"all": "red", "right": "green"}))
    assert feed.advance(t=101.0, wall=T0 + 1) == []  # nothing due yet
    (first,) = feed.advance(t=105.0, wall=T0 + 5)
    assert first.t == pytest.approx(102.0) and history.light_at(103.0, "straight") == Light.RED
    assert history.light_at(103.0, "right") == Light.GREEN
    assert feed.lights["left"] == Light.RED
    (second,) = feed.advance(t=112.0, wall=T0 + 12)
    assert second.t == pytest.approx(110.0)
    assert history.light_at(111.0, "straight") == Light.GREEN
    assert history.steady_since(109.0, "straight") == pytest.approx(102.0)


def test_junction_filter() -> None:
    feed = SignalFeed(SignalHistory(), junction="j1")
    assert feed.receive(msg(T0, {"all": "red"}, junction="j2")) is None
    assert feed.receive(msg(T0, {"all": "red"}, junction="j1")) is not None


def _feed_camera(topic: str) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam-feed",
            "name": "Feed camera",
            "location": {"lat": 20.86, "lon": 106.68},
            "source": "x.mp4",
            "detect_fps": 5,
            "frame": {"width": 640, "height": 360},
            "stop_lines": [{"id": "s1", "line": [[10, 200], [600, 200]], "direction": [0, -1]}],
            "signal": {"source": "feed", "feed_topic": topic},
        }
    )


def test_feed_config_is_validated(tmp_path: Any) -> None:
    raw = _feed_camera("hp.signals.j1").model_dump()
    raw["signal"] = {"source": "feed", "feed_topic": "bad topic!"}
    with pytest.raises(CameraConfigError, match=r"signal\.feed_topic"):
        parse_camera(raw, tmp_path / "c.yaml")
    raw["signal"] = {"source": "feed"}
    with pytest.raises(CameraConfigError, match="needs feed_topic"):
        parse_camera(raw, tmp_path / "c.yaml")


@pytest.mark.integration
async def test_consumer_feeds_the_camera_worker(
    services: object, catalogue: ViolationCatalogue, tmp_path: Any
) -> None:
    bootstrap = services.kafka_bootstrap_servers  # type: ignore[attr-defined]
    topic = f"test-signals-{secrets.token_hex(4)}"
    await create_topics(bootstrap, [topic], 1)
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:  # the phase in force before the pipeline starts is read from the backlog
        await producer.send_and_wait(topic, msg(time.time() - 30, {"all": "red"}))
    finally:
        await producer.stop()
    worker = CameraWorker(
        _feed_camera(topic), catalogue, PipelineOptions(evidence_root=tmp_path, gate=False)
    )
    inbox = FeedConsumer(bootstrap, [topic])
    try:
        deadline = time.monotonic() + 60
        while inbox.received < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert inbox.received == 1
        for topic_name, raw in inbox.drain():
            assert topic_name == topic and worker.feed is not None
            worker.feed.receive(raw)
        now = time.time()
        image = np.zeros((360, 640, 3), np.uint8)
        assert worker.offer(Frame("cam-feed", image, 50.0, now, 0)) is True
        assert worker.lights["straight"] == Light.RED
        assert worker.history.light_at(49.0, "left") == Light.RED
        assert worker.history.light_at(10.0, "left") == Light.UNKNOWN  # 30 s before: not yet
    finally:
        inbox.close()
