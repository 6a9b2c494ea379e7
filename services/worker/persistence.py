"""LangGraph's Postgres checkpointer and store, shared by every run of this worker."""

from __future__ import annotations

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
        await lock_conn.execute("SELECT pg_advisory_lock(%s)", (LANGGRAPH_SETUP_LOCK,))
        try:
            await persistence.checkpointer().setup()
            await persistence.store.setup()
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock(%s)", (LANGGRAPH_SETUP_LOCK,))
    logger.debug("checkpointer and store tables are ready")
