"""Pure parsing of one CSV row of each real data set: local time → UTC, missing values out.

No I/O: a row is a ``dict`` of column → text as :class:`csv.DictReader` gives it, so every
quirk of the files (see the ``README.md`` next to each) is tested without reading them.

* local times → UTC: Hanoi UTC+7, Beijing UTC+8, I-94 ``America/Chicago``, Fremont
  ``America/Los_Angeles``;
* missing values: ``-999`` and ``QC Name`` other than ``Valid`` (Hanoi), ``NA`` (Beijing),
  empty cells (Fremont) give no sample, never a zero;
* humidity is not in the Beijing file; it is *derived* from ``TEMP`` and the dew point
  ``DEWP`` with the Magnus formula and sent with quality ``estimated``.

Example::

    parse_i94_row({"date_time": "2012-10-02 09:00:00", "traffic_volume": "5545"})
    # ParsedRow(data_time=2012-10-02 14:00 UTC, samples=(Sample("traffic_flow", 5545.0, "veh/h"),))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

HANOI_TZ: Final[tzinfo] = timezone(timedelta(hours=7))
BEIJING_TZ: Final[tzinfo] = timezone(timedelta(hours=8))
I94_TZ: Final[tzinfo] = ZoneInfo("America/Chicago")
FREMONT_TZ: Final[tzinfo] = ZoneInfo("America/Los_Angeles")
UG_M3: Final = "ug/m3"
_FREMONT_TOTAL: Final = "Fremont Bridge Sidewalks, south of N 34th St Total"
_BEIJING_AIR: Final = (
    ("PM2.5", "pm25"),
    ("PM10", "pm10"),
    ("SO2", "so2"),
    ("NO2", "no2"),
    ("CO", "co"),
    ("O3", "o3"),
)
_BEIJING_WEATHER: Final = (
    ("TEMP", "temperature", "degC"),
    ("PRES", "pressure", "hPa"),
    ("RAIN", "rainfall", "mm"),
    ("WSPM", "wind_speed", "m/s"),
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured (or derived) value of a row."""

    quantity: str
    value: float
    unit: str
    quality: str = "good"


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A data row: its instant (UTC) and the usable samples (possibly none)."""

    data_time: datetime
    samples: tuple[Sample, ...]


def _number(raw: str | None, *, missing: frozenset[str] = frozenset({"", "NA"})) -> float | None:
    if raw is None or raw.strip() in missing:
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def relative_humidity(temp_c: float, dew_point_c: float) -> float:
    """Relative humidity (%) from temperature and dew point (Magnus, Alduchov & Eskridge 1996).

    Clamped to [0, 100]: a dew point slightly above the temperature is measurement noise.
    """
    a, b = 17.625, 243.04
    rh = 100.0 * math.exp(a * dew_point_c / (b + dew_point_c) - a * temp_c / (b + temp_c))
    return round(min(100.0, max(0.0, rh)), 1)


def _clock12(
    year: str, month: str, day: str, hour: str, minute: str, half: str, tz: tzinfo
) -> datetime:
    """A 12-hour-clock local time → UTC (5x faster than ``strptime``, which dominated)."""
    if half not in ("AM", "PM") or not 1 <= int(hour) <= 12:
        raise ValueError(f"not a 12-hour time: {hour}:{minute} {half}")
    h = int(hour) % 12 + (12 if half == "PM" else 0)
    local = datetime(int(year), int(month), int(day), h, int(minute), tzinfo=tz)
    return local.astimezone(UTC)


def parse_hanoi_row(row: Mapping[str, str]) -> ParsedRow:
    """AirNow row: ``Raw Conc.`` (µg/m³) at ``Date (LT)`` (UTC+7); -999 or not Valid: no sample."""
    t = row["Date (LT)"].strip()  # "2016-01-01 01:00 AM"
    if len(t) != 19:
        raise ValueError(f"unexpected date {t!r}")
    when = _clock12(t[0:4], t[5:7], t[8:10], t[11:13], t[14:16], t[17:19], HANOI_TZ)
    value = _number(row.get("Raw Conc."))
    if value is None or value == -999 or row.get("QC Name", "").strip() != "Valid":
        return ParsedRow(when, ())
    return ParsedRow(when, (Sample("pm25", value, UG_M3),))


def _beijing_time(row: Mapping[str, str]) -> datetime:
    local = datetime(int(row["year"]), int(row["month"]), int(row["day"]), int(row["hour"]))
    return local.replace(tzinfo=BEIJING_TZ).astimezone(UTC)


def parse_beijing_air_row(row: Mapping[str, str]) -> ParsedRow:
    """UCI Beijing row → the six pollutants (µg/m³, CO included); ``NA`` skipped."""
    samples = []
    for column, quantity in _BEIJING_AIR:
        value = _number(row.get(column))
        if value is not None:
            samples.append(Sample(quantity, value, UG_M3))
    return ParsedRow(_beijing_time(row), tuple(samples))


def parse_beijing_weather_row(row: Mapping[str, str]) -> ParsedRow:
    """UCI Beijing row → temperature, pressure, rainfall, wind speed and derived humidity."""
    samples = []
    for column, quantity, unit in _BEIJING_WEATHER:
        value = _number(row.get(column))
        if value is not None:
            samples.append(Sample(quantity, value, unit))
    temp, dew = _number(row.get("TEMP")), _number(row.get("DEWP"))
    if temp is not None and dew is not None:
        samples.append(Sample("humidity", relative_humidity(temp, dew), "%", "estimated"))
    return ParsedRow(_beijing_time(row), tuple(samples))


def parse_i94_row(row: Mapping[str, str]) -> ParsedRow:
    """MnDOT ATR 301 row → ``traffic_volume`` (vehicles in the hour) as veh/h, US Central time."""
    local = datetime.fromisoformat(row["date_time"].strip())
    when = local.replace(tzinfo=I94_TZ).astimezone(UTC)
    value = _number(row.get("traffic_volume"))
    return ParsedRow(when, () if value is None else (Sample("traffic_flow", value, "veh/h"),))


def parse_fremont_row(row: Mapping[str, str]) -> ParsedRow:
    """Fremont Bridge row → total cyclists in the hour (bikes/h); empty counts skipped."""
    t = row["Date"].strip()  # "10/02/2012 01:00:00 PM"
    if len(t) != 22:
        raise ValueError(f"unexpected date {t!r}")
    when = _clock12(t[6:10], t[0:2], t[3:5], t[11:13], t[14:16], t[20:22], FREMONT_TZ)
    value = _number(row.get(_FREMONT_TOTAL))
    return ParsedRow(when, () if value is None else (Sample("bicycle_flow", value, "bikes/h"),))
