"""One violation case as the reviewer sees it (a projection of ``violations`` + evidence).

Example::

    case.state()                 # -> CaseState for the workflow
    case.to_json(rule_names)     # -> what the case API answers (evidence by kind, no paths)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ioc.review.workflow import REJECT_LABELS, VEHICLE_TYPES, CaseState, Status, available

# Evidence kinds written by vision/evidence.py, in display order.
EVIDENCE_KINDS: Final = (
    "clip_annotated",
    "clip_raw",
    "key_frame_before",
    "key_frame_event",
    "key_frame_after",
    "vehicle_crop",
    "metadata",
)
MEDIA_TYPES: Final[Mapping[str, str]] = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
}


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    kind: str
    path: str  # relative to the evidence store; never sent to browsers
    sha256: str
    bytes: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def media_type(self) -> str:
        suffix = "." + self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""
        return MEDIA_TYPES.get(suffix, "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Case:
    event_id: str
    camera_id: str
    camera_name: str
    camera_lat: float | None
    camera_lon: float | None
    area_id: str | None
    rule: str  # effective rule (after reclassification)
    detected_rule: str
    vehicle_class: str
    time: datetime
    where: str
    legal: Mapping[str, Any]  # effective legal basis
    measured: Mapping[str, Any]
    status: Status
    version: int
    plate: str | None = None
    vehicle_type: str | None = None
    reject_reason: str | None = None
    note: str | None = None
    notice_issued: bool = False
    evidence_complete: bool = False
    evidence_purged_at: datetime | None = None
    decided_at: datetime | None = None
    evidence: tuple[EvidenceRef, ...] = field(default_factory=tuple)

    def state(self) -> CaseState:
        return CaseState(
            status=self.status,
            version=self.version,
            rule=self.rule,
            plate=self.plate,
            vehicle_type=self.vehicle_type,
            reject_reason=self.reject_reason,
            note=self.note,
            notice_issued=self.notice_issued,
        )

    def evidence_of(self, kind: str) -> EvidenceRef | None:
        return next((e for e in self.evidence if e.kind == kind), None)

    def summary(self, rule_names: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
        """A queue row (no plate, no paths)."""
        vi, en = rule_names.get(self.rule, (self.rule, self.rule))
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "camera_name": self.camera_name,
            "rule": self.rule,
            "rule_name": {"vi": vi, "en": en},
            "vehicle_class": self.vehicle_class,
            "time": self.time.isoformat(),
            "status": self.status,
            "fine_max_vnd": self.legal.get("fine_max_vnd"),
            "points": self.legal.get("points"),
            "version": self.version,
        }

    def to_json(self, rule_names: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
        """The case view: everything a reviewer needs; evidence named by kind only."""
        out = self.summary(rule_names)
        out.update(
            {
                "detected_rule": self.detected_rule,
                "where": self.where,
                "camera": {
                    "id": self.camera_id,
                    "name": self.camera_name,
                    "lat": self.camera_lat,
                    "lon": self.camera_lon,
                    "area_id": self.area_id,
                },
                "legal": dict(self.legal),
                "measured": dict(self.measured),
                "plate": self.plate,
                "vehicle_type": self.vehicle_type,
                "reject_reason": self.reject_reason,
                "note": self.note,
                "evidence_complete": self.evidence_complete,
                "evidence_purged": self.evidence_purged_at is not None,
                "evidence": [
                    {"kind": e.kind, "sha256": e.sha256, "bytes": e.bytes, "type": e.media_type}
                    for e in sorted(self.evidence, key=_kind_order)
                ],
                "actions": available(self.status),
            }
        )
        return out


def _kind_order(e: EvidenceRef) -> int:
    return EVIDENCE_KINDS.index(e.kind) if e.kind in EVIDENCE_KINDS else len(EVIDENCE_KINDS)


def options(rule_names: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """Choice lists of the decision form."""
    return {
        "reject_reasons": [{"key": k, "vi": v[0], "en": v[1]} for k, v in REJECT_LABELS.items()],
        "vehicle_types": [{"key": k, "vi": v[0], "en": v[1]} for k, v in VEHICLE_TYPES.items()],
        "rules": [{"key": k, "vi": v[0], "en": v[1]} for k, v in sorted(rule_names.items())],
    }
