"""Storage of the police review: cases, decisions, scopes and the hash-chained audit log.

Every decision is one transaction: the case row is locked (``FOR UPDATE``), the pure workflow
(:mod:`ioc.review.workflow`) computes the transition, and the new state, the transition row
and the audit row are written together. Audit rows are appended under a transaction-level
advisory lock, so concurrent writers never fork the chain or leave a gap in ``seq``.

Scopes: an officer with rows in ``review_scopes`` sees only those cameras / areas; a case
outside the caller's scope is answered exactly like a case that does not exist.

Example::

    async with pool.connection() as conn:
        case = await get_case(conn, event_id, Caller("lan", "police", 3))
        t = await decide(conn, event_id, caller, action, expected_version=0, legal_for=resolve)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ioc.review.audit import GENESIS, AuditEntry, AuditRow, seal
from ioc.review.case import Case, EvidenceRef
from ioc.review.queue import QueueFilter
from ioc.review.workflow import Action, Reclassify, Transition, WorkflowError, apply
from ioc.settings import Settings

AUDIT_LOCK: Final = 0x10C_A0D17  # pg_advisory_xact_lock key of the audit chain
AConn = psycopg.AsyncConnection[Any]
LegalFor = Callable[[str, str, Mapping[str, Any]], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who acts: name and role for the audit, user id for the scope (``None``: API key)."""

    name: str
    role: str
    user_id: int | None = None


def parse_event_id(raw: str) -> str | None:
    """The canonical form of a case id, ``None`` when it is not a UUID (answered as 404)."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


# --- audit -----------------------------------------------------------------------------

_LAST = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
_AUDIT_INSERT = (
    "INSERT INTO audit_log (seq, at, actor, role, action, event_id, detail, prev_hash, hash) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


async def append_audit(
    conn: AConn,
    caller: Caller,
    action: str,
    event_id: str | None,
    detail: Mapping[str, Any] | None = None,
) -> AuditRow:
    """Append one row to the chain inside the caller's transaction (which must be open)."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
    cur = await conn.execute(_LAST)
    last = await cur.fetchone()
    seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
    entry = AuditEntry(
        seq, datetime.now(UTC), caller.name, caller.role, action, event_id, dict(detail or {})
    )
    row = seal(entry, prev)
    await conn.execute(
        _AUDIT_INSERT,
        (
            seq,
            entry.at,
            entry.actor,
            entry.role,
            entry.action,
            event_id,
            Jsonb(entry.detail),
            row.prev_hash,
            row.hash,
        ),
    )
    return row


async def audit(
    conn: AConn,
    caller: Caller,
    action: str,
    event_id: str | None,
    detail: Mapping[str, Any] | None = None,
) -> AuditRow:
    """Append one audit row in a transaction of its own."""
    async with conn.transaction():
        return await append_audit(conn, caller, action, event_id, detail)


def _audit_row(r: Sequence[Any]) -> AuditRow:
    entry = AuditEntry(
        int(r[0]), r[1], str(r[2]), str(r[3]), str(r[4]), str(r[5]) if r[5] else None, r[6]
    )
    return AuditRow(entry, str(r[7]), str(r[8]))


_AUDIT_SELECT = (
    "SELECT seq, at, actor, role, action, event_id, detail, prev_hash, hash FROM audit_log "
)


async def iter_audit(conn: AConn, batch: int = 5000) -> AsyncIterator[AuditRow]:
    """Every audit row in ``seq`` order (keyset pages, bounded memory)."""
    after = 0
    while True:
        cur = await conn.execute(
            _AUDIT_SELECT + "WHERE seq > %s ORDER BY seq LIMIT %s",
            (after, batch),
        )
        rows = await cur.fetchall()
        for r in rows:
            yield _audit_row(r)
        if len(rows) < batch:
            return
        after = int(rows[-1][0])


async def case_audit(conn: AConn, event_id: str) -> list[AuditRow]:
    cur = await conn.execute(_AUDIT_SELECT + "WHERE event_id = %s ORDER BY seq", (event_id,))
    return [_audit_row(r) for r in await cur.fetchall()]


