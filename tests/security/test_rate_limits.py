"""Rate limits on ingest: per API key and per client address, 429 with ``Retry-After``.

The token buckets are tested with an injected clock (no sleeps); the limits end to end
against a real ``ioc dashboard`` started with tiny limits. The login throttle has its own
tests (``tests/unit/test_auth.py``, ``tests/integration/test_dashboard_access.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fixtures.dashboard import add_api_key

from dashboard.throttle import TokenBuckets
from ioc.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_s=2.0, burst=3, clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [None, None, None]
    assert buckets.take("k") == 1  # half a token short at 2/s: retry in 1 s (rounded up)
    assert buckets.take("other") is None  # keys are independent
    clock.now += 0.5
    assert buckets.take("k") is None
    assert buckets.take("k") is not None
    clock.now += 100
    assert [buckets.take("k") for _ in range(3)] == [None, None, None]  # capped at the burst


def test_retry_after_is_how_long_a_token_takes() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_s=0.1, burst=1, clock=clock)
    assert buckets.take("k") is None
    assert buckets.take("k") == 10
    clock.now += 9.5
    assert buckets.take("k") == 1


def test_bucket_memory_is_bounded() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1, max_keys=100, clock=Clock())
    for i in range(1000):
        buckets.take(f"ip:{i}")
    assert len(buckets._buckets) == 100


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 5), (1.0, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        TokenBuckets(rate_per_s=rate, burst=burst)


def _post(base_url: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        base_url + "/api/v1/observations",
        json={
            "sensor_id": "hp-aq-lechan",
            "quantity": "pm25",
            "value": 1,
            "unit": "ug/m3",
            "time": "2026-01-01T00:00:00+07:00",
        },
        headers=headers,
        timeout=30,
    )


@pytest.mark.integration
def test_ingest_is_limited_per_key_and_per_address(
    dashboard_settings: Settings, dashboard_process: Callable[[Settings], Any]
) -> None:
    settings = dashboard_settings.model_copy(
        update={
            "api_key_rate_per_s": 0.01,
            "api_key_burst": 3,
            "ingest_address_rate_per_s": 0.01,
            "ingest_address_burst": 6,
        }
    )
    server = dashboard_process(settings)
    first, second = (add_api_key(settings, f"rate-{i}", "ingest") for i in range(2))
    assert [_post(server.base_url, first).status_code == 429 for _ in range(3)] == [False] * 3
    limited = _post(server.base_url, first)
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited" and limited.json()["limit"] == "api_key"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-content-type-options"] == "nosniff"  # headers on 429s too

    # Another key has a budget of its own, but the address's (6 writes) is shared: 3 + 3.
    assert [_post(server.base_url, second).status_code == 429 for _ in range(3)] == [False] * 3
    by_address = _post(server.base_url, None)
    assert by_address.status_code == 429 and by_address.json()["limit"] == "address"
    assert int(by_address.headers["retry-after"]) >= 1

    # Reads are not limited per address; health stays reachable for probes.
    assert httpx.get(server.base_url + "/healthz", timeout=30).status_code in (200, 503)
    assert "rate limited" in server.log_text()
    assert first not in server.log_text() and second not in server.log_text()
