"""Progress of a replay: one updating line on a terminal, periodic log lines otherwise.

The counters are plain data (:class:`Counters`) and :func:`format_line` is pure, so what
an operator sees is tested without a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO

logger = logging.getLogger(__name__)


@dataclass
class Counters:
    """What a replay has done so far."""

    sent: int = 0
    rejected: int = 0
    skipped: int = 0  # not sent: outside the centre's accepted age window
    batches: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    data_time: datetime | None = None  # real data time of the last reading sent
    event_time: datetime | None = None  # the time it was sent with
    data_elapsed: timedelta | None = None  # compressed mode: data covered since the start


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d{hours % 24:02d}h"


def format_line(c: Counters, elapsed_s: float, via: str) -> str:
    """``replay via http: 12,345 readings  410/s  data +3d04h (2015-03-04 05:00Z)  rejected 2``."""
    rate = c.sent / elapsed_s if elapsed_s > 0 else 0.0
    parts = [f"replay via {via}: {c.sent:,} readings", f"{rate:,.0f}/s"]
    if c.data_time is not None:
        when = c.data_time.strftime("%Y-%m-%d %H:%MZ")
        if c.data_elapsed is not None:
            parts.append(f"data +{_span(c.data_elapsed)} ({when})")
        else:
            shown = c.event_time.strftime("%Y-%m-%d %H:%MZ") if c.event_time else when
            parts.append(f"data {when} as {shown}")
    if via == "http":
        parts.append(f"rejected {c.rejected:,}")
        if c.reasons:
            top = ", ".join(f"{r} {n}" for r, n in c.reasons.most_common(2))
            parts[-1] += f" ({top})"
    if c.skipped:
        parts.append(f"skipped {c.skipped:,} too old")
    return "  ".join(parts)


class Progress:
    """Shows :class:`Counters` every ``tty_every_s`` on a TTY, else every ``log_every_s``."""

    def __init__(
        self,
        via: str,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        tty_every_s: float = 0.25,
        log_every_s: float = 10.0,
    ) -> None:
        self.via = via
        self.counters = Counters()
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._tty = enabled and self._stream.isatty()
        self._every = tty_every_s if self._tty else log_every_s
        self._t0 = time.monotonic()
        self._last = self._t0
        self._width = 0

    def update(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self._enabled or (not force and now - self._last < self._every):
            return
        self._last = now
        line = format_line(self.counters, now - self._t0, self.via)
        if self._tty:
            pad = max(0, self._width - len(line))
            self._stream.write("\r" + line + " " * pad)
            self._stream.flush()
            self._width = len(line)
        else:
            logger.info("%s", line)

    def finish(self) -> str:
        """Show and return the final summary (ends the TTY line; a log line otherwise)."""
        line = format_line(self.counters, time.monotonic() - self._t0, self.via)
        if self._tty:
            self._stream.write("\r" + line + " " * max(0, self._width - len(line)) + "\n")
            self._stream.flush()
        elif self._enabled:
            logger.info("%s", line)
        return line
