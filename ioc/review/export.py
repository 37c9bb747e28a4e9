"""The case package: one ZIP with everything a case needs to stand as evidence.

Layout::

    evidence/<file>        clips, key frames, crop, capture metadata (as recorded)
    case.json              the case, its legal reference, evidence list with SHA-256
    audit.json             the audit rows of this case (with their chain hashes)
    notice.html            printable notice (confirmed cases only)
    SHA256SUMS             ``sha256sum -c`` format, every other file of the package

Each evidence file is checked against the SHA-256 recorded at capture before it is packed;
a mismatch raises :class:`IntegrityError` (the package is never built from tampered files).

Example::

    data = build_case_zip(case_json, blobs, audit_rows, notice_html, now)
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Blob:
    kind: str
    name: str
    sha256: str  # recorded at capture
    data: bytes


class IntegrityError(ValueError):
    """An evidence file differs from what was recorded at capture."""

    def __init__(self, kind: str, expected: str, actual: str) -> None:
        super().__init__(f"evidence {kind}: SHA-256 {actual[:12]}… != recorded {expected[:12]}…")
        self.kind, self.expected, self.actual = kind, expected, actual


def check(blob: Blob) -> None:
    actual = hashlib.sha256(blob.data).hexdigest()
    if actual != blob.sha256:
        raise IntegrityError(blob.kind, blob.sha256, actual)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()


def build_case_zip(
    case: Mapping[str, Any],
    blobs: Sequence[Blob],
    audit: Sequence[Mapping[str, Any]],
    notice_html: str | None,
    exported_at: datetime,
    exported_by: str,
) -> bytes:
    """The ZIP bytes; :class:`IntegrityError` if a blob does not match its recorded hash."""
    for blob in blobs:
        check(blob)
    members: list[tuple[str, bytes]] = [(f"evidence/{b.name}", b.data) for b in blobs]
    meta = {
        "case": dict(case),
        "evidence": [
            {"kind": b.kind, "file": f"evidence/{b.name}", "sha256": b.sha256, "bytes": len(b.data)}
            for b in blobs
        ],
        "exported_at": exported_at.isoformat(),
        "exported_by": exported_by,
        "hash_algorithm": "SHA-256",
    }
    members.append(("case.json", _json(meta)))
    members.append(("audit.json", _json(list(audit))))
    if notice_html is not None:
        members.append(("notice.html", notice_html.encode()))
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in members)
    members.append(("SHA256SUMS", sums.encode()))
    buf = io.BytesIO()
    stamp = exported_at.timetuple()[:6]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()
