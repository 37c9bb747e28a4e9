"""Make the TimescaleDB extension (Apache-2 edition) available to the local PostgreSQL.

Debian bookworm ships PostgreSQL 15 but no TimescaleDB package, so the extension is
built once from the Debian (trixie) *source* package: it is DFSG-clean Apache-2 code
with Debian's packaging patches. The source is fetched with a private apt
configuration (own sources.list, lists and cache under the cache folder) so the
system's apt sources are never touched.

PostgreSQL 15 loads extensions only from its compiled-in ``pkglibdir``/``sharedir``,
so the files are installed there. A copy of the installed files is kept in
``~/.cache/ioc/timescaledb-<version>-pg<major>/stage`` so that later runs (new
IOC_HOMEs, CI re-runs, a fresh container with the same home folder) just copy them
instead of rebuilding. A file lock keeps two processes from building at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ioc.cache import cache_root
from ioc.services.ports import ServiceError

logger = logging.getLogger(__name__)

DEBIAN_SUITE = "trixie"
EXPECTED_VERSION = "2.19.3"
_TAIL_LINES = 30

Progress = Callable[[str], None]


class TimescaleBuildError(ServiceError):
    """A step of fetching/building/installing TimescaleDB failed."""


@dataclass(frozen=True)
class PgLayout:
    """Where the target PostgreSQL looks for extensions."""

    pg_config: Path
    major: str
    sharedir: Path
    pkglibdir: Path
    includedir_server: Path

    @property
    def control_file(self) -> Path:
        return self.sharedir / "extension" / "timescaledb.control"


def pg_layout(pg_config: Path) -> PgLayout:
    """Ask ``pg_config`` for the directories the server loads extensions from."""
    if not pg_config.is_file():
        raise TimescaleBuildError(f"pg_config not found at {pg_config}")

    def ask(flag: str) -> str:
        out = subprocess.run([str(pg_config), flag], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    version = ask("--version")  # "PostgreSQL 15.20 (Debian ...)"
    return PgLayout(
        pg_config=pg_config,
        major=version.split()[1].split(".")[0],
        sharedir=Path(ask("--sharedir")),
        pkglibdir=Path(ask("--pkglibdir")),
        includedir_server=Path(ask("--includedir-server")),
    )


def _run(step: str, cmd: list[str], cwd: Path | None = None) -> str:
    """Run one build step; on failure raise naming the step with its output's tail."""
    logger.debug("%s: %s", step, " ".join(cmd))
    proc = subprocess.run(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-_TAIL_LINES:])
        raise TimescaleBuildError(
            f"TimescaleDB build step '{step}' failed (exit {proc.returncode}):\n{tail}"
        )
    return proc.stdout


@contextmanager
def _build_lock() -> Iterator[None]:
    """Exclusive lock so that concurrent ``ioc`` processes build only once."""
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / "timescaledb-build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _cached_stage(layout: PgLayout) -> Path | None:
    """Newest complete cached install for this PostgreSQL major, if any."""
    complete = sorted(cache_root().glob(f"timescaledb-*-pg{layout.major}/stage/.complete"))
    return complete[-1].parent if complete else None


def _install_from_stage(stage: Path, layout: PgLayout, progress: Progress) -> None:
    """Copy the staged extension files into the server's pkglibdir and sharedir."""
    copied = 0
    for target in (layout.pkglibdir, layout.sharedir / "extension"):
        staged = stage / target.relative_to("/")
        if not staged.is_dir():
            raise TimescaleBuildError(f"cached TimescaleDB install {stage} lacks {target}")
        for src in staged.iterdir():
            if src.name.startswith("timescaledb") and src.is_file():
                try:  # new inode + rename: a running server keeps its mapped old .so
                    tmp = target / f".{src.name}.{os.getpid()}.tmp"
                    shutil.copy2(src, tmp)
                    os.replace(tmp, target / src.name)
                except PermissionError as exc:
                    raise TimescaleBuildError(
                        f"cannot install TimescaleDB into {target}: {exc} "
                        "(run once as root, or install the timescaledb package)"
                    ) from exc
                copied += 1
    progress(f"installed TimescaleDB ({copied} files) from cache {stage.parent}")


