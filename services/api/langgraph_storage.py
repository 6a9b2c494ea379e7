"""LangGraph's Postgres store, used by the API without running any graph code: ``/store``
shows clients what graphs see through ``get_store()``."""

from __future__ import annotations

import asyncio
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

_SETUP_LOCK_POLL_SECONDS = 0.05

_CONNECTION_KWARGS: dict[str, Any] = {
    "autocommit": True,
    "prepare_threshold": 0,
    "row_factory": dict_row,
}


@dataclass(frozen=True)
class LangGraphStorage:
    pool: AsyncConnectionPool[AsyncConnection[DictRow]]
    store: AsyncPostgresStore


@asynccontextmanager
async def open_storage(
    database_url: str, max_connections: int, *, store_ttl: dict[str, Any] | None = None
) -> AsyncIterator[LangGraphStorage]:
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        database_url, min_size=1, max_size=max_connections, kwargs=_CONNECTION_KWARGS, open=False
    )
    await pool.open(wait=True, timeout=30)
    try:
        # The TTL sweeper of ``store.ttl`` runs in the workers; the API only honours defaults.
        ttl = {k: v for k, v in (store_ttl or {}).items() if k != "sweep_interval_minutes"}
        storage = LangGraphStorage(pool=pool, store=AsyncPostgresStore(pool, ttl=ttl or None))  # type: ignore[arg-type]
        async with await AsyncConnection.connect(database_url, autocommit=True) as lock:
            await _take_setup_lock(lock)
            try:
                await AsyncPostgresSaver(pool).setup()
                await storage.store.setup()
            finally:
                await lock.execute("SELECT pg_advisory_unlock(%s)", (LANGGRAPH_SETUP_LOCK,))
        yield storage
    finally:
        await pool.close()


async def _take_setup_lock(conn: AsyncConnection[Any]) -> None:
    """Polled, as the workers do (``agentlist.worker.persistence.take_setup_lock``): waiting in
    ``pg_advisory_lock`` holds a snapshot that the holder's ``CREATE INDEX CONCURRENTLY``
    waits for, a deadlock Postgres cannot see."""
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LANGGRAPH_SETUP_LOCK,))
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return
        await asyncio.sleep(_SETUP_LOCK_POLL_SECONDS)
