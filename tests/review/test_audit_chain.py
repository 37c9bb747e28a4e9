"""The audit hash chain (pure): an intact chain verifies; a changed, removed or inserted row
is found, and the first break is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ioc.review.audit import GENESIS, AuditEntry, AuditRow, entry_hash, seal, verify_chain

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def chain(n: int) -> list[AuditRow]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        entry = AuditEntry(i, T0 + timedelta(seconds=i), "lan", "police", "view", "e-1", {"i": i})
        rows.append(seal(entry, prev))
        prev = rows[-1].hash
    return rows


def test_intact_chain_verifies() -> None:
    rows = chain(5)
    assert verify_chain(rows) is None
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].hash
    assert verify_chain(rows[2:], rows[1].hash, 3) is None  # verifying in batches


def test_modified_row_is_found() -> None:
    rows = chain(5)
    tampered = replace(rows[2], entry=replace(rows[2].entry, actor="someone-else"))
    found = verify_chain([*rows[:2], tampered, *rows[3:]])
    assert found is not None and (found.seq, found.reason) == (3, "hash_mismatch")


def test_rehashed_row_breaks_the_next_link() -> None:
    rows = chain(5)
    entry = replace(rows[2].entry, detail={"i": 99})
    forged = AuditRow(entry, rows[2].prev_hash, entry_hash(entry, rows[2].prev_hash))
    found = verify_chain([*rows[:2], forged, *rows[3:]])
    assert found is not None and (found.seq, found.reason) == (4, "prev_hash_mismatch")


def test_removed_row_is_found() -> None:
    rows = chain(5)
    found = verify_chain([*rows[:2], *rows[3:]])
    assert found is not None and (found.seq, found.reason) == (3, "seq_gap")


def test_time_zone_does_not_change_the_hash() -> None:
    e = AuditEntry(1, T0, "a", "police", "view", None, {})
    local = replace(e, at=T0.astimezone(datetime.now().astimezone().tzinfo))
    assert entry_hash(e, GENESIS) == entry_hash(local, GENESIS)
