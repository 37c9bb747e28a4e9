"""``ioc replay``: play the real data sets into the centre as if the sensors were live.

Examples::

    ioc replay                                  # HTTP, compressed time, every feed
    ioc replay --via kafka --speed 600 --sources beijing i94
    ioc replay --time-mode original-shifted --limit 100000 --no-progress   # history back-fill

Over HTTP the API key defaults to the one ``ioc run`` keeps in ``IOC_HOME`` and the URL to
the running dashboard's, so ``ioc replay`` needs no arguments next to ``ioc run``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from datetime import timedelta
from pathlib import Path

from ioc.replay.progress import Counters, Progress
from ioc.replay.runner import due_stream, make_schedule, open_feeds, replay
from ioc.replay.schedule import TIME_MODES
from ioc.replay.sinks import HttpSink, KafkaSink, MqttSink, Sink, SinkError
from ioc.replay.sources import SensorFeed, feeds_from_registry, select_feeds
from ioc.settings import Settings

logger = logging.getLogger(__name__)


def api_key_path(settings: Settings) -> Path:
    """Where ``ioc run`` keeps the replay's API key (mode 0600)."""
    return settings.home / "replay-api-key"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("replay", help="replay real sensor data into the centre")
    p.add_argument(
        "--via",
        choices=("http", "mqtt", "kafka"),
        default=None,
        help="ingestion path (default IOC_REPLAY_PATH)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help="data seconds per wall second (default IOC_REPLAY_SPEED)",
    )
    p.add_argument("--limit", type=int, default=None, help="stop after N readings")
    p.add_argument(
        "--sources",
        nargs="+",
        default=None,
        metavar="NAME",
        help="data sets (hanoi_us_embassy beijing beijing-weather i94 fremont), "
        "sources (beijing:Dongsi) or sensor ids; default all",
    )
    p.add_argument(
        "--time-mode",
        choices=TIME_MODES,
        default="compressed",
        help="compressed: now-ish event times; original-shifted: history back-fill",
    )
    p.add_argument("--url", default=None, help="web server URL (default: the running dashboard)")
    p.add_argument(
        "--api-key",
        default=None,
        help="ingest API key (default: the key `ioc run` keeps in IOC_HOME)",
    )
    p.add_argument(
        "--batch-window",
        type=float,
        default=0.25,
        help="seconds of due readings grouped into one batch",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_replay)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _http_target(args: argparse.Namespace, settings: Settings) -> tuple[str, str]:
    from ioc.services.manager import read_state

    url = args.url or read_state(settings).get("dashboard_url")
    if not url:
        raise SinkError("no --url given and no running dashboard is recorded in IOC_HOME")
    key = args.api_key
    if key is None:
        path = api_key_path(settings)
        try:
            key = path.read_text().strip()
        except OSError as exc:
            raise SinkError(
                f"no --api-key given and {path} is unreadable ({exc.strerror}); "
                "create one with `ioc apikeys create NAME --role ingest`"
            ) from exc
    return str(url), str(key)


def build_sink(via: str, args: argparse.Namespace, settings: Settings) -> Sink:
    if via == "http":
        return HttpSink(*_http_target(args, settings), max_body_bytes=settings.max_body_bytes)
    if via == "mqtt":
        if not settings.mqtt_url:
            raise SinkError("--via mqtt needs IOC_MQTT_URL")
        root = settings.mqtt_topic_filter.removesuffix("/#")
        return MqttSink(
            settings.mqtt_url, root if "+" not in root and "#" not in root else "ioc/sensors"
        )
    from ioc.services.manager import kafka_bootstrap

    return KafkaSink(kafka_bootstrap(settings), settings.topic("observations.raw"))


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from ioc.services.ports import ServiceError

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per batch
    via: str = args.via or settings.replay_path
    speed: float = args.speed if args.speed is not None else settings.replay_speed
    if speed <= 0 or (args.limit is not None and args.limit < 0):
        return _fail("--speed must be positive and --limit not negative")
    try:
        feeds = select_feeds(feeds_from_registry(settings.sensors_file), args.sources)
        sink = build_sink(via, args, settings)
    except (ValueError, OSError, SinkError, ServiceError) as exc:
        return _fail(str(exc))
    if not feeds:
        return _fail(f"no sensor in {settings.sensors_file} names a replay source")
    try:
        counters = asyncio.run(_run(args, settings, sink, feeds, via, speed))
    except SinkError as exc:
        return _fail(str(exc))
    logger.info("replay finished: %d readings sent, %d rejected", counters.sent, counters.rejected)
    return 0


async def _run(
    args: argparse.Namespace,
    settings: Settings,
    sink: Sink,
    feeds: list[SensorFeed],
    via: str,
    speed: float,
) -> Counters:
    """Connect first (fail fast), then read the feeds and replay them."""
    await sink.start()
    progress = Progress(via, enabled=not args.no_progress)
    try:
        readers = open_feeds(feeds, settings.shared_dir / "data")
        schedule = make_schedule(readers, args.time_mode, speed)
        compressed = args.time_mode == "compressed"
        not_before = (
            None if compressed else schedule.start - timedelta(days=settings.max_age_days - 1)
        )
        logger.info(
            "replaying %d feed(s) via %s (%s%s)",
            len(readers),
            via,
            args.time_mode,
            f", x{speed:g}" if compressed else "",
        )
        counters = await replay(
            due_stream(readers, schedule),
            sink,
            progress,
            limit=args.limit,
            batch_window_s=args.batch_window,
            max_batch=settings.max_batch_items,
            not_before=not_before,
            speed=speed if compressed else None,
        )
    finally:
        line = progress.finish()
        with contextlib.suppress(Exception):
            await sink.close()
    if args.no_progress:
        print(line, flush=True)
    return counters
