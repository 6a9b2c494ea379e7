"""LangGraph's Postgres checkpointer and store, shared by every run of this worker: each run
sees the store of its own tenant only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import WRITES_IDX_MAP, Checkpoint, CheckpointTuple
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg.rows import DictRow

from agentlist.core.langgraph_tables import LangGraphPool, open_pool, setup_tables
from agentlist.core.tenant_store import TenantStore

logger = logging.getLogger(__name__)

_CHECK_SECONDS = 5.0


class RunSaver(AsyncPostgresSaver):
    """LangGraph's Postgres saver, serialising a task's writes and loading a checkpoint's
    pending writes on the event loop.

    The saver hands each ``aput_writes`` serialisation, and each load of a checkpoint's
    pending writes (most often none), to a thread (``asyncio.to_thread``): seven thread hops
    for a trivial run, whose wake-ups and GIL handovers cost the worker more CPU than the work
    itself. The same values are serialised on the loop anyway, when they are published as the
    run's events, and the saver already loads the checkpoint's blobs on the loop. The
    statements and their order are unchanged. (``_load_checkpoint_tuple`` is the saver's own,
    less that hop: the pinned version's tests cover it.)
    """

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        query = (
            self.UPSERT_CHECKPOINT_WRITES_SQL
            if all(channel in WRITES_IDX_MAP for channel, _ in writes)
            else self.INSERT_CHECKPOINT_WRITES_SQL
        )
        configurable = config["configurable"]
        params = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        async with self._cursor(pipeline=True) as cur:
            await cur.executemany(query, params)

    async def _load_checkpoint_tuple(self, value: DictRow) -> CheckpointTuple:
        checkpoint = value["checkpoint"]
        parent_id = value["parent_checkpoint_id"]
        return CheckpointTuple(
            _config_of(value, value["checkpoint_id"]),
            cast(
                Checkpoint,
                {
                    **checkpoint,
                    "channel_values": {
                        **(checkpoint.get("channel_values") or {}),
                        **self._load_blobs(value["channel_values"]),
                    },
                },
            ),
            value["metadata"],
            _config_of(value, parent_id) if parent_id else None,
            self._load_writes(value["pending_writes"]),
        )


def _config_of(row: DictRow, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": row["thread_id"],
            "checkpoint_ns": row["checkpoint_ns"],
            "checkpoint_id": checkpoint_id,
        }
    }


@dataclass
class Persistence:
    pool: LangGraphPool
    store: AsyncPostgresStore
    """Every tenant's items: a run is given ``store_for`` its tenant instead."""

    def store_for(self, tenant: str) -> TenantStore:
        """What a run of ``tenant`` sees through ``get_store()``: the part ``/store`` shows
        that tenant's clients."""
        return TenantStore(self.store, tenant)

    def checkpointer(self) -> AsyncPostgresSaver:
        """A saver for one run or request. Each saver serialises its own queries behind a
        lock, so sharing one would make every run of the worker wait for the others."""
        return RunSaver(self.pool)

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
    pool = await open_pool(database_url, max(2, max_connections))
    try:
        persistence = Persistence(pool=pool, store=AsyncPostgresStore(pool))
        await setup_tables(database_url, persistence.checkpointer(), persistence.store)
        logger.debug("checkpointer and store tables are ready")
        yield persistence
    finally:
        await pool.close()
