"""``ioc mqtt``: run the MQTT → Kafka bridge (see :mod:`ioc.mqtt_bridge`).

Example::

    IOC_MQTT_URL=mqtt://127.0.0.1:1883 ioc mqtt
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from ioc.heap import settle
from ioc.settings import Settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("mqtt", help="forward MQTT sensor messages to Kafka")
    p.add_argument("--url", default=None, help="MQTT broker URL (default IOC_MQTT_URL)")
    p.set_defaults(func=cmd_mqtt)


def cmd_mqtt(args: argparse.Namespace, settings: Settings) -> int:
    from ioc.services.manager import kafka_bootstrap
    from ioc.services.ports import ServiceError

    url = args.url or settings.mqtt_url
    if not url:
        print("error: no MQTT broker: set IOC_MQTT_URL or pass --url", file=sys.stderr)
        return 2
    try:
        bootstrap = kafka_bootstrap(settings)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    settle(settings.gc_gen0_threshold)  # start-up heap out of the collector's way: ioc/heap.py
    try:
        asyncio.run(_main(settings, bootstrap, url))
    except ValueError as exc:  # a malformed URL
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


async def _main(settings: Settings, bootstrap: str, url: str) -> None:
    """Run the bridge; SIGTERM and SIGINT stop it cleanly (in-flight messages finish)."""
    from ioc.mqtt_bridge import run_bridge

    task = asyncio.create_task(run_bridge(settings, bootstrap, url))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        stats = await task
    except asyncio.CancelledError:
        logger.info("MQTT bridge stopped")
        return
    logger.info("MQTT bridge ended after forwarding %d message(s)", stats.forwarded)
