"""``ioc worker``: the stream processing worker (Faust) in the foreground.

Creates the topics it needs (the embedded broker does not auto-create them), builds the app
with :func:`streams.app.create_app` and runs a Faust worker until SIGTERM or SIGINT, which stop
it cleanly: the agents are cancelled, acked offsets are committed, the pool is closed. Offsets
of batches not yet durable are never acked, so stopping (or dying) mid-batch loses nothing.

Several workers may run at once (same ``IOC_STREAMS_APP_ID`` = consumer group): partitions are
shared among them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ioc.heap import settle
from ioc.settings import Settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("worker", help="run the stream processing worker (Faust)")
    p.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    import faust

    from ioc.services.manager import database_url, kafka_bootstrap
    from ioc.services.ports import ServiceError
    from streams.app import create_app
    from streams.topics import ensure_topics

    try:
        bootstrap, db_url = kafka_bootstrap(settings), database_url(settings)
    except ServiceError as exc:
        print(f"ioc worker: {exc}", file=sys.stderr)
        return 1
    created = asyncio.run(ensure_topics(bootstrap, settings))
    if created:
        logger.info("created topics %s", ", ".join(created))
    app = create_app(settings, bootstrap=bootstrap, database_url=db_url)
    Path(app.conf.datadir).parent.mkdir(parents=True, exist_ok=True)
    level = "debug" if getattr(args, "verbose", False) else settings.log_level.lower()
    # Faust installs its own SIGTERM/SIGINT handlers (graceful stop) and exits via SystemExit.
    worker = faust.Worker(app, loglevel=level, redirect_stdouts=False, quiet=True)
    settle(settings.gc_gen0_threshold)  # start-up heap out of the collector's way: ioc/heap.py
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0
