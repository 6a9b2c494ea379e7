"""LangGraph's checkpoint tables, as far as the mesh must touch them without graph code.

The tables are created by the workers' checkpointer (``langgraph-checkpoint-postgres``); a
database where no worker has started yet has none, and then there is nothing to delete.
"""

from __future__ import annotations

import asyncpg

CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


async def delete_thread_checkpoints(conn: asyncpg.Connection, thread_id: str) -> None:
    """Delete every checkpoint of a thread (what ``adelete_thread`` does)."""
    if await conn.fetchval("SELECT to_regclass('checkpoints') IS NOT NULL"):
        for table in CHECKPOINT_TABLES:
            await conn.execute(f"DELETE FROM {table} WHERE thread_id = $1", thread_id)  # noqa: S608
