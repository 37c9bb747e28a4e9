"""Database connections. Nothing connects at import time; the composition root calls these."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool


def connect(url: str, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    """A plain synchronous connection (CLI commands, migrations)."""
    return psycopg.connect(url, application_name="ioc", **kwargs)


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 4) -> AsyncConnectionPool:
    """An async pool for long-running services; the caller closes it."""
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"application_name": "ioc", "autocommit": False},
    )
    await pool.open(wait=True, timeout=30)
    return pool
