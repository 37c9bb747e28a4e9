"""Row parsing of the real data sets (pure) and the feed readers on small synthetic files."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ioc.replay.rows import (
    parse_beijing_air_row,
    parse_beijing_weather_row,
    parse_fremont_row,
    parse_hanoi_row,
    parse_i94_row,
    relative_humidity,
)
from ioc.replay.sources import (
    DATASETS,
    SensorFeed,
    feeds_from_registry,
    parse_source,
    read_feed,
    select_feeds,
)

REPO = Path(__file__).resolve().parents[2]


def _hanoi(date: str, raw: str, qc: str = "Valid") -> dict[str, str]:
    return {"Date (LT)": date, "Raw Conc.": raw, "QC Name": qc}


def test_hanoi_is_utc_plus_7_and_keeps_raw_concentration() -> None:
    row = parse_hanoi_row(_hanoi("2016-01-01 01:00 AM", "94.7"))
    assert row.data_time == datetime(2015, 12, 31, 18, tzinfo=UTC)
    assert [(s.quantity, s.value, s.unit) for s in row.samples] == [("pm25", 94.7, "ug/m3")]
    assert parse_hanoi_row(_hanoi("2016-01-01 12:00 PM", "1")).data_time.hour == 5


@pytest.mark.parametrize(
    ("raw", "qc"),
    [
        ("-999", "Valid"),
        ("-999.0", "Missing"),
        ("35.0", "Invalid"),
        ("35.0", "Missing"),
        ("", "Valid"),
    ],
)
def test_hanoi_missing_or_not_valid_gives_no_sample(raw: str, qc: str) -> None:
    assert parse_hanoi_row(_hanoi("2016-01-01 01:00 AM", raw, qc)).samples == ()


def _beijing(**over: str) -> dict[str, str]:
    row = {
        "year": "2015",
        "month": "3",
        "day": "1",
        "hour": "0",
        "PM2.5": "69",
        "PM10": "271",
        "SO2": "8",
        "NO2": "44",
        "CO": "800",
        "O3": "40",
        "TEMP": "-1.8",
        "PRES": "1021",
        "DEWP": "-4.6",
        "RAIN": "0",
        "WSPM": "0.4",
        "station": "Dongsi",
    }
    row.update(over)
    return row


def test_beijing_air_is_utc_plus_8_and_skips_na() -> None:
    row = parse_beijing_air_row(_beijing(SO2="NA"))
    assert row.data_time == datetime(2015, 2, 28, 16, tzinfo=UTC)
    got = {s.quantity: s.value for s in row.samples}
    assert got == {"pm25": 69, "pm10": 271, "no2": 44, "co": 800, "o3": 40}
    assert {s.unit for s in row.samples} == {"ug/m3"}


def test_beijing_weather_derives_humidity_as_estimated() -> None:
    row = parse_beijing_weather_row(_beijing())
    got = {s.quantity: (s.value, s.unit, s.quality) for s in row.samples}
    assert got["temperature"] == (-1.8, "degC", "good")
    assert got["pressure"] == (1021, "hPa", "good")
    assert got["rainfall"] == (0, "mm", "good")
    assert got["wind_speed"] == (0.4, "m/s", "good")
    value, unit, quality = got["humidity"]
    assert (unit, quality) == ("%", "estimated")
    assert value == pytest.approx(81.1, abs=0.3)  # Magnus: T -1.8 °C, Td -4.6 °C
    no_dew = parse_beijing_weather_row(_beijing(DEWP="NA"))
    assert "humidity" not in {s.quantity for s in no_dew.samples}


def test_relative_humidity_bounds() -> None:
    assert relative_humidity(20.0, 20.0) == 100.0
    assert relative_humidity(20.0, 21.0) == 100.0  # dew point above temperature: clamped
    assert relative_humidity(30.0, 10.0) == pytest.approx(28.7, abs=0.3)


def test_i94_is_us_central_with_dst() -> None:
    winter = parse_i94_row({"date_time": "2012-12-01 09:00:00", "traffic_volume": "5545"})
    summer = parse_i94_row({"date_time": "2013-07-01 09:00:00", "traffic_volume": "4516"})
    assert winter.data_time == datetime(2012, 12, 1, 15, tzinfo=UTC)
    assert summer.data_time == datetime(2013, 7, 1, 14, tzinfo=UTC)
    assert [(s.quantity, s.value, s.unit) for s in winter.samples] == [
        ("traffic_flow", 5545, "veh/h")
    ]


def test_fremont_is_los_angeles_and_skips_empty() -> None:
    col = "Fremont Bridge Sidewalks, south of N 34th St Total"
    row = parse_fremont_row({"Date": "10/02/2012 01:00:00 PM", col: "55"})
    assert row.data_time == datetime(2012, 10, 2, 20, tzinfo=UTC)
    assert [(s.quantity, s.value, s.unit) for s in row.samples] == [("bicycle_flow", 55, "bikes/h")]
    assert parse_fremont_row({"Date": "03/08/2015 02:00:00 AM", col: ""}).samples == ()


def test_parse_source() -> None:
    assert parse_source("s", "beijing:Dongsi") == SensorFeed("s", "beijing", "Dongsi")
    assert parse_source("s", "i94") == SensorFeed("s", "i94", None)
    assert parse_source("s", "") is None
    with pytest.raises(ValueError, match="unknown replay source"):
        parse_source("s", "paris")
    with pytest.raises(ValueError, match="needs"):
        parse_source("s", "beijing")
    with pytest.raises(ValueError, match="takes no station"):
        parse_source("s", "i94:x")


def test_registry_feeds_and_selection() -> None:
    feeds = feeds_from_registry(REPO / "infra" / "data" / "sensors.csv")
    assert {f.kind for f in feeds} == set(DATASETS)
    assert [f.sensor_id for f in select_feeds(feeds, ["i94"])] == ["hp-tf-cambridge"]
    chosen = select_feeds(feeds, ["beijing-weather:Dongsi", "hp-bk-tambac"])
    assert [f.sensor_id for f in chosen] == ["hp-wx-lechan", "hp-bk-tambac"]
    with pytest.raises(ValueError, match="unknown source"):
        select_feeds(feeds, ["nope"])


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_read_feed_dedups_i94_hours_and_orders(tmp_path: Path) -> None:
    header = ["holiday", "temp", "date_time", "traffic_volume"]
    _write(
        tmp_path / DATASETS["i94"].path,
        header,
        [
            ["None", "288", "2012-10-02 09:00:00", "5545"],
            ["None", "288", "2012-10-02 10:00:00", "4516"],
            ["None", "288", "2012-10-02 10:00:00", "4516"],  # second weather condition
            ["None", "288", "2012-10-02 11:00:00", "4767"],
        ],
    )
    recs = list(read_feed(SensorFeed("tf", "i94", None), tmp_path))
    assert [r.value for r in recs] == [5545, 4516, 4767]
    assert [r.origin for r in recs] == [
        "metro_interstate_traffic_volume_i94.csv:1",
        "metro_interstate_traffic_volume_i94.csv:2",
        "metro_interstate_traffic_volume_i94.csv:4",
    ]
    assert len({r.event_id for r in recs}) == 3
    again = list(read_feed(SensorFeed("tf", "i94", None), tmp_path))
    assert [r.event_id for r in again] == [r.event_id for r in recs]  # deterministic


def test_read_feed_sorts_runs_and_drops_dst_collisions(tmp_path: Path) -> None:
    col = "Fremont Bridge Sidewalks, south of N 34th St Total"
    _write(
        tmp_path / DATASETS["fremont"].path,
        ["Date", col],
        [
            ["03/08/2015 01:00:00 AM", "3"],
            ["03/08/2015 02:00:00 AM", "9"],  # does not exist (spring forward) = 03:00 PDT
            ["03/08/2015 03:00:00 AM", "7"],  # same instant: dropped
            ["01/01/2015 12:00:00 AM", "1"],  # a second sorted run, earlier
        ],
    )
    recs = list(read_feed(SensorFeed("bk", "fremont", None), tmp_path))
    assert [r.value for r in recs] == [1, 3, 9]
    times = [r.data_time for r in recs]
    assert times == sorted(times)


def test_read_feed_filters_station(tmp_path: Path) -> None:
    header = list(_beijing())
    _write(
        tmp_path / DATASETS["beijing"].path,
        header,
        [
            list(_beijing().values()),
            list(_beijing(station="Tiantan", hour="1").values()),
            list(_beijing(hour="1", PM10="NA").values()),
        ],
    )
    recs = list(read_feed(SensorFeed("aq", "beijing", "Dongsi"), tmp_path))
    assert len(recs) == 6 + 5
    assert {r.sensor_id for r in recs} == {"aq"}
