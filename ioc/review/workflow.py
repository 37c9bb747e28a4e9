"""The review workflow of a camera violation, as a pure state machine.

::

    pending ──confirm──► confirmed ──issue_notice──► notice_issued
       │  ▲                  │                            │
       │  └─reclassify       └──────────appeal────────────┤
       └──reject──► rejected                              ▼
                       │                              appealed ──uphold──► confirmed / notice_issued
                       └──reopen──► reopened ◄──reopen────┘
    reopened: like pending (confirm, reject, reclassify)

Every accepted action yields a :class:`Transition` that the storage layer writes together
with the new state and an audit row. A refused one raises :class:`WorkflowError` with a
machine-readable ``code``.

Example::

    action = parse_action({"action": "confirm", "plate": "15A-123.45", "vehicle_type": "car"},
                          rules={"red_light"})
    t = apply(CaseState(status="pending", version=0, rule="red_light"), action)
    t.state.status, t.state.plate          # -> ("confirmed", "15A12345")
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, TypeAlias, get_args

Status = Literal["pending", "confirmed", "rejected", "notice_issued", "appealed", "reopened"]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
OPEN: Final[frozenset[Status]] = frozenset({"pending", "reopened"})  # awaiting a decision

RejectReason = Literal[
    "false_detection", "emergency_vehicle", "signal_fault", "plate_unreadable", "other"
]
REJECT_REASONS: Final[tuple[RejectReason, ...]] = get_args(RejectReason)
REJECT_LABELS: Final[Mapping[RejectReason, tuple[str, str]]] = {
    "false_detection": ("Phát hiện sai", "False detection"),
    "emergency_vehicle": ("Xe ưu tiên", "Emergency vehicle"),
    "signal_fault": ("Đèn tín hiệu lỗi", "Signal fault"),
    "plate_unreadable": ("Không đọc được biển số", "Plate unreadable"),
    "other": ("Lý do khác (ghi chú)", "Other (note)"),
}
VEHICLE_TYPES: Final[Mapping[str, tuple[str, str]]] = {
    "car": ("Xe ô tô", "Car"),
    "motorbike": ("Xe mô tô, xe gắn máy", "Motorbike / moped"),
    "bus": ("Xe khách", "Bus"),
    "truck": ("Xe tải", "Truck"),
}
MAX_NOTE: Final = 1000
# Vietnamese plates without separators: province (2 digits), series (1-2 letters, optional
# digits), serial (4-5 digits): 15A12345, 15B123456, 29LD12345.
_PLATE: Final = re.compile(r"^[0-9]{2}[A-Z]{1,2}[0-9]{0,2}[0-9]{4,5}$")
_SEPARATORS: Final = re.compile(r"[\s.\-]+")


class WorkflowError(ValueError):
    """A refused action; ``code`` is machine-readable, e.g. ``plate_required``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Confirm:
    plate: str
    vehicle_type: str
    note: str = ""
    name: Literal["confirm"] = "confirm"


@dataclass(frozen=True, slots=True)
class Reject:
    reason: RejectReason
    note: str = ""
    name: Literal["reject"] = "reject"


@dataclass(frozen=True, slots=True)
class Reclassify:
    rule: str
    note: str = ""
    name: Literal["reclassify"] = "reclassify"


@dataclass(frozen=True, slots=True)
class IssueNotice:
    note: str = ""
    name: Literal["issue_notice"] = "issue_notice"


@dataclass(frozen=True, slots=True)
class Appeal:
    note: str = ""
    name: Literal["appeal"] = "appeal"


@dataclass(frozen=True, slots=True)
class Reopen:
    note: str = ""
    name: Literal["reopen"] = "reopen"


@dataclass(frozen=True, slots=True)
class Uphold:
    note: str = ""
    name: Literal["uphold"] = "uphold"


Action: TypeAlias = Confirm | Reject | Reclassify | IssueNotice | Appeal | Reopen | Uphold
ACTIONS: Final[tuple[str, ...]] = (
    "confirm",
    "reject",
    "reclassify",
    "issue_notice",
    "appeal",
    "reopen",
    "uphold",
)
# action -> states it may start from
ALLOWED_FROM: Final[Mapping[str, frozenset[Status]]] = {
    "confirm": OPEN,
    "reject": OPEN,
    "reclassify": OPEN,
    "issue_notice": frozenset({"confirmed"}),
    "appeal": frozenset({"confirmed", "notice_issued"}),
    "reopen": frozenset({"appealed", "rejected"}),
    "uphold": frozenset({"appealed"}),
}


