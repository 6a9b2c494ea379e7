"""Servers of a test module's own, apart from the session's (``tests/conftest.py``), and
the pool every test on a database uses."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import asyncpg

from agentlist.db.pool import create_pool, migrate
from agentlist.launcher import Stack, StackOptions


@contextlib.contextmanager
def own_servers() -> Iterator[Stack]:
    """NATS, Postgres and Redis started for the caller alone, stopped on exit."""
    stack = Stack(StackOptions())
    try:
        stack.start_servers()
        yield stack
    finally:
        stack.stop()


@contextlib.asynccontextmanager
async def migrated_pool(database_url: str, max_size: int = 5) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database with AgentList's schema, closed on exit."""
    pool = await create_pool(database_url, max_size=max_size)
    try:
        await migrate(pool)
        yield pool
    finally:
        await pool.close()