def _ensure_build_deps(layout: PgLayout, progress: Progress) -> None:
    """Install the PostgreSQL server headers (the only missing build dependency)."""
    missing = [tool for tool in ("cmake", "make", "gcc") if shutil.which(tool) is None]
    if (layout.includedir_server / "postgres.h").is_file() and not missing:
        return
    packages = [f"postgresql-server-dev-{layout.major}", *missing]
    progress(f"installing build dependencies with apt-get: {' '.join(packages)}")
    env_cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    try:
        _run("apt-get install build dependencies", env_cmd)
    except TimescaleBuildError:
        _run("apt-get update", ["apt-get", "update"])
        _run("apt-get install build dependencies", env_cmd)


def _fetch_source(work: Path, progress: Progress) -> tuple[Path, str]:
    """Download and unpack the Debian source package; return (source dir, version)."""
    apt_dir = work / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "none"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text(
        f"deb-src http://deb.debian.org/debian {DEBIAN_SUITE} main\n"
    )
    apt = [
        f"-oDir::Etc::SourceList={apt_dir / 'sources.list'}",
        f"-oDir::Etc::SourceParts={apt_dir / 'none'}",
        f"-oDir::State::Lists={apt_dir / 'lists'}",
        f"-oDir::Cache={apt_dir / 'cache'}",
        "-oDebug::NoLocking=1",
        "-oAPT::Sandbox::User=root" if os.geteuid() == 0 else "-oAPT::Sandbox::User=",
    ]
    progress(f"fetching the timescaledb source package from Debian {DEBIAN_SUITE}")
    _run("apt-get update (private source list)", ["apt-get", *apt, "update"])
    dl = work / "download"
    shutil.rmtree(dl, ignore_errors=True)
    dl.mkdir(parents=True)
    _run("apt-get source", ["apt-get", *apt, "source", "--download-only", "timescaledb"], cwd=dl)
    dsc = next(dl.glob("timescaledb_*.dsc"), None)
    if dsc is None:
        raise TimescaleBuildError(f"apt-get source left no .dsc file in {dl}")
    version = dsc.name.split("_")[1].split("+")[0].split("-")[0]
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    _run("dpkg-source -x", ["dpkg-source", "--no-check", "-x", dsc.name, str(src)], cwd=dl)
    return src, version


def _build(src: Path, layout: PgLayout, stage: Path, progress: Progress, version: str) -> None:
    """Configure (Apache-only, telemetry off by default, no tests), compile, stage-install."""
    progress(f"building TimescaleDB {version} (Apache-2 edition) from Debian source, ~30-60 s...")
    build = src / "build"
    _run(
        "cmake configure",
        [
            "cmake", "-S", str(src), "-B", str(build),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPG_CONFIG={layout.pg_config}",
            "-DAPACHE_ONLY=ON",
            "-DSEND_TELEMETRY_DEFAULT=OFF",
            "-DREGRESS_CHECKS=OFF",
            "-DTAP_CHECKS=OFF",
            "-DWARNINGS_AS_ERRORS=OFF",
            "-DENABLE_DEBUG_UTILS=OFF",
        ],
    )  # fmt: skip
    _run("make", ["make", "-C", str(build), f"-j{os.cpu_count() or 2}"])
    shutil.rmtree(stage, ignore_errors=True)
    _run("make install (staged)", ["make", "-C", str(build), "install", f"DESTDIR={stage}"])
    (stage / ".complete").write_text(version + "\n")


def ensure_timescaledb(pg_config: Path, progress: Progress = print) -> PgLayout:
    """Make ``CREATE EXTENSION timescaledb`` possible on the server of ``pg_config``.

    Order: already installed -> copy from cache -> fetch, build, cache and install.
    Raises ``TimescaleBuildError`` naming the failed step.
    """
    layout = pg_layout(pg_config)
    if layout.control_file.is_file():
        return layout
    with _build_lock():
        if layout.control_file.is_file():  # another process finished while we waited
            return layout
        stage = _cached_stage(layout)
        if stage is None:
            work = cache_root() / f"timescaledb-build-pg{layout.major}"
            _ensure_build_deps(layout, progress)
            src, version = _fetch_source(work, progress)
            if version != EXPECTED_VERSION:
                logger.warning(
                    "Debian ships TimescaleDB %s (tested with %s)", version, EXPECTED_VERSION
                )
            stage = cache_root() / f"timescaledb-{version}-pg{layout.major}" / "stage"
            _build(src, layout, stage, progress, version)
            shutil.rmtree(work, ignore_errors=True)
        _install_from_stage(stage, layout, progress)
    if not layout.control_file.is_file():
        raise TimescaleBuildError(f"TimescaleDB installed but {layout.control_file} is missing")
    return layout
