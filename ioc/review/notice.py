"""A violation notice: the fields it carries and a printable HTML page.

The notice names vehicle type, plate, time, place, violation, legal basis (with the fine
range and licence points) and the detecting unit, as the notice procedure asks
(docs/REVIEW.md). Every value is HTML-escaped; the page has no script.

Example::

    n = build_notice(case, rule_names, unit="Phòng CSGT Công an TP Hải Phòng", issued_at=now)
    html_text = render_html(n)
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from ioc.review.case import Case
from ioc.review.workflow import VEHICLE_TYPES, WorkflowError

VIETNAM: Final = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True, slots=True)
class Notice:
    event_id: str
    vehicle_type: str  # Vietnamese label
    plate: str
    time: datetime  # Vietnam time
    place: str
    violation: str
    legal_basis: str
    fine_range: str
    points: int
    detecting_unit: str
    issued_at: datetime


def vnd(amount: int) -> str:
    """``4000000`` -> ``"4.000.000 đ"`` (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".") + " đ"


def build_notice(
    case: Case, rule_names: Mapping[str, tuple[str, str]], unit: str, issued_at: datetime
) -> Notice:
    """The notice of a confirmed case; :class:`WorkflowError` when it has no plate yet."""
    if case.plate is None or case.vehicle_type is None:
        raise WorkflowError("not_confirmed", "a notice needs a confirmed case (plate, vehicle)")
    legal = case.legal
    lat, lon = case.camera_lat, case.camera_lon
    where = f" ({lat:.5f}, {lon:.5f})" if lat is not None and lon is not None else ""
    return Notice(
        event_id=case.event_id,
        vehicle_type=VEHICLE_TYPES.get(case.vehicle_type, (case.vehicle_type, ""))[0],
        plate=case.plate,
        time=case.time.astimezone(VIETNAM),
        place=f"{case.camera_name} - {case.where}{where}",
        violation=rule_names.get(case.rule, (case.rule, ""))[0],
        legal_basis=str(legal.get("citation", "")),
        fine_range=f"{vnd(int(legal.get('fine_min_vnd', 0)))} - "
        f"{vnd(int(legal.get('fine_max_vnd', 0)))}",
        points=int(legal.get("points", 0)),
        detecting_unit=unit,
        issued_at=issued_at.astimezone(VIETNAM),
    )


_TEMPLATE: Final = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>Thông báo vi phạm {event_id}</title>
<style>body{{font-family:serif;max-width:48em;margin:2em auto}}
th{{text-align:left;padding-right:1em;vertical-align:top}}td,th{{padding:.3em}}
@media print{{body{{margin:0}}}}</style></head>
<body><h1>THÔNG BÁO VI PHẠM HÀNH CHÍNH TRONG LĨNH VỰC GIAO THÔNG ĐƯỜNG BỘ</h1>
<p>Notice of a road traffic violation detected by camera</p>
<table>
<tr><th>Mã vụ việc / Case</th><td>{event_id}</td></tr>
<tr><th>Loại phương tiện / Vehicle type</th><td>{vehicle_type}</td></tr>
<tr><th>Biển kiểm soát / Plate</th><td>{plate}</td></tr>
<tr><th>Thời gian / Time</th><td>{time}</td></tr>
<tr><th>Địa điểm / Place</th><td>{place}</td></tr>
<tr><th>Hành vi vi phạm / Violation</th><td>{violation}</td></tr>
<tr><th>Căn cứ pháp lý / Legal basis</th><td>{legal_basis}</td></tr>
<tr><th>Mức phạt / Fine range</th><td>{fine_range}</td></tr>
<tr><th>Điểm trừ GPLX / Licence points</th><td>{points}</td></tr>
<tr><th>Đơn vị phát hiện / Detecting unit</th><td>{detecting_unit}</td></tr>
<tr><th>Ngày lập / Issued</th><td>{issued_at}</td></tr>
</table></body></html>
"""


def render_html(n: Notice) -> str:
    fmt = "%H:%M:%S %d/%m/%Y (UTC+7)"
    values = {
        "event_id": n.event_id,
        "vehicle_type": n.vehicle_type,
        "plate": n.plate,
        "time": n.time.strftime(fmt),
        "place": n.place,
        "violation": n.violation,
        "legal_basis": n.legal_basis,
        "fine_range": n.fine_range,
        "points": str(n.points),
        "detecting_unit": n.detecting_unit,
        "issued_at": n.issued_at.strftime(fmt),
    }
    return _TEMPLATE.format(**{k: html.escape(v) for k, v in values.items()})
