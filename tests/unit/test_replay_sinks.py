"""HTTP sink behaviour against a fake server (httpx.MockTransport); pure helpers."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from ioc.replay.sinks import HttpSink, SinkError, count_rejections, mqtt_client_args

ITEMS = [
    {
        "sensor_id": "s",
        "quantity": "pm25",
        "value": float(i),
        "unit": "ug/m3",
        "time": "2026-11-23T07:00:00+00:00",
        "event_id": f"id-{i}",
    }
    for i in range(10)
]


def test_count_rejections_shapes() -> None:
    assert count_rejections(202, {"accepted": 3, "rejected": []}, 3) == (0, Counter())
    n, reasons = count_rejections(
        202,
        {
            "accepted": 1,
            "rejected": [
                {"index": 1, "reason": "out_of_range"},
                {"index": 2, "reason": "out_of_range"},
            ],
        },
        3,
    )
    assert (n, reasons) == (2, Counter({"out_of_range": 2}))
    n, reasons = count_rejections(
        422, {"error": "no_valid_items", "rejected": [{"reason": "unknown_sensor"}]}, 4
    )
    assert (n, reasons["unknown_sensor"]) == (4, 1)
    assert count_rejections(413, {"error": "body_too_large"}, 5) == (
        5,
        Counter({"body_too_large": 5}),
    )
    assert count_rejections(400, None, 2) == (2, Counter({"http_400": 2}))


def test_mqtt_client_args() -> None:
    assert mqtt_client_args("mqtt://127.0.0.1:1884") == {"hostname": "127.0.0.1", "port": 1884}
    args = mqtt_client_args("mqtts://u:p@broker.example")
    assert (args["hostname"], args["port"], args["username"], args["password"]) == (
        "broker.example",
        8883,
        "u",
        "p",
    )
    assert "tls_context" in args
    with pytest.raises(ValueError):
        mqtt_client_args("http://x")


def _sink(handler: Any, **kw: Any) -> HttpSink:
    return HttpSink(
        "http://ioc.test/", "ioc_abc_secret", transport=httpx.MockTransport(handler), **kw
    )


async def test_http_sink_posts_batch_with_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"accepted": 10, "rejected": []})

    sink = _sink(handler)
    await sink.start()
    outcome = await sink.send(ITEMS)
    await sink.close()
    assert (outcome.sent, outcome.rejected) == (10, 0)
    assert seen[0].url == "http://ioc.test/api/v1/observations"
    assert seen[0].headers["authorization"] == "Bearer ioc_abc_secret"
    assert json.loads(seen[0].content)["observations"] == ITEMS


async def test_http_sink_retries_5xx_and_connection_errors() -> None:
    answers: list[Any] = [
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(202, json={"accepted": 10, "rejected": []}),
    ]
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    sink = _sink(handler)
    await sink.start()
    outcome = await sink.send(ITEMS)
    await sink.close()
    assert outcome.sent == 10
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same batch, same event ids


async def test_http_sink_gives_up_after_deadline() -> None:
    sink = _sink(lambda r: httpx.Response(500), give_up_after_s=0.0)
    await sink.start()
    with pytest.raises(SinkError, match="giving up"):
        await sink.send(ITEMS)
    await sink.close()


async def test_http_sink_stops_on_refused_key() -> None:
    sink = _sink(lambda r: httpx.Response(401, json={"error": "unauthorized"}))
    await sink.start()
    with pytest.raises(SinkError, match="refused the API key"):
        await sink.send(ITEMS)
    await sink.close()


async def test_http_sink_counts_4xx_rejections() -> None:
    sink = _sink(
        lambda r: httpx.Response(
            422, json={"error": "no_valid_items", "rejected": [{"reason": "out_of_range"}] * 10}
        )
    )
    await sink.start()
    outcome = await sink.send(ITEMS)
    await sink.close()
    assert (outcome.sent, outcome.rejected, outcome.reasons) == (
        10,
        10,
        Counter({"out_of_range": 10}),
    )


async def test_http_sink_splits_bodies_above_the_limit() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        n = len(json.loads(request.content)["observations"])
        sizes.append(n)
        return httpx.Response(202, json={"accepted": n, "rejected": []})

    sink = _sink(handler, max_body_bytes=600)
    await sink.start()
    outcome = await sink.send(ITEMS)
    await sink.close()
    assert outcome.sent == 10 and sum(sizes) == 10 and max(sizes) < 10
