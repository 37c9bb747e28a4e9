"""The per-user cache folder: built and exported artefacts shared by every IOC_HOME.

Kept apart from :mod:`ioc.services` so that code which only needs the path (the vision
detector's model export, on a camera host without a database driver) imports nothing else.
"""

from __future__ import annotations

from pathlib import Path


def cache_root() -> Path:
    """``~/.cache/ioc`` (shared by every IOC_HOME of this user)."""
    return Path.home() / ".cache" / "ioc"
