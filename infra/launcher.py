"""Child processes of ``ioc run``: start, wait until ready, supervise, stop.

Each child is an ``ioc <command>`` in its own session (so a terminal's Ctrl-C reaches only
the launcher, which then stops the children in order) with ``PR_SET_PDEATHSIG`` set, so
children die with the launcher even if it is killed outright. Output goes to
``IOC_HOME/logs/<name>.log`` (and, with ``foreground``, also to the terminal, prefixed).

Readiness is polled against a deadline, never waited for with a fixed sleep; a child that
exits while being waited for fails the wait at once, with the tail of its log.

Example::

    group = ChildGroup(logs_dir, env)
    worker = group.start("worker", ["worker"])
    group.wait_ready(worker, probe=lambda: healthz_ok(url), what="workers", deadline_s=120)
    failed = group.watch(stop_event)   # returns the child that died, or None when asked to stop
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class ChildFailed(RuntimeError):
    """A child exited or did not become ready; the message names it and quotes its log."""


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def ioc_command() -> list[str]:
    """How to run ``ioc``: the entry script of this interpreter's environment, else ``-c``."""
    script = Path(sys.executable).with_name("ioc")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("ioc")
    if found and Path(found).parent == Path(sys.executable).parent:
        return [found]
    return [sys.executable, "-c", "import sys; from ioc.cli import main; sys.exit(main())"]


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc() if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child between fork and exec: SIGTERM when the launcher dies (Linux).

    Only a foreign call on a handle opened beforehand: nothing here may take a lock that a
    thread of the parent could have held at fork time.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    done_ok: bool = False  # a child allowed to finish (the replay) finished with 0
    _pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def describe_exit(self) -> str:
        code = self.proc.returncode
        if code is None:
            return "is running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"was killed by {signal.Signals(-code).name}"
            return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def failure(self, what: str) -> ChildFailed:
        tail = log_tail(self.log)
        return ChildFailed(f"{self.name} {what}\n--- last lines of {self.log} ---\n{tail}")


class ChildGroup:
    """The children of one launcher, stopped in reverse start order."""

    def __init__(
        self,
        logs_dir: Path,
        env: Mapping[str, str],
        *,
        foreground: bool = False,
        out: IO[str] | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.logs_dir = logs_dir
        self.state_file = state_file
        self.env = dict(env)
        self.foreground = foreground
        self.children: list[Child] = []
        self._out = out or sys.stdout
        self._out_lock = threading.Lock()
        logs_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: Sequence[str], command: Sequence[str] | None = None) -> Child:
        """Start ``ioc ARGS`` (or ``command ARGS``) as child ``name``."""
        log = self.logs_dir / f"{name}.log"
        fh = log.open("ab")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        fh.write(f"\n=== {stamp} {name}: {' '.join(args)} ===\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            [*(command or ioc_command()), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.foreground else fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child = Child(name, proc, log)
        if self.foreground and proc.stdout is not None:
            child._pump = threading.Thread(
                target=self._pump, args=(name, proc.stdout, fh), daemon=True, name=f"log-{name}"
            )
            child._pump.start()
        else:
            fh.close()
        self.children.append(child)
        self._write_state()
        logger.debug("started %s (pid %d): %s", name, proc.pid, " ".join(args))
        return child

    def _write_state(self) -> None:
        """``{name: pid}`` of the children, for operators and tests (removed at stop)."""
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {"launcher": os.getpid(), "children": {c.name: c.pid for c in self.children}}
            )
        )
        os.replace(tmp, self.state_file)

    def _pump(self, name: str, stream: IO[bytes], fh: IO[bytes]) -> None:
        with fh:
            for line in iter(stream.readline, b""):
                fh.write(line)
                fh.flush()
                with self._out_lock:
                    self._out.write(f"[{name}] {line.decode(errors='replace')}")
                    self._out.flush()

    def wait_ready(
        self,
        child: Child,
        probe: Callable[[], bool],
        *,
        what: str,
        deadline_s: float,
        interval_s: float = 0.2,
    ) -> None:
        """Poll ``probe`` until true; fail early if any child dies, or at the deadline."""
        deadline = time.monotonic() + deadline_s
        while not probe():
            dead = self.first_dead()
            if dead is not None:
                raise dead.failure(f"{dead.describe_exit()} while waiting for {what}")
            if time.monotonic() >= deadline:
                raise child.failure(f"did not become ready ({what}) within {deadline_s:.0f} s")
            time.sleep(interval_s)

    def first_dead(self) -> Child | None:
        """A child that stopped when it should not have (a finished replay is fine)."""
        for child in self.children:
            if child.done_ok or child.alive():
                continue
            return child
        return None

    def stop_all(self, timeout_s: float = 15.0, hurry: threading.Event | None = None) -> None:
        """SIGTERM every child (reverse order), SIGKILL what is left after ``timeout_s``
        (at once when ``hurry`` is set: a second Ctrl-C)."""
        for child in reversed(self.children):
            if child.alive():
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while any(c.alive() for c in self.children) and time.monotonic() < deadline:
            if hurry is not None and hurry.is_set():
                break
            time.sleep(0.05)
        for child in reversed(self.children):
            if child.alive():
                logger.warning("%s (pid %d) still running; killing it", child.name, child.pid)
                _signal_group(child.pid, signal.SIGKILL)
            child.proc.wait()
            # Anything the child left in its own group goes too.
            _signal_group(child.pid, signal.SIGKILL)
            if child._pump is not None:
                child._pump.join(timeout=2)
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
