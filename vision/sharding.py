"""Several camera workers sharing one camera list: which worker runs which camera; pure.

Each camera goes to exactly one of ``workers`` by rendezvous (highest-random-weight) hashing
of its id: every worker scores each camera as SHA-256(camera id, worker index) and a camera
belongs to the worker with the highest score. The answer depends only on the camera id and
the number of workers - not on the order of the list, the host or Python's per-process
``hash`` seed - so N workers started with the same config and ``--workers N`` split the
cameras without talking to each other. Going from N to N+1 workers moves only the cameras
the new worker wins (about 1/(N+1) of them); the others stay where they were.

Example::

    shard_of("vn-junction-a", 3)                      # -> 0, 1 or 2, always the same
    mine(["cam-a", "cam-b", "cam-c"], index=1, workers=3)   # the ids worker 1 runs
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


class ShardError(ValueError):
    """A worker index or count that cannot split a camera list."""


def _score(camera_id: str, worker: int) -> bytes:
    return hashlib.sha256(f"{camera_id}\x00{worker}".encode()).digest()


def check(index: int, workers: int) -> None:
    """``ShardError`` unless ``0 <= index < workers``."""
    if workers < 1:
        raise ShardError(f"workers must be at least 1, got {workers}")
    if not 0 <= index < workers:
        raise ShardError(f"worker index must be 0..{workers - 1}, got {index}")


def shard_of(camera_id: str, workers: int) -> int:
    """The index (``0..workers-1``) of the worker that runs ``camera_id``."""
    check(0, workers)
    return max(range(workers), key=lambda k: _score(camera_id, k))


def mine(camera_ids: Iterable[str], index: int, workers: int) -> list[str]:
    """The ids, in their given order, that worker ``index`` of ``workers`` runs."""
    check(index, workers)
    return [c for c in camera_ids if shard_of(c, workers) == index]
