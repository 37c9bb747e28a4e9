"""``report.json`` of an offline analysis (``ioc vision analyze``); pure.

Built from what one pipeline run leaves behind: the camera's stats, its traffic counter
(unique vehicles, line crossings) and the violation messages it sent (with their evidence
files, paths relative to the evidence folder).

Example::

    report = build_report(video, camera, stats, worker.counter, publisher.messages)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vision.config import CameraConfig
from vision.counting import TrafficCounter
from vision.pipeline import CameraStats

REPORT_SCHEMA = 1


def build_report(
    video: str,
    camera: CameraConfig,
    stats: CameraStats,
    counter: TrafficCounter,
    messages: Iterable[tuple[str, str | None, dict[str, Any]]],
    violations_topic: str,
) -> dict[str, Any]:
    violations = [
        {
            "event_id": m["event_id"],
            "rule": m["rule"],
            "track_id": m["track_id"],
            "vehicle_class": m["vehicle_class"],
            "time": m["time"],
            "stream_time_s": m["stream_time_s"],
            "where": m["where"],
            "citation": m["legal"]["citation"],
            "evidence_complete": m["evidence"]["complete"],
            "evidence": [f["path"] for f in m["evidence"]["files"]],
        }
        for topic, _, m in messages
        if topic == violations_topic
    ]
    violations.sort(key=lambda v: (v["stream_time_s"], v["rule"]))
    return {
        "schema": REPORT_SCHEMA,
        "video": video,
        "camera": camera.id,
        "frames_decoded": stats.frames,
        "frames_processed": stats.ticks,
        "detector_frames": stats.detections,
        "stream_seconds": round((stats.last_t or 0.0) - (stats.first_t or 0.0), 3),
        "unique_vehicles": dict(sorted(counter.unique.items())),
        "line_crossings": counter.report(),
        "violations": violations,
        # the view check (vision/view.py): when the camera's view was learned, found moved or
        # covered, and back; withdrawn_violations: judged just before a move was confirmed,
        # or on a frozen picture (below)
        "view": {
            "changes": [{"stream_time_s": t, "state": state} for t, state in stats.view_changes],
            "withdrawn_violations": stats.withdrawn,
        },
        # stretches where the picture stopped changing (vision/freeze.py): from its first
        # unchanged frame to when that was found; nothing was judged until it moved again
        "frozen": [{"since_s": since, "found_s": found} for since, found in stats.freezes],
    }
