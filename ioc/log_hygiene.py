"""Keep secrets and personal data out of the logs, whatever the log level.

Two leaks that no handler's own care can stop, found by ``tests/security/test_log_hygiene.py``:

* uvicorn's access log prints the full request target, query string included - and query
  strings carry Open311's ``api_key`` and search terms such as a plate. The query is
  replaced by ``?…`` (the path stays, for operations);
* aiokafka at DEBUG prints every produced message *value* - feedback reports with citizens'
  contacts, violations with plates. Its loggers are held at INFO or above.

Example::

    logging.basicConfig(level="DEBUG")
    install()   # after logging is configured, once per process
"""

from __future__ import annotations

import logging
from typing import Final

QUIET_AT_DEBUG: Final = ("aiokafka",)


class RedactQuery(logging.Filter):
    """Drop the query string from uvicorn access-log records (``GET /x?api_key=…``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, sep, _ = args[2].partition("?")
            if sep:
                record.args = (args[0], args[1], path + "?…", args[3], args[4])
        return True


def install() -> None:
    """Add the filters; idempotent."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in access.filters):
        access.addFilter(RedactQuery())
    for name in QUIET_AT_DEBUG:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
