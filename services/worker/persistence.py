"""LangGraph's Postgres checkpointer and store, shared by every run of this worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from agentlist.contracts.storage import LANGGRAPH_SETUP_LOCK

logger = logging.getLogger(__name__)

_SETUP_LOCK_POLL_SECONDS = 0.05
_CHECK_SECONDS = 5.0

_CONNECTION_KWARGS: dict[str, Any] = {
    "autocommit": True,
    "prepare_threshold": 0,
    "row_factory": dict_row,
}


@dataclass
class Persistence:
    pool: AsyncConnectionPool[AsyncConnection[DictRow]]
    store: AsyncPostgresStore

    def checkpointer(self) -> AsyncPostgresSaver:
        """A saver for one run or request. Each saver serialises its own queries behind a
        lock, so sharing one would make every run of the worker wait for the others."""
        return AsyncPostgresSaver(self.pool)

    async def drop_dead_connections(self) -> None:
        """Test the idle connections now and replace the broken ones. A restarted Postgres
        leaves them all dead without the pool noticing (psycopg reads nothing while idle), and
        testing each one as it is handed out would cost every query a round trip."""
        try:
            async with asyncio.timeout(_CHECK_SECONDS):
                await self.pool.check()
        except Exception as exc:
            logger.warning("cannot check the connections to Postgres: %r", exc)


@asynccontextmanager
async def open_persistence(database_url: str, max_connections: int) -> AsyncIterator[Persistence]:
    """Connect, create LangGraph's tables if this database lacks them, and close at exit."""
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=max(2, max_connections),
        kwargs=_CONNECTION_KWARGS,
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    try:
        persistence = Persistence(pool=pool, store=AsyncPostgresStore(pool))
        await setup_tables(database_url, persistence)
        yield persistence
    finally:
        await pool.close()


async def setup_tables(database_url: str, persistence: Persistence) -> None:
    """``setup()`` of the checkpointer and the store, one worker at a time."""
    async with await AsyncConnection.connect(database_url, autocommit=True) as lock_conn:
        await take_setup_lock(lock_conn)
        try:
            await persistence.checkpointer().setup()
            await persistence.store.setup()
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock(%s)", (LANGGRAPH_SETUP_LOCK,))
    logger.debug("checkpointer and store tables are ready")


async def take_setup_lock(conn: AsyncConnection[Any]) -> None:
    """Polled, never waited for in ``pg_advisory_lock``: a session waiting there holds a
    snapshot, and the holder's ``CREATE INDEX CONCURRENTLY`` (in ``setup()``) waits for every
    older snapshot to end. That deadlock passes through the holder's client, so Postgres never
    breaks it."""
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LANGGRAPH_SETUP_LOCK,))
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return
        await asyncio.sleep(_SETUP_LOCK_POLL_SECONDS)
