"""The ``ioc`` command: one argparse group per module under ``ioc.cli``.

Each module exposes ``register(subparsers)`` and sets ``func(args, settings) -> int`` on its
parsers. Settings are read once here and passed down.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ioc import log_hygiene
from ioc.settings import Settings

COMMAND_MODULES = (
    "services",
    "db",
    "users",
    "worker",
    "dashboard",
    "replay",
    "mqtt",
    "run",
    "vision",
    "feedback",
    "review",
    "audit",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ioc", description="Hai Phong intelligent operations centre."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"ioc.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log_hygiene.install()  # no query strings, no Kafka message values in any log
    try:
        code: int = args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
