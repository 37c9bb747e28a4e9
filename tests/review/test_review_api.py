"""The review API against a real ``ioc dashboard`` process, database and evidence store:
authorisation of every endpoint for every role (refusals audited), officer scopes and
guessed ids (404, audited), Range requests on clips, decisions, the export package, and
``ioc audit verify`` finding a tampered evidence file and a modified audit row."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fixtures.dashboard import REPO, Dashboard, add_api_key, add_user, ioc_cli, login, settings_env
from review.cases import real_case

from streams.agents.violations import ViolationIn, store_violations

pytestmark = pytest.mark.integration
API = "/api/v1/review/cases"


@dataclass
class World:
    dashboard: Dashboard
    root: Path
    url: str
    cases: dict[str, dict[str, Any]]  # name -> violation message
    clients: dict[str, httpx.Client]
    scoped: httpx.Client  # police officer limited to camera cam-a


def _store(url: str, messages: list[dict[str, Any]]) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            items = [ViolationIn.model_validate(m) for m in messages]
            assert len(await store_violations(conn, items)) == len(items)

    asyncio.run(go())


def cli(world: World, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ioc_cli(), *args],
        env={**settings_env(world.dashboard.settings), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def world(dashboard: Dashboard) -> Iterator[World]:
    settings = dashboard.settings
    root = settings.home / "evidence"
    cases = {
        "a1": real_case(root, "cam-a", 1, "red_light", "car", "303"),
        "a2": real_case(root, "cam-a", 2, "red_light", "motorbike", "303"),
        "a3": real_case(root, "cam-a", 3, "red_light", "car", "303"),
        "b1": real_case(root, "cam-b", 4, "red_light", "car", "999"),
    }
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    _store(url, list(cases.values()))
    clients: dict[str, httpx.Client] = {"anonymous": httpx.Client(base_url=dashboard.base_url)}
    for role in ("admin", "operator", "department", "police"):
        name = f"{role}-{secrets.token_hex(3)}"
        dept = "drainage" if role == "department" else None
        clients[role] = login(dashboard.base_url, name, add_user(settings, name, role, dept))
    for role in ("ingest", "police"):
        key = add_api_key(settings, f"key-{role}-{secrets.token_hex(3)}", role)
        clients[f"{role}-key"] = httpx.Client(
            base_url=dashboard.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
    officer = f"officer-{secrets.token_hex(3)}"
    scoped = login(dashboard.base_url, officer, add_user(settings, officer, "police"))
    w = World(dashboard, root, url, cases, clients, scoped)
    done = cli(w, "review", "scope", officer, "--camera", "cam-a")
    assert done.returncode == 0, done.stderr
    yield w
    for c in [*clients.values(), scoped]:
        c.close()


def eid(world: World, name: str) -> str:
    return str(world.cases[name]["event_id"])


def audit_rows(world: World, action: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(world.url) as conn:
        return conn.execute(
            "SELECT actor, role, event_id::text, detail FROM audit_log WHERE action = %s "
            "ORDER BY seq",
            (action,),
        ).fetchall()


def test_every_endpoint_for_every_role(world: World) -> None:
    e = eid(world, "a3")
    endpoints = [
        ("GET", "/review", None),
        ("GET", API, None),
        ("GET", f"{API}/{e}", None),
        ("GET", f"{API}/{e}/evidence/key_frame_event", None),
        ("POST", f"{API}/{e}/decision", {"action": "bogus"}),
        ("GET", f"{API}/{e}/export", None),
    ]
    denied_before = len(audit_rows(world, "denied"))
    refusals = 0
    for who, client in world.clients.items():
        for method, path, body in endpoints:
            answer = client.request(method, path, json=body, follow_redirects=False)
            if who in ("police", "police-key"):
                expected = 400 if method == "POST" else 200
            elif who == "anonymous":
                expected = 303 if path == "/review" else 401
            else:
                expected = 403
            assert answer.status_code == expected, (who, method, path, answer.text[:200])
            refusals += expected in (303, 401, 403)
    denied = audit_rows(world, "denied")[denied_before:]
    assert len(denied) == refusals
    assert {(r[0], r[1]) for r in denied} >= {("anonymous", "anonymous")}
    assert {r[3]["endpoint"] for r in denied} == {
        "review_page",
        "review_list",
        "review_case",
        "review_evidence",
        "review_decide",
        "review_export",
    }
    assert any(r[2] == e for r in denied)  # the case id the caller tried is on record


def test_queue_filters_order_and_scope(world: World) -> None:
    police = world.clients["police"]
    body = police.get(API, params={"camera": "cam-a", "order": "severe"}).json()
    ids = [c["event_id"] for c in body["cases"]]
    assert set(ids) == {eid(world, n) for n in ("a1", "a2", "a3")}
    assert body["cases"][-1]["vehicle_class"] == "motorbike"  # smallest fine last
    assert {o["key"] for o in body["options"]["reject_reasons"]} >= {"false_detection", "other"}
    assert police.get(API, params={"status": "nonsense"}).json()["error"] == "bad_status"
    assert police.get(API, params={"since": "2030-01-01T00:00:00+07:00"}).json()["cases"] == []
    scoped_ids = {c["event_id"] for c in world.scoped.get(API).json()["cases"]}
    assert eid(world, "b1") not in scoped_ids and eid(world, "a1") in scoped_ids


def test_other_scope_and_guessed_ids_are_404_and_audited(world: World) -> None:
    before = len(audit_rows(world, "not_found"))
    b1 = eid(world, "b1")
    guessed = str(uuid.uuid4())
    for path in (
        f"{API}/{b1}",
        f"{API}/{b1}/evidence/clip_raw",
        f"{API}/{b1}/export",
        f"{API}/{guessed}",
        f"{API}/not-a-uuid/evidence/clip_raw",
    ):
        answer = world.scoped.get(path)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", path
    answer = world.scoped.post(
        f"{API}/{b1}/decision", json={"action": "reject", "reason": "other", "note": "x"}
    )
    assert answer.status_code == 404
    rows = audit_rows(world, "not_found")[before:]
    assert len(rows) == 6 and [r[2] for r in rows].count(b1) == 4
    assert rows[4][3]["id"] == "not-a-uuid"
    assert world.clients["police"].get(f"{API}/{b1}").status_code == 200  # unscoped officer
    assert world.clients["police"].get(f"{API}/{eid(world, 'a1')}/evidence/nope").status_code == 404


def test_case_view_and_evidence_with_range(world: World) -> None:
    police = world.clients["police"]
    e = eid(world, "a1")
    case = police.get(f"{API}/{e}").json()
    assert case["legal"]["citation"].startswith("Điểm b khoản 9 Điều 6")
    assert case["camera"]["lat"] == pytest.approx(20.8561) and case["measured"]["signal"] == "red"
    assert [x["kind"] for x in case["evidence"]][:2] == ["clip_annotated", "clip_raw"]
    assert "path" not in json.dumps(case["evidence"])  # no store paths leak
    assert case["actions"] == ["confirm", "reject", "reclassify"]
    clip = next(f for f in world.cases["a1"]["evidence"]["files"] if f["kind"] == "clip_raw")
    full = police.get(f"{API}/{e}/evidence/clip_raw")
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert hashlib.sha256(full.content).hexdigest() == clip["sha256"]
    part = police.get(f"{API}/{e}/evidence/clip_raw", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{clip['bytes']}"
    assert police.get(f"{API}/{e}/evidence/key_frame_event").headers["content-type"] == "image/jpeg"
    views = [r for r in audit_rows(world, "evidence") if r[2] == e]
    assert [r[3]["range"] for r in views[-3:]] == ["", "bytes=100-199", ""]
    assert any(r[2] == e for r in audit_rows(world, "view"))


def test_decisions(world: World) -> None:
    police = world.clients["police"]
    e = eid(world, "a1")
    path = f"{API}/{e}/decision"
    bad = police.post(path, json={"action": "confirm", "vehicle_type": "car"})
    assert (bad.status_code, bad.json()["error"]) == (400, "plate_required")
    stale = police.post(path, json={"action": "reclassify", "rule": "wrong_way", "version": 5})
    assert (stale.status_code, stale.json()["error"]) == (409, "stale_version")
    moved = police.post(path, json={"action": "reclassify", "rule": "wrong_way", "version": 0})
    assert moved.status_code == 200, moved.text
    assert moved.json()["case"]["legal"]["citation"].startswith("Điểm d khoản 9 Điều 6")
    ok = police.post(
        path, json={"action": "confirm", "plate": "15a-123.45", "vehicle_type": "car", "version": 1}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["case"]["status"] == "confirmed" and ok.json()["case"]["plate"] == "15A12345"
    again = police.post(path, json={"action": "reject", "reason": "false_detection"})
    assert (again.status_code, again.json()["error"]) == (409, "bad_transition")
    rej = police.post(
        f"{API}/{eid(world, 'a2')}/decision", json={"action": "reject", "reason": "signal_fault"}
    )
    assert rej.status_code == 200 and rej.json()["case"]["status"] == "rejected"
    history = police.get(f"{API}/{e}").json()["history"]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("reclassify", "pending", "pending"),
        ("confirm", "pending", "confirmed"),
    ]
    decided = [r for r in audit_rows(world, "decide") if r[2] == e]
    assert [r[3]["action"] for r in decided] == ["reclassify", "confirm"]
    assert "15A12345" not in json.dumps([r[3] for r in decided])  # plate only as a digest
    refused = [r[3]["code"] for r in audit_rows(world, "decision_refused") if r[2] == e]
    assert refused == ["plate_required", "stale_version", "bad_transition"]


def test_export_package(world: World) -> None:
    e = eid(world, "a1")
    answer = world.clients["police"].get(f"{API}/{e}/export")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(answer.content))
    recorded = {
        f["path"].rsplit("/", 1)[1]: f["sha256"] for f in world.cases["a1"]["evidence"]["files"]
    }
    for name, digest in recorded.items():
        assert hashlib.sha256(zf.read(f"evidence/{name}")).hexdigest() == digest
    meta = json.loads(zf.read("case.json"))
    assert meta["case"]["plate"] == "15A12345" and meta["case"]["rule"] == "wrong_way"
    notice = zf.read("notice.html").decode()
    assert "15A12345" in notice and "Điểm d khoản 9 Điều 6" in notice and "Xe ô tô" in notice
    audit = json.loads(zf.read("audit.json"))
    assert [a["action"] for a in audit][-1] == "export"
    assert all(a["event_id"] == e for a in audit)
    for line in zf.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(zf.read(name)).hexdigest() == digest


def test_notice_and_appeal(world: World) -> None:
    police = world.clients["police"]
    path = f"{API}/{eid(world, 'a1')}/decision"
    steps = [
        ({"action": "issue_notice"}, "notice_issued"),
        ({"action": "appeal", "note": "owner disputes the plate"}, "appealed"),
        ({"action": "uphold"}, "notice_issued"),
    ]
    for body, status in steps:
        answer = police.post(path, json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["case"]["status"] == status
    case = police.get(f"{API}/{eid(world, 'a1')}").json()
    assert [h["to"] for h in case["history"]][-3:] == ["notice_issued", "appealed", "notice_issued"]
    assert case["actions"] == ["appeal"]


def test_concurrent_appends_keep_one_chain(world: World) -> None:
    from ioc.review.audit import verify_chain
    from ioc.storage import review as store

    async def append(i: int) -> None:
        async with await psycopg.AsyncConnection.connect(world.url) as conn:
            await store.audit(conn, store.Caller(f"w{i}", "police"), "view", None, {"i": i})

    async def go() -> list[Any]:
        await asyncio.gather(*(append(i) for i in range(16)))
        async with await psycopg.AsyncConnection.connect(world.url) as conn:
            return [row async for row in store.iter_audit(conn, batch=7)]

    rows = asyncio.run(go())
    assert verify_chain(rows) is None
    assert [r.entry.seq for r in rows] == list(range(1, len(rows) + 1))
    assert {r.entry.detail.get("i") for r in rows} >= set(range(16))


def test_append_only_and_verify_detects_tampering(world: World) -> None:
    ok = cli(world, "audit", "verify", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] and report["chain"]["rows"] > 20 and report["evidence"]["checked"] == 28
    with psycopg.connect(world.url) as conn:
        for statement in (
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
    # a tampered evidence file: refused when served or exported, and found by verify
    ref = next(f for f in world.cases["a3"]["evidence"]["files"] if f["kind"] == "key_frame_event")
    path = world.root / ref["path"]
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        police = world.clients["police"]
        e = eid(world, "a3")
        served = police.get(f"{API}/{e}/evidence/key_frame_event")
        assert (served.status_code, served.json()["error"]) == (409, "evidence_tampered")
        exported = police.get(f"{API}/{e}/export")
        assert (exported.status_code, exported.json()["error"]) == (409, "evidence_tampered")
        assert [r[3]["kind"] for r in audit_rows(world, "integrity_error") if r[2] == e] == [
            "key_frame_event",
            "key_frame_event",
        ]
        bad = cli(world, "audit", "verify")
        assert bad.returncode == 1
        assert f"BAD {e} key_frame_event: sha256" in bad.stdout
    finally:
        path.write_bytes(original)
    # a modified audit row (by someone who can switch the trigger off): the chain breaks there
    with psycopg.connect(world.url, autocommit=True) as conn:
        seq = conn.execute("SELECT min(seq) FROM audit_log WHERE action = 'decide'").fetchone()[0]
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = %s", (seq,))
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    broken = cli(world, "audit", "verify", "--json")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["chain"]["break"] == {"seq": seq, "reason": "hash_mismatch"}
    assert f"BROKEN at seq {seq} (hash_mismatch)" in cli(world, "audit", "verify").stdout


def test_export_labels_and_purge(world: World, tmp_path: Path) -> None:
    out = tmp_path / "labels"
    done = cli(world, "review", "export-labels", "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["confirmed"], summary["rejected"], summary["skipped"]) == (1, 1, 0)
    a1, a2 = eid(world, "a1"), eid(world, "a2")
    label = (out / "labels" / "confirmed" / f"{a1}.txt").read_text().split()
    assert label[0] == "0"  # car
    cx, cy, w, h = map(float, label[1:])  # BOX of tests/review/cases.py in a 1006x720 frame
    assert cx == pytest.approx(535 / 1006, abs=0.01) and cy == pytest.approx(425 / 720, abs=0.01)
    assert w == pytest.approx(210 / 1006, abs=0.01) and h == pytest.approx(190 / 720, abs=0.01)
    assert (out / "images" / "rejected" / f"{a2}.jpg").stat().st_size > 10_000
    assert (out / "labels" / "rejected" / f"{a2}.txt").read_text().startswith("1 ")  # motorbike
    rows = (out / "decisions.csv").read_text().splitlines()
    assert len(rows) == 3 and "signal_fault" in rows[2] + rows[1]
    # retention: 100 days from now, the rejected and pending cases go, the confirmed one stays
    later = (datetime.now(UTC) + timedelta(days=100)).isoformat()
    env = {"IOC_REVIEW_UNCONFIRMED_DAYS": "90", "IOC_REVIEW_CONFIRMED_DAYS": "800"}
    dry = cli(world, "review", "purge", "--dry-run", "--now", later, **env)
    assert dry.returncode == 0 and json.loads(dry.stdout)["would_purge"] == 3
    assert (world.root / world.cases["a2"]["evidence"]["files"][0]["path"]).exists()
    run = cli(world, "review", "purge", "--now", later, **env)
    assert run.returncode == 0, run.stderr
    assert {c["event_id"] for c in json.loads(run.stdout)["cases"]} == {
        a2,
        eid(world, "a3"),
        eid(world, "b1"),
    }
    assert not (world.root / world.cases["a2"]["evidence"]["files"][0]["path"]).exists()
    assert (world.root / world.cases["a1"]["evidence"]["files"][0]["path"]).exists()
    purges = audit_rows(world, "purge")
    assert len(purges) == 3 and {r[0] for r in purges} == {"retention"}
    assert len(purges[0][3]["files"]) == 7
    gone = world.clients["police"].get(f"{API}/{a2}/evidence/clip_raw")
    assert (gone.status_code, gone.json()["error"]) == (410, "evidence_purged")
