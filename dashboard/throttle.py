"""Slow down password guessing: an in-memory failure counter per user name and per client IP.

After ``free_failures`` failures within ``window_s`` a key is locked out; each further
failure doubles the lock-out (capped at ``max_lockout_s``). A success clears the user name's
counter (not the IP's, so one valid account does not whitewash an address that guesses at
others). Addresses get a higher limit (``free_by_kind={"ip": 20}``): many people may share
one (a proxy, an office NAT) and a guesser must not lock them all out. State is per server
process, which is enough to make online guessing slow; the time source is injected so tests
need no sleeps.

Example::

    throttle = LoginThrottle()
    keys = ("user:lan", "ip:10.0.0.5")
    if (wait := throttle.retry_after(keys)) is not None: ...  # answer 429, Retry-After: wait
    throttle.failure(keys)
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    failures: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        free_failures: int = 5,
        window_s: float = 900.0,
        base_lockout_s: float = 5.0,
        max_lockout_s: float = 900.0,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
        free_by_kind: Mapping[str, int] | None = None,
    ) -> None:
        self._free = free_failures
        self._free_by_kind = dict(free_by_kind or {})
        self._window = window_s
        self._base = base_lockout_s
        self._max = max_lockout_s
        self._max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last > max(self._window, self._lockout(key, entry)):
            del self._entries[key]
            return None
        return entry

    def _free_for(self, key: str) -> int:
        return self._free_by_kind.get(key.split(":", 1)[0], self._free)

    def _lockout(self, key: str, entry: _Entry) -> float:
        over = entry.failures - self._free_for(key)
        if over < 0:
            return 0.0
        return float(min(self._max, self._base * 2 ** min(over, 32)))

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds to wait before another attempt, ``None`` when an attempt is allowed."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            entry = self._live(key, now)
            if entry is not None:
                wait = max(wait, entry.last + self._lockout(key, entry) - now)
        return math.ceil(wait) if wait > 0 else None

    def failure(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            entry = self._live(key, now)
            if entry is None:
                entry = self._entries[key] = _Entry(0, now)
            entry.failures += 1
            entry.last = now
            self._entries.move_to_end(key)
            if entry.failures == self._free_for(key):
                logger.warning(
                    "login throttled for %s after %d failures", key.split(":", 1)[0], entry.failures
                )
        while len(self._entries) > self._max_keys:
            self._entries.popitem(last=False)

    def success(self, key: str) -> None:
        self._entries.pop(key, None)


class TokenBuckets:
    """Request rate limits, one token bucket per key (an address, an API key's prefix).

    Each key may spend ``burst`` requests at once and gets ``rate_per_s`` tokens back per
    second. :meth:`take` answers ``None`` (allowed, one token spent) or the whole seconds to
    wait (the ``Retry-After`` of a 429). Memory is bounded (least recently used keys are
    forgotten, which only ever lets a forgotten key start with a full bucket again).

    Example::

        per_key = TokenBuckets(rate_per_s=20, burst=100)
        if (wait := per_key.take("key:0a1b2c3d4e5f")) is not None: ...  # 429, Retry-After: wait
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be positive and burst at least 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, key: str) -> int | None:
        now = self._clock()
        tokens, at = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            self._buckets.move_to_end(key)
            return max(1, math.ceil((1.0 - tokens) / self._rate))
        self._buckets[key] = (tokens - 1.0, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return None
