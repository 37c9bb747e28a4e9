"""The replay loop with a fake sink: batching, limits, skipping, progress text."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ioc.replay.progress import Counters, Progress, format_line
from ioc.replay.runner import Due, replay
from ioc.replay.sinks import Item, Outcome
from ioc.replay.sources import SourceRecord

T0 = datetime(2015, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


class FakeSink:
    name = "fake"

    def __init__(self) -> None:
        self.batches: list[list[Item]] = []

    async def start(self) -> None:
        pass

    async def send(self, items: Sequence[Item]) -> Outcome:
        self.batches.append(list(items))
        bad = sum(1 for i in items if i["value"] < 0)
        return Outcome(len(items), bad)

    async def close(self) -> None:
        pass


def _due(
    n: int, *, offset_step: float = 0.0, value: float = 1.0, event_time: datetime = NOW
) -> list[Due]:
    return [
        Due(
            i * offset_step,
            event_time + timedelta(seconds=i),
            SourceRecord(
                T0 + timedelta(hours=i),
                "hp-aq-lechan",
                "pm25",
                value,
                "ug/m3",
                "good",
                f"f.csv:{i + 1}",
            ),
        )
        for i in range(n)
    ]


def _progress() -> Progress:
    return Progress("http", stream=io.StringIO())


async def test_batches_respect_max_batch_and_limit() -> None:
    sink = FakeSink()
    counters = await replay(iter(_due(25)), sink, _progress(), limit=23, max_batch=10)
    assert [len(b) for b in sink.batches] == [10, 10, 3]
    assert counters.sent == 23 and counters.batches == 3
    first = sink.batches[0][0]
    assert first["time"] == NOW.isoformat()
    assert first["event_id"] == str(_due(1)[0].record.event_id)
    assert "quality" not in first


async def test_waits_for_due_time_and_groups_by_window() -> None:
    sink = FakeSink()
    stream = _due(6, offset_step=0.02)  # all due within 0.1 s
    counters = await replay(iter(stream), sink, _progress(), batch_window_s=1.0, speed=3600)
    assert counters.sent == 6 and len(sink.batches) == 1
    assert counters.data_elapsed == timedelta(seconds=0.1 * 3600)


async def test_skips_too_old_and_counts_rejections() -> None:
    sink = FakeSink()
    old = _due(3, event_time=NOW - timedelta(days=4000))
    bad = _due(2, value=-1.7)
    counters = await replay(
        iter(old + bad), sink, _progress(), not_before=NOW - timedelta(days=3649)
    )
    assert counters.skipped == 3 and counters.sent == 2 and counters.rejected == 2


def test_format_line() -> None:
    c = Counters(
        sent=12345,
        rejected=2,
        data_time=datetime(2015, 3, 4, 5, tzinfo=UTC),
        data_elapsed=timedelta(days=3, hours=4),
    )
    c.reasons["out_of_range"] = 2
    line = format_line(c, 10.0, "http")
    assert "12,345 readings" in line and "1,234/s" in line
    assert "data +3d04h (2015-03-04 05:00Z)" in line
    assert "rejected 2 (out_of_range 2)" in line
    assert "rejected" not in format_line(Counters(sent=1), 1.0, "kafka")


def test_progress_on_a_pipe_logs_instead_of_carriage_returns() -> None:
    out = io.StringIO()
    p = Progress("kafka", stream=out)
    p.counters.sent = 5
    p.update(force=True)
    assert "\r" not in out.getvalue()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_tty_rewrites_one_line() -> None:
    out = _Tty()
    p = Progress("http", stream=out, tty_every_s=0.0)
    p.counters.sent = 5
    p.update()
    p.counters.sent = 10
    p.update()
    final = p.finish()
    text = out.getvalue()
    assert text.count("\r") == 3 and text.count("\n") == 1 and text.endswith("\n")
    assert "10 readings" in final
