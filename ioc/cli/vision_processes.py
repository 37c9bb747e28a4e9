"""``ioc vision run --processes P``: one command runs P camera worker processes on this host.

One ``ioc vision run`` process runs its cameras' pipelines in one Python loop, so it uses
about one core however many the host has. A GPU host is CPU-bound long before the GPU is busy
(``docs/VISION.md``: about 0.6 core per 1080p camera at 5 detections/s on an H200 host), so
its cameras are spread over several processes. With ``--processes P`` this process becomes
their supervisor: child ``k`` runs ``ioc vision run --workers N*P --worker-index K*P+k``
(``N``/``K``: this host's own ``--workers``/``--worker-index``, 1/0 by default), so the cameras
split by the same rendezvous hash as across hosts. A child that dies is restarted with
exponential back-off (1 s doubling to 30 s, reset after a minute of good running); a child
that finishes (``--seconds``, ``--no-loop``) is not. SIGINT/SIGTERM stop them all. Child
output is shown prefixed with ``[vision-k]`` and kept in ``IOC_HOME/logs/vision-k.log``; the
children's pids are in ``IOC_HOME/run/vision-processes.json`` while they run.

Example::

    ioc vision run --all --processes 14        # a 16-core GPU host
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping

from infra.launcher import Child, ChildGroup
from ioc.settings import Settings
from vision.sharding import ShardError, check
from vision.source import Backoff

logger = logging.getLogger(__name__)

STEADY_S = 60.0  # a child running this long without dying has its back-off reset


def child_args(args: argparse.Namespace, workers: int, index: int, processes: int = 1) -> list[str]:
    """The ``ioc`` arguments of one child of ``processes``: this command's options, one
    worker slot (with ``--max-detect-fps auto``, its share of ``--cpu-share``)."""
    out = ["vision", "run"]
    for cam in args.camera:
        out += ["--camera", cam]
    if args.config is not None:
        out += ["--config", str(args.config)]
    for flag in ("no_loop", "fast", "no_kafka", "keep_input_size"):
        if getattr(args, flag, False):
            out.append("--" + flag.replace("_", "-"))
    if args.seconds is not None:
        out += ["--seconds", f"{args.seconds:g}"]
    cap = args.max_detect_fps
    if isinstance(cap, float):
        out += ["--max-detect-fps", f"{cap:g}"]
    elif cap == "auto":  # each child sizes its own cameras in its share of the host
        share = getattr(args, "cpu_share", 1.0) / max(1, processes)
        out += ["--max-detect-fps", "auto", "--cpu-share", f"{share:.4g}"]
    return [*out, "--processes", "1", "--workers", str(workers), "--worker-index", str(index)]


def slots(workers: int, index: int, processes: int) -> list[tuple[int, int]]:
    """``(workers, worker index)`` of each child: this host's slot split ``processes`` ways."""
    check(index, workers)
    if processes < 1:
        raise ShardError(f"processes must be at least 1, got {processes}")
    return [(workers * processes, index * processes + k) for k in range(processes)]


def child_env(env: Mapping[str, str], threads: int, processes: int, cpus: int) -> dict[str, str]:
    """The children's environment: ``env``, and when the detector's thread count is the
    runtime's default (``threads`` 0: every core) an explicit share of the host's ``cpus``
    (at least 1) in ``IOC_VISION_TORCH_THREADS``, so ``processes`` detectors do not each
    start a thread per core and fight over them."""
    out = dict(env)
    if threads == 0 and processes > 1:
        out["IOC_VISION_TORCH_THREADS"] = str(max(1, cpus // processes))
    return out


def prepare_model(settings: Settings) -> bool:
    """Export (and for int8 quantise) the detector's model once here, before the children
    start: each would otherwise build its own copy at the same time (int8 with accuracy
    control takes minutes of every core). False, with the cause on stderr, when it cannot."""
    from vision.detector import DetectorSpec, prepare_weights
    from vision.openvino_export import ExportError

    spec = DetectorSpec.from_settings(settings)
    if spec.type != "ultralytics":  # another plugin prepares its own model
        return True
    try:
        prepare_weights(spec)
    except (ExportError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def supervise(args: argparse.Namespace, settings: Settings, processes: int) -> int:
    """Run and watch the children until they all finish or a signal stops them."""
    workers = args.workers or settings.vision_workers
    index = settings.vision_worker_index if args.worker_index is None else args.worker_index
    try:
        plan = slots(workers, index, processes)
    except ShardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not prepare_model(settings):
        return 1
    group = ChildGroup(
        settings.home / "logs",
        child_env(os.environ, settings.vision_torch_threads, processes, os.cpu_count() or 1),
        foreground=True,
        state_file=settings.home / "run" / "vision-processes.json",
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    names = [f"vision-{k}" for k in range(processes)]
    running: dict[str, Child] = {}
    started: dict[str, float] = {}
    backoff = {n: Backoff(initial=1.0, maximum=30.0) for n in names}
    due: dict[str, float] = dict.fromkeys(names, 0.0)
    finished: set[str] = set()
    failed = 0
    print(f"vision: {processes} camera processes (worker slots {plan[0][1]}..{plan[-1][1]} of "
          f"{plan[0][0]}); logs in {group.logs_dir}", flush=True)  # fmt: skip
    try:
        while not stop.is_set() and len(finished) < processes:
            now = time.monotonic()
            for name, (n, k) in zip(names, plan, strict=True):
                child = running.get(name)
                if child is not None and child.alive():
                    if now - started[name] > STEADY_S:
                        backoff[name].reset()
                    continue
                if child is not None:  # it stopped
                    del running[name]
                    if child.proc.returncode == 0:
                        finished.add(name)
                        continue
                    failed += 1
                    delay = backoff[name].next_delay()
                    due[name] = now + delay
                    print(f"vision: {name} {child.describe_exit()}; restarting in {delay:.0f} s",
                          flush=True)  # fmt: skip
                    continue
                if name not in finished and now >= due[name]:
                    running[name] = group.start(name, child_args(args, n, k, processes))
                    started[name] = now
            stop.wait(0.2)
    finally:
        group.stop_all()
    print(f"vision: {len(finished)} of {processes} processes finished, {failed} restart(s)")
    return 0
