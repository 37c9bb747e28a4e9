"""Readers of the real data sets that the replay plays back as the city's sensor feeds.

Each sensor in ``infra/data/sensors.csv`` names in its ``source`` column the real series it
replays (``hanoi_us_embassy``, ``beijing:<station>``, ``beijing-weather:<station>``, ``i94``,
``fremont``). Parsing one row is pure and lives in :mod:`ioc.replay.rows`; this module is
the file-reading shell that turns one file into a time-ordered stream of
:class:`SourceRecord` (sorted where the file is not, a row that repeats an instant dropped:
I-94's one-row-per-weather-condition hours, Hanoi's 3 duplicated hours, DST folds and gaps).

Example::

    feeds = feeds_from_registry(settings.sensors_file)
    for rec in read_feed(feeds[0], settings.shared_dir / "data"):
        print(rec.data_time, rec.sensor_id, rec.quantity, rec.value, rec.unit)
"""

from __future__ import annotations

import collections
import csv
import itertools
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from ioc.replay.rows import (
    ParsedRow,
    Sample,
    parse_beijing_air_row,
    parse_beijing_weather_row,
    parse_fremont_row,
    parse_hanoi_row,
    parse_i94_row,
)

logger = logging.getLogger(__name__)

REPLAY_NAMESPACE: Final = uuid.UUID("3b7e4f4e-2a51-4c55-9d0c-6a0f5e1c7a21")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One reading of a replayed feed, at its real data time."""

    data_time: datetime
    sensor_id: str
    quantity: str
    value: float
    unit: str
    quality: str
    origin: str  # "<file name>:<data row number>", stable across machines

    @property
    def event_id(self) -> uuid.UUID:
        """Deterministic id (file, row, quantity): resending the same reading is a duplicate."""
        return uuid.uuid5(REPLAY_NAMESPACE, f"{self.origin}:{self.quantity}")


@dataclass(frozen=True, slots=True)
class SensorFeed:
    """A registered sensor and the real series it replays."""

    sensor_id: str
    kind: str  # data set key of DATASETS, e.g. "beijing-weather"
    station: str | None  # Beijing station name, else None

    @property
    def source(self) -> str:
        return self.kind if self.station is None else f"{self.kind}:{self.station}"


@dataclass(frozen=True, slots=True)
class Dataset:
    """Where a data set lives under ``<shared>/data`` and how its rows are read.

    ``time_ordered``: the file's rows are in time order, so they are streamed (a row that
    goes back in time is dropped and counted); otherwise the feed is parsed whole and sorted.
    """

    path: str
    parse: Callable[[Mapping[str, str]], ParsedRow]
    station_column: str | None = None
    time_ordered: bool = True


_BEIJING_FILE: Final = "environment/beijing_multisite_aq_4stations_2015-03_2017-02.csv"
DATASETS: Final[Mapping[str, Dataset]] = {
    "hanoi_us_embassy": Dataset(
        "environment/hanoi_us_embassy_pm25_hourly_2016_2018.csv", parse_hanoi_row
    ),
    "beijing": Dataset(_BEIJING_FILE, parse_beijing_air_row, "station"),
    "beijing-weather": Dataset(_BEIJING_FILE, parse_beijing_weather_row, "station"),
    "i94": Dataset("traffic/metro_interstate_traffic_volume_i94.csv", parse_i94_row),
    # Three sorted runs (2012-2015, 2025, 2015-2025), not one.
    "fremont": Dataset(
        "traffic/seattle_fremont_bridge_bike_counts_hourly.csv",
        parse_fremont_row,
        time_ordered=False,
    ),
}


def parse_source(sensor_id: str, source: str) -> SensorFeed | None:
    """``"beijing:Dongsi"`` → feed; ``None`` for an empty source (a sensor with no replay)."""
    source = source.strip()
    if not source:
        return None
    kind, _, station = source.partition(":")
    dataset = DATASETS.get(kind)
    if dataset is None:
        raise ValueError(
            f"sensor {sensor_id}: unknown replay source {source!r}; known: {sorted(DATASETS)}"
        )
    if (dataset.station_column is None) != (not station):
        raise ValueError(
            f"sensor {sensor_id}: source {source!r} "
            + ("needs ':<station>'" if dataset.station_column else "takes no station")
        )
    return SensorFeed(sensor_id, kind, station or None)


def feeds_from_registry(sensors_csv: Path) -> list[SensorFeed]:
    """Feeds of every sensor in the registry file that names a replay ``source``."""
    with sensors_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    feeds = []
    for row in rows:
        feed = parse_source(row.get("id", ""), row.get("source") or "")
        if feed is not None:
            feeds.append(feed)
    return feeds


def select_feeds(feeds: list[SensorFeed], wanted: list[str] | None) -> list[SensorFeed]:
    """Keep feeds whose data set kind, full source or sensor id is in ``wanted`` (None: all)."""
    if not wanted:
        return feeds
    chosen = [f for f in feeds if {f.kind, f.source, f.sensor_id} & set(wanted)]
    unknown = set(wanted) - {n for f in feeds for n in (f.kind, f.source, f.sensor_id)}
    if unknown:
        raise ValueError(
            f"unknown source(s) {sorted(unknown)}; known: "
            f"{sorted({f.kind for f in feeds} | {f.sensor_id for f in feeds})}"
        )
    return chosen


Row = tuple[datetime, int, tuple[Sample, ...]]  # data time, data row number, samples


def _csv_rows(
    path: Path, station_column: str | None, station: str | None
) -> Iterator[tuple[int, dict[str, str]]]:
    """(data row number, row) of a CSV file, other stations' rows skipped before parsing."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        pick = header.index(station_column) if station_column in header else None
        for number, values in enumerate(reader, start=1):
            if pick is not None and (len(values) <= pick or values[pick] != station):
                continue
            yield number, dict(zip(header, values, strict=False))