def audit_json(row: AuditRow) -> dict[str, Any]:
    e = row.entry
    return {
        "seq": e.seq,
        "at": e.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "event_id": e.event_id,
        "detail": dict(e.detail),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


# --- cases -----------------------------------------------------------------------------

_CASE_COLS = sql.SQL(
    "v.event_id::text, v.camera_id, c.name, c.lat, c.lon, c.area_id, "
    "coalesce(v.reviewed_rule, v.rule), v.rule, v.vehicle_class, v.time, v.location, "
    "coalesce(v.reviewed_legal, v.legal), v.measured, v.status, v.review_version, v.plate, "
    "v.vehicle_type, v.reject_reason, v.review_note, "
    "EXISTS (SELECT 1 FROM violation_transitions t "
    "        WHERE t.event_id = v.event_id AND t.to_status = 'notice_issued'), "
    "v.evidence_complete, v.evidence_purged_at, v.decided_at"
)
_FROM = sql.SQL("FROM violations v JOIN cameras c ON c.id = v.camera_id")
_SCOPE = sql.SQL(
    "(NOT EXISTS (SELECT 1 FROM review_scopes s WHERE s.user_id = {uid}) OR EXISTS ("
    "SELECT 1 FROM review_scopes s WHERE s.user_id = {uid} "
    "AND (s.camera_id = v.camera_id OR s.area_id = c.area_id)))"
)
_ORDER: Final[Mapping[str, sql.Composable]] = {
    "newest": sql.SQL("v.time DESC, v.event_id"),
    "oldest": sql.SQL("v.time ASC, v.event_id"),
    "severe": sql.SQL(
        "(coalesce(v.reviewed_legal, v.legal)->>'fine_max_vnd')::bigint DESC, "
        "(coalesce(v.reviewed_legal, v.legal)->>'points')::int DESC, v.time DESC, v.event_id"
    ),
}


def _scope(caller: Caller) -> sql.Composed:
    uid = sql.Literal(caller.user_id) if caller.user_id is not None else sql.SQL("NULL")
    return _SCOPE.format(uid=uid)


def _case(r: Sequence[Any], evidence: Sequence[EvidenceRef] = ()) -> Case:
    return Case(
        event_id=r[0],
        camera_id=r[1],
        camera_name=r[2],
        camera_lat=r[3],
        camera_lon=r[4],
        area_id=r[5],
        rule=r[6],
        detected_rule=r[7],
        vehicle_class=r[8],
        time=r[9],
        where=r[10],
        legal=r[11],
        measured=r[12],
        status=r[13],
        version=int(r[14]),
        plate=r[15],
        vehicle_type=r[16],
        reject_reason=r[17],
        note=r[18],
        notice_issued=bool(r[19]),
        evidence_complete=bool(r[20]),
        evidence_purged_at=r[21],
        decided_at=r[22],
        evidence=tuple(evidence),
    )


async def list_queue(conn: AConn, caller: Caller, f: QueueFilter) -> list[Case]:
    """Cases in the caller's scope matching ``f`` (no evidence attached)."""
    where: list[sql.Composable] = [_scope(caller), sql.SQL("v.status = ANY(%s)")]
    params: list[Any] = [list(f.status)]
    for cond, value in (
        ("v.camera_id = %s", f.camera),
        ("coalesce(v.reviewed_rule, v.rule) = %s", f.rule),
        ("v.time >= %s", f.since),
        ("v.time < %s", f.until),
    ):
        if value is not None:
            where.append(sql.SQL(cond))
            params.append(value)
    query = sql.SQL("SELECT {cols} {frm} WHERE {where} ORDER BY {order} LIMIT %s").format(
        cols=_CASE_COLS, frm=_FROM, where=sql.SQL(" AND ").join(where), order=_ORDER[f.order]
    )
    cur = await conn.execute(query, [*params, f.limit])
    return [_case(r) for r in await cur.fetchall()]


async def _evidence(conn: AConn, event_id: str) -> list[EvidenceRef]:
    cur = await conn.execute(
        "SELECT kind, path, sha256, bytes FROM violation_evidence WHERE event_id = %s "
        "ORDER BY kind",
        (event_id,),
    )
    return [EvidenceRef(str(k), str(p), str(s), int(b)) for k, p, s, b in await cur.fetchall()]


async def get_case(
    conn: AConn, event_id: str, caller: Caller | None, *, for_update: bool = False
) -> Case | None:
    """The case with its evidence; ``None`` if unknown or outside the caller's scope
    (``caller=None``: no scope, for the CLI)."""
    query = sql.SQL("SELECT {cols} {frm} WHERE v.event_id = %s AND {scope}{lock}").format(
        cols=_CASE_COLS,
        frm=_FROM,
        scope=_scope(caller) if caller is not None else sql.SQL("true"),
        lock=sql.SQL(" FOR UPDATE OF v") if for_update else sql.SQL(""),
    )
    cur = await conn.execute(query, (event_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return _case(row, await _evidence(conn, event_id))


# --- decisions -------------------------------------------------------------------------

_UPDATE = (
    "UPDATE violations SET status = %s, plate = %s, vehicle_type = %s, reviewed_rule = %s, "
    "reviewed_legal = coalesce(%s, reviewed_legal), reject_reason = %s, review_note = %s, "
    "review_version = %s, decided_at = CASE WHEN %s THEN now() ELSE decided_at END "
    "WHERE event_id = %s"
)
_TRANSITION = (
    "INSERT INTO violation_transitions "
    "(event_id, version, action, from_status, to_status, actor, role, detail) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_DECISIONS: Final = frozenset({"confirm", "reject"})


def plate_digest(event_id: str, plate: str) -> str:
    """What the audit chain commits to instead of the plate itself (personal data)."""
    return hashlib.sha256(f"{event_id}|{plate}".encode()).hexdigest()


async def decide(
    conn: AConn,
    event_id: str,
    caller: Caller,
    action: Action,
    expected_version: int | None,
    legal_for: LegalFor,
) -> Transition | None:
    """Apply ``action`` atomically; ``None`` if the case is unknown / out of scope.
    :class:`WorkflowError` (nothing written) for a refused or stale action."""
    async with conn.transaction():
        case = await get_case(conn, event_id, caller, for_update=True)
        if case is None:
            return None
        if expected_version is not None and expected_version != case.version:
            raise WorkflowError(
                "stale_version", f"the case changed (version {case.version}); reload it"
            )
        t = apply(case.state(), action)
        legal: Mapping[str, Any] | None = None
        if isinstance(action, Reclassify):
            legal = legal_for(action.rule, case.vehicle_class, case.measured)
            if legal is None:
                raise WorkflowError(
                    "no_legal_basis", f"{action.rule} has no legal basis for this vehicle"
                )
        s = t.state
        reviewed_rule = s.rule if s.rule != case.detected_rule else None
        await conn.execute(
            _UPDATE,
            (
                s.status,
                s.plate,
                s.vehicle_type,
                reviewed_rule,
                Jsonb(dict(legal)) if legal is not None else None,
                s.reject_reason,
                s.note,
                s.version,
                t.action in _DECISIONS,
                event_id,
            ),
        )
        detail: dict[str, Any] = {**t.detail, "version": s.version}
        await conn.execute(
            _TRANSITION,
            (
                event_id,
                s.version,
                t.action,
                t.from_status,
                t.to_status,
                caller.name,
                caller.role,
                Jsonb(detail),
            ),
        )
        audit_detail = {"action": t.action, "from": t.from_status, "to": t.to_status, **detail}
        if t.action == "confirm" and s.plate is not None:
            audit_detail["plate_sha256"] = plate_digest(event_id, s.plate)
        await append_audit(conn, caller, "decide", event_id, audit_detail)
        return t


async def transitions(conn: AConn, event_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT version, action, from_status, to_status, actor, role, detail, at "
        "FROM violation_transitions WHERE event_id = %s ORDER BY version",
        (event_id,),
    )
    keys = ("version", "action", "from", "to", "actor", "role", "detail", "at")
    return [dict(zip(keys, r, strict=True)) for r in await cur.fetchall()]


# --- scopes ----------------------------------------------------------------------------


async def add_scope(conn: AConn, username: str, camera_id: str | None, area_id: str | None) -> bool:
    """Limit ``username`` to a camera or an area (adds to its scope); False: no such user."""
    async with conn.transaction():
        cur = await conn.execute("SELECT id FROM users WHERE username = %s", (username,))
        row = await cur.fetchone()
        if row is None:
            return False
        await conn.execute(
            "INSERT INTO review_scopes (user_id, camera_id, area_id) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (row[0], camera_id, area_id),
        )
    return True


# --- retention and labels --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetentionRow:
    event_id: str
    status: str
    time: datetime
    decided_at: datetime | None
    evidence: tuple[EvidenceRef, ...]


async def purge_candidates(conn: AConn, captured_before: datetime) -> list[RetentionRow]:
    """Cases captured before ``captured_before`` whose evidence is still on disk."""
    cur = await conn.execute(
        "SELECT event_id::text, status, time, decided_at FROM violations "
        "WHERE evidence_purged_at IS NULL AND time < %s ORDER BY time",
        (captured_before,),
    )
    out = []
    for eid, status, time, decided in await cur.fetchall():
        out.append(RetentionRow(eid, status, time, decided, tuple(await _evidence(conn, eid))))
    return out


async def claim_purge(conn: AConn, caller: Caller, row: RetentionRow, reason: str) -> bool:
    """Mark the case's evidence purged, with its audit row, in one transaction - only if the
    case is still in the status the retention rule was applied to (a decision made meanwhile
    wins). The caller deletes the files after this returned True."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE violations SET evidence_purged_at = now() WHERE event_id = %s "
            "AND status = %s AND evidence_purged_at IS NULL RETURNING event_id",
            (row.event_id, row.status),
        )
        if await cur.fetchone() is None:
            return False
        await append_audit(
            conn,
            caller,
            "purge",
            row.event_id,
            {
                "status": row.status,
                "reason": reason,
                "files": [{"kind": e.kind, "sha256": e.sha256} for e in row.evidence],
            },
        )
    return True


async def decided_cases(conn: AConn) -> list[Case]:
    """Every confirmed / rejected case with evidence still on disk (for the label export)."""
    query = sql.SQL(
        "SELECT {cols} {frm} WHERE v.status IN ('confirmed', 'notice_issued', 'rejected') "
        "AND v.evidence_purged_at IS NULL ORDER BY v.time"
    ).format(cols=_CASE_COLS, frm=_FROM)
    cur = await conn.execute(query)
    return [_case(r, await _evidence(conn, r[0])) for r in await cur.fetchall()]


async def all_evidence(conn: AConn) -> list[tuple[str, EvidenceRef, bool]]:
    """(event id, file, purged?) of every recorded evidence file."""
    cur = await conn.execute(
        "SELECT e.event_id::text, e.kind, e.path, e.sha256, e.bytes, "
        "v.evidence_purged_at IS NOT NULL FROM violation_evidence e "
        "JOIN violations v USING (event_id) ORDER BY e.event_id, e.path"
    )
    return [
        (str(r[0]), EvidenceRef(str(r[1]), str(r[2]), str(r[3]), int(r[4])), bool(r[5]))
        for r in await cur.fetchall()
    ]


# --- evidence files on disk ------------------------------------------------------------
# Paths come from the camera pipeline's messages; one that would leave the evidence store
# (``..``, absolute, a symlink out) is treated as missing rather than served.


class EvidenceMissing(LookupError):
    """The file is not (or no longer) on disk, or its path is not inside the store."""


def evidence_root(settings: Settings) -> Path:
    return (settings.evidence_dir or settings.home / "evidence").resolve()


def evidence_path(root: Path, ref: EvidenceRef) -> Path:
    path = (root / ref.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise EvidenceMissing(ref.kind)
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_evidence(root: Path, ref: EvidenceRef) -> bytes:
    return evidence_path(root, ref).read_bytes()
