"""``ioc audit verify``: check the audit log's hash chain and every evidence file.

Exit status 0 when the chain is intact and every evidence file still on record (not purged
by retention) has the SHA-256 recorded at capture; 1 otherwise, naming the first break.

Example::

    ioc audit verify            # "audit chain: 1532 rows intact" ... "evidence: 84 files ok"
    ioc audit verify --json     # {"ok": false, "chain": {"rows": 12, "break": {"seq": 7, ...}}}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from typing import Any

import psycopg

from ioc.review.audit import GENESIS, AuditRow, verify_chain
from ioc.settings import Settings
from ioc.storage import review as store

logger = logging.getLogger(__name__)
BATCH = 5000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("audit", help="the tamper-evident audit log")
    sub = group.add_subparsers(dest="audit_command", required=True)
    p = sub.add_parser("verify", help="check the hash chain and every evidence file's SHA-256")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--no-files", action="store_true", help="check the chain only")
    p.set_defaults(func=cmd_verify)


async def verify(url: str, settings: Settings, files: bool = True) -> dict[str, Any]:
    """The verification report (pure reading: nothing is written)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        rows = 0
        prev, first = GENESIS, 1
        broken: dict[str, Any] | None = None
        batch: list[AuditRow] = []

        def check() -> bool:
            nonlocal prev, first, broken
            found = verify_chain(batch, prev, first)
            if found is not None:
                broken = {"seq": found.seq, "reason": found.reason}
                return False
            if batch:
                prev, first = batch[-1].hash, batch[-1].entry.seq + 1
            batch.clear()
            return True

        async for row in store.iter_audit(conn, BATCH):
            rows += 1
            batch.append(row)
            if len(batch) >= BATCH and not check():
                break
        if broken is None:
            check()
        report: dict[str, Any] = {"chain": {"rows": rows, "break": broken}}
        if files:
            root = store.evidence_root(settings)
            bad: list[dict[str, str]] = []
            checked = purged = 0
            for event_id, ref, was_purged in await store.all_evidence(conn):
                if was_purged:
                    purged += 1
                    continue
                checked += 1
                try:
                    path = store.evidence_path(root, ref)
                except store.EvidenceMissing:
                    bad.append({"event_id": event_id, "kind": ref.kind, "problem": "missing"})
                    continue
                actual = await asyncio.to_thread(store.sha256_of, path)
                if actual != ref.sha256:
                    bad.append({"event_id": event_id, "kind": ref.kind, "problem": "sha256"})
            report["evidence"] = {"checked": checked, "purged": purged, "bad": bad}
    report["ok"] = broken is None and not report.get("evidence", {}).get("bad")
    return report


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from ioc.services.manager import database_url

    report = asyncio.run(verify(database_url(settings), settings, files=not args.no_files))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        chain = report["chain"]
        if chain["break"] is None:
            print(f"audit chain: {chain['rows']} rows intact")
        else:
            b = chain["break"]
            print(f"audit chain: BROKEN at seq {b['seq']} ({b['reason']}); {chain['rows']} rows")
        if "evidence" in report:
            ev = report["evidence"]
            ok = ev["checked"] - len(ev["bad"])
            print(f"evidence: {ok} of {ev['checked']} files ok, {ev['purged']} purged")
            for item in ev["bad"]:
                print(f"  BAD {item['event_id']} {item['kind']}: {item['problem']}")
    return 0 if report["ok"] else 1
