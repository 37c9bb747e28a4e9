"""Turn dashboard-topic messages into alarm signals (pure; see :mod:`ioc.domain.alarms`).

Which message means what (declarative, one function per source):

* ``alert`` (sensor threshold alerts): ``raised``/``level_changed`` → :class:`Raise` with the
  alert's severity, ``cleared`` → :class:`Resolve`. Source ref ``<sensor>/<quantity>``.
* ``camera`` (camera health every few seconds): not connected → severity 4, an error while
  connected → severity 3, a view that moved or is covered (``view``, see ``vision/view.py``)
  or a frozen picture (``frozen``, ``vision/freeze.py``) → severity 3, healthy →
  :class:`Resolve`. Source ref = camera id.
* ``camera_violation``: a :class:`SurgeDetector` per camera raises when at least ``count``
  violations fall within ``window_s`` and resolves when the window holds fewer than half;
  ``camera_violation_withdrawn`` takes a notice out of the window again.
* ``feedback.overdue`` (published by ``streams/agents/feedback_deadlines.py``): raise
  (severity 3) for the report; a ``feedback.*`` message with a final ``status`` (resolved,
  rejected, closed) for the same report resolves it (until such a message exists, operators
  clear these alarms by hand).

Event ids are derived from the message content, so the same message always maps to the same
signal and storage ignores the repeat.

Example::

    signal = from_alert({"type": "alert", "event": {...}})   # -> Raise | Resolve | None
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ioc.domain.alarms import Raise, Resolve, Signal, derived_id

FINAL_FEEDBACK_STATUSES = frozenset({"resolved", "rejected", "closed"})


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def from_alert(doc: dict[str, Any]) -> Signal | None:
    event = doc.get("event")
    if not isinstance(event, dict):
        return None
    kind, time = event.get("kind"), _time(event.get("time"))
    sensor, quantity = event.get("sensor_id"), event.get("quantity")
    if time is None or not isinstance(sensor, str) or not isinstance(quantity, str):
        return None
    ref = f"{sensor}/{quantity}"
    eid = derived_id("alert", event.get("alert_id"), kind, time.isoformat(), event.get("level"))
    if kind == "cleared":
        return Resolve(event_id=eid, time=time, source_kind="sensor_alert", source_ref=ref)
    severity = event.get("severity")
    if kind not in ("raised", "level_changed") or not isinstance(severity, int):
        return None
    level = str(event.get("level"))
    area = event.get("area_id")
    return Raise(
        event_id=eid,
        time=time,
        source_kind="sensor_alert",
        source_ref=ref,
        severity=max(1, min(5, severity)),
        title=f"{quantity} {level}: {sensor}",
        area_id=area if isinstance(area, str) else None,
        detail={
            "sensor_id": sensor,
            "quantity": quantity,
            "level": level,
            "value": event.get("value"),
            "peak": event.get("peak"),
        },
    )


def from_camera(doc: dict[str, Any]) -> Signal | None:
    camera, time = doc.get("camera_id"), _time(doc.get("time"))
    if not isinstance(camera, str) or time is None:
        return None
    connected = doc.get("connected") is True
    error = doc.get("error")
    view = doc.get("view")
    bad_view = view in ("moved", "obstructed")
    frozen = doc.get("frozen") is True
    if connected and not error and not bad_view and not frozen:
        return Resolve(
            event_id=derived_id("camera", camera, time.isoformat(), "ok"),
            time=time,
            source_kind="camera_fault",
            source_ref=camera,
        )
    severity = 4 if not connected else 3
    if not connected:
        fault = "offline"
    elif error:
        fault = "error"
    elif bad_view:
        fault = f"view_{view}"
    else:
        fault = "stream_frozen"
    return Raise(
        event_id=derived_id("camera", camera, time.isoformat(), fault),
        time=time,
        source_kind="camera_fault",
        source_ref=camera,
        severity=severity,
        title=f"camera {fault.replace('_', ' ')}: {doc.get('name') or camera}",
        detail={"camera_id": camera, "fault": fault, "error": str(error)[:200] if error else None},
    )


def from_feedback(doc: dict[str, Any]) -> Signal | None:
    kind = doc.get("type")
    report = doc.get("report_id", doc.get("id"))
    time = _time(doc.get("time")) or _time(doc.get("due_at"))
    if not isinstance(report, str | int) or time is None:
        return None
    ref = str(report)
    if kind == "feedback.overdue":
        area = doc.get("area_id")
        return Raise(
            event_id=derived_id("feedback", ref, "overdue", time.isoformat()),
            time=time,
            source_kind="feedback_overdue",
            source_ref=ref,
            severity=3,
            title=f"feedback overdue: {doc.get('service_code') or doc.get('category') or ref}",
            area_id=area if isinstance(area, str) else None,
            detail={
                "report_id": ref,
                "service_code": doc.get("service_code") or doc.get("category"),
                "department": doc.get("department"),
                "missed": doc.get("missed"),
                "resolve_due": doc.get("resolve_due"),
            },
        )
    if doc.get("status") in FINAL_FEEDBACK_STATUSES:
        return Resolve(
            event_id=derived_id("feedback", ref, "final", time.isoformat()),
            time=time,
            source_kind="feedback_overdue",
            source_ref=ref,
        )
    return None


@dataclass
class SurgeDetector:
    """Violations per camera in a sliding window; raise at ``count``, resolve below half. A
    notice taken back (``camera_violation_withdrawn``: judged on a camera whose view had
    moved or whose picture was frozen) leaves the window."""

    window_s: float
    count: int
    seen: dict[str, deque[tuple[datetime, str | None]]] = field(default_factory=dict)
    surging: set[str] = field(default_factory=set)

    def feed(self, doc: dict[str, Any]) -> Signal | None:
        camera, time = doc.get("camera_id"), _time(doc.get("time"))
        if not isinstance(camera, str) or time is None:
            return None
        eid = doc.get("event_id")
        times = self.seen.setdefault(camera, deque())
        times.append((time, eid if isinstance(eid, str) else None))
        horizon = time - timedelta(seconds=self.window_s)
        while times and times[0][0] < horizon:
            times.popleft()
        n = len(times)
        if n >= self.count:
            self.surging.add(camera)
            return Raise(
                event_id=derived_id("surge", camera, time.isoformat(), n),
                time=time,
                source_kind="violation_surge",
                source_ref=camera,
                severity=3 if n < 2 * self.count else 4,
                title=f"violation surge: {camera}",
                detail={"camera_id": camera, "violations": n, "window_s": self.window_s},
            )
        return self._calmed(camera, time, n)

    def withdraw(self, doc: dict[str, Any]) -> Signal | None:
        """Take a withdrawn violation's notice out of its camera's window."""
        camera, time, eid = doc.get("camera_id"), _time(doc.get("time")), doc.get("event_id")
        if not isinstance(camera, str) or time is None or not isinstance(eid, str):
            return None
        times = self.seen.get(camera, deque())
        kept = deque(entry for entry in times if entry[1] != eid)
        if len(kept) == len(times):
            return None
        self.seen[camera] = kept
        return self._calmed(camera, time, len(kept))

    def _calmed(self, camera: str, time: datetime, n: int) -> Signal | None:
        if camera in self.surging and n < max(1, self.count // 2):
            self.surging.discard(camera)
            return Resolve(
                event_id=derived_id("surge", camera, time.isoformat(), "end"),
                time=time,
                source_kind="violation_surge",
                source_ref=camera,
            )
        return None


def signal_of(doc: dict[str, Any], surges: SurgeDetector) -> Signal | None:
    """The alarm signal a dashboard message carries, ``None`` for anything else."""
    kind = doc.get("type")
    if kind == "alert":
        return from_alert(doc)
    if kind == "camera":
        return from_camera(doc)
    if kind == "camera_violation":
        return surges.feed(doc)
    if kind == "camera_violation_withdrawn":
        return surges.withdraw(doc)
    if isinstance(kind, str) and kind.startswith("feedback."):
        return from_feedback(doc)
    return None
