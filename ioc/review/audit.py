"""The hash chain of the audit log: compute a row's hash, verify a sequence of rows.

Each row stores ``prev_hash`` (the previous row's ``hash``; 64 zeros for the first) and
``hash`` = SHA-256 of the canonical JSON of its fields including ``prev_hash``. Changing,
removing or inserting any row changes every later expected hash, so :func:`verify_chain`
names the first row that no longer fits.

Example::

    e = AuditEntry(1, at, "lan", "police", "view", event_id, {})
    row = seal(e, GENESIS)
    verify_chain([row])        # -> None (intact)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

GENESIS: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime  # timezone-aware
    actor: str
    role: str
    action: str
    event_id: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditRow:
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    reason: str  # machine-readable: seq_gap, prev_hash_mismatch, hash_mismatch


def canonical(entry: AuditEntry, prev_hash: str) -> bytes:
    """The bytes that are hashed: sorted-key JSON, UTC time with microseconds."""
    if entry.at.tzinfo is None:
        raise ValueError("audit time must be timezone-aware")
    body = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "event_id": entry.event_id,
        "detail": entry.detail,
        "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry, prev_hash: str) -> str:
    return hashlib.sha256(canonical(entry, prev_hash)).hexdigest()


def seal(entry: AuditEntry, prev_hash: str) -> AuditRow:
    """The row to append after a row whose hash is ``prev_hash``."""
    return AuditRow(entry, prev_hash, entry_hash(entry, prev_hash))


def verify_chain(
    rows: Iterable[AuditRow], prev_hash: str = GENESIS, first_seq: int = 1
) -> ChainBreak | None:
    """The first row that breaks the chain (``None``: intact). ``rows`` in ``seq`` order."""
    expected_seq = first_seq
    for row in rows:
        seq = row.entry.seq
        if seq != expected_seq:
            return ChainBreak(min(seq, expected_seq), "seq_gap")
        if row.prev_hash != prev_hash:
            return ChainBreak(seq, "prev_hash_mismatch")
        if row.hash != entry_hash(row.entry, row.prev_hash):
            return ChainBreak(seq, "hash_mismatch")
        prev_hash, expected_seq = row.hash, seq + 1
    return None