@dataclass(frozen=True, slots=True)
class CaseState:
    """What the workflow needs to know of a case (a projection of the ``violations`` row)."""

    status: Status
    version: int
    rule: str
    plate: str | None = None
    vehicle_type: str | None = None
    reject_reason: str | None = None
    note: str | None = None
    notice_issued: bool = False  # a notice went out at some point (uphold returns there)


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    from_status: Status
    to_status: Status
    state: CaseState
    detail: Mapping[str, Any]  # what the transition row and the audit row record (no plate)


def normalise_plate(raw: str) -> str:
    """``"15a-123.45 "`` -> ``"15A12345"``; :class:`WorkflowError` when not a plate."""
    plate = _SEPARATORS.sub("", raw.strip().upper())
    if not plate:
        raise WorkflowError("plate_required", "confirming needs the plate")
    if not _PLATE.match(plate):
        raise WorkflowError("bad_plate", "not a Vietnamese plate (e.g. 15A-123.45)")
    return plate


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WorkflowError(f"bad_{key}", f"{key} must be a string")
    if len(value) > MAX_NOTE:
        raise WorkflowError(f"bad_{key}", f"{key} longer than {MAX_NOTE} characters")
    return value.strip()


def parse_action(payload: Mapping[str, Any], rules: Collection[str]) -> Action:
    """Validate a decision request body; ``rules``: the violation types one may reclassify to."""
    name = payload.get("action")
    note = _text(payload, "note")
    if name == "confirm":
        vehicle_type = _text(payload, "vehicle_type")
        if not vehicle_type:
            raise WorkflowError("vehicle_type_required", "confirming needs the vehicle type")
        if vehicle_type not in VEHICLE_TYPES:
            raise WorkflowError("bad_vehicle_type", f"vehicle_type: one of {list(VEHICLE_TYPES)}")
        return Confirm(normalise_plate(_text(payload, "plate")), vehicle_type, note)
    if name == "reject":
        reason = payload.get("reason")
        if reason not in REJECT_REASONS:
            raise WorkflowError("bad_reason", f"reason: one of {list(REJECT_REASONS)}")
        if reason == "other" and not note:
            raise WorkflowError("note_required", "reason 'other' needs a note")
        return Reject(reason, note)
    if name == "reclassify":
        rule = payload.get("rule")
        if not isinstance(rule, str) or rule not in rules:
            raise WorkflowError("bad_rule", f"rule: one of {sorted(rules)}")
        return Reclassify(rule, note)
    simple: dict[str, type[IssueNotice | Appeal | Reopen | Uphold]] = {
        "issue_notice": IssueNotice,
        "appeal": Appeal,
        "reopen": Reopen,
        "uphold": Uphold,
    }
    if isinstance(name, str) and name in simple:
        return simple[name](note)
    raise WorkflowError("bad_action", f"action: one of {list(ACTIONS)}")


def available(status: Status) -> list[str]:
    """Actions that may start from ``status`` (for the page's buttons)."""
    return [a for a in ACTIONS if status in ALLOWED_FROM[a]]


def apply(state: CaseState, action: Action) -> Transition:
    """The transition ``action`` causes from ``state``; :class:`WorkflowError` if none."""
    if state.status not in ALLOWED_FROM[action.name]:
        raise WorkflowError("bad_transition", f"cannot {action.name} a case that is {state.status}")
    nxt = state.version + 1
    detail: dict[str, Any] = {"note": action.note} if action.note else {}
    new: CaseState
    match action:
        case Confirm(plate=plate, vehicle_type=vt, note=note):
            new = replace(
                state,
                status="confirmed",
                plate=plate,
                vehicle_type=vt,
                reject_reason=None,
                note=note or None,
            )
            detail["vehicle_type"] = vt
        case Reject(reason=reason, note=note):
            new = replace(state, status="rejected", reject_reason=reason, note=note or None)
            detail["reason"] = reason
        case Reclassify(rule=rule):
            if rule == state.rule:
                raise WorkflowError("same_rule", f"the case already is {rule}")
            new = replace(state, rule=rule)
            detail.update({"from_rule": state.rule, "to_rule": rule})
        case IssueNotice():
            new = replace(state, status="notice_issued", notice_issued=True)
        case Appeal():
            new = replace(state, status="appealed")
        case Reopen():
            new = replace(state, status="reopened")
        case Uphold():
            new = replace(state, status="notice_issued" if state.notice_issued else "confirmed")
    new = replace(new, version=nxt)
    return Transition(action.name, state.status, new.status, new, detail)
