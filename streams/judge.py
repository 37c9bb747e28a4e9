"""Turn one Kafka message of ``observations.raw`` into valid observations and dead letters.

Pure (no I/O), so the ingest agent, the benchmark's raw-consumer baseline and the tests judge
a message identically. Nothing is dropped: an item that fails validation and a message that
cannot even be decoded both become :class:`~ioc.storage.readings.DeadLetter` rows.

Dead-letter keys are ``"{topic}:{partition}:{offset}:{index}"`` - the same item of the same
message always gets the same key, so a replay or a retry stores it once. ``index`` is the
item's position in the payload (``*`` for a whole-message failure); when one NGSI-LD entity
expands into several refused readings they get ``index.1``, ``index.2`` … so none is lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ioc.domain.observation import (
    Observation,
    PayloadError,
    Rejection,
    ValidationContext,
    decode_items,
    validate_items,
)
from ioc.storage.readings import DeadLetter
from streams.topics import SOURCE_HEADER

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "kafka"
VALIDATION_ERROR = "validation_error"  # not a contract code: validation itself failed (a bug)
Headers = Sequence[tuple[str, bytes | None]] | Mapping[str, bytes] | None
WHOLE_MESSAGE = "*"


@dataclass(slots=True)
class Judged:
    """The verdict on one message."""

    observations: list[Observation] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def source_of(headers: Headers) -> str:
    """The ``ioc-source`` header (who put the message on the topic), else ``"kafka"``."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for key, value in pairs:
        if key == SOURCE_HEADER and value:
            return value.decode("utf-8", errors="replace")
    return DEFAULT_SOURCE


def _item_payload(item: Any) -> str:
    try:
        return json.dumps(item, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # e.g. circular: cannot come from JSON, but be safe
        return repr(item)


def _rejections(prefix: str, source: str, rejections: list[Rejection]) -> list[DeadLetter]:
    seen: dict[int, int] = {}
    out = []
    for rej in rejections:
        n = seen.get(rej.index, 0)
        seen[rej.index] = n + 1
        index = str(rej.index) if n == 0 else f"{rej.index}.{n}"
        detail = rej.message if rej.field is None else f"{rej.field}: {rej.message}"
        out.append(
            DeadLetter(f"{prefix}:{index}", source, rej.reason, detail, _item_payload(rej.item))
        )
    return out


def judge_message(
    topic: str,
    partition: int,
    offset: int,
    value: bytes | None,
    headers: Headers,
    ctx: ValidationContext,
) -> Judged:
    """Validate every item of one message; never raises for bad input."""
    prefix = f"{topic}:{partition}:{offset}"
    source = source_of(headers)
    raw = value or b""
    try:
        good, bad = validate_items(decode_items(raw), ctx)
    except PayloadError as exc:
        return _whole(prefix, source, exc.reason, exc.message, raw)
    except Exception as exc:  # a validation bug must not stop the stream; keep the message
        logger.error(
            "validation raised %s on %s; message dead-lettered", type(exc).__name__, prefix
        )
        return _whole(prefix, source, VALIDATION_ERROR, type(exc).__name__, raw)
    return Judged(good, _rejections(prefix, source, bad))


def _whole(prefix: str, source: str, reason: str, detail: str, raw: bytes) -> Judged:
    text = raw.decode("utf-8", errors="replace")
    return Judged([], [DeadLetter(f"{prefix}:{WHOLE_MESSAGE}", source, reason, detail, text)])


def sink_failure(
    topic: str,
    partition: int,
    offset: int,
    value: bytes | None,
    headers: Headers,
    error: str,
) -> DeadLetter:
    """Dead letter for a message whose valid rows the database refused (a poison message)."""
    return DeadLetter(
        f"{topic}:{partition}:{offset}:{WHOLE_MESSAGE}",
        source_of(headers),
        "sink_error",
        error,
        (value or b"").decode("utf-8", errors="replace"),
    )
