"""Per-minute traffic flow messages in the Smart Data Models ``TrafficFlowObserved`` shape.

One message per camera, minute, lane and vehicle class (NGSI-LD key-values plus the IOC fields
the store needs); the topic is ``<prefix>.traffic.flow``, stored by
``streams/agents/traffic_flow.py`` in the ``traffic_flow`` hypertable. The entity ``id`` is
deterministic (camera, lane, class, minute), so a repeat is recognised and ignored.

SDM names: ``vehicleType`` uses the model's enumeration (``motorcycle``, ``lorry``, ...),
``intensity`` is vehicles in the period, ``occupancy`` a fraction 0..1, and
``averageVehicleSpeed`` km/h (present only where the camera has a speed calibration).

Example::

    for msg in flow_messages(camera, minute):      # minute: vision.counting.MinuteCounts
        publisher.send(settings.topic("traffic.flow"), msg, key=camera.id)
"""

from __future__ import annotations

from typing import Any, Final

from vision.config import CameraConfig
from vision.counting import ALL_LANES, MinuteCounts
from vision.evidence import iso

FLOW_SCHEMA: Final = 1
SDM_VEHICLE_TYPE: Final = {
    "car": "car",
    "motorbike": "motorcycle",
    "bus": "bus",
    "truck": "lorry",
    "bicycle": "bicycle",
}


def flow_id(camera_id: str, lane: str, vehicle_class: str, minute_iso: str) -> str:
    return f"urn:ngsi-ld:TrafficFlowObserved:{camera_id}:{lane}:{vehicle_class}:{minute_iso}"


def flow_messages(camera: CameraConfig, minute: MinuteCounts) -> list[dict[str, Any]]:
    """The minute's flows of one camera, one message per lane and class."""
    lanes = [ln.id for ln in camera.lanes]
    start, end = iso(minute.start), iso(minute.start + 60.0)
    out: list[dict[str, Any]] = []
    for f in minute.flows:
        msg: dict[str, Any] = {
            "schema": FLOW_SCHEMA,
            "id": flow_id(camera.id, f.lane, f.vehicle_class, start),
            "type": "TrafficFlowObserved",
            "camera_id": camera.id,
            "refDevice": f"urn:ngsi-ld:Device:cam-{camera.id}",
            "location": {
                "type": "Point",
                "coordinates": [camera.location.lon, camera.location.lat],
            },
            "lane": f.lane,
            "vehicle_class": f.vehicle_class,
            "vehicleType": SDM_VEHICLE_TYPE.get(f.vehicle_class, f.vehicle_class),
            "dateObservedFrom": start,
            "dateObservedTo": end,
            "dateObserved": end,
            "intensity": f.intensity,
            "occupancy": f.occupancy,
            "averageVehicleSpeed": f.mean_speed_kmh,
        }
        if f.lane != ALL_LANES and f.lane in lanes:
            msg["laneId"] = lanes.index(f.lane) + 1
        out.append(msg)
    return out
