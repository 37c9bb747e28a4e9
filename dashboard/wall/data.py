"""The wall page and the data it fetches over HTTP: map layers and chart series.

* ``GET /wall?layout=full|map|kpi|alarms|cameras`` - the page shell (the layout is applied by
  the page's script from the URL, so one HTML serves every screen of a video wall).
* ``GET /api/v1/wall/map`` - the city's areas as GeoJSON (``settings.areas_file``, read in
  place), sensor and camera positions, and the optional tile-server URL.
* ``GET /api/v1/wall/series?quantity=pm25&window=1m|1h&span=360`` - per-area rollup means
  from TimescaleDB, ``span`` buckets back from the newest bucket stored (so a replay of past
  data charts as well as live data). Errors: 400 ``invalid_parameter``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from psycopg import sql
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard.context import components
from dashboard.responses import error, json_response
from dashboard.security import CSP
from ioc.domain.auth import Principal

logger = logging.getLogger(__name__)

PAGE: Final = Path(__file__).resolve().parents[1] / "static" / "pages" / "wall.html"
WINDOWS: Final = {"1m": "rollup_area_1m_v", "1h": "rollup_area_1h_v"}
MAX_SPAN: Final = 2000
_SENSORS = "SELECT id, kind, name, area_id, lat, lon FROM sensors WHERE active ORDER BY id"
_CAMERAS = "SELECT id, name, area_id, lat, lon FROM cameras WHERE active ORDER BY id"
_SERIES = """
    WITH newest AS (SELECT max(bucket) AS b FROM {view} WHERE quantity = %(q)s)
    SELECT r.area_id, r.bucket, r.mean FROM {view} r, newest
    WHERE r.quantity = %(q)s AND r.bucket > newest.b - %(span)s * %(step)s::interval
    ORDER BY r.bucket"""


def page_csp(tile_url: str | None) -> str:
    """The default CSP, plus the tile server's origin for images when one is configured."""
    if not tile_url:
        return CSP
    parts = urlsplit(tile_url.replace("{s}", "a"))
    origin = f"{parts.scheme}://{parts.netloc}"
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


async def wall_page(request: Request, principal: Principal) -> Response:
    settings = components(request).settings
    return HTMLResponse(
        PAGE.read_text(encoding="utf-8"),
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": page_csp(settings.wall_tile_url),
        },
    )


def read_geojson(path: Path) -> dict[str, Any] | None:
    """The areas file when it is GeoJSON (a CSV registry has points only: no shapes)."""
    if path.suffix.lower() not in (".geojson", ".json"):
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("areas file %s not readable as GeoJSON: %s", path, exc)
        return None
    return doc if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else None


async def wall_map(request: Request, principal: Principal) -> Response:
    ctx = components(request)
    async with ctx.pool.connection() as db:
        cur = db.cursor(row_factory=dict_row)
        sensors = await (await cur.execute(_SENSORS)).fetchall()
        cameras = await (await cur.execute(_CAMERAS)).fetchall()
    return json_response(
        {
            "areas": read_geojson(ctx.settings.areas_file),
            "sensors": sensors,
            "cameras": cameras,
            "tile_url": ctx.settings.wall_tile_url,
        }
    )


async def series(request: Request, principal: Principal) -> Response:
    ctx = components(request)
    params = request.query_params
    quantity = params.get("quantity", "pm25")
    window = params.get("window", "1m")
    if quantity not in ctx.catalogue.quantities:
        return error(400, "invalid_parameter", "unknown quantity", parameter="quantity")
    if window not in WINDOWS:
        return error(400, "invalid_parameter", "window is 1m or 1h", parameter="window")
    try:
        span = int(params.get("span", "360"))
    except ValueError:
        span = -1
    if not 1 <= span <= MAX_SPAN:
        return error(400, "invalid_parameter", f"span is 1…{MAX_SPAN}", parameter="span")
    query = sql.SQL(_SERIES).format(view=sql.Identifier(WINDOWS[window]))
    step = "1 minute" if window == "1m" else "1 hour"
    async with ctx.pool.connection() as db:
        cur = db.cursor(row_factory=dict_row)
        rows = await (
            await cur.execute(query, {"q": quantity, "span": span, "step": step})
        ).fetchall()
    by_area: dict[str, list[list[Any]]] = {}
    for row in rows:
        by_area.setdefault(str(row["area_id"]), []).append([row["bucket"].timestamp(), row["mean"]])
    return json_response(
        {
            "quantity": quantity,
            "window": window,
            "series": [{"area_id": a, "points": p} for a, p in sorted(by_area.items())],
        }
    )
