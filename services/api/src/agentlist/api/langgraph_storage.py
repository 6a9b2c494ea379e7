"""LangGraph's Postgres store, used by the API without running any graph code: ``/store``
shows clients what graphs see through ``get_store()``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore

from agentlist.core.langgraph_tables import LangGraphPool, open_pool, setup_tables


@dataclass(frozen=True)
class LangGraphStorage:
    pool: LangGraphPool
    store: AsyncPostgresStore


@asynccontextmanager
async def open_storage(
    database_url: str, max_connections: int, *, store_ttl: dict[str, Any] | None = None
) -> AsyncIterator[LangGraphStorage]:
    pool = await open_pool(database_url, max_connections)
    try:
        # The TTL sweeper of ``store.ttl`` runs in the workers; the API only honours defaults.
        ttl = {k: v for k, v in (store_ttl or {}).items() if k != "sweep_interval_minutes"}
        storage = LangGraphStorage(pool=pool, store=AsyncPostgresStore(pool, ttl=ttl or None))  # type: ignore[arg-type]
        await setup_tables(database_url, AsyncPostgresSaver(pool), storage.store)
        yield storage
    finally:
        await pool.close()