def _parsed(feed: SensorFeed, data_dir: Path, stats: dict[str, int]) -> Iterator[Row]:
    dataset = DATASETS[feed.kind]
    for number, row in _csv_rows(data_dir / dataset.path, dataset.station_column, feed.station):
        try:
            parsed = dataset.parse(row)
        except (KeyError, ValueError) as exc:
            stats["unreadable"] += 1
            logger.debug("%s row %d unreadable: %s", dataset.path, number, exc)
            continue
        yield parsed.data_time, number, parsed.samples


def feed_rows(feed: SensorFeed, data_dir: Path) -> Iterator[Row]:
    """One feed's rows in strictly increasing data time, parsed lazily.

    A row that does not advance time (duplicated hour, DST fold or gap) is dropped whole,
    keeping the first: a replayed sensor never reports the same instant twice. Files that
    are not in time order (``Dataset.time_ordered``) are parsed whole and sorted first.
    """
    stats = {"unreadable": 0, "repeated": 0, "backwards": 0}
    rows = _parsed(feed, data_dir, stats)
    if not DATASETS[feed.kind].time_ordered:
        rows = iter(sorted(rows, key=lambda r: (r[0], r[1])))
    last: datetime | None = None
    for row in rows:
        if last is not None and row[0] <= last:
            stats["repeated" if row[0] == last else "backwards"] += 1
            continue
        last = row[0]
        yield row
    if any(stats.values()):
        logger.info(
            "%s (%s): dropped %d row(s) repeating an instant, %d going back in time, %d unreadable",
            feed.sensor_id,
            feed.source,
            stats["repeated"],
            stats["backwards"],
            stats["unreadable"],
        )


class FeedReader:
    """A feed's readings, read once, with its first data time known before streaming.

    Example::

        reader = FeedReader(feed, data_dir)
        t0 = reader.first()            # parses only up to the first row (ordered files)
        for rec in reader.records():   # then streams from there
            ...
    """

    def __init__(self, feed: SensorFeed, data_dir: Path) -> None:
        self.feed = feed
        self._data_dir = data_dir
        self._rows = feed_rows(feed, data_dir)
        self._head: list[Row] = []
        self._name = Path(DATASETS[feed.kind].path).name

    def first(self) -> datetime | None:
        if not self._head:
            self._head = [row for row in [next(self._rows, None)] if row is not None]
        return self._head[0][0] if self._head else None

    def last(self) -> datetime | None:
        """Newest data time (a separate full pass over the file)."""
        tail = collections.deque(feed_rows(self.feed, self._data_dir), maxlen=1)
        return tail[0][0] if tail else None

    def records(self) -> Iterator[SourceRecord]:
        sensor = self.feed.sensor_id
        for when, number, samples in itertools.chain(self._head, self._rows):
            origin = f"{self._name}:{number}"
            for s in samples:
                yield SourceRecord(when, sensor, s.quantity, s.value, s.unit, s.quality, origin)


def read_feed(feed: SensorFeed, data_dir: Path) -> Iterator[SourceRecord]:
    """One feed's readings in strictly increasing data time (see :func:`feed_rows`)."""
    return FeedReader(feed, data_dir).records()
