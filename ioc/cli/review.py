"""``ioc review export-labels|purge|scope``: the learning loop, retention and officer scopes.

Example::

    ioc review export-labels --out /data/review-labels     # YOLO dataset from decisions
    ioc review purge --dry-run                             # what retention would remove
    ioc review purge                                       # remove it (each purge audited)
    ioc review scope lan --camera hp-cam-01                # lan reviews only that camera
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psycopg

from ioc.review import labels
from ioc.review.case import Case, EvidenceRef
from ioc.settings import Settings
from ioc.storage import review as store
from ioc.storage.evidence_purge import purge_expired

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("review", help="police review: labels, retention, scopes")
    sub = group.add_subparsers(dest="review_command", required=True)
    p = sub.add_parser("export-labels", help="decided cases as a YOLO detection dataset")
    p.add_argument("--out", type=Path, required=True, help="dataset folder (created)")
    p.set_defaults(func=cmd_export_labels)
    p = sub.add_parser("purge", help="remove evidence past its retention period (audited)")
    p.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    p.add_argument("--now", type=datetime.fromisoformat, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_purge)
    p = sub.add_parser("scope", help="limit an officer to a camera or an area (cumulative)")
    p.add_argument("user")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--camera")
    which.add_argument("--area")
    p.set_defaults(func=cmd_scope)


def _url(settings: Settings) -> str:
    from ioc.services.manager import database_url

    return database_url(settings)


# --- purge -----------------------------------------------------------------------------


async def purge(url: str, settings: Settings, now: datetime, dry_run: bool) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await purge_expired(conn, settings, now, dry_run)


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    now = args.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    done = asyncio.run(purge(_url(settings), settings, now, args.dry_run))
    print(json.dumps({"purged" if not args.dry_run else "would_purge": len(done), "cases": done}))
    return 0


# --- scopes ----------------------------------------------------------------------------


def cmd_scope(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> bool:
        async with await psycopg.AsyncConnection.connect(_url(settings)) as conn:
            return await store.add_scope(conn, args.user, args.camera, args.area)

    if not asyncio.run(run()):
        print(f"no such user: {args.user}")
        return 1
    print(f"{args.user}: scope + {'camera ' + args.camera if args.camera else 'area ' + args.area}")
    return 0


# --- labels ----------------------------------------------------------------------------


def _frames(path: Path) -> list[np.ndarray[Any, Any]]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out


def _checked(root: Path, ref: EvidenceRef | None) -> Path | None:
    if ref is None:
        return None
    try:
        path = store.evidence_path(root, ref)
    except store.EvidenceMissing:
        return None
    return path if store.sha256_of(path) == ref.sha256 else None


def export_case(case: Case, root: Path, out: Path) -> dict[str, Any]:
    """Write one case's image + label; returns its ``decisions.csv`` row (``skipped`` set
    when it could not be used)."""
    split = "rejected" if case.status == "rejected" else "confirmed"
    row: dict[str, Any] = {
        "event_id": case.event_id,
        "split": split,
        "decision": case.status,
        "reject_reason": case.reject_reason or "",
        "rule": case.rule,
        "detected_rule": case.detected_rule,
        "detected_class": case.vehicle_class,
        "vehicle_type": case.vehicle_type or "",
        "match_score": "",
        "skipped": "",
    }
    clip = _checked(root, case.evidence_of("clip_raw"))
    crop_path = _checked(root, case.evidence_of("vehicle_crop"))
    meta_path = _checked(root, case.evidence_of("metadata"))
    if clip is None or crop_path is None or meta_path is None:
        row["skipped"] = "evidence_missing_or_tampered"
        return row
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    frames = _frames(clip)
    crop = cv2.imread(str(crop_path))
    if not frames or crop is None:
        row["skipped"] = "undecodable"
        return row
    i = labels.event_frame_index(
        float(meta["stream_time_s"]),
        float(meta["window"]["first_frame_s"]),
        float(meta["window"]["from_s"]),
        float(meta["video"]["fps"]),
        len(frames),
    )
    frame = np.asarray(frames[i], dtype=np.uint8)
    box, score = labels.locate(frame, np.asarray(crop, dtype=np.uint8))
    row["match_score"] = f"{score:.3f}"
    vehicle = (
        case.vehicle_type if split == "confirmed" and case.vehicle_type else case.vehicle_class
    )
    cls = labels.class_of(vehicle)
    if cls is None or score < labels.MIN_SCORE:
        row["skipped"] = "unknown_class" if cls is None else "crop_not_found"
        return row
    h, w = frame.shape[:2]
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "images" / split / f"{case.event_id}.jpg"), frame)
    (out / "labels" / split / f"{case.event_id}.txt").write_text(
        labels.yolo_line(cls, box, w, h) + "\n", encoding="utf-8"
    )
    return row


async def _decided(url: str) -> list[Case]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await store.decided_cases(conn)


def export_labels(url: str, settings: Settings, out: Path) -> list[dict[str, Any]]:
    cases = asyncio.run(_decided(url))
    root = store.evidence_root(settings)
    out.mkdir(parents=True, exist_ok=True)
    rows = [export_case(c, root, out) for c in cases]
    (out / "data.yaml").write_text(labels.data_yaml(), encoding="utf-8")
    with (out / "decisions.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["event_id"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def cmd_export_labels(args: argparse.Namespace, settings: Settings) -> int:
    rows = export_labels(_url(settings), settings, args.out)
    written = [r for r in rows if not r["skipped"]]
    print(
        json.dumps(
            {
                "out": str(args.out),
                "cases": len(rows),
                "written": len(written),
                "confirmed": sum(1 for r in written if r["split"] == "confirmed"),
                "rejected": sum(1 for r in written if r["split"] == "rejected"),
                "skipped": len(rows) - len(written),
            }
        )
    )
    return 0
