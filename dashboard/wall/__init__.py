"""The operations wall (issue #6): page, map data, chart series and alarm actions.

``routes()`` is added to the route table in :mod:`dashboard.app`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from dashboard.auth import guarded
from dashboard.wall import alarms, data


def routes() -> list[BaseRoute]:
    return [
        Route("/wall", guarded("wall_page", data.wall_page), name="wall_page"),
        Route("/api/v1/wall/map", guarded("wall_map", data.wall_map), name="wall_map"),
        Route("/api/v1/wall/series", guarded("wall_series", data.series), name="wall_series"),
        Route("/api/v1/alarms", guarded("alarms_list", alarms.list_alarms), name="alarms_list"),
        Route(
            "/api/v1/alarms/{alarm_id}",
            guarded("alarm_detail", alarms.alarm_detail),
            name="alarm_detail",
        ),
        Route(
            "/api/v1/alarms/{alarm_id}/{action}",
            guarded("alarm_action", alarms.alarm_action),
            methods=["POST"],
            name="alarm_action",
        ),
    ]
